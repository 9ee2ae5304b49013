"""Assisted drawing (core/assist): GrabCut from a box, intelligent scissors and the magic wand find a
bright disk on noise in 8- and 16-bit images (through the display levels, as the viewer shows them) and a
real BBBC039 nucleus; corrections move the mask the right way; the wand grows with its tolerance."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from core.assist.grabcut import grabcut_box
from core.assist.magic_wand import auto_tolerance, magic_wand, tolerance_to_flip
from core.assist.scissors import IntelligentScissors, polygon_crop
from core.errors import ConfigError
from core.io.images import display_view, percentile_levels, read_image

CENTRE, RADIUS = (70, 60), 22


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def disk_image(dtype) -> tuple[np.ndarray, np.ndarray]:
    """A bright disk on a noisy background (stored as `dtype`, 12-bit range for uint16), as displayed, and
    the disk's mask."""
    rng = np.random.default_rng(1)
    truth = np.zeros((120, 150), np.uint8)
    cv2.circle(truth, CENTRE, RADIUS, 1, -1)
    top = 255 if dtype == np.uint8 else 4095
    image = rng.normal(0.2 * top, 0.04 * top, truth.shape) + 0.5 * top * truth
    image = np.clip(image, 0, top).astype(dtype)
    return display_view(image, percentile_levels(image)), truth.astype(bool)


def edge_points(count: int, radius: float = RADIUS) -> list[tuple[int, int]]:
    return [(round(CENTRE[0] + radius * math.cos(a)), round(CENTRE[1] + radius * math.sin(a)))
            for a in np.linspace(0, 2 * math.pi, count, endpoint=False)]


@pytest.fixture(params=[np.uint8, np.uint16], ids=["8-bit", "16-bit"])
def disk(request):
    return disk_image(request.param)


def test_grabcut_turns_a_box_around_the_disk_into_the_disk(disk):
    shown, truth = disk
    x, y = CENTRE
    box = (y - RADIUS - 4, x - RADIUS - 4, y + RADIUS + 5, x + RADIUS + 5)
    assert iou(grabcut_box(shown, box), truth) >= 0.9


def test_the_wand_clicked_in_the_disk_takes_the_disk(disk):
    shown, truth = disk
    assert iou(magic_wand(shown, CENTRE, auto_tolerance(shown, CENTRE)), truth) >= 0.9


def test_scissors_through_four_clicks_on_the_rim_outline_the_disk(disk):
    shown, truth = disk
    scissors = IntelligentScissors(shown)
    for point in edge_points(4):
        scissors.add_anchor(point)
    outline = scissors.close()
    assert iou(polygon_crop(outline, truth.shape).full(truth.shape), truth) >= 0.9
    distances = np.hypot(outline[:, 0] - CENTRE[0], outline[:, 1] - CENTRE[1])
    assert np.abs(distances - RADIUS).max() <= 2.5  # it follows the rim, not the chords between the clicks


def test_scissors_take_back_the_last_anchor_and_its_path():
    shown, _ = disk_image(np.uint8)
    scissors = IntelligentScissors(shown)
    for point in edge_points(4)[:3]:
        scissors.add_anchor(point)
    before = scissors.outline().copy()
    scissors.add_anchor(edge_points(4)[3])
    scissors.remove_last_anchor()
    assert np.array_equal(scissors.outline(), before) and len(scissors.anchors) == 3


def test_grabcut_finds_a_real_nucleus_from_its_box(bbbc_dir):
    stem = sorted(p.stem for p in (bbbc_dir / "images").glob("*.tif"))[1]
    image = read_image(bbbc_dir / "images" / f"{stem}.tif")
    shown = display_view(image, percentile_levels(image))
    red = cv2.imread(str(bbbc_dir / "masks" / f"{stem}.png"), cv2.IMREAD_UNCHANGED)[:, :, 2]
    _, pieces, stats, _ = cv2.connectedComponentsWithStats((red == 1).astype(np.uint8), connectivity=4)
    label = 1 + int(np.argsort(stats[1:, cv2.CC_STAT_AREA])[len(stats) // 2])  # a nucleus of median size
    x, y, w, h = stats[label, :4]
    box = (y - 3, x - 3, y + h + 3, x + w + 3)
    assert iou(grabcut_box(shown, box), pieces == label) >= 0.85


def test_grabcut_clicks_move_the_mask_the_right_way():
    """Two touching disks, the box around one and half the other: a background click on the second takes
    it out; a foreground click there brings it back."""
    rng = np.random.default_rng(2)
    first, second = np.zeros((120, 160), np.uint8), np.zeros((120, 160), np.uint8)
    cv2.circle(first, (60, 60), 20, 1, -1)
    cv2.circle(second, (98, 60), 20, 1, -1)
    shown = np.clip(rng.normal(40, 8, first.shape) + 150 * (first | second), 0, 255).astype(np.uint8)
    box = (36, 36, 85, 100)
    plain = grabcut_box(shown, box)
    fixed = grabcut_box(shown, box, refine_bg_points=[(92, 60)])
    assert (fixed & second.astype(bool)).sum() < (plain & second.astype(bool)).sum() / 4
    assert iou(fixed, first.astype(bool)) > iou(plain, first.astype(bool))
    back = grabcut_box(shown, box, refine_fg_points=[(92, 60)], refine_bg_points=[])
    assert back[60, 92] and (back & second.astype(bool)).sum() > (fixed & second.astype(bool)).sum()


def test_the_wand_region_grows_with_its_tolerance():
    rows, cols = np.mgrid[:100, :100]
    shown = np.clip(250 - np.hypot(rows - 50, cols - 50) * 3, 0, 255).astype(np.uint8)  # a bright cone
    regions = [magic_wand(shown, (50, 50), tolerance) for tolerance in (0, 10, 30, 60, 120)]
    sizes = [int(r.sum()) for r in regions]
    assert sizes == sorted(set(sizes)) and sizes[0] >= 1
    assert all(not (small & ~large).any() for small, large in zip(regions, regions[1:], strict=False))


def test_a_corrective_wand_click_sets_the_tolerance_that_flips_the_point():
    rows, cols = np.mgrid[:100, :100]
    shown = np.clip(250 - np.hypot(rows - 50, cols - 50) * 3, 0, 255).astype(np.uint8)
    outside = (50, 80)  # 30 px from the top: value 160
    grown = tolerance_to_flip(shown, (50, 50), 20, outside)
    assert magic_wand(shown, (50, 50), grown)[80, 50] and not magic_wand(shown, (50, 50), grown - 1)[80, 50]
    shrunk = tolerance_to_flip(shown, (50, 50), 120, outside)
    assert not magic_wand(shown, (50, 50), shrunk)[80, 50] and magic_wand(shown, (50, 50), shrunk + 1)[80, 50]


def test_native_16_bit_pixels_and_empty_boxes_are_refused_with_what_to_do():
    with pytest.raises(ConfigError, match="display_view"):
        magic_wand(np.zeros((10, 10), np.uint16), (5, 5), 10)
    with pytest.raises(ConfigError, match="drag a box"):
        grabcut_box(np.zeros((10, 10), np.uint8), (4, 4, 5, 9))
    with pytest.raises(ConfigError, match="outside"):
        IntelligentScissors(np.zeros((10, 10), np.uint8)).add_anchor((12, 3))
