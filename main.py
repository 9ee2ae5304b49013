"""SegLab entry point: `python main.py` opens the window; `python main.py DIR` opens it on a folder;
`python main.py train|predict|evaluate|export ...` runs headless (see --help)."""

from __future__ import annotations

import os
import sys

# Idle OpenMP threads sleep instead of spinning, so a training or prediction worker leaves the window responsive.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from core.cli import HEADLESS_COMMANDS, run_cli, usage_error, window_arguments_error

    if argv and (argv[0] in HEADLESS_COMMANDS or argv[0].startswith("-")):
        return run_cli(argv)
    if argv[:1] == ["open"]:
        if len(argv) != 2:
            return run_cli(argv)  # prints the usage error
        argv = argv[1:]
    problem = window_arguments_error(argv)
    if problem:
        return usage_error(problem)
    from gui.app import run_gui

    return run_gui(argv[0] if argv else None)


if __name__ == "__main__":
    import multiprocessing

    multiprocessing.freeze_support()  # a frozen build's helper processes (core/inference/isolated.py) start here
    sys.exit(main())
