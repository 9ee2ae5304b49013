"""Base of the controllers that run one long job at a time (segmentation, evaluation, export): a one-thread
runner, a progress line with Cancel, and shutdown for the main window's closeEvent.

A subclass starts its job with _start_job and answers the _on_job_* hooks, which hear only from the job
that is current: a late signal of a replaced job is dropped."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QSettings, Qt, Signal
from PySide6.QtWidgets import QDialog, QWidget

from gui.dialogs import show_failure
from gui.job_progress import JobProgressWidget
from gui.state import AppState
from gui.workers import BackgroundTask, TaskContext, TaskRunner


class JobController(QObject):
    failure_title = "The job failed"  # the title of the dialog that says why a job stopped
    job_ended = Signal()  # the current job is over: finished, failed or cancelled (after its hook ran)

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

    def _show_dialog(self, dialog: QDialog, on_accepted: Callable[[QDialog], None] | None = None) -> QDialog:
        """Open `dialog` window-modal; on_accepted(dialog) runs when the user confirms it."""
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        if on_accepted is not None:
            dialog.accepted.connect(lambda d=dialog: on_accepted(d))
        dialog.open()
        return dialog

    # the job ------------------------------------------------------------------------------------
    def _start_job(self, fn: Callable[[TaskContext, object], object], job: object, title: str,
                   total: int) -> BackgroundTask:
        """Run fn(ctx, job) on this controller's thread, its progress shown as `title` in progress_widget."""
        task = self.task = self.runner.start(fn, job)
        signals = task.signals
        signals.progress.connect(self.progress_widget.set_progress)
        signals.partial.connect(lambda value, t=task: self._on_job_partial(value) if t is self.task else None)
        signals.finished.connect(lambda result, t=task: self._end_job(t, self._on_job_finished, result))
        signals.failed.connect(lambda message, details, t=task: self._end_job(t, self._on_job_failed, message,
                                                                              details))
        signals.cancelled.connect(lambda t=task: self._end_job(t, self._on_job_cancelled))
        self.progress_widget.start(title, total)
        return task

    def _end_job(self, task: BackgroundTask, hook: Callable, *args) -> None:
        if task is self.task:
            self.task = None
            self.progress_widget.finish()
            hook(*args)
            self.job_ended.emit()

    def _on_job_partial(self, value: object) -> None:
        """A result the job delivered before its end (ctx.partial)."""

    def _on_job_finished(self, result: object) -> None:
        """The job's function returned `result`."""

    def _on_job_failed(self, message: str, details: str) -> None:
        """The job raised: a dialog with `message` and the traceback behind Show Details…."""
        show_failure(self._window, self.failure_title, message, details)

    def _on_job_cancelled(self) -> None:
        """The job stopped early because Cancel was pressed (or the window closed)."""
