"""Assisted drawing from OpenCV, no downloaded weights: GrabCut from a box (grabcut.py), edge-following
paths between clicks (scissors.py) and a magic wand (magic_wand.py).

Each takes the image as the viewer draws it (uint8 after the display levels: core.io.images.display_view)
and the user's clicks in pixel coordinates, and gives a boolean mask of the object (a MaskCrop: the
region it lies in and its pixels there), so 16-bit and float images behave as they look on screen.
"""
