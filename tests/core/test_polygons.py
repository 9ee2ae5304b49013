"""Polygons <-> masks: pixel-exact rasterising, and exact round trips of traced masks, holes included."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.errors import ConfigError, MaskFormatError
from core.io.masks import read_mask, read_raw_mask
from core.io.polygons import Polygon, contour_to_polygon, mask_to_polygons, rasterise


def square(x0, y0, x1, y1, class_index=1) -> Polygon:
    return Polygon(((x0, y0), (x1, y0), (x1, y1), (x0, y1)), class_index)


def round_trip(mask: np.ndarray, **kwargs) -> np.ndarray:
    return rasterise(mask_to_polygons(mask, epsilon=0, **kwargs), mask.shape)


# rasterise -----------------------------------------------------------------------------------------

def test_rasterise_corners_are_pixels_included():
    mask = rasterise([square(2, 1, 5, 3)], (6, 8))
    expected = np.zeros((6, 8), np.uint8)
    expected[1:4, 2:6] = 1  # corners are pixels: columns 2..5, rows 1..3 inclusive
    np.testing.assert_array_equal(mask, expected)
    assert mask.dtype == np.uint8


def test_rasterise_triangle_paints_exactly_the_pixels_inside_or_on_the_edges():
    mask = rasterise([Polygon(((10, 10), (14, 10), (10, 14)), 3)], (20, 20))
    ys, xs = np.nonzero(mask)
    assert set(zip(xs.tolist(), ys.tolist(), strict=True)) == {
        (x, y) for x in range(10, 15) for y in range(10, 15) if x + y <= 24}
    assert set(np.unique(mask).tolist()) == {0, 3}


def test_rasterise_truncates_fractional_vertices_as_labelme_does():
    for low, high in [(1.0, 4.0), (1.1, 4.9), (1.99, 4.5)]:  # all the pixels 1..4: labelme's 1.99 is pixel 1
        mask = rasterise([square(low, low, high, high)], (7, 7))
        expected = np.zeros((7, 7), np.uint8)
        expected[1:5, 1:5] = 1
        np.testing.assert_array_equal(mask, expected)
    slanted = [(3.7, 2.2), (40.9, 5.5), (35.2, 30.8), (6.49, 27.51)]
    truncated = [(int(x), int(y)) for x, y in slanted]
    np.testing.assert_array_equal(rasterise([Polygon(tuple(slanted), 1)], (40, 50)),
                                  rasterise([Polygon(tuple(truncated), 1)], (40, 50)))


def test_rasterise_later_polygons_overwrite_and_base_is_copied():
    base = np.full((10, 10), 7, np.uint8)
    mask = rasterise([square(0, 0, 5, 5, 1), square(3, 3, 8, 8, 2)], (10, 10), base=base)
    assert mask[0, 0] == 1 and mask[4, 4] == 2 and mask[8, 8] == 2 and mask[9, 9] == 7 and mask[0, 9] == 7
    assert (base == 7).all()


def test_rasterise_widens_to_uint16_for_classes_past_255_and_checks_ranges():
    mask = rasterise([square(0, 0, 2, 2, 300)], (4, 4))
    assert mask.dtype == np.uint16 and mask[1, 1] == 300
    with pytest.raises(ConfigError):
        rasterise([square(0, 0, 2, 2, 300)], (4, 4), dtype=np.uint8)
    with pytest.raises(MaskFormatError):
        rasterise([], (4, 4), base=np.zeros((5, 4), np.uint8))


# mask_to_polygons ---------------------------------------------------------------------------------

def test_ring_gives_outline_then_background_hole():
    mask = np.zeros((12, 12), np.uint8)
    mask[2:10, 2:10] = 1
    mask[4:8, 4:8] = 0
    polygons = mask_to_polygons(mask, epsilon=0)
    assert [p.class_index for p in polygons] == [1, 0]
    assert sorted(map(tuple, polygons[0].as_array().tolist())) == [(2, 2), (2, 9), (9, 2), (9, 9)]
    assert sorted(map(tuple, polygons[1].as_array().tolist())) == [(4, 4), (4, 7), (7, 4), (7, 7)]
    np.testing.assert_array_equal(rasterise(polygons, mask.shape), mask)


def test_nested_regions_of_several_classes_round_trip_exactly():
    mask = np.zeros((30, 30), np.uint8)
    mask[1:29, 1:29] = 1      # class 1 ...
    mask[4:26, 4:26] = 0      # ... ring around background
    mask[7:23, 7:23] = 2      # holding a class 2 ring
    mask[10:20, 10:20] = 1    # around a class 1 disc
    mask[13:17, 13:17] = 3    # around a class 3 core
    mask[15, 15] = 0          # with a one-pixel background hole
    polygons = mask_to_polygons(mask, epsilon=0)
    assert [p.class_index for p in polygons] == [1, 0, 2, 1, 3, 0]
    np.testing.assert_array_equal(rasterise(polygons, mask.shape), mask)


def test_thin_structures_and_single_pixels_round_trip_exactly():
    mask = np.zeros((16, 16), np.uint8)
    mask[2, 1:12] = 1                        # one-pixel-wide horizontal line
    mask[4:14, 3] = 2                        # vertical line
    mask[np.arange(5, 12), np.arange(6, 13)] = 1  # diagonal line
    mask[14, 14] = 2                         # single pixel
    mask[0, 0] = mask[15, 15] = 1            # pixels on the image corners
    polygons = mask_to_polygons(mask, epsilon=0)
    assert min(len(p.points) for p in polygons) == 1  # the single pixel
    np.testing.assert_array_equal(rasterise(polygons, mask.shape), mask)


def test_classes_crossing_at_a_diagonal_become_separate_regions():
    """The documented limit: a 2x2 checkerboard of two classes is traced as four one-pixel regions."""
    mask = np.array([[1, 2], [2, 1]], np.uint8)
    polygons = mask_to_polygons(mask, epsilon=0)
    assert len(polygons) == 4
    np.testing.assert_array_equal(rasterise(polygons, mask.shape), mask)


@pytest.mark.parametrize("kind", ["binary", "noise", "smooth", "sparse"])
def test_random_masks_round_trip_exactly(kind):
    rng = np.random.default_rng({"binary": 1, "noise": 2, "smooth": 3, "sparse": 4}[kind])
    for _ in range(40):
        h, w = (int(v) for v in rng.integers(1, 32, 2))
        if kind == "binary":
            mask = (rng.random((h, w)) < 0.5).astype(np.uint8)
        elif kind == "sparse":
            mask = np.where(rng.random((h, w)) < 0.3, rng.integers(1, 6, (h, w)), 0).astype(np.uint8)
        else:
            mask = rng.integers(0, 4, (h, w)).astype(np.uint8)
            if kind == "smooth":
                mask = cv2.medianBlur(mask, 3)
        np.testing.assert_array_equal(round_trip(mask), mask)
        np.testing.assert_array_equal(round_trip(mask, skip=()), mask)


def test_sixteen_bit_masks_round_trip():
    mask = np.repeat(np.arange(300, dtype=np.uint16)[None, :], 4, axis=0)
    expected = np.where(mask == 255, 0, mask)  # 255 is skipped as unlabeled by default
    np.testing.assert_array_equal(round_trip(mask), expected)
    np.testing.assert_array_equal(round_trip(mask, skip=(0,)), mask)


def test_skipped_and_unselected_values_read_back_as_background():
    mask = np.zeros((10, 10), np.uint8)
    mask[1:4, 1:4] = 1
    mask[5:9, 5:9] = 2
    mask[0, 9] = 255
    polygons = mask_to_polygons(mask, classes=[2], epsilon=0)
    assert {p.class_index for p in polygons} == {2}
    np.testing.assert_array_equal(rasterise(polygons, mask.shape), np.where(mask == 2, 2, 0))


def test_real_masks_round_trip_exactly(isbi_dir, bbbc_dir):
    isbi = read_mask(isbi_dir / "masks" / "0.png")  # 0/255 -> 0/1; cell interiors are class 1
    np.testing.assert_array_equal(round_trip(isbi), isbi)
    colours = read_raw_mask(next((bbbc_dir / "masks").glob("*.png")))[:, :, 0]  # nucleus colours 1..3
    np.testing.assert_array_equal(round_trip(colours), colours)
    assert len(mask_to_polygons(colours > 0, epsilon=0)) > 20


def test_epsilon_simplifies_outlines():
    square_mask = np.zeros((30, 30), np.uint8)
    square_mask[5:25, 5:25] = 1
    polygons = mask_to_polygons(square_mask, epsilon=1.0)
    assert len(polygons) == 1 and len(polygons[0].points) == 4
    np.testing.assert_array_equal(rasterise(polygons, square_mask.shape), square_mask)

    disc = np.zeros((80, 80), np.uint8)
    cv2.circle(disc, (40, 40), 30, 1, -1)
    exact, simple = mask_to_polygons(disc, epsilon=0), mask_to_polygons(disc, epsilon=1.0)
    assert len(simple[0].points) < len(exact[0].points) / 2
    redrawn = rasterise(simple, disc.shape)
    assert (redrawn & disc).sum() / (redrawn | disc).sum() > 0.97


def test_min_area_drops_specks_with_what_they_enclose():
    mask = np.zeros((20, 20), np.uint8)
    mask[2:12, 2:12] = 1
    mask[15:17, 15:17] = 2  # 4 pixels
    polygons = mask_to_polygons(mask, epsilon=0, min_area=5)
    assert [p.class_index for p in polygons] == [1]


def test_contour_to_polygon_offsets_and_simplifies():
    contour = np.array([[[0, 0]], [[5, 0]], [[10, 0]], [[10, 4]], [[0, 4]]], np.int32)
    polygon = contour_to_polygon(contour, 2, epsilon=0.5, origin=(100, 50))
    assert polygon.class_index == 2
    assert polygon.points == ((100.0, 50.0), (110.0, 50.0), (110.0, 54.0), (100.0, 54.0))  # (5, 0) dropped
    assert len(contour_to_polygon(contour, 2, epsilon=0).points) == 5


def test_mask_must_be_two_dimensional():
    with pytest.raises(MaskFormatError):
        mask_to_polygons(np.zeros((4, 4, 3), np.uint8))
