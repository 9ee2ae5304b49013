"""Background tasks: cancelling a running task ends it quietly, whichever layer noticed the cancel."""

from __future__ import annotations

import threading
import time

import pytest

from core.errors import Cancelled
from gui.workers import TaskContext, TaskRunner


def _checks_its_context(ctx: TaskContext) -> None:
    while True:
        ctx.check_cancelled()
        time.sleep(0.01)


def _core_work(ctx: TaskContext) -> None:
    """What core code given cancel=ctx.cancelled does (Predictor.predict raises this)."""
    while True:
        if ctx.cancelled():
            raise Cancelled("prediction cancelled")
        time.sleep(0.01)


@pytest.mark.parametrize("loop", [_checks_its_context, _core_work])
def test_a_cancelled_task_reports_cancelled_not_failed(qtbot, loop):
    started = threading.Event()

    def work(ctx: TaskContext) -> None:
        started.set()
        loop(ctx)

    tasks = TaskRunner(1)
    task = tasks.start(work)
    failures = []
    task.signals.failed.connect(lambda message, details: failures.append(message))
    qtbot.waitUntil(started.is_set, timeout=5_000)
    with qtbot.waitSignal(task.signals.cancelled, timeout=5_000):
        task.cancel()
    assert failures == []
    assert tasks.shutdown()
