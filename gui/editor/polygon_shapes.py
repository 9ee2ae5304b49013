"""Editable polygons: the outlines the technician drew (or took from a prediction), kept per image beside
the mask so they can be reshaped after they were painted. The mask stays the truth: a polygon remembers
the pixels it painted over (`beneath`), and reshaping it puts those back where it still shows its class,
then paints the new outline. What was painted or erased over a polygon later stays as it is: a reshape
repaints only pixels the polygon still shows and pixels it newly covers.

Points are pixel indices (x, y) under the pixel-centre convention of core/io/polygons.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from core.io.polygons import Polygon
from core.mask_painting import (
    MaskPatch,
    Region,
    apply_coverage,
    polygon_coverage,
    polygon_region,
    region_slices,
    region_union,
)


@dataclass(frozen=True, eq=False)
class EditablePolygon:
    points: tuple[tuple[int, int], ...]
    class_index: int
    region: Region  # where it can paint (polygon_region of its points)
    beneath: np.ndarray  # the mask's pixels in `region` before it painted

    def as_polygon(self) -> Polygon:
        return Polygon(self.points, self.class_index)


@dataclass(frozen=True)
class PolygonChange:
    """One step on the mask and the polygon list: pixels (None when none changed) and the new polygon."""

    patch: MaskPatch | None
    shape: EditablePolygon | None


def repaint_polygon(mask: np.ndarray, old: EditablePolygon | None, points: tuple[tuple[int, int], ...] | None,
                    class_index: int, replace: int | None) -> PolygonChange:
    """What replacing polygon `old` (None: a new one) by `points` of `class_index` (None: deleting it)
    does to the mask. The mask itself is not changed; the command applies the patch."""
    region = region_union(old.region if old else None, polygon_region(points, mask.shape) if points else None)
    if region is None:
        return PolygonChange(None, None)
    work = mask[region_slices(region)].copy()
    before = work.copy()
    top, left = region[0], region[1]
    changed_since = np.zeros(work.shape, bool)  # under the old polygon but no longer showing its class
    if old is not None:
        o_top, o_left, o_bottom, o_right = old.region
        inner = (o_top - top, o_left - left, o_bottom - top, o_right - left)
        window = work[region_slices(inner)]
        covered = polygon_coverage(old.points, old.region)
        shows = covered & (window == old.class_index)
        window[shows] = old.beneath[shows]
        changed_since[region_slices(inner)] = covered & ~shows
    shape = None
    if points:
        new_region = polygon_region(points, mask.shape)
        inner = (new_region[0] - top, new_region[1] - left, new_region[2] - top, new_region[3] - left)
        beneath = work[region_slices(inner)].copy()
        coverage = polygon_coverage(points, new_region) & ~changed_since[region_slices(inner)]
        apply_coverage(work, inner, coverage, class_index, replace)
        shape = EditablePolygon(tuple(points), class_index, new_region, beneath)
    return PolygonChange(MaskPatch.between(region, before, work), shape)


def polygons_from(mask: np.ndarray, polygons: list[Polygon], replace: int | None
                  ) -> tuple[MaskPatch | None, tuple[EditablePolygon, ...]]:
    """Paint several polygons in order (e.g. a prediction's outlines): one patch and the editable shapes."""
    work = mask.copy()
    shapes = []
    for polygon in polygons:
        points = tuple((round(x), round(y)) for x, y in polygon.points)
        change = repaint_polygon(work, None, points, polygon.class_index, replace)
        if change.patch is not None:
            change.patch.apply(work)
        if change.shape is not None:
            shapes.append(change.shape)
    return MaskPatch.between((0, 0, *mask.shape), mask, work), tuple(shapes)


# hit tests (image pixel coordinates, pixel-centre convention) ----------------------------------

def nearest_vertex(points, x: float, y: float, tolerance: float) -> int | None:
    if not points:
        return None
    xy = np.asarray(points, dtype=np.float64)
    distances = np.hypot(xy[:, 0] - x, xy[:, 1] - y)
    best = int(np.argmin(distances))
    return best if distances[best] <= tolerance else None


def nearest_edge(points, x: float, y: float, tolerance: float) -> tuple[int, tuple[int, int]] | None:
    """(index to insert a vertex at, the pixel on the edge nearest to (x, y)) within `tolerance`."""
    best = None
    for i, (x0, y0) in enumerate(points):
        x1, y1 = points[(i + 1) % len(points)]
        dx, dy = x1 - x0, y1 - y0
        length = dx * dx + dy * dy
        t = 0.0 if length == 0 else max(0.0, min(1.0, ((x - x0) * dx + (y - y0) * dy) / length))
        px, py = x0 + t * dx, y0 + t * dy
        distance = math.hypot(x - px, y - py)
        if distance <= tolerance and (best is None or distance < best[0]):
            best = (distance, i + 1, (round(px), round(py)))
    return None if best is None else (best[1], best[2])


def contains(points, x: float, y: float) -> bool:
    if len(points) < 3:
        return False
    contour = np.asarray(points, dtype=np.float32).reshape(-1, 1, 2)
    return cv2.pointPolygonTest(contour, (float(x), float(y)), False) >= 0


def hit_shape(shapes, x: float, y: float, tolerance: float, prefer: int | None = None
              ) -> tuple[int, str, int | None] | None:
    """(shape index, 'vertex' | 'edge', vertex index) of the outline under (x, y): the preferred
    (selected) shape first, then the topmost (last painted) one."""
    order = ([prefer] if prefer is not None else []) + [i for i in reversed(range(len(shapes))) if i != prefer]
    for index in order:
        vertex = nearest_vertex(shapes[index].points, x, y, tolerance)
        if vertex is not None:
            return index, "vertex", vertex
    for index in order:
        if nearest_edge(shapes[index].points, x, y, tolerance) is not None:
            return index, "edge", None
    return None
