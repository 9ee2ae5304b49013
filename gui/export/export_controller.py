"""File > Export…: opens the export dialog and runs the exports it asks for as this controller's job, so the
main window stops them like every other long job. The dialog shows the job's progress line and outcome;
closing it cancels the export (the files written so far stay)."""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QWidget

from core.export.exporter import ExportRequest, ExportResult, export_masks
from gui.export.export_dialog import ExportDialog
from gui.job_controller import JobController
from gui.state import AppState
from gui.workers import TaskContext


def export_task(ctx: TaskContext, request: ExportRequest) -> ExportResult:
    return export_masks(request, progress=ctx.progress, cancel=ctx.cancelled)


class ExportController(JobController):
    def __init__(self, state: AppState, settings: QSettings, window: QWidget):
        super().__init__(state, settings, window)
        self.dialog: ExportDialog | None = None

    def open_dialog(self) -> ExportDialog | None:
        if self.state.index is None:
            self.state.message.emit("Open a folder of images first; then export its masks.")
            return None
        if self.dialog is not None:
            self.dialog.raise_()
            return self.dialog
        if self.running:
            self.state.message.emit("The last export is still stopping; try again in a moment.")
            return None
        dialog = self.dialog = ExportDialog(self.state, self.settings, self.progress_widget, self._window)
        dialog.export_requested.connect(self.export)
        dialog.finished.connect(self._on_dialog_finished)
        self._show_dialog(dialog)
        return dialog

    def export(self, request: ExportRequest) -> None:
        self._start_job(export_task, request, "Exporting", len(request.items))

    def _on_job_finished(self, result: ExportResult) -> None:
        if self.dialog is not None:
            self.dialog.show_result(result)

    def _on_job_failed(self, message: str, details: str) -> None:
        if self.dialog is not None:
            self.dialog.show_error(message)

    def _on_job_cancelled(self) -> None:
        if self.dialog is not None:
            self.dialog.show_cancelled()

    def _on_dialog_finished(self, _result: int) -> None:
        self.cancel()
        self.progress_widget.setParent(None)  # the dialog is about to be deleted; the next one shows the line
        self.dialog = None
