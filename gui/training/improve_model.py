"""Model > Improve Model…: one click (and a number of minutes) fine-tunes the window's model on everything
labeled so far as a normal run in the Training panel; when it ends with a model, that model becomes the
window's, the unlabeled images are segmented again with it (the normal Segment job) and a summary says how the
validation score moved and which predictions changed most. Every slow step runs off the GUI thread."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSettings, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from core.training.improve import DEFAULT_MINUTES
from gui.dialogs import show_failure
from gui.state import AppState
from gui.training.improve_summary import ImprovementSummary, ImprovementSummaryDialog
from gui.workers import TaskContext, TaskRunner

if TYPE_CHECKING:
    from core.data.index import DatasetIndex

MINUTES_KEY = "improve/minutes"


@dataclass(frozen=True)
class ComparisonJob:
    index: DatasetIndex  # the open folder
    base_model: str
    new_model: str
    previous: dict  # sample name -> copy of its prediction before the new model ran
    new: dict  # sample name -> the new prediction file
    snapshot_dir: str | None  # removed when the comparison is done


def warm_up(ctx: TaskContext) -> None:
    """Background task while the user chooses the minutes: the imports a run's start would otherwise make on a
    worker while the run is shown (torch's optimiser machinery, ~0.8 s; the Training panel's plotting library,
    ~0.25 s). Importing holds the interpreter lock in long stretches: during a run that stalled the window for
    about 160 ms every time; done beforehand the longest pause of the run is about 50 ms in most runs."""
    import gui.training.plots  # noqa: F401
    from gui.training.environment import warm_up_training

    warm_up_training(ctx)


def plan_run(_ctx: TaskContext, index: DatasetIndex, model_path: str, minutes: float):
    """Background task: the fine-tune TrainConfig (reads the model header, image headers and the device)."""
    from core.training.improve import improve_config

    return improve_config(index, model_path, minutes)


def keep_previous(_ctx: TaskContext, files: dict) -> tuple[dict, str]:
    """Background task: copies of the predictions about to be replaced, in a folder of their own."""
    from core.inference.prediction_changes import keep_copies

    folder = tempfile.mkdtemp(prefix="seglab-improve-")
    return keep_copies(files, folder), folder


def compare(ctx: TaskContext, job: ComparisonJob) -> ImprovementSummary:
    """Background task: both models scored on the new run's validation images, and the changed share of every
    re-segmented image."""
    from core.inference.prediction_changes import compare_predictions
    from core.models.model_file import read_model_spec
    from core.training.improve import validation_iou

    try:
        val_names = list(read_model_spec(job.new_model).training.get("val_images") or [])
        base_iou, new_iou = validation_iou([job.base_model, job.new_model], job.index, val_names, ctx.cancelled) \
            if val_names else (None, None)
        changes = compare_predictions(job.previous, job.new)
    finally:
        if job.snapshot_dir:
            shutil.rmtree(job.snapshot_dir, ignore_errors=True)
    return ImprovementSummary(job.new_model, job.base_model, base_iou, new_iou, len(val_names), len(job.new),
                              tuple(changes))


class ImproveMinutesDialog(QDialog):
    """Asks only how many minutes to train; Improve / Cancel."""

    def __init__(self, model_path: str, minutes: float, unsaved: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Improve Model")
        text = self.text_label = QLabel(f"Fine-tune <b>{Path(model_path).name}</b> on every labeled image, then segment the "
                      "unlabeled images again and show which changed most.")
        text.setWordWrap(True)
        self.minutes_spin = QDoubleSpinBox()
        self.minutes_spin.setRange(0.1, 600.0)
        self.minutes_spin.setDecimals(1)
        self.minutes_spin.setSingleStep(1.0)
        self.minutes_spin.setSuffix(" min")
        self.minutes_spin.setValue(minutes)
        form = QFormLayout()
        form.addRow("Train for", self.minutes_spin)
        buttons = QDialogButtonBox()
        self.improve_button = buttons.addButton("Improve", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addLayout(form)
        if unsaved:
            note = QLabel(f"{unsaved} image{'s have' if unsaved != 1 else ' has'} unsaved edits, which training "
                          "does not see: save them first (Ctrl+S) to include them.")
            note.setWordWrap(True)
            layout.addWidget(note)
        layout.addWidget(buttons)

    @property
    def minutes(self) -> float:
        return self.minutes_spin.value()


class ImproveModelController(QObject):
    improved = Signal(object)  # ImprovementSummary, shown to the user

    def __init__(self, state: AppState, training, segmentation, settings: QSettings, window: QWidget):
        super().__init__(window)
        self.state = state
        self.training = training  # gui.training.controller.TrainingController
        self.segmentation = segmentation  # gui.segment.segment_controller.SegmentationController
        self.settings = settings
        self._window = window
        self.runner = TaskRunner(1, self)
        self.step: str | None = None  # "planning", "training", "segmenting", "comparing"; None when idle
        self.base_model = ""
        self.config = None  # the fine-tune run's TrainConfig
        self._root: str | None = None  # the folder being improved
        self._task = None
        self.warm_up_task = None  # started with the first dialog; the runner's one thread plans after it
        self._previous: dict = {}
        self._snapshot_dir: str | None = None
        self._arrived: set[str] = set()
        self.summary_dialog: ImprovementSummaryDialog | None = None
        self.action = QAction("&Improve Model…", window)
        self.action.setStatusTip("Fine-tune the current model on every labeled image for a few minutes, then "
                                 "segment the unlabeled images again")
        self.action.triggered.connect(self.open_dialog)
        for signal in (state.dataset_changed, state.model_changed, training.run_started, training.run_failed):
            signal.connect(self._refresh)
        state.status_changed.connect(self._refresh)
        state.prediction_changed.connect(self._on_state_prediction_changed)
        training.run_finished.connect(self._on_training_run_finished)
        training.run_failed.connect(self._on_training_run_failed)
        segmentation.job_ended.connect(self._on_segmentation_job_ended)
        self._refresh()

    def current_model(self) -> str:
        """The window's model as Segment preselects it (the starter model when none was chosen), if it is a
        SegLab model file: only those can be fine-tuned."""
        from gui.model_field import chosen_model_file, starter_model_path

        return chosen_model_file(self.state.model_path, starter_model_path())

    def _refresh(self, *_args) -> None:
        index = self.state.index
        ready = index is not None and any(s.labeled for s in index.samples) and bool(self.current_model())
        self.action.setEnabled(ready and self.step is None and not self.training.running)

    # starting -----------------------------------------------------------------------------------
    def open_dialog(self) -> ImproveMinutesDialog | None:
        """The minutes dialog (window-modal, non-blocking); the run starts when Improve is pressed."""
        self._refresh()
        if not self.action.isEnabled():
            self.state.message.emit("Improve Model needs an open folder with a labeled image, a model, and no "
                                    "training run going.")
            return None
        model = self.current_model()
        minutes = float(self.settings.value(MINUTES_KEY, DEFAULT_MINUTES))
        dialog = ImproveMinutesDialog(model, minutes, len(self.state.edited), self._window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.start(dialog.minutes))
        dialog.open()
        if self.warm_up_task is None:
            self.warm_up_task = self.runner.start(warm_up)
        return dialog

    def start(self, minutes: float) -> None:
        """Plan the fine-tune run in the background, then start it in the Training panel."""
        self.settings.setValue(MINUTES_KEY, minutes)
        self.base_model = self.current_model()
        index = self.state.index
        self._root = str(Path(index.root).resolve())
        self._set_step("planning")
        self.state.message.emit(f"Improve Model: preparing to fine-tune {Path(self.base_model).name} for "
                                f"{minutes:g} min…")
        self._run(plan_run, self._on_plan_ready, index, self.base_model, minutes)

    def _on_plan_ready(self, config) -> None:
        if not self._same_folder() or self.training.running:
            self.state.message.emit("Improve Model did not start: the folder changed or another run began.")
            return self._set_step(None)
        self.config = config
        self._set_step("training")
        self.training.start(config)

    # after the run ------------------------------------------------------------------------------
    def _on_training_run_finished(self, finished) -> None:
        if self.step != "training":
            return
        if not finished.model_path:
            self.state.message.emit("Improve Model stopped before its first validation: the current model is kept.")
            return self._set_step(None)
        if not self._same_folder():
            self.state.message.emit("Improve Model: another folder is open now, so its images are not segmented "
                                    f"again; the new model is {finished.model_path}")
            return self._set_step(None)
        index = self.state.index
        unlabeled = [s.name for s in index.unlabeled]
        if not unlabeled or self.segmentation.running:
            if unlabeled:
                self.state.message.emit("Segmentation is running, so the unlabeled images are not segmented again.")
            return self._compare({}, None)
        self._set_step("segmenting")
        previous = {name: self.state.predictions[name] for name in unlabeled if name in self.state.predictions}
        self._run(keep_previous, lambda kept: self._resegment(unlabeled, *kept), previous)

    def _resegment(self, names: list[str], previous: dict, snapshot_dir: str) -> None:
        self._previous, self._snapshot_dir, self._arrived = previous, snapshot_dir, set()
        if self.segmentation.running or not self._same_folder():  # began while the copies were made
            return self._compare({}, snapshot_dir)
        self.state.request_segmentation(self.config.output, names)
        if not self.segmentation.running:  # refused (the reason is in the status bar)
            self._compare(previous, snapshot_dir)

    def _on_state_prediction_changed(self, name: str) -> None:
        if self.step == "segmenting":
            self._arrived.add(name)

    def _on_segmentation_job_ended(self) -> None:
        if self.step == "segmenting" and self._same_folder():
            self._compare(self._previous, self._snapshot_dir)
        elif self.step == "segmenting":  # another folder was opened: nothing left to compare
            shutil.rmtree(self._snapshot_dir, ignore_errors=True)
            self._set_step(None)

    def _compare(self, previous: dict, snapshot_dir: str | None) -> None:
        self._set_step("comparing")
        new = {name: self.state.predictions[name] for name in self._arrived if name in self.state.predictions}
        job = ComparisonJob(self.state.index, self.base_model, self.config.output, previous, new, snapshot_dir)
        self.state.message.emit("Improve Model: scoring the new model and comparing the predictions…")
        self._run(compare, self._on_comparison_ready, job)

    def _on_comparison_ready(self, summary: ImprovementSummary) -> None:
        self._set_step(None)
        self.state.message.emit(summary.describe())
        dialog = self.summary_dialog = ImprovementSummaryDialog(summary, self.state, self._window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda: setattr(self, "summary_dialog", None))
        dialog.open()
        self.improved.emit(summary)

    def _on_training_run_failed(self, _message: str) -> None:
        if self.step == "training":
            self._set_step(None)  # the Training panel explains the failure

    # helpers ------------------------------------------------------------------------------------
    def _run(self, fn, on_done, *args) -> None:
        task = self._task = self.runner.start(fn, *args)
        task.signals.finished.connect(on_done)
        task.signals.failed.connect(self._on_task_failed)
        task.signals.cancelled.connect(lambda: self._set_step(None))

    def _on_task_failed(self, message: str, details: str) -> None:
        step, self._task = self.step, None
        self._set_step(None)
        if self._snapshot_dir:
            shutil.rmtree(self._snapshot_dir, ignore_errors=True)
        title = "Cannot improve the model" if step == "planning" else "Improve Model could not finish"
        show_failure(self._window, title, message, details)

    def _same_folder(self) -> bool:
        index = self.state.index
        return index is not None and str(Path(index.root).resolve()) == self._root

    def _set_step(self, step: str | None) -> None:
        self.step = step
        self._refresh()

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Cancel a background step and wait for it (the main window calls this when it closes)."""
        return self.runner.shutdown(timeout_ms)
