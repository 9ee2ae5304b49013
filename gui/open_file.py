"""Open a file or folder with the program the system uses for it; when that fails, say where it is."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QMessageBox, QWidget

OPEN_FAILED_DIALOG = "open_failed_dialog"  # the object name of the message, to find it among parent's children


def open_with_system(parent: QWidget, path: str | Path) -> bool:
    """Open `path` (a report in the browser, a folder in the file manager). When it is missing or the system
    finds no program for it, a window-modal message names it and its folder and offers Copy Path.
    True when it opened."""
    path = Path(path)
    if path.exists() and QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
        return True
    kind = "folder" if path.is_dir() else "file"
    if not path.exists():
        problem = f"{path.name} is not there any more; it may have been moved or deleted."
    else:
        problem = (f"This computer has no program set up to open the {kind} {path.name} (the desktop found no "
                   "default application for it).")
    box = QMessageBox(QMessageBox.Icon.Warning, f"Cannot open {path.name}",
                      f"{problem}\n\nIt is in: {path.parent}\n\nOpen it from there, or copy its path and "
                      "paste it into a browser or file manager.", parent=parent)
    box.setObjectName(OPEN_FAILED_DIALOG)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    copy = box.addButton("Copy Path", QMessageBox.ButtonRole.AcceptRole)
    copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(str(path)))
    box.addButton(QMessageBox.StandardButton.Close)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return False
