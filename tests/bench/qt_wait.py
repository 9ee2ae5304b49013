"""Shared by the GUI benchmarks: spin the Qt event loop until a condition holds."""

from __future__ import annotations

import time


def wait_for(app, condition, timeout_s: float = 120.0) -> None:
    end = time.perf_counter() + timeout_s
    while not condition():
        if time.perf_counter() > end:
            raise TimeoutError("the benchmark waited too long")
        app.processEvents()
        time.sleep(0.001)
