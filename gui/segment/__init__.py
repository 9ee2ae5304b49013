"""Batch segmentation from the window: the Segment Images dialog, its controller and the status-bar progress."""
