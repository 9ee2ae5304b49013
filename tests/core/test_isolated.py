"""Steps that hold the GIL run in a helper process when a worker thread asks for them, in place on the main
thread; the helper's answer, exception or crash comes back to the caller."""

from __future__ import annotations

import os
import threading

import pytest

from core.inference.isolated import HelperProcessFailed, run_in_helper, run_isolated


def in_thread(function, *args):
    """function(*args) on a worker thread, as the window's jobs run; its result or exception."""
    outcome = {}

    def work():
        try:
            outcome["value"] = function(*args)
        except Exception as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=120)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def test_a_worker_thread_gets_a_helper_process_and_the_main_thread_runs_in_place():
    assert run_isolated(os.getpid) == os.getpid()
    helper = in_thread(run_isolated, os.getpid)
    assert isinstance(helper, int) and helper != os.getpid()


def test_the_helpers_exception_and_crash_reach_the_caller():
    with pytest.raises(ValueError, match="invalid literal for int"):
        run_in_helper(int, "not a number")
    with pytest.raises(HelperProcessFailed, match=r"ended without an answer \(exit code 3\)"):
        run_in_helper(os._exit, 3)
    with pytest.raises(HelperProcessFailed, match="its input cannot be sent to a helper process"):
        run_in_helper(len, lambda: None)
