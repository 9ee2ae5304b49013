"""Training: a plain-torch loop that yields plain-data reports, checkpoints, and the one QtCore adapter."""
