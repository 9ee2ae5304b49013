"""Painting into an index mask, a region at a time: brush segments, polygons, flood fill, and the
before/after patches that make each edit undoable. Numpy and OpenCV only (the editor's tools call these).

Regions are (top, left, bottom, right) in pixels, bottom and right exclusive. Points are (x, y) pixel
indices: a brush of radius r paints the disk cv2.circle(center, r) at every point and the band
cv2.line(p0, p1, thickness=2r) between consecutive points, so a stroke has no gaps however fast the
pointer moves. "Protect other classes": `replace` names the only values that may change (background and
unlabeled when painting, the current class when erasing); None lets every pixel change.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from core.io.polygons import Polygon, rasterise

Region = tuple[int, int, int, int]
Point = tuple[int, int]
_TILE = 64


def clip_region(region: Region, shape: tuple[int, int]) -> Region:
    top, left, bottom, right = region
    height, width = shape[:2]
    return (max(0, top), max(0, left), min(height, bottom), min(width, right))


def region_union(a: Region | None, b: Region | None) -> Region | None:
    if a is None or b is None:
        return a if b is None else b
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def region_empty(region: Region) -> bool:
    return region[2] <= region[0] or region[3] <= region[1]


def region_slices(region: Region) -> tuple[slice, slice]:
    return (slice(region[0], region[2]), slice(region[1], region[3]))


def replaceable(pixels: np.ndarray, replace: int | Sequence[int] | None) -> np.ndarray | bool:
    """Which pixels an edit may change: those holding `replace` (a value or several); None: all (True)."""
    if replace is None:
        return True
    if isinstance(replace, int | np.integer):
        return pixels == replace
    return np.isin(pixels, np.asarray(replace, dtype=pixels.dtype))


def apply_coverage(mask: np.ndarray, region: Region, coverage: np.ndarray, value: int,
                   replace: int | Sequence[int] | None = None) -> bool:
    """Set mask[region] = value where `coverage` (a bool crop of the region's size) is True and, if
    `replace` is given, the pixel holds `replace` (or one of its values). Returns whether any pixel changed."""
    target = mask[region_slices(region)]
    chosen = coverage & replaceable(target, replace)
    chosen &= target != value
    if not chosen.any():
        return False
    target[chosen] = value
    return True


# brush -----------------------------------------------------------------------------------------

def segment_region(p0: Point, p1: Point, radius: int, shape: tuple[int, int]) -> Region:
    """The pixels a brush segment can touch, clipped to the mask."""
    return clip_region((min(p0[1], p1[1]) - radius, min(p0[0], p1[0]) - radius,
                        max(p0[1], p1[1]) + radius + 1, max(p0[0], p1[0]) + radius + 1), shape)


def segment_coverage(p0: Point, p1: Point, radius: int, region: Region) -> np.ndarray:
    """bool crop of `region`: the disks of `radius` at both ends and the band between them."""
    top, left, bottom, right = region
    canvas = np.zeros((bottom - top, right - left), np.uint8)
    start, end = (p0[0] - left, p0[1] - top), (p1[0] - left, p1[1] - top)
    if radius <= 0:
        cv2.line(canvas, start, end, 1, 1, cv2.LINE_8)
    else:
        cv2.line(canvas, start, end, 1, 2 * radius, cv2.LINE_8)
    return canvas.view(bool)


# polygons --------------------------------------------------------------------------------------

def polygon_region(points: Sequence[tuple[float, float]], shape: tuple[int, int]) -> Region:
    """The pixels a polygon (pixel-centre coordinates) can paint, clipped to the mask."""
    xy = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return clip_region((math.floor(xy[:, 1].min()) - 1, math.floor(xy[:, 0].min()) - 1,
                        math.ceil(xy[:, 1].max()) + 2, math.ceil(xy[:, 0].max()) + 2), shape)


def polygon_coverage(points: Sequence[tuple[float, float]], region: Region) -> np.ndarray:
    """bool crop of `region`: the pixels core.io.polygons.rasterise paints for this polygon."""
    top, left, bottom, right = region
    shifted = tuple((x - left, y - top) for x, y in points)
    return rasterise([Polygon(shifted, 1)], (bottom - top, right - left)).view(bool)


# fill ------------------------------------------------------------------------------------------

def flood_coverage(mask: np.ndarray, x: int, y: int) -> tuple[Region, np.ndarray]:
    """The 4-connected region of pixels equal to mask[y, x] around (x, y): its bounds and a bool crop."""
    height, width = mask.shape
    flags = 4 | cv2.FLOODFILL_MASK_ONLY | (1 << 8)
    marks = np.zeros((height + 2, width + 2), np.uint8)
    source = mask if mask.dtype == np.uint8 else mask.astype(np.float32)
    _, _, _, (left, top, w, h) = cv2.floodFill(source, marks, (int(x), int(y)), 0, 0, 0, flags)
    region = (top, left, top + h, left + w)
    return region, marks[top + 1:top + 1 + h, left + 1:left + 1 + w].view(bool)


# undo patches ----------------------------------------------------------------------------------

def changed_bounds(before: np.ndarray, after: np.ndarray) -> Region | None:
    """Bounds (in crop coordinates) of the pixels that differ, or None."""
    rows = np.flatnonzero((before != after).any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero((before[rows[0]:rows[-1] + 1] != after[rows[0]:rows[-1] + 1]).any(axis=0))
    return (int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)


@dataclass(frozen=True, eq=False)
class MaskPatch:
    """The pixels one edit changed in `region`, before and after: stored as the whole rectangle, or as the
    changed pixels' positions and values when that is smaller (a long thin stroke across a big image)."""

    region: Region
    before: np.ndarray  # the rectangle's pixels, or (sparse) the changed pixels' values
    after: np.ndarray
    rows: np.ndarray | None = None  # sparse: positions of the changed pixels within the region
    cols: np.ndarray | None = None

    @classmethod
    def between(cls, region: Region, before: np.ndarray, after: np.ndarray) -> MaskPatch | None:
        """The patch from `before` to `after` (crops of `region`), cut down to the pixels that changed;
        None when nothing did."""
        inner = changed_bounds(before, after)
        if inner is None:
            return None
        cut = region_slices(inner)
        region = (region[0] + inner[0], region[1] + inner[1], region[0] + inner[2], region[1] + inner[3])
        before, after = before[cut], after[cut]
        changed = before != after
        count = int(np.count_nonzero(changed))
        position = np.uint16 if max(before.shape) <= np.iinfo(np.uint16).max else np.uint32
        sparse_bytes = count * 2 * (np.dtype(position).itemsize + before.itemsize)
        if sparse_bytes < 2 * before.nbytes:
            rows, cols = np.nonzero(changed)
            return cls(region, before[rows, cols], after[rows, cols], rows.astype(position), cols.astype(position))
        return cls(region, before.copy(), after.copy())

    @property
    def nbytes(self) -> int:
        positions = 0 if self.rows is None else self.rows.nbytes + self.cols.nbytes
        return self.before.nbytes + self.after.nbytes + positions

    def apply(self, mask: np.ndarray, undo: bool = False) -> None:
        """Write the after (or, undoing, the before) pixels into `mask`."""
        values = self.before if undo else self.after
        target = mask[region_slices(self.region)]
        if self.rows is None:
            target[...] = values
        else:
            target[self.rows, self.cols] = values

    def changed_values(self) -> tuple[np.ndarray, np.ndarray]:
        """(before, after) values of just the pixels that changed."""
        if self.rows is not None:
            return self.before, self.after
        changed = self.before != self.after
        return self.before[changed], self.after[changed]


class PatchRecorder:
    """Remembers the original pixels of every tile an edit in progress touches (call save(region) before
    changing a region), so a whole brush stroke becomes one before/after patch of its bounding box."""

    def __init__(self, mask: np.ndarray):
        self.mask = mask
        self.region: Region | None = None
        self._tiles: dict[tuple[int, int], np.ndarray] = {}

    def save(self, region: Region) -> None:
        if region_empty(region):
            return
        self.region = region_union(self.region, region)
        top, left, bottom, right = region
        for row in range(top // _TILE, (bottom - 1) // _TILE + 1):
            for col in range(left // _TILE, (right - 1) // _TILE + 1):
                if (row, col) not in self._tiles:
                    tile = (slice(row * _TILE, (row + 1) * _TILE), slice(col * _TILE, (col + 1) * _TILE))
                    self._tiles[(row, col)] = self.mask[tile].copy()

    def finish(self) -> MaskPatch | None:
        """What changed since the first save(); None if nothing did."""
        if self.region is None:
            return None
        top, left, bottom, right = self.region
        after = self.mask[region_slices(self.region)].copy()
        before = after.copy()
        for (row, col), saved in self._tiles.items():
            y0, x0 = row * _TILE, col * _TILE
            ys, xs = max(y0, top), max(x0, left)
            ye, xe = min(y0 + saved.shape[0], bottom), min(x0 + saved.shape[1], right)
            if ye > ys and xe > xs:
                before[ys - top:ye - top, xs - left:xe - left] = saved[ys - y0:ye - y0, xs - x0:xe - x0]
        return MaskPatch.between(self.region, before, after)
