"""The editor's questions and error messages, in one place (tests replace these functions)."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

MAX_LISTED = 12


def ask_unsaved_edits(parent: QWidget | None, name: str) -> str:
    """'save', 'discard' or 'cancel' for an image with unsaved edits about to be closed or replaced."""
    buttons = QMessageBox.StandardButton
    answer = QMessageBox.question(
        parent, "Unsaved edits", f"The mask of {name} has unsaved edits.\n\nSave them before leaving the image?",
        buttons.Save | buttons.Discard | buttons.Cancel, buttons.Save)
    return {buttons.Save: "save", buttons.Discard: "discard"}.get(answer, "cancel")


def confirm(parent: QWidget | None, title: str, text: str, action: str = "Replace") -> bool:
    """Ask before an action that overwrites work; True when the user agreed."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, parent=parent)
    accept = box.addButton(action, QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return box.clickedButton() is accept


def show_error(parent: QWidget | None, title: str, text: str) -> None:
    QMessageBox.warning(parent, title, text)


def ask_restore(parent: QWidget | None, lines: list[str]) -> str:
    """'restore', 'discard' or 'later' for the unsaved edits found after SegLab was closed abnormally."""
    shown = lines[:MAX_LISTED] + ([f"… and {len(lines) - MAX_LISTED} more"] if len(lines) > MAX_LISTED else [])
    box = QMessageBox(QMessageBox.Icon.Question, "Restore unsaved edits?",
                      f"SegLab was closed before these edits were saved ({len(lines)} image(s)):\n\n"
                      + "\n".join(f"• {line}" for line in shown)
                      + "\n\nRestore them? Each image shows its restored mask, unsaved, until you save it.",
                      parent=parent)
    restore = box.addButton("Restore", QMessageBox.ButtonRole.AcceptRole)
    discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton("Ask Me Later", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(restore)
    box.exec()
    clicked = box.clickedButton()
    return "restore" if clicked is restore else "discard" if clicked is discard else "later"
