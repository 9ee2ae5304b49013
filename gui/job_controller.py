"""Base of the controllers that run one long job at a time (segmentation, evaluation, export): a one-thread
runner, a status-bar progress line with Cancel, and shutdown for the main window's closeEvent."""

from __future__ import annotations

from PySide6.QtCore import QObject, QSettings, Qt
from PySide6.QtWidgets import QDialog, QWidget

from gui.segment.job_progress import JobProgressWidget
from gui.state import AppState
from gui.workers import BackgroundTask, TaskRunner


class JobController(QObject):
    def __init__(self, state: AppState, settings: QSettings, window: QWidget):
        super().__init__(window)
        self.state = state
        self.settings = settings
        self._window = window
        self.runner = TaskRunner(1, self)  # its own thread: a long job never delays image loading
        self.progress_widget = JobProgressWidget()
        self.progress_widget.cancel_requested.connect(self.cancel)
        self.task: BackgroundTask | None = None

    @property
    def running(self) -> bool:
        return self.task is not None

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Cancel the job and wait for its thread (the main window calls this when it closes)."""
        return self.runner.shutdown(timeout_ms)

    def _show_dialog(self, dialog: QDialog, on_accepted) -> QDialog:
        """Open `dialog` window-modal; on_accepted(dialog) runs when the user confirms it."""
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda d=dialog: on_accepted(d))
        dialog.open()
        return dialog
