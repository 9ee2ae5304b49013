"""The images a dialog's "current image" choice means: the browser's selection, else the shown image."""

from __future__ import annotations

from gui.state import AppState


def chosen_label(state: AppState) -> str:
    """'Selected images (3)' when several are picked in the browser, else 'Current image (name)'."""
    chosen = state.chosen_names()
    if len(chosen) > 1:
        return f"Selected images ({len(chosen)})"
    return f"Current image ({chosen[0]})" if chosen else "Current image (none)"
