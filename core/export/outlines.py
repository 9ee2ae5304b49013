"""Connected objects of an index mask and their outlines along pixel edges, for COCO and ImageJ exports.

An object is an 8-connected region of one class (cv2.connectedComponentsWithStats), as counted in the
measurements CSV. Its outline is a "crack" polygon: integer vertices at pixel corners, so the pixel in
column x, row y is the square [x, x+1] x [y, y+1]. Filled with the usual rule (a pixel belongs to the
shape when its centre lies inside, even-odd over the outer outline and the hole outlines), the outlines
give back exactly the object's pixels. This is the convention of ImageJ (traced ROIs) and COCO; SegLab's
editable polygons (core/io/polygons.py) use pixel centres instead, which those tools would read shifted
by half a pixel.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from core.classes import IGNORE_INDEX
from core.io.images import present_values

OBJECT_CONNECTIVITY = 8
"""Pixels touching at a corner belong to the same object (ImageJ's and scikit-image's default)."""

Outline = np.ndarray
"""(N, 2) int64 (x, y) pixel-corner vertices of a closed polygon, last vertex not repeated."""


@dataclass(frozen=True)
class MaskObject:
    """One connected region of one class, with its outline and the outlines of its holes."""

    class_index: int
    number: int  # 1, 2, ... within its class and image, in scan order (top to bottom, left to right)
    left: int
    top: int
    width: int
    height: int
    area: int  # pixels
    outline: Outline
    holes: tuple[Outline, ...]
    pixels: np.ndarray  # bool (height, width): the object within its bounding box

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        """(left, top, width, height) in pixels, as COCO stores it."""
        return (self.left, self.top, self.width, self.height)


def object_classes(mask: np.ndarray, skip: Sequence[int] = (0, IGNORE_INDEX)) -> list[int]:
    """The class values present in the mask that get objects (class 0 is background; ignore is skipped)."""
    return [int(v) for v in present_values(mask) if int(v) not in skip]


def mask_objects(mask: np.ndarray, skip: Sequence[int] = (0, IGNORE_INDEX)) -> Iterator[MaskObject]:
    """Every object of every class of the mask except `skip`, class by class."""
    for class_index in object_classes(mask, skip):
        yield from class_objects(mask == class_index, class_index)


def class_objects(binary: np.ndarray, class_index: int) -> Iterator[MaskObject]:
    """The objects of one class, given as a bool mask of its pixels."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary.view(np.uint8),
                                                               connectivity=OBJECT_CONNECTIVITY)
    for label in range(1, count):
        left, top, width, height, area = (int(v) for v in stats[label, :5])
        pixels = labels[top:top + height, left:left + width] == label
        outline, holes = crack_outlines(pixels)
        origin = np.array([left, top])
        yield MaskObject(class_index, label, left, top, width, height, area, outline + origin,
                         tuple(hole + origin for hole in holes), pixels)


def crack_outlines(pixels: np.ndarray) -> tuple[Outline, tuple[Outline, ...]]:
    """The outer outline and the hole outlines, along pixel edges, of one 8-connected region (bool array).

    Traced by OpenCV on the region enlarged 2x: every pixel becomes 2 x 2, so a contour point (the centre
    of a border sub-pixel) lies on the left/top (even) or right/bottom (odd) half of its pixel, which maps
    it to the crack on that side. OpenCV's holes are the 4-connected background parts the region encloses,
    as the 8-connected region needs. Parts that touch only at a corner share that vertex.
    """
    doubled = np.repeat(np.repeat(pixels.view(np.uint8), 2, axis=0), 2, axis=1)
    padded = cv2.copyMakeBorder(doubled, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    contours, hierarchy = cv2.findContours(padded, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    outlines = [_simplify(contour.reshape(-1, 2).astype(np.int64) // 2) for contour in contours]  # (X-1+1)//2
    parents = hierarchy.reshape(-1, 4)[:, 3]
    outer = [outline for outline, parent in zip(outlines, parents, strict=True) if parent < 0]
    holes = tuple(outline for outline, parent in zip(outlines, parents, strict=True) if parent >= 0)
    return max(outer, key=len), holes


def _simplify(points: np.ndarray) -> Outline:
    """Drop repeated vertices and vertices in the middle of a straight run."""
    keep = np.any(points != _previous(points), axis=1)
    points = points[keep] if keep.any() else points[:1]
    if len(points) < 3:
        return points
    before, after = _previous(points), np.concatenate([points[1:], points[:1]])
    cross = (points[:, 0] - before[:, 0]) * (after[:, 1] - points[:, 1]) - \
        (points[:, 1] - before[:, 1]) * (after[:, 0] - points[:, 0])
    return points[cross != 0]


def _previous(points: np.ndarray) -> np.ndarray:
    """Each vertex's predecessor on the closed outline (np.roll by one, without its overhead)."""
    return np.concatenate([points[-1:], points[:-1]])
