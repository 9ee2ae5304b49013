"""The Training panel: status, device, progress with time left, Stop/Resume, live curves, the per-epoch preview,
the final summary and the files training left out. It only shows what the controller hands it."""

from __future__ import annotations

import time
from html import escape
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.classes import ClassTable
from core.durations import format_duration
from gui.training.formatting import WrappedLabel, muted_html, notice_html
from gui.training.preview_view import TrainingPreviewWidget
from gui.training.summary_view import TrainingSummaryWidget

if TYPE_CHECKING:
    from core.training.interrupted import InterruptedRun
    from core.training.reports import BatchReport, EpochReport, TrainingFinished, TrainingStarted
    from gui.training.plots import TrainingPlotsWidget

RUN_PAGE_MIN_HEIGHT = 260  # room for the plots and the per-class results table
PROGRESS_INTERVAL_S = 0.1  # batch progress is redrawn at most 10 times a second
FINISHED_TEXT = {"completed": "Finished all epochs", "stopped": "Stopped: the best model so far is kept",
                 "early_stopping": "Stopped early: the validation score stopped improving",
                 "budget": "Used its time budget: the best model is kept"}


class TrainingDockWidget(QWidget):
    stop_requested = Signal()
    resume_requested = Signal()
    wizard_requested = Signal()
    segment_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.stack = QStackedWidget()
        self.stack.addWidget(self._empty_page())
        self.plots: TrainingPlotsWidget | None = None  # built on the first run (pyqtgraph loads then, not at start-up)
        self._classes = ClassTable.default(2)
        self._last_progress = 0.0
        self._budget_minutes: float | None = None  # the run's time budget, when it has one
        self._actions: list[QAction] = []  # window actions offered beside the panel's own buttons
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.stack)

    def _empty_page(self) -> QWidget:
        page = QWidget()
        text = QLabel("<b>No training yet.</b><br>Train a model on your labeled images: SegLab walks you through "
                      "the data, the model and the settings, then shows the run here while you keep working.")
        text.setWordWrap(True)
        text.setTextFormat(Qt.TextFormat.RichText)
        button = QPushButton("Train Model…")
        button.clicked.connect(self.wizard_requested)
        row = self._empty_row = QHBoxLayout()
        row.addWidget(button)
        row.addStretch(1)
        layout = QVBoxLayout(page)
        layout.addWidget(text)
        layout.addLayout(row)
        layout.addStretch(1)
        return page

    def _ensure_run_page(self) -> None:
        if self.plots is not None:
            return
        from gui.training.plots import TrainingPlotsWidget

        self.status_label = QLabel()
        self.device_label = WrappedLabel()
        self.epoch_label = QLabel()
        self.message_label = WrappedLabel()  # why a run failed
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message_label.setVisible(False)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current batch; the best model so far is kept")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue the interrupted run from its last finished epoch")
        self.new_button = QPushButton("New Training…")
        self.stop_button.clicked.connect(self.stop_requested)
        self.resume_button.clicked.connect(self.resume_requested)
        self.new_button.clicked.connect(self.wizard_requested)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.plots = TrainingPlotsWidget()
        self.preview = TrainingPreviewWidget()
        self.summary = TrainingSummaryWidget()
        self.summary.segment_requested.connect(self.segment_requested)
        self.skipped_list = QListWidget()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.preview, "Preview")
        self.tabs.addTab(self.summary, "Results")
        self.tabs.addTab(self.skipped_list, "Skipped files")
        header = QHBoxLayout()
        header.addWidget(self.status_label)
        header.addWidget(self.epoch_label, 1)
        for button in (self.stop_button, self.resume_button, self.new_button):
            header.addWidget(button)
        for action in self._actions:
            header.addWidget(action_button(action))
        self._header = header
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.plots)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(0, 5)
        splitter.setStretchFactor(1, 2)
        self.tabs.setMinimumWidth(320)
        page = QWidget()
        page.setMinimumHeight(RUN_PAGE_MIN_HEIGHT)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addWidget(self.message_label)
        layout.addWidget(self.device_label)
        layout.addWidget(self.progress)
        layout.addWidget(splitter, 1)
        self.stack.addWidget(page)

    def add_action(self, action: QAction) -> None:
        """Offer a window action (e.g. Improve Model…) beside Train Model… and New Training…."""
        self._actions.append(action)
        self._empty_row.insertWidget(self._empty_row.count() - 1, action_button(action))
        if self.plots is not None:
            self._header.addWidget(action_button(action))

    # run states ---------------------------------------------------------------------------------
    def show_empty(self) -> None:
        """Back to "No training yet." (the interrupted run shown was discarded or belongs to another folder)."""
        self.stack.setCurrentIndex(0)

    def show_interrupted(self, run: InterruptedRun, classes: ClassTable) -> None:
        """An unfinished run of the open folder, found on opening it: its curves so far and Resume."""
        self._ensure_run_page()
        self.stack.setCurrentIndex(1)
        self._classes = classes
        budget = run.config.minutes
        self.status_label.setText(f"<b>Interrupted</b> after {run.seconds / 60:.1f} of {budget:.3g} minutes"
                                  if budget is not None else
                                  f"<b>Interrupted</b> after epoch {run.epoch} of {run.config.epochs}")
        score = f"best mean IoU {run.best_mean_iou:.3f} at epoch {run.best_epoch} · " \
            if run.best_mean_iou is not None else ""
        self.epoch_label.setText(muted_html(f"&nbsp; {score}{format_duration(run.seconds)} of training"))
        self.device_label.setText(muted_html(
            f"The checkpoint is kept beside {escape(run.model_path.name)}: <b>Resume</b> continues from epoch "
            f"{run.epoch + 1} with the run's own settings."))
        self.message_label.setVisible(False)
        if budget is not None:
            self.progress.setRange(0, round(budget * 60))
            self.progress.setValue(min(round(run.seconds), round(budget * 60)))
            self.progress.setFormat(f"{format_duration(run.seconds)} of {budget:.3g} min")
        else:
            self.progress.setRange(0, run.config.epochs)
            self.progress.setValue(run.epoch)
            self.progress.setFormat(f"Epoch {run.epoch} of {run.config.epochs}")
        self.plots.clear()
        self.plots.start_run(classes, run.history, run.epoch + 1, run.config.epochs,
                             any(entry.get("val_loss") is not None for entry in run.history))
        self.plots.finish_run()
        self.preview.clear()
        self.summary.clear()
        self.skipped_list.clear()
        self._set_buttons(running=False, can_resume=True)

    def show_preparing(self, resume: bool) -> None:
        self._ensure_run_page()
        self.stack.setCurrentIndex(1)
        self.status_label.setText("<b>Preparing:</b> " + ("reading the checkpoint, " if resume else "")
                                  + "reading the images and building the model…")
        for label in (self.device_label, self.epoch_label):
            label.clear()
        self.progress.setRange(0, 0)
        self.progress.setFormat("")
        self._set_buttons(running=True, can_resume=False)
        if not resume:
            self.plots.clear()
            self.preview.clear()
        self.summary.clear()
        self.message_label.clear()
        self.message_label.setVisible(False)

    def show_started(self, started: TrainingStarted, classes: ClassTable) -> None:
        """started: core.training.reports.TrainingStarted."""
        self._classes = classes
        note = f" &nbsp; {notice_html('warning', escape(started.device_note))}" if started.device_note else ""
        self.device_label.setText(
            f"<b>{escape(started.device)}</b>{note}" + muted_html(
                f" · {len(started.train_images)} training and {len(started.val_images)} validation images · "
                f"{started.parameters / 1e6:.1f} M weights · {escape(started.weights_note)}"))
        self.status_label.setText(f"<b>Training:</b> epoch {started.start_epoch} of {started.epochs}")
        self._budget_minutes = started.minutes
        if started.minutes is not None:  # progress in seconds of the budget
            self.progress.setRange(0, round(started.minutes * 60))
            self.progress.setValue(0)
            self.progress.setFormat(f"Training for {started.minutes:.3g} min · starting…")
        else:
            self.progress.setRange(0, started.epochs * started.batches_per_epoch)
            self.progress.setValue((started.start_epoch - 1) * started.batches_per_epoch)
            self.progress.setFormat(f"Epoch {started.start_epoch} of {started.epochs} · starting…")
        self.skipped_list.clear()
        self.skipped_list.addItems(list(started.skipped))
        self.tabs.setTabText(2, f"Skipped files ({len(started.skipped)})" if started.skipped else "Skipped files")
        self.tabs.setTabEnabled(2, bool(started.skipped))
        self.plots.start_run(classes, started.history, started.start_epoch, started.epochs, bool(started.val_images))

    def show_batch(self, report: BatchReport) -> None:
        """The curves always get the point; the text changes at most 10 times a second."""
        self.plots.add_batch(report.epoch, report.batch, report.batches, report.loss, report.learning_rate,
                             report.run_elapsed_s / 60)
        now = time.monotonic()
        if now - self._last_progress < PROGRESS_INTERVAL_S and report.batch != report.batches:
            return
        self._last_progress = now
        if self._budget_minutes is not None:
            self.progress.setValue(min(round(report.run_elapsed_s), self.progress.maximum()))
            self.progress.setFormat(f"{format_duration(report.run_elapsed_s)} of {self._budget_minutes:.3g} min · "
                                    f"{report.images_per_s:.1f} images/s · {format_duration(report.eta_s)} left")
        else:
            self.progress.setValue((report.epoch - 1) * report.batches + report.batch)
            self.progress.setFormat(f"Epoch {report.epoch} of {report.epochs} · batch {report.batch}/"
                                    f"{report.batches} · {report.images_per_s:.1f} images/s · "
                                    f"about {format_duration(report.eta_s)} left")
        if not self.stop_button.isEnabled():
            return
        self.status_label.setText(f"<b>Training:</b> epoch {report.epoch} of {report.epochs}")

    def show_epoch(self, report: EpochReport) -> None:
        """report: core.training.reports.EpochReport."""
        self.plots.add_epoch(report.history_entry())
        if report.preview is not None:
            self.preview.show_preview(report.preview, report.epoch, self._classes)
        score = f", mean IoU {report.mean_iou:.3f}" if report.mean_iou is not None else ""
        best = " (best so far)" if report.is_best else f" (best: epoch {report.best_epoch})"
        self.epoch_label.setText(muted_html(
            f"&nbsp; epoch {report.epoch}: {format_duration(report.seconds)}, loss {report.train_loss:.4f}"
            f"{score}{best}"))

    def show_stopping(self) -> None:
        self.status_label.setText("<b>Stopping</b> after the current batch…")
        self.stop_button.setEnabled(False)

    def show_finished(self, finished: TrainingFinished, can_segment: bool, can_resume: bool) -> None:
        """finished: core.training.reports.TrainingFinished."""
        self.plots.finish_run()
        self.status_label.setText(f"<b>{FINISHED_TEXT[finished.reason]}</b>")
        self._end_progress(finished.reason == "completed")
        self.summary.show_result(finished, self._classes, can_segment)
        self.tabs.setCurrentWidget(self.summary)
        self._set_buttons(running=False, can_resume=can_resume)

    def show_failed(self, message: str, can_resume: bool) -> None:
        self._ensure_run_page()
        self.stack.setCurrentIndex(1)
        self.plots.finish_run()
        self.status_label.setText(notice_html("error", "<b>Training failed</b>"))
        self.message_label.setText(notice_html("error", escape(message)))
        self.message_label.setVisible(True)
        self._end_progress(False)
        self._set_buttons(running=False, can_resume=can_resume)

    def set_can_segment(self, can_segment: bool) -> None:
        if self.plots is not None:
            self.summary.set_can_segment(can_segment)

    def _end_progress(self, complete: bool) -> None:
        if self.progress.maximum() == 0:  # ended while preparing: no batch ran
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.progress.setFormat("")
            return
        if complete:
            self.progress.setValue(self.progress.maximum())
        self.progress.setFormat("Done" if complete else "%p %")

    def _set_buttons(self, running: bool, can_resume: bool) -> None:
        self.stop_button.setEnabled(running)
        self.resume_button.setEnabled(not running and can_resume)
        self.resume_button.setVisible(not running and can_resume)
        self.new_button.setEnabled(not running)


def action_button(action: QAction) -> QToolButton:
    """A push-button-like tool button that follows `action` (text, enabled state, trigger)."""
    button = QToolButton()
    button.setDefaultAction(action)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    return button
