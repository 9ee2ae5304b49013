"""Steps that hold Python's GIL for long stretches (the ONNX export's tracing, 8-bit quantization) run in a
fresh helper process when a worker thread asks for them, so the thread that draws the window never waits
for them (the window froze up to 3 s while a model was exported). On the main thread (the command line) and
inside daemon processes (Dask workers, which may not start processes) they run in place.

A frozen build must call multiprocessing.freeze_support() first thing (main.py does).
"""

from __future__ import annotations

import multiprocessing
import pickle
import threading
from collections.abc import Callable


class HelperProcessFailed(Exception):
    """The helper process ended without an answer (it crashed or was killed); the message says how."""


def run_isolated(function: Callable, *args):
    """function(*args), in a helper process when called off the main thread; its exception is raised here.
    function and args must be picklable (module-level functions, models, arrays, paths)."""
    if threading.current_thread() is threading.main_thread() or multiprocessing.current_process().daemon:
        return function(*args)
    return run_in_helper(function, *args)


def run_in_helper(function: Callable, *args):
    """function(*args) in a fresh (spawned) Python process; its result, or its exception raised here."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_helper_main, args=(sender, function, args), daemon=True,
                              name=f"seglab-{getattr(function, '__name__', 'helper')}")
    try:
        process.start()
    except (pickle.PicklingError, AttributeError, TypeError) as exc:  # what pickle raises for what it cannot send
        receiver.close()
        raise HelperProcessFailed(f"its input cannot be sent to a helper process ({exc})") from None
    finally:
        sender.close()
    try:
        succeeded, value = receiver.recv()
    except EOFError:
        process.join()
        raise HelperProcessFailed(f"the helper process for {process.name} ended without an answer (exit code "
                                  f"{process.exitcode})") from None
    finally:
        receiver.close()
    process.join()
    if not succeeded:
        raise value
    return value


def _helper_main(sender, function: Callable, args: tuple) -> None:
    """In the helper: run, and send back (True, result) or (False, the exception)."""
    try:
        answer = (True, function(*args))
    except Exception as exc:  # any failure is the caller's to handle, as if it ran in its own process
        answer = (False, exc)
    try:
        sender.send(answer)
    except Exception as exc:  # an answer that cannot be pickled: what it was still gets through
        sender.send((False, HelperProcessFailed(f"its answer {answer[1]!r:.300} could not be sent back: {exc}")))
    sender.close()
