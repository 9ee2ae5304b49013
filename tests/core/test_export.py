"""Every export format written, read back with an independent reader, and compared with the mask."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import scipy.ndimage as ndi
import tifffile
from PIL import Image

from core.classes import IGNORE_INDEX, ClassTable
from core.errors import ConfigError
from core.export.coco import rle_decode, rle_encode
from core.export.exporter import (
    FORMAT_KEYS,
    ExportItem,
    ExportRequest,
    existing_files,
    export_masks,
    planned_files,
)
from core.export.masks_export import OVERLAY_OPACITY, colour_mask, display_rgb, overlay_image
from core.io.images import read_image
from core.io.labelme import labelme_to_mask, read_labelme
from core.io.masks import UNLABELED_COLOUR, MaskEncoding, decode_mask, read_mask
from tests.core.export_checks import check_coco, check_measurements, check_rois, rle_to_mask

CLASSES = ClassTable.from_names(["background", "cell", "nucleus"])


@pytest.fixture(scope="module")
def isbi_pair(isbi_dir):
    """A 160 x 128 crop of an ISBI slice and its mask (class 1 = cell interior, with holes)."""
    image = read_image(isbi_dir / "images" / "0.png")[:160, :128]
    mask = read_mask(isbi_dir / "masks" / "0.png")[:160, :128]
    return image, mask


def tricky_mask() -> np.ndarray:
    """Three classes: rings with a nucleus in the hole or a pixel hanging into it, diagonal-only neighbours,
    image-edge objects, one-pixel objects and unlabeled pixels."""
    mask = np.zeros((40, 48), np.uint8)
    mask[5:20, 5:20] = 1
    mask[9:16, 9:16] = 0
    mask[11:14, 11:14] = 2  # a nucleus inside the ring's hole
    mask[25, 25] = mask[26, 26] = mask[27, 27] = 2  # one object: touching at corners
    mask[25, 27] = mask[27, 25] = 1
    mask[0:3, 40:48] = 1  # at the image edge
    mask[39, 0] = 2
    mask[30:36, 2:8] = IGNORE_INDEX
    mask[32, 30:46] = 1  # a one-pixel-wide line
    mask[17:27, 30:40] = 1  # a ring whose hole wraps around a pixel hanging from the ring by a corner
    mask[19:25, 32:38] = 0
    mask[19, 32] = mask[20, 33] = 1
    return mask


@pytest.fixture(params=["isbi", "tricky"])
def pair(request, isbi_pair):
    if request.param == "isbi":
        return isbi_pair
    mask = tricky_mask()
    image = (np.arange(mask.size, dtype=np.uint16).reshape(mask.shape) * 37 % 4096).astype(np.uint16)
    return image, mask


def export(tmp_path, image, mask, formats=FORMAT_KEYS, **changes):
    image_path = tmp_path / "data" / "sample.tif"
    image_path.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(image_path, image)
    item = ExportItem("sample", image_path, lambda: mask)
    request = ExportRequest((item,), tmp_path / "out", CLASSES, tuple(formats), image_root=tmp_path / "data",
                            **changes)
    return request, export_masks(request)


def test_every_format_reads_back_to_the_mask(tmp_path, pair):
    image, mask = pair
    request, result = export(tmp_path, image, mask)
    assert not result.failures and sorted(result.written) == sorted(planned_files(request))
    out = tmp_path / "out"
    unlabeled_as_background = np.where(mask == IGNORE_INDEX, 0, mask)

    # index masks: paletted PNG (palette = class colours) and label TIFF hold the class indices
    png = Image.open(out / "masks" / "sample.png")
    assert png.mode == "P"
    np.testing.assert_array_equal(np.asarray(png), mask)
    assert np.asarray(png.getpalette()[:9], np.uint8).reshape(3, 3).tolist() == CLASSES.colours_array().tolist()
    np.testing.assert_array_equal(tifffile.imread(out / "label_tiff" / "sample.tif"), mask)

    # colour PNG: every pixel has its class colour; unlabeled pixels UNLABELED_COLOUR
    rgb = np.asarray(Image.open(out / "colour_masks" / "sample.png").convert("RGB"))
    expected = np.tile(np.array(UNLABELED_COLOUR, np.uint8), mask.shape + (1,))
    labelled = mask != IGNORE_INDEX
    expected[labelled] = CLASSES.colours_array()[mask[labelled]]
    np.testing.assert_array_equal(rgb, expected)

    # labelme polygons rasterise (labelme's way, core/io/labelme.py) to the mask, unlabeled as __ignore__
    document = read_labelme(out / "labelme" / "sample.json")
    assert (out / "labelme" / document.image_path).resolve() == (tmp_path / "data" / "sample.tif").resolve()
    np.testing.assert_array_equal(labelme_to_mask(document, CLASSES), mask)

    check_coco(out / "coco.json", unlabeled_as_background, CLASSES, "sample.tif")
    check_rois(out / "imagej_rois" / "sample.zip", unlabeled_as_background, CLASSES)
    check_measurements(out / "measurements.csv", mask, CLASSES, "sample")


def test_overlay_blends_class_colours_over_the_displayed_image(isbi_pair):
    image, mask = isbi_pair
    overlay = overlay_image(image, mask, CLASSES)
    shown = display_rgb(image)
    assert overlay.shape == shown.shape and overlay.dtype == np.uint8
    background = mask == 0
    np.testing.assert_array_equal(overlay[background], shown[background])  # class 0 is not tinted
    inner = ndi.binary_erosion(mask == 1, iterations=2)  # away from outlines
    blend = np.rint((1 - OVERLAY_OPACITY) * shown[inner] + OVERLAY_OPACITY * np.array(CLASSES[1].colour))
    np.testing.assert_allclose(overlay[inner], blend, atol=1)
    edges = (mask == 1) & ~ndi.binary_erosion(mask == 1, border_value=1)
    np.testing.assert_array_equal(overlay[edges], np.tile(CLASSES[1].colour, (edges.sum(), 1)))


def test_colour_mask_of_unknown_values_is_black_and_unlabeled_in_its_colour():
    mask = np.array([[0, 1, 2, 7, IGNORE_INDEX]], np.uint8)
    np.testing.assert_array_equal(colour_mask(mask, CLASSES)[0],
                                  [*CLASSES.colours_array(), (0, 0, 0), UNLABELED_COLOUR])
    rgb = colour_mask(np.array([[0, 1, 2, IGNORE_INDEX]], np.uint8), CLASSES)
    assert decode_mask(rgb, MaskEncoding("colour"), CLASSES).tolist() == [[0, 1, 2, IGNORE_INDEX]]  # reads back


def test_rle_round_trip_is_column_major_and_starts_with_background():
    binary = np.array([[1, 0, 0], [1, 1, 0]], bool)
    assert rle_encode(binary) == {"size": [2, 3], "counts": [0, 2, 1, 1, 2]}  # columns: 11, 01, 00
    assert rle_encode(~binary) == {"size": [2, 3], "counts": [2, 1, 1, 2]}
    rng = np.random.default_rng(1)
    for _ in range(20):
        random = rng.random((7, 5)) < 0.5
        np.testing.assert_array_equal(rle_decode(rle_encode(random)), random)
        np.testing.assert_array_equal(rle_to_mask(rle_encode(random)), random)


def test_exporter_never_overwrites_unless_told(tmp_path, isbi_pair):
    image, mask = isbi_pair
    request, first = export(tmp_path, image, mask, ("index_png", "coco"))
    assert existing_files(request) == planned_files(request) == [tmp_path / "out/masks/sample.png",
                                                                  tmp_path / "out/coco.json"]
    before = {p: p.stat().st_mtime_ns for p in first.written}
    with pytest.raises(ConfigError, match="2 file"):
        export_masks(request)
    assert {p: p.stat().st_mtime_ns for p in first.written} == before
    changed = np.where(mask == 1, 2, mask).astype(np.uint8)
    _, again = export(tmp_path, image, changed, ("index_png", "coco"), overwrite=True)
    assert not again.failures
    np.testing.assert_array_equal(read_mask(tmp_path / "out/masks/sample.png"), changed)


def test_one_bad_image_is_listed_and_the_others_are_exported(tmp_path, isbi_pair):
    image, mask = isbi_pair
    good = tmp_path / "good.tif"
    tifffile.imwrite(good, image)
    items = (ExportItem("bad_values", good, lambda: np.full(mask.shape, 9, np.uint8)),
             ExportItem("missing_image", tmp_path / "nowhere.tif", lambda: mask),
             ExportItem("good", good, lambda: mask))
    done = []
    request = ExportRequest(items, tmp_path / "out", CLASSES, ("index_png", "overlay_png", "measurements"))
    result = export_masks(request, progress=lambda d, t: done.append((d, t)))
    assert [name for name, _ in result.failures] == ["bad_values", "missing_image"]
    assert "[9]" in result.failures[0][1] and "nowhere.tif" in result.failures[1][1]
    assert done == [(1, 3), (2, 3), (3, 3)]
    assert (tmp_path / "out/overlays/good.png").is_file() and not (tmp_path / "out/overlays/bad_values.png").exists()
    with open(tmp_path / "out/measurements.csv", encoding="utf-8-sig") as handle:
        assert {row["image"] for row in csv.DictReader(handle)} == {"good"}


def test_cancel_stops_between_images_and_keeps_what_was_written(tmp_path, isbi_pair):
    image, mask = isbi_pair
    items = tuple(ExportItem(f"image_{i}", tmp_path / "x.tif", lambda: mask) for i in range(4))
    calls = []
    result = export_masks(ExportRequest(items, tmp_path / "out", CLASSES, ("index_png",)),
                          cancel=lambda: calls.append(1) or len(calls) > 2)
    assert result.cancelled and [p.name for p in result.written] == ["image_0.png", "image_1.png"]


def test_unknown_format_and_empty_choice_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="unknown export format 'pdf'.*coco"):
        ExportRequest((), tmp_path, CLASSES, ("pdf",))
    with pytest.raises(ConfigError, match="at least one"):
        ExportRequest((), tmp_path, CLASSES, ())
