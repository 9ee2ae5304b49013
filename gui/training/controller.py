"""TrainingController: opens the wizard, owns the TrainingWorker (core's QThread adapter), turns its reports into
dock updates and AppState changes, explains failures in a dialog, asks before the window closes on a run and stops
it cleanly, and offers to resume a run that was interrupted when its folder is opened again."""

from __future__ import annotations

import time
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import QMessageBox, QProgressDialog, QWidget

from core.classes import ClassTable
from core.errors import SegLabError
from core.training.config import TrainConfig
from core.training.worker import TrainingWorker
from gui.dialogs import show_failure
from gui.state import AppState
from gui.training.run_dialogs import ResumeOfferBox, close_question, confirm_discard
from gui.training.training_dock import TrainingDockWidget
from gui.training.wizard import TrainingWizard
from gui.training.wizard_context import opened_index
from gui.workers import TaskRunner

if TYPE_CHECKING:
    from core.data.index import DatasetIndex
    from core.training.interrupted import InterruptedRun
    from core.training.reports import BatchReport, EpochReport, TrainingFinished, TrainingStarted

SHUTDOWN_WAIT_MS = 30_000  # a stop ends within one batch; saving a model or checkpoint may take a moment


class TrainingController(QObject):
    run_started = Signal()  # a run (new or resumed) began: the window shows the Training panel
    run_finished = Signal(object)  # TrainingFinished
    run_failed = Signal(str)  # the message shown to the user

    def __init__(self, state: AppState, tasks: TaskRunner, settings: QSettings, window: QWidget):
        super().__init__(window)
        self.state = state
        self.tasks = tasks
        self.settings = settings  # the wizard remembers the user's choices here
        self._window = window
        self.dock_widget = TrainingDockWidget()
        self.worker: TrainingWorker | None = None
        self.config: TrainConfig | None = None  # the last run's settings (resume continues it)
        self.index: DatasetIndex | None = None  # the last run's data as scanned (None: the run scanned it)
        self.classes: ClassTable | None = None  # colours of the last run's classes
        self.wizard: TrainingWizard | None = None
        self.last_started: TrainingStarted | None = None
        self.last_finished: TrainingFinished | None = None
        self.last_stop_latency_s: float | None = None  # from Stop to the end of the run, measured
        self._stop_pressed_at: float | None = None
        self._run_over = True
        self._last_batch: BatchReport | None = None
        self.interrupted: InterruptedRun | None = None  # an unfinished run of the open folder, found on opening
        self._interrupted_search = None  # the background look for it (kept while it runs)
        self._checked_root: str | None = None  # the folder last looked at
        self.dock_widget.stop_requested.connect(self.stop)
        self.dock_widget.resume_requested.connect(self.resume)
        self.dock_widget.wizard_requested.connect(self.open_wizard)
        self.dock_widget.segment_requested.connect(self._on_dock_segment_requested)
        state.dataset_changed.connect(self._on_state_dataset_changed)
        QCoreApplication.instance().aboutToQuit.connect(self.shutdown)

    @property
    def running(self) -> bool:
        """A run is in progress (its final report has not arrived yet)."""
        return self.worker is not None and not self._run_over

    # actions ------------------------------------------------------------------------------------
    def open_wizard(self) -> TrainingWizard | None:
        """Show the training wizard (window-modal, non-blocking); None while a run is in progress."""
        if self.running:
            self.state.message.emit("A model is training: stop it or wait for it to end before starting another.")
            return None
        if self.wizard is not None:
            self.wizard.raise_()
            return self.wizard
        wizard = TrainingWizard(self.state, self.tasks, self.settings, self._window)
        wizard.config_ready.connect(self._on_wizard_config_ready)
        wizard.finished.connect(self._on_wizard_finished)
        self.wizard = wizard
        wizard.open()
        return wizard

    def start(self, config: TrainConfig, index: DatasetIndex | None = None) -> None:
        """Run `config` on a worker thread; the dock follows it. The open folder's index (with the window's
        classes) is used when config.data_dir is the open folder, else `index` (a scan of config.data_dir)."""
        if self.running:
            raise RuntimeError("a training run is already in progress")
        if self.worker is not None:  # the last run has reported its end; its thread is finishing
            self.worker.wait(SHUTDOWN_WAIT_MS)
        index = opened_index(self.state, config.data_dir) or index
        self.config, self.index = config, index
        self.classes = index.settings.classes if index is not None else None
        self._run_over = False
        self._stop_pressed_at = None
        self._last_batch = None
        self.interrupted = None
        worker = TrainingWorker(config, index)  # no parent: it is deleted after its thread has ended
        worker.training_started.connect(self._on_worker_training_started)
        worker.batch_finished.connect(self._on_worker_batch_finished)
        worker.epoch_finished.connect(self._on_worker_epoch_finished)
        worker.training_finished.connect(self._on_worker_training_finished)
        worker.training_failed.connect(self._on_worker_training_failed)
        worker.finished.connect(self._on_worker_finished)
        self.worker = worker
        self.dock_widget.show_preparing(config.resume)
        self.run_started.emit()
        self.state.message.emit("Training: reading the images and building the model…")
        worker.start()

    def stop(self) -> None:
        """Ask the run to end after the current batch; returns at once."""
        if not self.running or self.worker.stop_requested:
            return
        self._stop_pressed_at = time.perf_counter()
        self.worker.stop()
        self.dock_widget.show_stopping()
        self.state.message.emit("Stopping training after the current batch…")

    def can_resume(self) -> bool:
        return not self.running and self.config is not None and self.config.checkpoint_path.is_file()

    def resume(self) -> None:
        if self.can_resume():
            self.start(self.config.with_changes(resume=True), self.index)

    def confirm_close(self, parent: QWidget) -> bool:
        """Before the window closes: while a run is going, ask; Stop and Keep the Best Model stops it (within
        one batch; the window repaints meanwhile) and returns True once its model and checkpoint are written;
        Cancel returns False."""
        if not self.running:
            return True
        batch = self._last_batch
        progress = f"epoch {batch.epoch} of {batch.epochs}" if batch is not None else "preparing"
        box, stop_button = close_question(parent, progress)
        box.exec()
        box.deleteLater()
        if box.clickedButton() is not stop_button:
            return False
        if self.running:
            self._wait_for_stop(parent)
        return True

    def _wait_for_stop(self, parent: QWidget) -> None:
        worker = self.worker
        waiting = QProgressDialog("Stopping training after the current batch…", "", 0, 0, parent)
        waiting.setWindowTitle("Stopping training")
        waiting.setCancelButton(None)
        waiting.setWindowModality(Qt.WindowModality.WindowModal)
        waiting.setMinimumDuration(0)
        loop = QEventLoop()
        worker.finished.connect(loop.quit)
        QTimer.singleShot(SHUTDOWN_WAIT_MS, loop.quit)
        self.stop()
        waiting.show()
        if not worker.isFinished():
            loop.exec()
        waiting.close()

    def shutdown(self, timeout_ms: int = SHUTDOWN_WAIT_MS) -> bool:
        """Stop the run and wait for its thread; True when nothing is left running."""
        if self.wizard is not None:
            self.wizard.reject()
        worker = self.worker
        if worker is None:
            return True
        worker.stop()
        return worker.wait(timeout_ms)

    # wizard -------------------------------------------------------------------------------------
    def _on_wizard_config_ready(self, config: TrainConfig, index: DatasetIndex) -> None:
        self.start(config, index)

    def _on_wizard_finished(self) -> None:
        if self.wizard is not None:
            self.wizard.deleteLater()
            self.wizard = None

    # worker reports (queued onto the GUI thread) ------------------------------------------------
    def _on_worker_training_started(self, started: TrainingStarted) -> None:
        self.last_started = started
        if self.classes is None or len(self.classes) != len(started.class_names):
            self.classes = ClassTable.from_names(list(started.class_names))
        self.dock_widget.show_started(started, self.classes)
        self.state.message.emit(f"Training on {started.device}")

    def _on_worker_batch_finished(self, report: BatchReport) -> None:
        self._last_batch = report
        self.dock_widget.show_batch(report)

    def _on_worker_epoch_finished(self, report: EpochReport) -> None:
        self.dock_widget.show_epoch(report)

    def _on_worker_training_finished(self, finished: TrainingFinished) -> None:
        self._run_over = True
        if self._stop_pressed_at is not None:
            self.last_stop_latency_s = time.perf_counter() - self._stop_pressed_at
        self.last_finished = finished
        can_resume = finished.reason == "stopped" and Path(finished.checkpoint_path).is_file()
        self.dock_widget.show_finished(finished, self.state.index is not None, can_resume)
        if finished.model_path:
            self.state.set_model(finished.model_path)
        self.state.message.emit(finished.describe())
        self.run_finished.emit(finished)

    def _on_worker_training_failed(self, message: str, details: str) -> None:
        self._run_over = True
        checkpoint = self.config.checkpoint_path.is_file()
        self.dock_widget.show_failed(message, checkpoint and "memory" not in message)
        self._show_error(message, details, checkpoint)
        self.state.message.emit("Training failed: see the Training panel")
        self.run_failed.emit(message)

    def _on_worker_finished(self) -> None:
        worker = self.sender()
        if worker is self.worker:
            self._run_over = True  # also when the thread ended without a final report
            self.worker = None
        if worker is not None:
            worker.deleteLater()

    def _show_error(self, message: str, details: str, checkpoint: bool) -> None:
        """A dialog that says what happened and what to try; it does not block the window's event loop."""
        hints = []
        if Path(self.config.output).is_file():
            hints.append(f"The best model so far is kept: {escape(self.config.output)}")
        if "memory" in message:
            hints.append("Start a new run (Train Model…) with a smaller batch size or patch size.")
        elif checkpoint:
            hints.append("When the problem is fixed, press <b>Resume</b> in the Training panel to continue "
                         "from the last finished epoch.")
        else:
            hints.append("Fix or replace the files named above, or choose other settings, then start again "
                         "(Train Model…).")
        show_failure(self._window, "Training stopped",
                     "<br><br>".join(["<b>Training could not go on.</b>", escape(message)] + hints), details)

    # window -------------------------------------------------------------------------------------
    def _on_dock_segment_requested(self, model_path: str) -> None:
        self.state.request_segmentation(model_path)

    def _on_state_dataset_changed(self) -> None:
        self.dock_widget.set_can_segment(self.state.index is not None)
        index = self.state.index
        root = str(Path(index.root).resolve()) if index is not None else None
        if root == self._checked_root:
            return
        self._checked_root = root
        if self.interrupted is not None:  # the last folder's offer: gone with its folder
            self.interrupted = None
            self.dock_widget.show_empty()
        if root is not None:
            task = self.tasks.start(find_interrupted, root)
            task.signals.finished.connect(lambda runs, r=root: self._on_interrupted_found(r, runs))
            task.signals.failed.connect(self._on_interrupted_search_failed)
            self._interrupted_search = task

    # interrupted runs ---------------------------------------------------------------------------
    def _on_interrupted_found(self, root: str, runs: list[InterruptedRun]) -> None:
        self._interrupted_search = None
        if not runs or root != self._checked_root or self.running:
            return
        run = runs[0]  # the newest
        if self.config is not None and self.config.checkpoint_path.resolve() == run.checkpoint:
            return  # this session's own run: the Training panel offers Resume already
        self.interrupted = run
        self.config, self.index = run.config, None
        classes = len(run.history[-1]["iou"]) if run.history else len(self.state.classes)
        self.classes = self.state.classes if len(self.state.classes) == classes else \
            ClassTable.from_names([f"class {i}" for i in range(classes)])
        self.dock_widget.show_interrupted(run, self.classes)
        offer = ResumeOfferBox(run, self._window)
        offer.chosen.connect(self._on_offer_chosen)
        offer.open()

    def _on_interrupted_search_failed(self, message: str, _details: str) -> None:
        self._interrupted_search = None
        self.state.message.emit(f"Could not look for interrupted training runs: {message}")

    def _on_offer_chosen(self, choice: str) -> None:
        if self.interrupted is None or self.running:
            return
        if choice == "resume":
            self.resume()
        elif choice == "discard":
            self.discard_interrupted()

    def discard_interrupted(self) -> None:
        """Delete the interrupted run's checkpoint after asking; its model file is kept."""
        from core.training.interrupted import discard_checkpoint

        run = self.interrupted
        if run is None or not confirm_discard(self._window, run):
            return
        try:
            discard_checkpoint(run)
        except SegLabError as exc:
            QMessageBox.warning(self._window, "Checkpoint not deleted", str(exc))
            return
        self.interrupted, self.config = None, None
        self.dock_widget.show_empty()
        self.state.message.emit(f"Deleted the checkpoint of the interrupted run; {run.model_path.name} is kept")


def find_interrupted(_ctx, root: str) -> list[InterruptedRun]:
    """Background task: the open folder's unfinished training runs, newest first."""
    from core.training.interrupted import find_interrupted_runs

    return find_interrupted_runs(root)
