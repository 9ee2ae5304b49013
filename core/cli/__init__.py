"""Headless command line: `python main.py train|predict|evaluate|export ...` drives the same engine as the window.

Exit codes: 0 success; 1 finished but some files could not be read (they are listed); 2 a bad argument or
unusable input (one line naming the problem); 130 interrupted.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from core import __version__
from core.errors import SegLabError

HEADLESS_COMMANDS = ("train", "predict", "evaluate", "export", "export-bioimageio")
EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from core.cli.arguments import add_evaluate_arguments, add_predict_arguments, add_train_arguments
    from core.cli.bioimageio_command import add_bioimageio_arguments
    from core.cli.export_command import add_export_arguments

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
    add_export_arguments(commands.add_parser("export", help="export a dataset's masks as PNG, TIFF, COCO, ..."))
    add_bioimageio_arguments(commands.add_parser("export-bioimageio", help="write a BioImage.IO model package"))
    return parser


def run_cli(argv: list[str]) -> int:
    """Parse and run one headless command; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        if args.self_test:
            from core.selftest import run_self_test

            return run_self_test(print)
        from core.cli import commands
        from core.cli.bioimageio_command import export_bioimageio
        from core.cli.export_command import export

        handler = {"train": commands.train, "predict": commands.predict, "evaluate": commands.evaluate,
                   "export": export, "export-bioimageio": export_bioimageio}
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


def window_arguments_error(argv: list[str]) -> str | None:
    """Why arguments that start with no command cannot open the window (None when they can): the first word
    must be a folder, and nothing may follow it. A mistyped command gets the closest one suggested."""
    if not argv:
        return None
    first = argv[0]
    if not Path(first).is_dir():
        commands = ("open", *HEADLESS_COMMANDS)
        close = difflib.get_close_matches(first, commands, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"commands: {', '.join(commands)} (see --help)"
        kind = "a file, not a folder or a command" if Path(first).exists() else "neither a command nor a folder"
        return f"'{first}' is {kind}; {hint}"
    if len(argv) > 1:
        return (f"unexpected arguments after the folder {first}: {' '.join(argv[1:])}; "
                "to run a command, put it first (see --help)")
    return None


def usage_error(message: str) -> int:
    """Print the one-line usage error and return its exit code."""
    print(f"seglab: error: {message}", file=sys.stderr)
    return EXIT_USAGE
