"""Saving edited masks in the dataset's own format (read back through DatasetIndex), where a rescan pairs
them, safely (changed on disk, read-only, full disk); recovery files; the painting primitives."""

from __future__ import annotations

import errno
import json
import os
import shutil

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from core.classes import ClassTable
from core.data.index import DatasetIndex
from core.data.mask_saving import annotation_stamp, annotation_target, save_annotation
from core.data.recovery_files import delete_recovery, list_recovery, read_recovery, write_recovery
from core.data.settings import DatasetSettings
from core.errors import MaskChangedOnDiskError, MaskFormatError, MaskSaveError
from core.io import atomic
from core.io.file_stamp import FileStamp
from core.io.labelme import read_labelme
from core.io.mask_formats import default_format, detect_format, encode_mask, write_stored
from core.io.masks import MaskEncoding, read_mask, read_raw_mask
from core.io.polygons import Polygon, rasterise
from core.mask_painting import (
    MaskPatch,
    PatchRecorder,
    apply_coverage,
    flood_coverage,
    polygon_coverage,
    polygon_region,
    segment_coverage,
    segment_region,
)

THREE = ClassTable.from_names(["background", "nucleus", "membrane"])


def blocks(shape=(40, 50), classes=3) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    mask[5:15, 5:20] = 1
    if classes > 2:
        mask[20:35, 25:45] = 2
    return mask


def make_pairs(root, images: dict[str, np.ndarray], masks: dict[str, object], mask_dir="masks"):
    (root / "images").mkdir(parents=True)
    (root / mask_dir).mkdir()
    for name, image in images.items():
        Image.fromarray(image).save(root / "images" / f"{name}.png")
    for filename, writer in masks.items():
        writer(root / mask_dir / filename)
    return root


def gray(shape=(40, 50)) -> np.ndarray:
    return (np.arange(shape[0] * shape[1]) % 251).astype(np.uint8).reshape(shape)


# encode_mask is the inverse of decode_mask ------------------------------------------------------

def _reference(kind: str, path, mask):
    """Write a reference mask file of one storage kind; returns (path, encoding)."""
    if kind == "paletted":
        image = Image.fromarray(mask).convert("P")
        image.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)
        image.save(path := path.with_suffix(".png"))
        return path, MaskEncoding()
    if kind == "index_l":
        Image.fromarray(mask).save(path := path.with_suffix(".png"))
        return path, MaskEncoding("index")
    if kind == "binary_0_255":
        Image.fromarray(np.where(mask > 0, 255, 0).astype(np.uint8)).save(path := path.with_suffix(".png"))
        return path, MaskEncoding()
    if kind == "inverted_value_map":  # ISBI read with membranes (black) as class 1
        Image.fromarray(np.where(mask > 0, 0, 255).astype(np.uint8)).save(path := path.with_suffix(".png"))
        return path, MaskEncoding("index", value_map={0: 1, 255: 0})
    if kind == "red_rgba_binary":  # BBBC039
        rgba = np.zeros(mask.shape + (4,), np.uint8)
        rgba[:, :, 0], rgba[:, :, 3] = mask, 255
        Image.fromarray(rgba).save(path := path.with_suffix(".png"))
        return path, MaskEncoding("binary", channel=0)
    if kind == "red_rgba_auto":
        rgba = np.zeros(mask.shape + (4,), np.uint8)
        rgba[:, :, 0], rgba[:, :, 3] = mask, 255
        Image.fromarray(rgba).save(path := path.with_suffix(".png"))
        return path, MaskEncoding()
    if kind == "gray_rgb":
        Image.fromarray(np.repeat(mask[:, :, None], 3, axis=2)).save(path := path.with_suffix(".png"))
        return path, MaskEncoding()
    if kind == "colour":
        Image.fromarray(THREE.colours_array()[mask]).save(path := path.with_suffix(".png"))
        return path, MaskEncoding("colour")
    if kind == "label_tiff16":
        tifffile.imwrite(path := path.with_suffix(".tif"), (mask.astype(np.uint16) * 300))
        return path, MaskEncoding("index", value_map={300: 1, 600: 2})
    if kind == "gray_alpha":
        Image.fromarray(np.dstack([mask, np.full_like(mask, 255)]), "LA").save(path := path.with_suffix(".png"))
        return path, MaskEncoding("index")
    raise AssertionError(kind)


KINDS = ["paletted", "index_l", "binary_0_255", "inverted_value_map", "red_rgba_binary", "red_rgba_auto",
         "gray_rgb", "colour", "label_tiff16", "gray_alpha"]


@pytest.mark.parametrize("kind", KINDS)
def test_encode_is_the_inverse_of_decode(tmp_path, kind):
    binary = kind in ("binary_0_255", "inverted_value_map", "red_rgba_binary")
    reference_mask = blocks(classes=2 if binary else 3)
    reference, encoding = _reference(kind, tmp_path / "reference", reference_mask)
    fmt = detect_format(reference, encoding, THREE)
    rng = np.random.default_rng(1)
    edited = rng.integers(0, 2 if binary else 3, reference_mask.shape).astype(np.uint8)
    raw = encode_mask(edited, fmt, THREE)
    target = tmp_path / f"edited{reference.suffix}"
    write_stored(target, raw, fmt, THREE)
    assert np.array_equal(read_mask(target, encoding, THREE), edited)
    stored = read_raw_mask(target)
    assert stored.shape == read_raw_mask(reference).shape and stored.dtype == read_raw_mask(reference).dtype
    if kind == "paletted":
        with Image.open(target) as image:
            assert image.mode == "P" and image.getpalette()[:9] == [0, 0, 0, 255, 0, 0, 0, 255, 0]


def test_a_binary_dataset_refuses_a_second_class_with_a_clear_message(tmp_path):
    reference, encoding = _reference("binary_0_255", tmp_path / "reference", blocks(classes=2))
    fmt = detect_format(reference, encoding, THREE)
    with pytest.raises(MaskFormatError, match=r"binary values \(0/255, one class\).*class 2 \(membrane\)"):
        encode_mask(blocks(classes=3), fmt, THREE)


def test_jpeg_masks_are_not_written(tmp_path):
    path = tmp_path / "m.jpg"
    Image.fromarray(blocks()).save(path)
    with pytest.raises(MaskFormatError, match="lossy"):
        detect_format(path, MaskEncoding(), THREE)


# the real datasets ------------------------------------------------------------------------------

def copy_dataset(source, target, stems, image_suffix, settings: dict | None = None):
    (target / "images").mkdir(parents=True)
    (target / "masks").mkdir()
    for stem in stems:
        shutil.copy(source / "images" / f"{stem}{image_suffix}", target / "images")
        shutil.copy(source / "masks" / f"{stem}.png", target / "masks")
    if settings is not None:
        (target / "seglab.json").write_text(json.dumps(settings))
    return target


def test_isbi_masks_stay_0_255_and_read_back_identically(isbi_dir, tmp_path):
    folder = copy_dataset(isbi_dir, tmp_path / "isbi", ["0", "1"], ".png")
    index = DatasetIndex.scan(folder)
    sample = index.sample("0")
    stamp = annotation_stamp(index, sample)
    mask = index.load_mask(sample)
    mask[100:140, 200:260] = 0
    mask[300:310, 10:500] = 1
    saved = save_annotation(index, sample, mask, stamp)
    assert saved.sample == sample and "0/255" in saved.description
    raw = read_raw_mask(folder / "masks" / "0.png")
    with Image.open(folder / "masks" / "0.png") as image:
        assert image.mode == "L"
    assert set(np.unique(raw).tolist()) == {0, 255}
    assert np.array_equal(DatasetIndex.scan(folder).load_mask(sample), mask)
    assert not saved.stamp.changed_files()


def test_bbbc_rgba_masks_keep_red_as_the_class_and_their_own_values(bbbc_dir, tmp_path):
    stems = sorted(p.stem for p in (bbbc_dir / "images").glob("*.tif"))[:2]
    settings = {"version": 1, "classes": [{"index": 0, "name": "background", "colour": "#000000"},
                                          {"index": 1, "name": "nucleus", "colour": "#E69F00"}],
                "mask_encoding": {"mode": "binary", "channel": 0, "threshold": 0, "value_map": {}}}
    folder = copy_dataset(bbbc_dir, tmp_path / "bbbc", stems, ".tif", settings)
    index = DatasetIndex.scan(folder)
    sample = index.sample(stems[0])
    original = read_raw_mask(sample.mask)
    mask = index.load_mask(sample)
    mask[:50, :80] = 1
    mask[400:, 600:] = 0
    save_annotation(index, sample, mask, annotation_stamp(index, sample))
    raw = read_raw_mask(sample.mask)
    assert raw.shape == (520, 696, 4) and raw.dtype == np.uint8
    assert not raw[:, :, 1:3].any() and (raw[:, :, 3] == 255).all()
    assert np.array_equal(raw[:, :, 0] > 0, mask == 1)
    new = (original[:, :, 0] == 0) & (mask == 1)
    assert (raw[:, :, 0][new] == 1).all()  # R = the class where SegLab painted
    kept = (original[:, :, 0] > 0) & (mask == 1)
    assert np.array_equal(raw[:, :, 0][kept], original[:, :, 0][kept])  # the nuclei's own values 1-3 stay
    assert set(np.unique(raw[:, :, 0][kept]).tolist()) == {1, 2, 3}
    assert np.array_equal(DatasetIndex.scan(folder).load_mask(sample), mask)


# new masks go where a rescan pairs them ---------------------------------------------------------

def _unlabeled_dataset(tmp_path, layout: str):
    root = tmp_path / layout
    mask = blocks()
    if layout == "folders":
        make_pairs(root, {"a": gray(), "b": gray()}, {"a_mask.png": lambda p: Image.fromarray(mask).save(p)})
    elif layout == "suffix":
        root.mkdir()
        for name in ("a", "b"):
            Image.fromarray(gray()).save(root / f"{name}.png")
        Image.fromarray(mask).save(root / "a_label.png")
    elif layout == "labelme":
        root.mkdir()
        for name in ("a", "b"):
            Image.fromarray(gray()).save(root / f"{name}.png")
        shape = {"label": "nucleus", "points": [[5, 5], [20, 5], [20, 15]], "shape_type": "polygon"}
        (root / "a.json").write_text(json.dumps({"shapes": [shape], "imagePath": "a.png",
                                                 "imageWidth": 50, "imageHeight": 40}))
    elif layout == "class_folders":
        (root / "images").mkdir(parents=True)
        for name in ("a", "b"):
            Image.fromarray(gray()).save(root / "images" / f"{name}.png")
        for number, cls in enumerate(("nucleus", "membrane"), start=1):
            (root / "masks" / cls).mkdir(parents=True)
            Image.fromarray(np.where(mask == number, 255, 0).astype(np.uint8)).save(root / "masks" / cls / "a.png")
    else:  # images_only
        root.mkdir()
        for name in ("a", "b"):
            Image.fromarray(gray()).save(root / f"{name}.png")
    DatasetSettings(THREE).save(root)
    return root


@pytest.mark.parametrize("layout", ["folders", "suffix", "labelme", "class_folders", "images_only"])
def test_a_new_mask_is_found_by_a_rescan(tmp_path, layout):
    root = _unlabeled_dataset(tmp_path, layout)
    index = DatasetIndex.scan(root)
    sample = index.sample("b")
    assert not sample.labeled
    edited = np.zeros((40, 50), np.uint8)
    edited[10:30, 10:30] = 2
    edited[12:18, 12:18] = 1
    polygons = [Polygon(((10, 10), (29, 10), (29, 29), (10, 29)), 2), Polygon(((12, 12), (17, 12), (17, 17), (12, 17)), 1)]
    assert np.array_equal(rasterise(polygons, edited.shape), edited)
    saved = save_annotation(index, sample, edited, annotation_stamp(index, sample), polygons=polygons)
    rescanned = DatasetIndex.scan(root)
    found = rescanned.sample("b")
    assert found.labeled and found == saved.sample
    assert rescanned.layout == ("folders" if layout == "images_only" else layout)
    assert np.array_equal(rescanned.load_mask(found), edited)
    if layout == "folders":
        assert found.mask.name == "b_mask.png"
    if layout == "suffix":
        assert found.mask.name == "b_label.png"
    if layout == "labelme":
        assert [s.points for s in read_labelme(found.labelme).shapes][0][:4] == polygons[0].points
    if layout == "images_only":
        assert found.mask == root / "masks" / "b.png"
        with Image.open(found.mask) as image:
            assert image.mode == "P"


def test_a_labelme_file_is_traced_exactly_when_brush_edits_are_not_polygons(tmp_path):
    root = _unlabeled_dataset(tmp_path, "labelme")
    index = DatasetIndex.scan(root)
    sample = index.sample("a")
    mask = index.load_mask(sample)
    cv2.circle(mask, (35, 25), 6, 2, -1)
    saved = save_annotation(index, sample, mask, annotation_stamp(index, sample), polygons=[Polygon(((0, 0), (3, 3), (0, 3)), 1)])
    assert "traced" in saved.description
    assert np.array_equal(DatasetIndex.scan(root).load_mask(sample), mask)


# safety -----------------------------------------------------------------------------------------

def test_a_mask_changed_on_disk_is_detected(tmp_path):
    root = _unlabeled_dataset(tmp_path, "folders")
    index = DatasetIndex.scan(root)
    sample = index.sample("a")
    stamp = annotation_stamp(index, sample)
    Image.fromarray(np.ones((40, 50), np.uint8)).save(sample.mask)  # another program saves it
    os.utime(sample.mask, ns=(stamp.entries[0][1] + 10**9, stamp.entries[0][1] + 10**9))
    with pytest.raises(MaskChangedOnDiskError, match="changed on disk"):
        save_annotation(index, sample, blocks(), stamp)
    save_annotation(index, sample, blocks(), stamp, overwrite=True)
    assert np.array_equal(index.load_mask(sample), blocks())
    assert annotation_target(index, index.sample("b")).paths == (root / "masks" / "b_mask.png",)


def test_a_new_mask_created_meanwhile_by_another_program_is_detected(tmp_path):
    root = _unlabeled_dataset(tmp_path, "folders")
    index = DatasetIndex.scan(root)
    stamp = annotation_stamp(index, index.sample("b"))
    Image.fromarray(blocks()).save(root / "masks" / "b_mask.png")
    with pytest.raises(MaskChangedOnDiskError):
        save_annotation(index, index.sample("b"), blocks(), stamp)


@pytest.mark.parametrize("code, words", [(errno.EROFS, "read-only"), (errno.EACCES, "read-only"),
                                         (errno.ENOSPC, "disk is full")])
def test_write_failures_are_explained(tmp_path, monkeypatch, code, words):
    root = _unlabeled_dataset(tmp_path, "folders")
    index = DatasetIndex.scan(root)
    sample = index.sample("a")
    before = sample.mask.read_bytes()

    def failing(target):
        raise OSError(code, os.strerror(code), str(target))

    monkeypatch.setattr(atomic, "_create_temp", failing)
    with pytest.raises(MaskSaveError, match=words) as caught:
        save_annotation(index, sample, blocks(classes=2), annotation_stamp(index, sample))
    assert "save again" in str(caught.value) and caught.value.path == sample.mask
    assert sample.mask.read_bytes() == before


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores folder permissions")
def test_a_read_only_folder_is_explained(tmp_path):
    root = _unlabeled_dataset(tmp_path, "folders")
    index = DatasetIndex.scan(root)
    os.chmod(root / "masks", 0o555)
    try:
        with pytest.raises(MaskSaveError, match="read-only"):
            save_annotation(index, index.sample("a"), blocks(classes=2))
    finally:
        os.chmod(root / "masks", 0o755)


def test_an_unreadable_mask_is_replaced_in_its_siblings_format(tmp_path):
    root = _unlabeled_dataset(tmp_path, "folders")
    Image.fromarray(blocks(classes=2) * 255).save(root / "masks" / "b_mask.png")  # a 0/255 sibling
    (root / "masks" / "a_mask.png").write_bytes(b"not a png")
    index = DatasetIndex.scan(root)
    save_annotation(index, index.sample("a"), blocks(classes=2))
    assert set(np.unique(read_raw_mask(root / "masks" / "a_mask.png")).tolist()) == {0, 255}
    assert np.array_equal(index.load_mask(index.sample("a")), blocks(classes=2))


def test_default_format_is_a_paletted_png_with_class_colours(tmp_path):
    fmt = default_format(THREE, MaskEncoding())
    write_stored(tmp_path / "m.png", encode_mask(blocks(), fmt, THREE), fmt, THREE)
    with Image.open(tmp_path / "m.png") as image:
        assert image.mode == "P" and tuple(image.getpalette()[3:6]) == THREE[1].colour


# recovery files ---------------------------------------------------------------------------------

def test_recovery_files_round_trip(tmp_path):
    source = tmp_path / "mask.png"
    source.write_bytes(b"x")
    stamp = FileStamp.of([source])
    mask8, mask16 = blocks(), (blocks().astype(np.uint16) * 700)
    write_recovery(tmp_path, "first", mask8, stamp)
    write_recovery(tmp_path, "second", mask16, None)
    entries = list_recovery(tmp_path)
    assert [e.name for e in entries] == ["first", "second"]
    assert np.array_equal(read_recovery(entries[0]), mask8) and read_recovery(entries[1]).dtype == np.uint16
    assert np.array_equal(read_recovery(entries[1]), mask16)
    assert not entries[0].source_changed
    source.write_bytes(b"changed")
    assert list_recovery(tmp_path)[0].source_changed
    delete_recovery(tmp_path, "first")
    assert [e.name for e in list_recovery(tmp_path)] == ["second"]
    (tmp_path / "broken.recovery.json").write_text("{")
    assert [e.name for e in list_recovery(tmp_path)] == ["second"]


# painting primitives ----------------------------------------------------------------------------

def test_a_brush_segment_is_the_thick_line_with_round_ends():
    shape = (60, 80)
    region = segment_region((10, 10), (60, 40), 4, shape)
    expected = np.zeros(shape, np.uint8)
    cv2.line(expected, (10, 10), (60, 40), 1, 8)
    cv2.circle(expected, (10, 10), 4, 1, -1)
    cv2.circle(expected, (60, 40), 4, 1, -1)
    mask = np.zeros(shape, np.uint8)
    assert apply_coverage(mask, region, segment_coverage((10, 10), (60, 40), 4, region), 3)
    assert np.array_equal(mask > 0, expected > 0)


def test_protect_and_patches():
    mask = blocks()
    original = mask.copy()
    recorder = PatchRecorder(mask)
    for p0, p1 in [((0, 10), (30, 10)), ((30, 10), (49, 30))]:
        region = segment_region(p0, p1, 3, mask.shape)
        recorder.save(region)
        apply_coverage(mask, region, segment_coverage(p0, p1, 3, region), 2, replace=0)
    assert (mask[original == 1] == 1).all()  # class 1 protected
    patch = recorder.finish()
    top, left, bottom, right = patch.region
    assert (original != mask)[top:bottom, left:right].sum() == (original != mask).sum()
    undone = mask.copy()
    patch.apply(undone, undo=True)
    assert np.array_equal(undone, original)
    patch.apply(undone)
    assert np.array_equal(undone, mask)


@pytest.mark.parametrize("thin", [True, False])
def test_patches_keep_only_the_changed_pixels_when_that_is_smaller(thin):
    before = np.zeros((300, 400), np.uint8)
    after = before.copy()
    if thin:
        cv2.line(after, (10, 10), (390, 290), 2, 1)
    else:
        after[50:250, 60:300] = 1
    patch = MaskPatch.between((0, 0, 300, 400), before, after)
    assert (patch.rows is not None) == thin
    assert patch.nbytes == (np.count_nonzero(after) * 6 if thin else 2 * 200 * 240)
    restored = after.copy()
    patch.apply(restored, undo=True)
    assert np.array_equal(restored, before)
    assert MaskPatch.between((0, 0, 300, 400), before, before) is None


def test_flood_and_polygon_coverage():
    mask = blocks()
    region, coverage = flood_coverage(mask, 10, 10)
    assert region == (5, 5, 15, 20) and coverage.all()
    region, coverage = flood_coverage(mask, 0, 0)
    assert region == (0, 0, 40, 50) and coverage.sum() == (mask == 0).sum()
    points = ((3.0, 4.0), (30.0, 6.0), (20.0, 33.0))
    region = polygon_region(points, mask.shape)
    full = np.zeros(mask.shape, bool)
    full[region[0]:region[2], region[1]:region[3]] = polygon_coverage(points, region)
    assert np.array_equal(full, rasterise([Polygon(points, 1)], mask.shape) > 0)
