"""Uncertainty maps and scores on disk, beside the masks of a prediction folder:
`<folder>/uncertainty/<name>.tif` (float32, 0 = certain, 1 = most uncertain, same size as the image) and
`<folder>/uncertainty.csv` (image, score; most uncertain first)."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import tifffile

from core.errors import ImageReadError
from core.io.atomic import write_atomic, write_text_atomic

MAPS_FOLDER = "uncertainty"
SCORES_FILE = "uncertainty.csv"
SCORE_COLUMNS = ("image", "score")


def map_path(folder: str | Path, name: str) -> Path:
    return Path(folder) / MAPS_FOLDER / f"{name}.tif"


def map_path_for_mask(mask_path: str | Path) -> Path:
    """The uncertainty map kept with a predicted mask (`<folder>/<name>.png` -> `<folder>/uncertainty/<name>.tif`)."""
    mask_path = Path(mask_path)
    return map_path(mask_path.parent, mask_path.stem)


def write_map(path: str | Path, uncertainty: np.ndarray) -> None:
    """Write one map as a float32 TIFF (atomically; the folder is created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.ascontiguousarray(uncertainty, dtype=np.float32)
    write_atomic(path, lambda tmp: tifffile.imwrite(tmp, data, photometric="minisblack", compression="zlib"))


def read_map(path: str | Path) -> np.ndarray:
    """A map written by write_map, as float32 (H, W); ImageReadError names the file when it cannot be used."""
    try:
        data = tifffile.imread(path)
    except FileNotFoundError:
        raise ImageReadError("the uncertainty map is missing; segment the image again to make it", path) from None
    except Exception as exc:  # tifffile raises many types for damaged files
        raise ImageReadError(f"the uncertainty map cannot be read ({exc}); segment the image again", path) from exc
    if data.ndim != 2:
        raise ImageReadError(f"an uncertainty map must be one 2-D plane, this one has shape {data.shape}; "
                             "segment the image again", path)
    return data.astype(np.float32, copy=False)


def read_scores(folder: str | Path) -> dict[str, float]:
    """Scores in `<folder>/uncertainty.csv` (name -> score); {} when there is none. Rows that are not a name
    and a number are skipped (a hand-edited file still gives the rest)."""
    path = Path(folder) / SCORES_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ImageReadError(f"the uncertainty scores cannot be read ({exc}); segment again to rewrite them",
                             path) from exc
    scores = {}
    for row in csv.DictReader(io.StringIO(text)):
        try:
            score = float(row.get("score") or "nan")
        except ValueError:
            continue
        if row.get("image") and math.isfinite(score):
            scores[row["image"]] = score
    return scores


def write_scores(folder: str | Path, scores: dict[str, float]) -> Path:
    """Add or update these scores in `<folder>/uncertainty.csv` (others already there are kept), most uncertain
    first; returns the file."""
    return _write_all_scores(folder, {**read_scores(folder), **scores})


def forget_uncertainty(folder: str | Path, names: Iterable[str]) -> None:
    """Remove the maps and scores of `names` from `folder`: their masks were replaced by a prediction that has
    none (e.g. Evaluate's), so the old ones no longer describe them."""
    names = set(names)
    for name in names:
        map_path(folder, name).unlink(missing_ok=True)
    scores = read_scores(folder)
    if names & scores.keys():
        _write_all_scores(folder, {name: score for name, score in scores.items() if name not in names})


def _write_all_scores(folder: str | Path, scores: dict[str, float]) -> Path:
    path = Path(folder) / SCORES_FILE
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(SCORE_COLUMNS)
    for name, score in sorted(scores.items(), key=lambda item: (-item[1], item[0])):
        writer.writerow((name, f"{score:.6f}"))
    write_text_atomic(path, out.getvalue())
    return path
