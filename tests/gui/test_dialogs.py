"""The one failure dialog: window-modal, open without blocking the event loop, details only when given, gone
when closed; the last-resort exception hook uses it with the traceback."""

from __future__ import annotations

import sys

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from gui.app import install_exception_dialog
from gui.dialogs import FAILURE_DIALOG, show_failure


def shown_failure(parent: QWidget) -> QMessageBox | None:
    return parent.findChild(QMessageBox, FAILURE_DIALOG)


def test_a_failure_opens_window_modal_with_details_and_is_deleted_when_closed(qtbot):
    parent = QWidget()
    qtbot.addWidget(parent)
    parent.show()
    show_failure(parent, "Export failed", "masks/3.png could not be written: disk full", "Traceback: …")
    box = shown_failure(parent)  # show_failure returned: the event loop was not blocked
    assert box.isVisible() and box.windowModality() == Qt.WindowModality.WindowModal
    assert box.windowTitle() == "Export failed" and "masks/3.png" in box.text()
    assert box.detailedText() == "Traceback: …" and box.icon() == QMessageBox.Icon.Warning
    box.close()
    qtbot.waitUntil(lambda: shown_failure(parent) is None)

    show_failure(parent, "Training is not available", "no space left for the model")
    plain = shown_failure(parent)
    assert plain.detailedText() == "" and not any(b.text().startswith("Show Details") for b in plain.buttons())
    plain.close()


def test_an_uncaught_exception_shows_its_traceback_in_a_failure_dialog(qtbot, monkeypatch):
    parent = QWidget()
    qtbot.addWidget(parent)
    parent.show()
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # put back after the test
    install_exception_dialog(parent)
    try:
        raise ValueError("a pixel out of range")
    except ValueError:
        sys.excepthook(*sys.exc_info())
    box = shown_failure(parent)
    assert box.isVisible() and "a pixel out of range" in box.text() and "autosaved" in box.text()
    assert "ValueError" in box.detailedText() and "test_dialogs.py" in box.detailedText()
    box.close()
