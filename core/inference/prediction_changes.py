"""How much a new prediction differs from the one before it: the share of pixels whose class changed, per image,
most changed first (Improve Model shows which images a better model sees differently)."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import SegLabError


@dataclass(frozen=True)
class PredictionChange:
    name: str  # the sample
    changed_share: float  # 0..1 of its pixels predicted as another class than before


def changed_share(previous: np.ndarray, new: np.ndarray) -> float:
    """The share of pixels whose class differs between two index masks; masks of different sizes (the image was
    replaced) differ everywhere."""
    if previous.shape != new.shape:
        return 1.0
    return float(np.count_nonzero(previous != new)) / max(new.size, 1)


def compare_predictions(previous: Mapping[str, str | Path], new: Mapping[str, str | Path]) -> list[PredictionChange]:
    """The change of every image with a previous and a new mask file (name -> file), most changed first. An
    image whose previous mask cannot be read has nothing to compare with and is left out; an unreadable new
    mask raises the reading error (it was just written, so the folder has a problem to fix)."""
    from core.io.masks import read_mask

    changes = []
    for name in sorted(set(previous) & set(new)):
        try:
            before = read_mask(previous[name])
        except SegLabError:
            continue
        changes.append(PredictionChange(name, changed_share(before, read_mask(new[name]))))
    return sorted(changes, key=lambda change: -change.changed_share)


def keep_copies(files: Mapping[str, str | Path], folder: str | Path) -> dict[str, Path]:
    """Copy each mask file (name -> file) into `folder`, so the original can be overwritten and compared with
    later; files that are gone are skipped. Returns name -> copy."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    copies = {}
    for name, path in files.items():
        copy = target / f"{len(copies)}{Path(path).suffix}"  # numbered: names may hold characters a file cannot
        try:
            shutil.copyfile(path, copy)
        except FileNotFoundError:
            continue
        copies[name] = copy
    return copies
