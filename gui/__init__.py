"""SegLab's window: thin widgets that call core and show what it returns."""
