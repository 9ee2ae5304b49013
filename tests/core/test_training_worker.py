"""TrainingWorker, the QtCore adapter: reports arrive as signals, in order, on the GUI thread; stop() ends a
run within a batch; failures arrive as training_failed with a message for the user."""

from __future__ import annotations

import os
import threading
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QObject, Slot  # noqa: E402

from core.training.reports import BatchReport, EpochReport, TrainingFinished, TrainingStarted  # noqa: E402
from core.training.worker import TrainingWorker  # noqa: E402
from tests.core.synthetic import write_dataset  # noqa: E402
from tests.core.test_training import tiny_config  # noqa: E402

RUN_TIMEOUT_MS = 60_000


class SignalRecorder(QObject):
    """Lives on the GUI thread; records (signal name, payload, delivered on the GUI thread) in arrival order."""

    def __init__(self, worker: TrainingWorker, stop_after_batches: int | None = None):
        super().__init__()
        self.worker = worker
        self.events: list[tuple[str, object, bool]] = []
        self.stop_after_batches = stop_after_batches
        self.stop_time: float | None = None
        self.batches_seen_at_stop = 0
        worker.training_started.connect(self._on_worker_started)
        worker.batch_finished.connect(self._on_worker_batch)
        worker.epoch_finished.connect(self._on_worker_epoch)
        worker.training_finished.connect(self._on_worker_finished)
        worker.training_failed.connect(self._on_worker_failed)

    def _record(self, name: str, payload) -> None:
        self.events.append((name, payload, threading.current_thread() is threading.main_thread()))

    @Slot(object)
    def _on_worker_started(self, report):
        self._record("started", report)

    @Slot(object)
    def _on_worker_batch(self, report):
        self._record("batch", report)
        batches = sum(name == "batch" for name, _, _ in self.events)
        if self.stop_after_batches is not None and batches == self.stop_after_batches:
            self.stop_time = time.perf_counter()
            self.batches_seen_at_stop = batches
            self.worker.stop()

    @Slot(object)
    def _on_worker_epoch(self, report):
        self._record("epoch", report)

    @Slot(object)
    def _on_worker_finished(self, report):
        self._record("finished", report)

    @Slot(str, str)
    def _on_worker_failed(self, message, details):
        self._record("failed", (message, details))

    @property
    def names(self) -> list[str]:
        return [name for name, _, _ in self.events]


def run_worker(qtbot, worker: TrainingWorker) -> None:
    """Start the worker and wait for its thread to end; QThread.finished comes after every queued report."""
    with qtbot.waitSignal(worker.finished, timeout=RUN_TIMEOUT_MS):
        worker.start()
    assert worker.wait(5_000)


def test_reports_arrive_in_order_on_the_gui_thread(qtbot, tmp_path):
    data = write_dataset(tmp_path / "data", count=6)
    out = tmp_path / "model.safetensors"
    worker = TrainingWorker(tiny_config(data, out, epochs=2))
    recorder = SignalRecorder(worker)
    run_worker(qtbot, worker)

    names = recorder.names
    assert names[0] == "started" and names[-1] == "finished" and "failed" not in names
    assert names[1:-1] == ["batch"] * 4 + ["epoch"] + ["batch"] * 4 + ["epoch"]
    assert all(on_gui for _, _, on_gui in recorder.events), "slots run on the GUI thread"
    payloads = [payload for _, payload, _ in recorder.events]
    assert isinstance(payloads[0], TrainingStarted) and payloads[0].class_names == ("background", "class 1")
    assert [(p.epoch, p.batch) for p in payloads if isinstance(p, BatchReport)] == \
        [(e, b) for e in (1, 2) for b in (1, 2, 3, 4)]
    assert [p.epoch for p in payloads if isinstance(p, EpochReport)] == [1, 2]
    finished = payloads[-1]
    assert isinstance(finished, TrainingFinished) and finished.reason == "completed"
    assert finished.model_path == str(out) and out.is_file()


def test_stop_ends_the_run_within_a_batch(qtbot, tmp_path):
    data = write_dataset(tmp_path / "data", count=4)
    worker = TrainingWorker(tiny_config(data, tmp_path / "m.safetensors", epochs=50))
    recorder = SignalRecorder(worker, stop_after_batches=2)
    run_worker(qtbot, worker)

    assert worker.stop_requested
    assert time.perf_counter() - recorder.stop_time < 5.0
    names = recorder.names
    assert names[-1] == "finished" and recorder.events[-1][1].reason == "stopped"
    assert names.count("batch") - recorder.batches_seen_at_stop <= 1, "at most the batch already running"
    assert "epoch" not in names


def test_folder_without_labels_emits_training_failed_naming_it(qtbot, tmp_path):
    data = write_dataset(tmp_path / "data", count=3)
    for mask in (data / "masks").iterdir():
        mask.unlink()
    worker = TrainingWorker(tiny_config(data, tmp_path / "m.safetensors"))
    recorder = SignalRecorder(worker)
    run_worker(qtbot, worker)

    assert recorder.names == ["failed"]
    message, details = recorder.events[0][1]
    assert str(data) in message and "no labeled images" in message
    assert "Traceback" in details and "TrainingError" in details
    assert recorder.events[0][2]


def test_unexpected_errors_still_reach_the_user(qtbot, tmp_path, monkeypatch):
    import core.training.loop as loop

    handed = []

    class BrokenTrainer:
        def __init__(self, config, stop_event, index):
            handed.append(index)

        def run(self):
            yield TrainingStarted("CPU", None, 1, 1, 1, ("a",), (), (), ("bg", "x"), 10, "", ())
            raise ZeroDivisionError("division by zero in a layer")

    monkeypatch.setattr(loop, "Trainer", BrokenTrainer)
    index = object()  # stands for the window's DatasetIndex of the open folder
    worker = TrainingWorker(tiny_config(tmp_path, tmp_path / "m.safetensors"), index)
    recorder = SignalRecorder(worker)
    run_worker(qtbot, worker)

    assert handed == [index]  # the run reuses the index instead of scanning again
    assert recorder.names == ["started", "failed"]
    message, details = recorder.events[-1][1]
    assert message.startswith("training failed unexpectedly: ZeroDivisionError: division by zero")
    assert "Traceback" in details and "ZeroDivisionError" in details


def test_stop_before_start_finishes_as_stopped(qtbot, tmp_path):
    data = write_dataset(tmp_path / "data", count=4)
    worker = TrainingWorker(tiny_config(data, tmp_path / "m.safetensors", epochs=1))
    recorder = SignalRecorder(worker)
    worker.stop()
    run_worker(qtbot, worker)
    assert recorder.names[-1] == "finished" and recorder.events[-1][1].reason == "stopped"
