"""Opens the export dialog and owns the thread its exports run on, so closing the window ends them cleanly."""

from __future__ import annotations

from PySide6.QtCore import QObject, QSettings, Qt
from PySide6.QtWidgets import QWidget

from gui.export.export_dialog import ExportDialog
from gui.state import AppState
from gui.workers import TaskRunner


class ExportController(QObject):
    def __init__(self, state: AppState, settings: QSettings, window: QWidget):
        super().__init__(window)
        self.state = state
        self.settings = settings
        self._window = window
        self.runner = TaskRunner(1, self)
        self.dialog: ExportDialog | None = None

    def open_dialog(self) -> ExportDialog | None:
        if self.state.index is None:
            self.state.message.emit("Open a folder of images first; then export its masks.")
            return None
        if self.dialog is not None:
            self.dialog.raise_()
            return self.dialog
        dialog = self.dialog = ExportDialog(self.state, self.settings, self.runner, self._window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(self._on_dialog_finished)
        dialog.open()
        return dialog

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        return self.runner.shutdown(timeout_ms)

    def _on_dialog_finished(self, _result: int) -> None:
        self.dialog = None
