"""Masks derived for display: class outlines, prediction-versus-truth differences, and 8-bit views of
16-bit masks. Computed in row bands (so the GUI thread never stalls on a huge mask) and recomputed only in
a region after an edit. Numpy and OpenCV only; the Qt items that draw them live in mask_item.py.

Regions are (top, left, bottom, right) in pixels, bottom and right exclusive, as AppState.mask_changed says.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from core.classes import IGNORE_INDEX
from core.difference_colours import EXTRA, MISSED, WRONG_CLASS

Region = tuple[int, int, int, int]
BAND_PIXELS = 1 << 20  # about 5 ms of work per band on a slow laptop core
_KERNEL = np.ones((3, 3), dtype=np.uint8)

# difference codes (core.difference_colours) by lookup tables, for speed; see difference_into
_TRUTH_STATE = np.full(256, 4, dtype=np.uint8)  # 0 background, 4 object, 8 unlabeled
_TRUTH_STATE[0], _TRUTH_STATE[IGNORE_INDEX] = 0, 8
_PREDICTED_STATE = np.full(256, 2, dtype=np.uint8)  # 0 background (or unlabeled), 2 object
_PREDICTED_STATE[0], _PREDICTED_STATE[IGNORE_INDEX] = 0, 0
_CODE_OF_KEY = np.zeros(256, dtype=np.uint8)  # key = truth state + predicted state + (same value)
_CODE_OF_KEY[[2, 4, 6]] = (EXTRA.code, MISSED.code, WRONG_CLASS.code)


def clip_region(region: Region | None, shape: tuple[int, int], grow: int = 0) -> Region:
    """The region (or the whole mask) grown by `grow` pixels and clipped to the mask."""
    height, width = shape
    if region is None:
        return (0, 0, height, width)
    top, left, bottom, right = (int(v) for v in region)
    return (max(0, top - grow), max(0, left - grow), min(height, bottom + grow), min(width, right + grow))


def as_display_indices(mask: np.ndarray) -> np.ndarray:
    """uint8 indices to draw: 16-bit masks (more than 255 classes) show classes 1..254; higher values are
    drawn like unlabeled pixels."""
    if mask.dtype == np.uint8:
        return mask
    return np.minimum(mask, IGNORE_INDEX).astype(np.uint8)


def outline_into(mask: np.ndarray, out: np.ndarray, region: Region) -> None:
    """out[region] = the class of each pixel on a class boundary (a 3x3 neighbour differs), else 0."""
    top, left, bottom, right = region
    if bottom <= top or right <= left:
        return
    ctop, cleft, cbottom, cright = clip_region(region, mask.shape, grow=1)
    window = as_display_indices(mask[ctop:cbottom, cleft:cright])
    edges = cv2.morphologyEx(window, cv2.MORPH_GRADIENT, _KERNEL)
    inner = (slice(top - ctop, bottom - ctop), slice(left - cleft, right - cleft))
    target = out[top:bottom, left:right]
    target[...] = 0
    cv2.bitwise_and(window[inner], window[inner], dst=target, mask=edges[inner])


def difference_into(truth: np.ndarray, predicted: np.ndarray, out: np.ndarray, region: Region) -> None:
    """out[region] = the difference code of each pixel, as core.difference_colours.difference_codes
    gives it for 8-bit masks: missed, extra or wrong class; 0 where they agree or the truth is unlabeled."""
    top, left, bottom, right = region
    if bottom <= top or right <= left:
        return
    t = as_display_indices(truth[top:bottom, left:right])
    p = as_display_indices(predicted[top:bottom, left:right])
    same = cv2.bitwise_and(cv2.compare(t, p, cv2.CMP_EQ), 1)
    key = cv2.add(cv2.add(cv2.LUT(t, _TRUTH_STATE), cv2.LUT(p, _PREDICTED_STATE)), same)
    out[top:bottom, left:right] = cv2.LUT(key, _CODE_OF_KEY)


class DerivedMask:
    """A uint8 (H, W) buffer computed from masks by `fill(out, region)`, band by band.

    `reach` is how far an edit's effect spreads (1 for outlines: a neighbour's boundary changes too).
    """

    def __init__(self, shape: tuple[int, int], fill: Callable[[np.ndarray, Region], None], reach: int = 0):
        self.array = np.zeros(shape, dtype=np.uint8)
        self._fill = fill
        self.reach = reach
        self._band_rows = max(1, BAND_PIXELS // max(1, shape[1]))
        self._next_row = 0

    @property
    def complete(self) -> bool:
        return self._next_row >= self.array.shape[0]

    def compute_band(self) -> Region | None:
        """Compute the next band of rows; returns its region, or None when all rows are done."""
        if self.complete:
            return None
        height, width = self.array.shape
        top = self._next_row
        self._next_row = min(height, top + self._band_rows)
        region = (top, 0, self._next_row, width)
        self._fill(self.array, region)
        return region

    def refresh(self, region: Region | None) -> Region:
        """Recompute what an edit of `region` changed and return the region to repaint. None (everywhere)
        starts the bands again instead: call compute_band until it returns None."""
        if region is None:
            self._next_row = 0  # recomputed band by band again
            return clip_region(None, self.array.shape)
        grown = clip_region(region, self.array.shape, grow=self.reach)
        if grown[0] < self._next_row:  # rows below are computed later by compute_band anyway
            self._fill(self.array, (grown[0], grown[1], min(grown[2], self._next_row), grown[3]))
        return grown


def outline_view(mask: np.ndarray) -> DerivedMask:
    return DerivedMask(mask.shape, lambda out, region: outline_into(mask, out, region), reach=1)


def difference_view(truth: np.ndarray, predicted: np.ndarray) -> DerivedMask:
    return DerivedMask(truth.shape, lambda out, region: difference_into(truth, predicted, out, region))


def indices_view(mask: np.ndarray) -> DerivedMask:
    """8-bit copy of a 16-bit mask (see as_display_indices), refreshed where it is edited."""
    def fill(out: np.ndarray, region: Region) -> None:
        top, left, bottom, right = region
        out[top:bottom, left:right] = as_display_indices(mask[top:bottom, left:right])

    return DerivedMask(mask.shape, fill)
