"""The one QtCore adapter: runs a Trainer on a QThread and re-emits its reports as Qt signals.

Only plain report dataclasses cross the thread. stop() returns at once; the run ends within one batch.
"""

from __future__ import annotations

import threading
import traceback
from typing import TYPE_CHECKING

from PySide6.QtCore import QThread, Signal

from core.errors import SegLabError
from core.training.config import TrainConfig
from core.training.reports import BatchReport, EpochReport, TrainingFinished, TrainingStarted

if TYPE_CHECKING:
    from core.data.index import DatasetIndex


class TrainingWorker(QThread):
    training_started = Signal(object)  # TrainingStarted
    batch_finished = Signal(object)  # BatchReport
    epoch_finished = Signal(object)  # EpochReport
    training_finished = Signal(object)  # TrainingFinished
    training_failed = Signal(str, str)  # message for the user, technical details

    def __init__(self, config: TrainConfig, index: DatasetIndex | None = None, parent=None):
        """index: config.data_dir as already scanned (read-only plain data); the run scans when not given."""
        super().__init__(parent)
        self.config = config
        self.index = index
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop_event.is_set()

    def run(self) -> None:
        from core.training.loop import Trainer  # torch loads in the worker, not on the GUI thread

        signals = {TrainingStarted: self.training_started, BatchReport: self.batch_finished,
                   EpochReport: self.epoch_finished, TrainingFinished: self.training_finished}
        try:
            for report in Trainer(self.config, self._stop_event, self.index).run():
                signals[type(report)].emit(report)
        except SegLabError as exc:
            self.training_failed.emit(str(exc), traceback.format_exc())
        except Exception as exc:  # anything else still reaches the user as a dialog, never a silent stop
            self.training_failed.emit(f"training failed unexpectedly: {type(exc).__name__}: {exc}",
                                      traceback.format_exc())
