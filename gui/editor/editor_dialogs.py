"""The editor's questions and error messages, in one place (tests replace these functions).

`parent` is the widget that asks (the canvas): a dialog opens over its window, and when it closes that
window is activated and the widget gets the keyboard back, so shortcuts work at once without a click."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

MAX_LISTED = 10


def listed(lines: list[str]) -> str:
    """The first MAX_LISTED lines as bullets, then "and N more"."""
    more = [f"  … and {len(lines) - MAX_LISTED} more"] if len(lines) > MAX_LISTED else []
    return "\n".join([f"• {line}" for line in lines[:MAX_LISTED]] + more)


def unsaved_images_box(parent: QWidget | None, names: list[str], leaving: str = "the folder closes"
                       ) -> QMessageBox:
    """The question asked before a folder with unsaved edits closes (`leaving` says how): Save All, Discard
    or Cancel."""
    count = len(names)
    what = f"The mask of {names[0]} has unsaved edits." if count == 1 else f"{count} images have unsaved edits."
    box = QMessageBox(QMessageBox.Icon.Warning, "Unsaved edits", f"{what}\nSave them before {leaving}?",
                      parent=_window(parent))
    box.setInformativeText(("" if count == 1 else listed(names) + "\n\n")
                           + "Save All writes the edits into the dataset's mask files. Discard throws them "
                           "away and leaves the mask files as they are. Cancel goes back to editing.")
    save = box.addButton("Save All", QMessageBox.ButtonRole.AcceptRole)
    box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(save)
    return box


def ask_unsaved_images(parent: QWidget | None, names: list[str], leaving: str = "the folder closes") -> str:
    """'save', 'discard' or 'cancel' for the images with unsaved edits when their folder closes."""
    box = unsaved_images_box(parent, names, leaving)
    _run(box, parent)
    role = box.buttonRole(box.clickedButton()) if box.clickedButton() is not None else None
    return {QMessageBox.ButtonRole.AcceptRole: "save",
            QMessageBox.ButtonRole.DestructiveRole: "discard"}.get(role, "cancel")


def confirm(parent: QWidget | None, title: str, text: str, action: str = "Replace") -> bool:
    """Ask before an action that overwrites work; True when the user agreed."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, parent=_window(parent))
    accept = box.addButton(action, QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    _run(box, parent)
    return box.clickedButton() is accept


def show_error(parent: QWidget | None, title: str, text: str) -> None:
    _run(QMessageBox(QMessageBox.Icon.Warning, title, text, parent=_window(parent)), parent)


def ask_restore(parent: QWidget | None, lines: list[str]) -> str:
    """'restore', 'discard' or 'later' for the unsaved edits found after SegLab was closed abnormally."""
    box = QMessageBox(QMessageBox.Icon.Question, "Restore unsaved edits?",
                      f"SegLab was closed before these edits were saved ({len(lines)} image(s)):\n\n"
                      + listed(lines)
                      + "\n\nRestore them? Each image shows its restored mask, unsaved, until you save it.",
                      parent=_window(parent))
    restore = box.addButton("Restore", QMessageBox.ButtonRole.AcceptRole)
    discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton("Ask Me Later", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(restore)
    _run(box, parent)
    clicked = box.clickedButton()
    return "restore" if clicked is restore else "discard" if clicked is discard else "later"


def _window(widget: QWidget | None) -> QWidget | None:
    return widget.window() if widget is not None else None


def _run(box: QMessageBox, parent: QWidget | None) -> None:
    """Show `box` modally, then give the keyboard back to `parent` in its window."""
    box.exec()
    if parent is not None and parent.isVisible():
        parent.window().activateWindow()
        if not parent.isWindow():
            parent.setFocus()
