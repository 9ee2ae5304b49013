"""Background jobs where only the newest request matters (display levels while a handle is dragged,
statistics of the image on screen)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QThreadPool, Signal

from gui.workers import BackgroundTask


class LatestOnlyRunner(QObject):
    """Runs one job at a time on a worker thread. A request made while a job runs waits, replacing any
    older waiting request, so a burst of requests computes the first and the newest only. Results arrive
    on the GUI thread; consumers check that a result still applies (e.g. the same document)."""

    finished = Signal(object)  # the job's return value
    failed = Signal(str)  # message for the user

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._running: BackgroundTask | None = None
        self._waiting: tuple[Callable, tuple] | None = None

    @property
    def busy(self) -> bool:
        return self._running is not None or self._waiting is not None

    def submit(self, fn: Callable, *args) -> None:
        """Run fn(ctx, *args) now, or after the running job instead of any request still waiting."""
        if self._running is None:
            self._start(fn, args)
        else:
            self._waiting = (fn, args)

    def discard(self) -> None:
        """Drop the waiting request and cancel the running job: its result will not be delivered."""
        self._waiting = None
        if self._running is not None:
            self._running.cancel()

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        self.discard()
        return self._pool.waitForDone(timeout_ms)

    def _start(self, fn: Callable, args: tuple) -> None:
        task = self._running = BackgroundTask(fn, *args)
        task.signals.finished.connect(self._on_task_finished)  # connected before it starts: no lost results
        task.signals.failed.connect(self._on_task_failed)
        task.signals.cancelled.connect(self._on_task_cancelled)
        self._pool.start(task)

    def _on_task_finished(self, result) -> None:
        self._running = None
        self.finished.emit(result)
        self._start_waiting()

    def _on_task_failed(self, message: str, _details: str) -> None:
        self._running = None
        self.failed.emit(message)
        self._start_waiting()

    def _on_task_cancelled(self) -> None:
        self._running = None
        self._start_waiting()

    def _start_waiting(self) -> None:
        if self._waiting is not None:
            fn, args = self._waiting
            self._waiting = None
            self._start(fn, args)
