"""Diagnostics in the window: the device in the status bar and the Help > Run Self-Test… dialog."""
