"""GrabCut from a box: the box is drawn around an object, OpenCV's GrabCut separates it from what
surrounds it; clicks on the object (foreground) or beside it (background) refine the cut.

It runs on a crop around the box (a margin of background to learn from), scaled down when the crop is
large, so its time depends on the object's size, not the image's. GrabCut models colours; a gray image
gives it one value per pixel, and where neighbouring objects look like the one in the box it returned
nothing for a quarter of BBBC039's nuclei. So for gray images the third channel is the distance from the
box's centre (in box half-widths): a prior that the object fills the box's middle (0 empty results).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from core.assist.mask_crop import MaskCrop, check_box, check_image8, check_point, expand_region, fill_holes
from core.mask_painting import Point, Region, region_slices, region_union

MIN_MARGIN = 12  # pixels of background around the box, at least...
MARGIN_SHARE = 0.5  # ...or this share of the box's longer side
MAX_WORK_PIXELS = 300_000  # larger crops are scaled down to this many pixels (speed)
CLICK_RADIUS = 2  # a refinement click marks a disk of this radius (in work pixels)
DISTANCE_LEVELS = 20  # gray images: the distance channel's value per box half-width from the centre


def grabcut_box(image8: np.ndarray, box: Region, refine_fg_points: Sequence[Point] = (),
                refine_bg_points: Sequence[Point] = (), iterations: int = 5) -> np.ndarray:
    """Bool mask (the image's size) of the object in `box` (top, left, bottom, right; bottom and right
    exclusive), refined by foreground and background clicks (x, y)."""
    return grabcut_crop(image8, box, refine_fg_points, refine_bg_points, iterations).full(image8.shape[:2])


def grabcut_crop(image8: np.ndarray, box: Region, refine_fg_points: Sequence[Point] = (),
                 refine_bg_points: Sequence[Point] = (), iterations: int = 5) -> MaskCrop:
    """As grabcut_box, cut to the region around the box (what the editor applies)."""
    check_image8(image8)
    shape = image8.shape[:2]
    box = check_box(box, shape)
    fg = [check_point(p, shape) for p in refine_fg_points]
    bg = [check_point(p, shape) for p in refine_bg_points]
    for x, y in fg:  # a foreground click outside the box widens it: the object reaches there
        box = region_union(box, expand_region((y, x, y + 1, x + 1), CLICK_RADIUS + 1, shape))
    side = max(box[2] - box[0], box[3] - box[1])
    crop = expand_region(box, max(MIN_MARGIN, math.ceil(side * MARGIN_SHARE)), shape)
    pixels = image8[region_slices(crop)]
    height, width = pixels.shape[:2]
    scale = min(1.0, math.sqrt(MAX_WORK_PIXELS / (height * width)))
    if scale < 1.0:
        pixels = cv2.resize(pixels, (max(2, round(width * scale)), max(2, round(height * scale))),
                            interpolation=cv2.INTER_AREA)
    work_box = (math.floor((box[0] - crop[0]) * scale), math.floor((box[1] - crop[1]) * scale),
                math.ceil((box[2] - crop[0]) * scale), math.ceil((box[3] - crop[1]) * scale))
    labels = np.full(pixels.shape[:2], cv2.GC_BGD, np.uint8)
    labels[region_slices(work_box)] = cv2.GC_PR_FGD
    for points, value in ((bg, cv2.GC_BGD), (fg, cv2.GC_FGD)):
        for x, y in points:
            centre = (round((x - crop[1] + 0.5) * scale - 0.5), round((y - crop[0] + 0.5) * scale - 0.5))
            cv2.circle(labels, centre, CLICK_RADIUS, int(value), -1)
    cv2.setRNGSeed(0)  # GrabCut starts from k-means: the same clicks give the same mask
    background, foreground = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(_features(pixels, work_box), labels, None, background, foreground, max(1, int(iterations)),
                cv2.GC_INIT_WITH_MASK)
    inside = ((labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)).astype(np.uint8)
    if scale < 1.0:
        inside = cv2.resize(inside * 255, (width, height), interpolation=cv2.INTER_LINEAR) >= 128
    clicked = [(x - crop[1], y - crop[0]) for x, y in fg]
    return MaskCrop(crop, _main_object(inside.astype(bool), clicked))


def _features(pixels: np.ndarray, box: Region) -> np.ndarray:
    """What GrabCut models per pixel: the colour, or for gray images the value twice and the distance
    from the box's centre."""
    if pixels.ndim == 3:
        return np.ascontiguousarray(pixels)
    top, left, bottom, right = box
    rows, cols = np.ogrid[:pixels.shape[0], :pixels.shape[1]]
    distance = np.hypot((rows + 0.5 - (top + bottom) / 2) / max((bottom - top) / 2, 1),
                        (cols + 0.5 - (left + right) / 2) / max((right - left) / 2, 1))
    return cv2.merge([pixels, pixels, np.clip(distance * DISTANCE_LEVELS, 0, 255).astype(np.uint8)])


def _main_object(inside: np.ndarray, clicked: list[Point]) -> np.ndarray:
    """The largest connected piece and every piece a foreground click touches, with their holes filled."""
    count, pieces, stats, _ = cv2.connectedComponentsWithStats(inside.view(np.uint8), connectivity=8)
    if count <= 1:
        return inside
    keep = {1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))} | {int(pieces[y, x]) for x, y in clicked}
    keep.discard(0)
    return fill_holes(np.isin(pieces, sorted(keep)))
