"""Background tasks for the window: run a function on a thread pool, report progress with time left,
accept cancellation, and deliver results through Qt signals on the GUI thread.

The function receives a TaskContext; it calls ctx.progress(done, total) and checks ctx.cancelled(); a
core.errors.Cancelled raised inside it (ctx.check_cancelled(), or core work given cancel=ctx.cancelled) ends it
quietly.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal

from core.errors import Cancelled, SegLabError


class TaskSignals(QObject):
    progress = Signal(float, int, float)  # done (2.5: half of the third item), total, seconds left (-1 unknown)
    partial = Signal(object)  # a result delivered before the end (e.g. one predicted image)
    finished = Signal(object)  # the function's return value
    failed = Signal(str, str)  # message for the user, technical details
    cancelled = Signal()


def _signals_of(signals: TaskSignals) -> tuple:
    return signals.progress, signals.partial, signals.finished, signals.failed, signals.cancelled


class TaskContext:
    """What a task function sees: progress, partial results and the cancel flag."""

    def __init__(self, signals: TaskSignals, cancel_event: threading.Event):
        self._signals = signals
        self._cancel = cancel_event
        self._start = time.perf_counter()

    def progress(self, done: float, total: int, seconds_left: float | None = None) -> None:
        """`done` of `total` items, a fraction within an item allowed; time left from the time so far
        unless given."""
        if seconds_left is None:
            elapsed = time.perf_counter() - self._start
            seconds_left = elapsed / done * (total - done) if done > 0 and total >= done else -1.0
        self._signals.progress.emit(done, total, seconds_left)

    def partial(self, value) -> None:
        self._signals.partial.emit(value)

    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check_cancelled(self) -> None:
        """Raises core.errors.Cancelled once the task was cancelled; the task then ends quietly."""
        if self._cancel.is_set():
            raise Cancelled("task cancelled")


class BackgroundTask(QRunnable):
    """fn(ctx, *args) on a pool thread. Keep a reference to the task while you need its signals.

    The pool thread emits on a relay whose signals are queued to `signals` on the GUI thread, so `close()`
    (deleting `signals`) drops what the task sent but the GUI has not yet received."""

    def __init__(self, fn: Callable, *args):
        super().__init__()
        self.setAutoDelete(False)
        self.signals = TaskSignals()
        self._relay = TaskSignals()
        for sent, received in zip(_signals_of(self._relay), _signals_of(self.signals), strict=True):
            sent.connect(received)
        self._fn = fn
        self._args = args
        self._cancel = threading.Event()
        self.done = threading.Event()
        self.closed = False

    def cancel(self) -> None:
        self._cancel.set()

    def close(self) -> None:
        """Nobody hears from the task any more, including what is on its way; a task still running goes on
        emitting into its relay, which reaches nothing now."""
        if not self.closed:
            self.closed = True
            shiboken6.delete(self.signals)

    @property
    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def run(self) -> None:
        try:
            result = self._fn(TaskContext(self._relay, self._cancel), *self._args)
        except Cancelled:
            self._relay.cancelled.emit()
        except SegLabError as exc:
            self._relay.failed.emit(str(exc), traceback.format_exc())
        except Exception as exc:  # still shown to the user, with details
            self._relay.failed.emit(f"{type(exc).__name__}: {exc}", traceback.format_exc())
        else:
            if self._cancel.is_set():
                self._relay.cancelled.emit()
            else:
                self._relay.finished.emit(result)
        finally:
            self.done.set()


class TaskRunner(QObject):
    """Owns a thread pool and the tasks it runs, so closing the window can cancel and wait for all of them."""

    def __init__(self, max_threads: int = 2, parent: QObject | None = None):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._tasks: set[BackgroundTask] = set()

    def start(self, fn: Callable, *args) -> BackgroundTask:
        """Queue fn(ctx, *args). It starts once control returns to the event loop, so the caller can connect
        to the task's signals first and no result of a very fast task is lost."""
        task = BackgroundTask(fn, *args)
        self._tasks.add(task)
        for signal in (task.signals.finished, task.signals.failed, task.signals.cancelled):
            signal.connect(lambda *_, t=task: self._tasks.discard(t))
        QTimer.singleShot(0, self, lambda: self._launch(task))
        return task

    def _launch(self, task: BackgroundTask) -> None:
        if task.closed:  # by shutdown, before it started
            return
        if task.is_cancelled:
            task.signals.cancelled.emit()
            task.done.set()
        else:
            self.pool.start(task)

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel everything, wait, and close every task: what they sent on their way out is still queued and
        would reach widgets deleted by then. True when all tasks ended in time (the others are kept referenced
        while they run). Queued tasks never start."""
        self.cancel_all()
        stopped = self.pool.waitForDone(timeout_ms)
        for task in self._tasks:
            task.close()
        return stopped
