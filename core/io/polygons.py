"""Polygons <-> index masks: rasterise polygons, trace a mask's regions (holes included) as polygons.

Coordinates are pixel indices: the point (x, y) is the pixel in column x, row y, and SegLab's own polygons
(the editor's, traced ones) run through the centres of their border pixels. Polygons are painted exactly
as labelme paints them (Pillow's ImageDraw.polygon, fill and outline): fractional vertices are truncated
to whole pixels (labelme's 10.7 is pixel 10) and each row is filled between its edge crossings rounded
to the nearest pixel. A polygon traced from a region by mask_to_polygons paints exactly that region.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw

from core.classes import IGNORE_INDEX
from core.errors import ConfigError, MaskFormatError

Points = Sequence[tuple[float, float]]


class LabelCanvas:
    """An index mask being painted with Pillow's ImageDraw, the library labelme rasterises with.

    Painting a value over what is there equals labelme's per-shape boolean masks assigned in order.
    """

    def __init__(self, shape: tuple[int, int], dtype: np.dtype | type, base: np.ndarray | None = None):
        self.dtype = np.dtype(dtype)
        pixels = np.dtype(np.int32 if np.iinfo(self.dtype).max > 255 else np.uint8)  # Pillow's "I" or "L"
        if base is None:
            self.image = Image.new("I" if pixels == np.int32 else "L", (shape[1], shape[0]))
        else:  # Pillow copies the base before the first drawing
            self.image = Image.fromarray(np.ascontiguousarray(base, dtype=pixels))
        self.draw = ImageDraw.Draw(self.image)

    def polygon(self, points: Points, value: int) -> None:
        """A filled polygon; fewer than three points are padded by repeating the last (a pixel, a line)."""
        xy = [(float(x), float(y)) for x, y in points]
        xy += xy[-1:] * (3 - len(xy))
        self.draw.polygon(xy, fill=value, outline=value)

    def paste(self, pixels: np.ndarray, top: int, left: int, value: int) -> None:
        """Set `value` where the bool crop `pixels` (inside the mask, at top/left) is True."""
        height, width = pixels.shape
        self.image.paste(value, (left, top, left + width, top + height), Image.fromarray(pixels.astype(bool)))

    def array(self) -> np.ndarray:
        """The painted mask as a new (H, W) array of the canvas's dtype."""
        return np.asarray(self.image).astype(self.dtype)


@dataclass(frozen=True)
class Polygon:
    """A closed outline filled with one class. Later polygons paint over earlier ones."""

    points: tuple[tuple[float, float], ...]  # (x, y) pixel indices (column, row)
    class_index: int

    def as_array(self) -> np.ndarray:
        """(N, 2) float64 array of (x, y)."""
        return np.asarray(self.points, dtype=np.float64).reshape(-1, 2)


def rasterise(polygons: Iterable[Polygon], shape: tuple[int, int], base: np.ndarray | None = None,
              dtype: np.dtype | type | None = None) -> np.ndarray:
    """Paint polygons in order (later ones overwrite) into an index mask of `shape` (H, W), as labelme does.

    Starts from a copy of `base`, or zeros. dtype None: uint8, or uint16 when a class (or the base) needs it.
    """
    polygons = list(polygons)
    shape = (int(shape[0]), int(shape[1]))
    if base is not None and base.shape != shape:
        raise MaskFormatError(f"the base mask is {base.shape[1]}x{base.shape[0]} but the polygons need "
                              f"{shape[1]}x{shape[0]}")
    top = max((p.class_index for p in polygons), default=0)
    if dtype is None:
        wide = top > 255 or (base is not None and base.dtype.itemsize > 1)
        dtype = np.uint16 if wide else np.uint8
    dtype = np.dtype(dtype)
    if min((p.class_index for p in polygons), default=0) < 0 or top > np.iinfo(dtype).max:
        raise ConfigError(f"polygon classes must be 0..{np.iinfo(dtype).max} for a {dtype} mask")
    canvas = LabelCanvas(shape, dtype, base)
    for polygon in polygons:
        if polygon.points:
            canvas.polygon(polygon.points, int(polygon.class_index))
    return canvas.array()


def contour_to_polygon(contour: np.ndarray, class_index: int, epsilon: float = 1.0,
                       origin: tuple[float, float] = (0, 0)) -> Polygon:
    """An OpenCV contour ((N, 1, 2) or (N, 2) x, y) -> Polygon, simplified to `epsilon` px (0: unchanged).

    `origin` is added to every point (a contour traced in a crop -> image coordinates). This is the
    per-contour step of mask_to_polygons, which the GUI editor calls (e.g. classes=[c]) to turn a
    predicted mask into editable outlines; it also serves contours the editor traces itself.
    """
    points = np.asarray(contour, dtype=np.float32).reshape(-1, 1, 2)
    if epsilon > 0 and len(points) > 2:
        points = cv2.approxPolyDP(points, float(epsilon), True)
    xy = points.reshape(-1, 2).astype(np.float64) + np.asarray(origin, dtype=np.float64)
    return Polygon(tuple((x, y) for x, y in xy.tolist()), int(class_index))


def mask_to_polygons(mask: np.ndarray, classes: Sequence[int] | None = None, epsilon: float = 1.0,
                     min_area: int = 0, skip: Sequence[int] = (0, IGNORE_INDEX)) -> list[Polygon]:
    """The regions of an index mask as polygons, in painting order, ready for rasterise().

    Each connected region of a class gives its outer outline; the holes in it follow as polygons of the
    classes that fill them (background 0 included), then what lies inside those, and so on. Values in
    `skip`, and values not in `classes` when given, get no outline of their own and read back as 0.
    `epsilon`: simplification tolerance in px (cv2.approxPolyDP); `min_area`: regions of fewer pixels are
    left out, with what they enclose.

    With epsilon=0 and min_area <= 1 the round trip is exact: rasterise(polygons, mask.shape) equals the
    mask (skipped values as 0), one-pixel-wide lines and single pixels included (their polygons have one
    or two points). Regions are 8-connected, except where two traced classes meet in a 2x2 checkerboard
    (8-connected outlines would cross there): that level of nesting uses 4-connected regions, so
    diagonal-only neighbours become separate polygons. Simplified outlines (epsilon > 0) may overlap.
    """
    if mask.ndim != 2:
        raise MaskFormatError(f"an index mask must be 2-D, got shape {mask.shape}")
    keep = ~np.isin(mask, list(skip))
    if classes is not None:
        keep &= np.isin(mask, list(classes))
    values = np.where(keep, mask, 0).astype(mask.dtype, copy=False)
    zero_traced = 0 not in skip and (classes is None or 0 in classes)
    tracer = _Tracer(epsilon, min_area)
    tracer.trace(values, np.ones(mask.shape, bool), None if zero_traced else 0, (0, 0))
    return tracer.polygons


@dataclass(frozen=True)
class _Region:
    """One connected region of one value, cropped to its bounding box."""

    value: int
    top: int
    left: int
    pixels: np.ndarray  # bool crop: the region
    contour: np.ndarray  # outer outline in crop coordinates
    holes: np.ndarray  # bool crop: what the outline encloses that is not the region

    @property
    def box(self) -> tuple[slice, slice]:
        height, width = self.pixels.shape
        return (slice(self.top, self.top + height), slice(self.left, self.left + width))


class _Tracer:
    """Emits outlines level by level: regions first, then the contents of their holes, recursively."""

    def __init__(self, epsilon: float, min_area: int):
        self.epsilon = epsilon
        self.min_area = min_area
        self.polygons: list[Polygon] = []

    def trace(self, values: np.ndarray, area: np.ndarray, painted: int | None, origin: tuple[int, int]):
        """Describe `values` inside `area` (a bool crop that currently shows `painted`; None: unknown)."""
        wrong = area if painted is None else area & (values != painted)
        if not wrong.any():
            return
        connectivity = 4 if _regions_cross(values, wrong) else 8
        regions = [r for v in np.unique(values[wrong])
                   for r in _regions(wrong & (values == v), int(v), connectivity)]
        enclosed = np.zeros(values.shape, bool)
        for region in regions:
            enclosed[region.box] |= region.holes
        for region in regions:
            if region.pixels.sum() < self.min_area or (region.pixels & enclosed[region.box]).any():
                continue  # too small, or inside another region's hole: drawn when that hole is described
            corner = (origin[0] + region.left, origin[1] + region.top)
            self.polygons.append(contour_to_polygon(region.contour, region.value, self.epsilon, corner))
            if region.holes.any():
                self.trace(values[region.box], region.holes, region.value, corner)


def _regions_cross(values: np.ndarray, wrong: np.ndarray) -> bool:
    """Whether two values to be traced form a 2x2 checkerboard, where 8-connected regions would cross."""
    if min(values.shape) < 2:
        return False
    inside = wrong[:-1, :-1] & wrong[:-1, 1:] & wrong[1:, :-1] & wrong[1:, 1:]
    a, b, c, d = values[:-1, :-1], values[:-1, 1:], values[1:, :-1], values[1:, 1:]
    return bool(np.any(inside & (a == d) & (b == c) & (a != b)))


def _regions(binary: np.ndarray, value: int, connectivity: int) -> list[_Region]:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary.view(np.uint8),
                                                               connectivity=connectivity)
    regions = []
    for label in range(1, count):
        left, top, width, height = stats[label, :4].tolist()
        pixels = labels[top:top + height, left:left + width] == label
        contour = _outer_contour(pixels)
        filled = np.zeros(pixels.shape, np.uint8)
        cv2.fillPoly(filled, [contour], 1)
        regions.append(_Region(value, top, left, pixels, contour, filled.view(bool) & ~pixels))
    return regions


def _outer_contour(pixels: np.ndarray) -> np.ndarray:
    """The outer outline of one connected region, through its border pixels' centres."""
    # a one-pixel frame keeps the region off the image edge, where findContours would not trace it
    padded = cv2.copyMakeBorder(pixels.view(np.uint8), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    contours, _ = cv2.findContours(padded, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return contours[0] - 1
