"""Headless command line: `python main.py train|predict|evaluate ...` drives the same engine as the window.

Exit codes: 0 success; 1 finished but some files could not be read (they are listed); 2 a bad argument or
unusable input (one line naming the problem); 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys

from core import __version__
from core.errors import SegLabError

HEADLESS_COMMANDS = ("train", "predict", "evaluate")
EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from core.cli.arguments import add_evaluate_arguments, add_predict_arguments, add_train_arguments

    parser = _Parser(
        prog="seglab",
        description="SegLab: segment micrographs. With no command (or a folder) the window opens.",
        epilog="Exit codes: 0 done; 1 done but some files could not be read (listed); 2 bad argument or input.")
    parser.add_argument("--version", action="version", version=f"SegLab {__version__}")
    parser.add_argument("--self-test", action="store_true",
                        help="check the installation and the device, run a timed pass, and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.add_parser("open", help="open the window on a folder (same as `seglab DIR`)").add_argument(
        "folder", help="folder of images")
    add_train_arguments(commands.add_parser("train", help="train or fine-tune a model on a labeled folder"))
    add_predict_arguments(commands.add_parser("predict", help="write a mask for every image of a folder"))
    add_evaluate_arguments(commands.add_parser("evaluate", help="score a model against ground truth masks"))
    return parser


def run_cli(argv: list[str]) -> int:
    """Parse and run one headless command; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        if args.self_test:
            from core.selftest import run_self_test

            return run_self_test(print)
        from core.cli import commands

        handler = {"train": commands.train, "predict": commands.predict, "evaluate": commands.evaluate}
        if args.command not in handler:
            build_parser().print_help()
            return EXIT_USAGE
        return handler[args.command](args)
    except SegLabError as exc:
        print(f"seglab: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("seglab: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
