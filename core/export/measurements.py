"""Per-image measurements of index masks, as one CSV for spreadsheets: a row per image and class with its
pixel area, the fraction of the image it covers, and the count and mean size of its connected objects
(8-connected, the objects of the COCO and ImageJ exports). Class 0 (background) has no objects; its
object cells are empty. Sizes are in pixels, and beside them in µm² where the pixel size is known (from the
image's metadata or the dataset's setting; `pixel_size_um` says which was used), else those cells are empty."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import cv2
import numpy as np

from core.classes import ClassTable
from core.export.outlines import OBJECT_CONNECTIVITY
from core.io.atomic import write_bytes_atomic
from core.io.images import value_counts
from core.report import CSV_ENCODING

MEASUREMENT_COLUMNS = ("image", "class_index", "class", "area_px", "area_um2", "area_fraction", "objects",
                       "mean_object_px", "mean_object_um2", "pixel_size_um")


def measure_mask(name: str, mask: np.ndarray, classes: ClassTable,
                 pixel_size_um: tuple[float, float] | None = None) -> list[dict]:
    """One row per class of the table (absent classes measure 0); unlabeled pixels count for no class.
    pixel_size_um: (y, x) µm of a pixel, for the µm² columns (None: left empty)."""
    counts = value_counts(mask, minlength=len(classes))
    total = mask.size
    pixel_area = pixel_size_um[0] * pixel_size_um[1] if pixel_size_um is not None else None
    rows = []
    for spec in classes:
        area = int(counts[spec.index])
        row = {"image": name, "class_index": spec.index, "class": spec.name, "area_px": area,
               "area_um2": _times(area, pixel_area), "area_fraction": area / total if total else 0.0,
               "objects": None, "mean_object_px": None, "mean_object_um2": None,
               "pixel_size_um": _pixel_size_text(pixel_size_um)}
        if spec.index != 0:
            sizes = object_sizes(mask == spec.index) if area else np.zeros(0, np.int64)
            row["objects"] = int(sizes.size)
            row["mean_object_px"] = float(sizes.mean()) if sizes.size else None
            row["mean_object_um2"] = _times(row["mean_object_px"], pixel_area)
        rows.append(row)
    return rows


def _times(pixels: float | None, pixel_area: float | None) -> float | None:
    return pixels * pixel_area if pixels is not None and pixel_area is not None else None


def _pixel_size_text(pixel_size_um: tuple[float, float] | None) -> str | None:
    """"0.325" for square pixels, "0.3x0.4" (y x x) otherwise."""
    if pixel_size_um is None:
        return None
    y, x = (f"{v:.6g}" for v in pixel_size_um)
    return y if y == x else f"{y}x{x}"


def object_sizes(binary: np.ndarray) -> np.ndarray:
    """Pixel count of each connected object of a bool mask."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(binary.view(np.uint8), connectivity=OBJECT_CONNECTIVITY)
    return stats[1:count, cv2.CC_STAT_AREA].astype(np.int64)


def write_measurements_csv(path: str | Path, rows: list[dict]) -> Path:
    path = Path(path)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(MEASUREMENT_COLUMNS)
    for row in rows:
        writer.writerow(["" if row[column] is None else row[column] for column in MEASUREMENT_COLUMNS])
    write_bytes_atomic(path, buffer.getvalue().encode(CSV_ENCODING))
    return path
