"""Magic wand: the connected region of pixels whose value is within a tolerance of the clicked pixel's
(OpenCV flood fill with a fixed range), 4-connected, with its holes filled."""

from __future__ import annotations

import cv2
import numpy as np

from core.assist.mask_crop import MaskCrop, check_image8, check_point, fill_holes
from core.mask_painting import Point

MAX_TOLERANCE = 255
AUTO_REACH = 32  # auto_tolerance looks this far around the click


def magic_wand(image8: np.ndarray, seed: Point, tolerance: float, fill: bool = True) -> np.ndarray:
    """Bool mask (the image's size) of the pixels connected to `seed` (x, y) whose every channel is within
    `tolerance` (0-255 display levels) of the seed pixel's; `fill` fills the holes inside the region."""
    return wand_crop(image8, seed, tolerance, fill).full(image8.shape[:2])


def wand_crop(image8: np.ndarray, seed: Point, tolerance: float, fill: bool = True) -> MaskCrop:
    """As magic_wand, cut to the region's bounding box (what the editor applies)."""
    check_image8(image8)
    x, y = check_point(seed, image8.shape[:2])
    tolerance = float(min(max(tolerance, 0.0), MAX_TOLERANCE))
    height, width = image8.shape[:2]
    marks = np.zeros((height + 2, width + 2), np.uint8)
    difference = (tolerance,) * 3
    flags = 4 | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (1 << 8)
    _, _, _, (left, top, w, h) = cv2.floodFill(image8, marks, (x, y), 0, difference, difference, flags)
    pixels = marks[top + 1:top + 1 + h, left + 1:left + 1 + w].view(bool)
    return MaskCrop((top, left, top + h, left + w), fill_holes(pixels) if fill else pixels.copy())


def tolerance_to_flip(image8: np.ndarray, seed: Point, tolerance: float, point: Point, fill: bool = True) -> float:
    """The tolerance nearest to `tolerance` at which `point` (x, y) changes sides: the smallest that takes
    it into the wand's region when it is outside now, the largest that leaves it out when it is inside (a
    corrective click). The region only grows with the tolerance, so this is a bisection."""
    x, y = check_point(point, image8.shape[:2])

    def inside(value: float) -> bool:
        crop = wand_crop(image8, seed, value, fill)
        top, left, bottom, right = crop.region
        return top <= y < bottom and left <= x < right and bool(crop.pixels[y - top, x - left])

    start = int(round(tolerance))
    grow = not inside(start)
    low, high = (start, MAX_TOLERANCE) if grow else (0, start)
    if inside(low) or not inside(high):
        return float(tolerance)  # no tolerance flips it (it is out of reach, or as the seed itself)
    while high - low > 1:  # low leaves the point out, high takes it in
        middle = (low + high) // 2
        low, high = (low, middle) if inside(middle) else (middle, high)
    return float(high if grow else low)


def auto_tolerance(image8: np.ndarray, seed: Point, reach: int = AUTO_REACH) -> float:
    """A tolerance for a plain click at `seed`: from the seed's value to Otsu's threshold of the square
    `reach` pixels around it (the value that best splits it into object and background)."""
    check_image8(image8)
    x, y = check_point(seed, image8.shape[:2])
    gray = image8 if image8.ndim == 2 else cv2.cvtColor(image8, cv2.COLOR_RGB2GRAY)
    window = gray[max(0, y - reach):y + reach + 1, max(0, x - reach):x + reach + 1]
    threshold, _ = cv2.threshold(np.ascontiguousarray(window), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return max(1.0, abs(float(gray[y, x]) - threshold))
