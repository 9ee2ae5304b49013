"""The result of an assisted tool: a boolean mask cut to the region it lies in."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.errors import ConfigError
from core.mask_painting import Region, clip_region, region_empty, region_slices


@dataclass(frozen=True, eq=False)
class MaskCrop:
    """`pixels` (bool, the region's size) is the object within `region` (top, left, bottom, right)."""

    region: Region
    pixels: np.ndarray

    def full(self, shape: tuple[int, int]) -> np.ndarray:
        """The object as a bool mask of the whole image."""
        mask = np.zeros(shape[:2], bool)
        mask[region_slices(self.region)] = self.pixels
        return mask

    def shifted(self, top: int, left: int) -> MaskCrop:
        """The same crop in the coordinates of an image where this one's (0, 0) is at (left, top)."""
        r = self.region
        return MaskCrop((r[0] + top, r[1] + left, r[2] + top, r[3] + left), self.pixels)


def expand_region(region: Region, margin: int, shape: tuple[int, int]) -> Region:
    """`region` grown by `margin` pixels on every side, clipped to the image."""
    top, left, bottom, right = region
    return clip_region((top - margin, left - margin, bottom + margin, right + margin), shape)


def check_image8(image8: np.ndarray) -> None:
    """The assisted tools work on the displayed picture: uint8, gray (H, W) or colour (H, W, 3)."""
    if image8.dtype != np.uint8 or not (image8.ndim == 2 or (image8.ndim == 3 and image8.shape[2] == 3)):
        raise ConfigError(f"assisted tools need the displayed uint8 gray or RGB image, not a {image8.dtype} "
                          f"array of shape {image8.shape}; pass core.io.images.display_view(image, levels)")


def check_point(point: tuple[int, int], shape: tuple[int, int]) -> tuple[int, int]:
    x, y = int(point[0]), int(point[1])
    if not (0 <= x < shape[1] and 0 <= y < shape[0]):
        raise ConfigError(f"the point (x {x}, y {y}) lies outside the {shape[1]} x {shape[0]} image; click inside it")
    return x, y


def check_box(box: Region, shape: tuple[int, int]) -> Region:
    """The box clipped to the image; an empty or one-pixel-thin box cannot hold an object."""
    box = clip_region(tuple(int(v) for v in box), shape)
    if region_empty(box) or box[2] - box[0] < 2 or box[3] - box[1] < 2:
        raise ConfigError(f"the box (top, left, bottom, right) {box} is too small or outside the image; "
                          "drag a box at least 2 pixels wide and high around the object")
    return box


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """`mask` (bool) with every hole inside its pieces filled."""
    outlines, _ = cv2.findContours(mask.view(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    filled = np.zeros(mask.shape, np.uint8)
    cv2.drawContours(filled, outlines, -1, 1, -1)
    return filled.view(bool)
