"""`seglab export DATA_DIR OUT --format ...`: the window's export (core/export/exporter.py) without the window.

The class table goes beside the exported files as classes.json ({"version": 1, "classes": [...]}), so the
values of the masks can be read back as names and colours.
"""

from __future__ import annotations

import argparse
import sys

from core.cli import EXIT_OK, EXIT_PARTIAL
from core.durations import format_duration

FORMAT_NAMES = {
    "masks": "index_png",
    "label-tiff": "label_tiff",
    "colour": "colour_png",
    "overlays": "overlay_png",
    "coco": "coco",
    "labelme": "labelme",
    "imagej-rois": "imagej_rois",
    "measurements": "measurements",
}
"""Command-line name -> exporter format key."""

CLASS_TABLE_FILE = "classes.json"
CLASS_TABLE_VERSION = 1


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data_dir", metavar="DATA_DIR", help="dataset folder (images and their masks)")
    parser.add_argument("out_dir", metavar="OUT", help="folder to write into (created if needed)")
    parser.add_argument("--format", dest="formats", action="append", choices=list(FORMAT_NAMES),
                        metavar="FORMAT", help=f"one of {', '.join(FORMAT_NAMES)}; repeat for several "
                                               "(default: masks, paletted index PNGs)")
    parser.add_argument("--predictions", action="store_true",
                        help="export the predictions kept for the dataset (Segment in the window) instead of "
                             "the ground-truth masks")
    parser.add_argument("--overwrite", action="store_true", help="replace files that already exist in OUT")


def export(args: argparse.Namespace) -> int:
    from core.errors import ConfigError
    from core.export.exporter import ExportRequest, existing_files, export_masks
    from core.io.atomic import prepare_output_folder, write_error, write_json_atomic

    index, items = _items(args)
    out_dir = prepare_output_folder(args.out_dir)
    formats = tuple(dict.fromkeys(FORMAT_NAMES[name] for name in args.formats or ["masks"]))
    request = ExportRequest(items, out_dir, index.settings.classes, formats, image_root=index.root,
                            overwrite=args.overwrite)
    table = out_dir / CLASS_TABLE_FILE
    if not args.overwrite and table.exists() and not existing_files(request):  # else export_masks lists them
        raise ConfigError("already exists and would be overwritten; choose an empty folder or add --overwrite",
                          table)
    result = export_masks(request, progress=_print_progress)
    try:
        write_json_atomic(table, {"version": CLASS_TABLE_VERSION, "classes": index.settings.classes.to_json()})
    except OSError as exc:
        raise write_error(exc, table) from None
    print(f"\nwrote {len(result.written) + 1} files to {out_dir} in {format_duration(result.seconds)} "
          f"(class table: {table.name})")
    for name, problem in result.failures:
        print(f"could not export {name}: {problem}", file=sys.stderr)
    return EXIT_PARTIAL if result.failures else EXIT_OK


def _items(args: argparse.Namespace):
    """The dataset and what to export from it: stored predictions or ground-truth masks."""
    from core.data.index import DatasetIndex
    from core.data.workspace import stored_predictions
    from core.errors import DatasetError
    from core.export.exporter import prediction_items, truth_items

    index = DatasetIndex.scan(args.data_dir)
    if args.predictions:
        items = prediction_items(index, stored_predictions(index.root, [s.name for s in index.samples]))
        if not items:
            raise DatasetError("has no stored predictions; segment it in the window first, or use `predict`, "
                               "which writes masks to a folder of your choice", index.root)
    else:
        items = truth_items(index)
        if not items:
            raise DatasetError("has no masks to export; add --predictions to export predicted masks", index.root)
    return index, items


def _print_progress(done: int, total: int) -> None:
    print(f"\r{done}/{total} images exported   ", end="", file=sys.stderr, flush=True)
