"""Intelligent scissors: a path that follows the image's edges from the last clicked anchor to the pointer
(OpenCV's IntelligentScissorsMB), closed into a polygon and painted with the project's rasteriser.

Finding paths costs time with the area searched, so each anchor prepares only the square `reach` pixels
around it (about 20 ms on an idle 2-core CPU for the default); beyond it the path is a straight line.
"""

from __future__ import annotations

import cv2
import numpy as np

from core.assist.mask_crop import MaskCrop, check_image8, check_point, expand_region
from core.mask_painting import Point, Region, polygon_coverage, polygon_region

DEFAULT_REACH = 128


class IntelligentScissors:
    """Anchors clicked in order and the edge-following path through them, over one displayed image."""

    def __init__(self, image8: np.ndarray, reach: int = DEFAULT_REACH):
        check_image8(image8)
        self.image8 = image8
        self.reach = int(reach)
        self.anchors: list[Point] = []
        self._segments: list[np.ndarray] = []  # (N, 2) x, y paths between consecutive anchors
        self._tool = cv2.segmentation.IntelligentScissorsMB()
        self._tool.setEdgeFeatureCannyParameters(32, 100)
        self._tool.setGradientMagnitudeMaxLimit(200)
        self._window: Region = (0, 0, 0, 0)  # the region prepared around the last anchor

    @property
    def shape(self) -> tuple[int, int]:
        return self.image8.shape[:2]

    def add_anchor(self, point: Point) -> None:
        """Fix the path to `point` (none for the first anchor) and search onwards from there."""
        point = check_point(point, self.shape)
        if self.anchors:
            if point == self.anchors[-1]:
                return
            self._segments.append(self.path_to(point))
        self.anchors.append(point)
        self._prepare(point)

    def remove_last_anchor(self) -> None:
        """Take back the last anchor and the path to it."""
        if not self.anchors:
            return
        self.anchors.pop()
        if self._segments:
            self._segments.pop()
        if self.anchors:
            self._prepare(self.anchors[-1])

    def path_to(self, point: Point) -> np.ndarray:
        """(N, 2) x, y pixels of the path from the last anchor to `point`, both included."""
        if not self.anchors:
            raise ValueError("path_to needs an anchor: call add_anchor first")
        x, y = check_point(point, self.shape)
        top, left, bottom, right = self._window
        start = np.asarray([self.anchors[-1]], np.int32)
        if not (top <= y < bottom and left <= x < right):
            return np.concatenate([start, [[x, y]]]).astype(np.int32)
        path = self._tool.getContour((x - left, y - top)).reshape(-1, 2) + (left, top)
        return path.astype(np.int32) if len(path) else np.concatenate([start, [[x, y]]]).astype(np.int32)

    def outline(self, pointer: Point | None = None) -> np.ndarray:
        """(N, 2) the fixed path through the anchors, and on to `pointer` when given."""
        parts = [np.asarray(self.anchors[:1], np.int32).reshape(-1, 2)]
        parts += [segment[1:] for segment in self._segments]
        if pointer is not None and self.anchors:
            parts.append(self.path_to(pointer)[1:])
        return np.concatenate(parts)

    def close(self) -> np.ndarray:
        """The closed polygon: the path through every anchor and back to the first (from the last anchor)."""
        if len(self.anchors) < 2:
            raise ValueError("closing needs at least two anchors")
        return self.outline(self.anchors[0])[:-1]

    def _prepare(self, anchor: Point) -> None:
        x, y = anchor
        self._window = expand_region((y, x, y + 1, x + 1), self.reach, self.shape)
        top, left, bottom, right = self._window
        self._tool.applyImage(np.ascontiguousarray(self.image8[top:bottom, left:right]))
        self._tool.buildMap((x - left, y - top))


def polygon_crop(points: np.ndarray, shape: tuple[int, int]) -> MaskCrop:
    """The pixels the polygon `points` ((N, 2) x, y) paints with core.io.polygons.rasterise."""
    vertices = [(float(x), float(y)) for x, y in points]
    region = polygon_region(vertices, shape)
    return MaskCrop(region, polygon_coverage(vertices, region))
