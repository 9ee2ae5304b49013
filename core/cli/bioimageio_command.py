"""`python main.py export-bioimageio MODEL OUT.zip`: a SegLab model as a BioImage.IO model package."""

from __future__ import annotations

import argparse
import sys

from core.cli import EXIT_OK


def add_bioimageio_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Write a BioImage.IO model package (rdf.yaml, format 0.5) that ilastik, QuPath, "
                          "deepImageJ, BiaPy and napari plugins open: ONNX and TorchScript weights, test tensors "
                          "computed by SegLab, a README and a cover.")
    parser.add_argument("model", metavar="MODEL", help="SegLab model file (.safetensors)")
    parser.add_argument("output", metavar="OUT.zip", help="package to write ('.zip' is appended when missing)")
    parser.add_argument("--name", help="package name (default: the model file's name)")
    parser.add_argument("--author", action="append", default=[], metavar="NAME",
                        help="author (repeatable; at least one is required by the format)")
    parser.add_argument("--license", default="CC-BY-4.0", help="SPDX licence id (default CC-BY-4.0)")
    parser.add_argument("--description", default="", help="one-paragraph description (default: made from the model)")
    parser.add_argument("--sample", metavar="IMAGE",
                        help="image for the test tensors and the cover (default: one the model was trained on)")


def export_bioimageio(args: argparse.Namespace) -> int:
    from pathlib import Path

    from core.bioimageio.export import ExportDetails, export_package

    details = ExportDetails(name=args.name or Path(args.model).stem, authors=tuple(args.author),
                            license=args.license, description=args.description, sample_image=args.sample)
    path = export_package(args.model, args.output, details,
                          progress=lambda step, steps, what: print(f"{step}/{steps} {what}", file=sys.stderr))
    print(f"wrote {path}; check it with `bioimageio test {path}`")
    return EXIT_OK
