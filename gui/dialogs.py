"""Dialogs every feature uses: a failure message with its technical details one click away."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

FAILURE_DIALOG = "failure_dialog"  # the object name of an open failure dialog, to find it among parent's children


def show_failure(parent: QWidget, title: str, message: str, details: str = "") -> None:
    """A window-modal warning saying `message` (plain or rich text), with `details` behind Show Details….
    It opens without blocking the event loop and deletes itself when closed."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, message, parent=parent)
    box.setObjectName(FAILURE_DIALOG)
    if details:
        box.setDetailedText(details)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.setStyleSheet("QLabel#qt_msgbox_label { min-width: 460px; }")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
