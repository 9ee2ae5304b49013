"""Evaluation against ground truth: the dialog, the background run, the report files (HTML, PDF) and the panel."""
