"""Planes, channels and pixel sizes through the dataset index: every file in shared/data/formats scans into one
sample per plane with the channel names and pixel sizes its SOURCE.md gives, reads the reader's pixels, pairs
masks per plane, and the channel rule and the dataset's settings apply."""

from __future__ import annotations

import csv
import json
import shutil
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
import tifffile
from PIL import Image

from core.classes import ClassTable
from core.data.index import DatasetIndex
from core.data.mask_saving import save_annotation
from core.data.settings import DatasetSettings
from core.errors import ConfigError, DatasetError, TrainingError
from core.export.exporter import ExportRequest, export_masks, truth_items
from core.io.images import COLOUR_PHOTO_NOTE
from core.io.readers import open_source
from tests.core.test_readers import EXPECTED

HYPERSTACK = "bbbc039_imagej_hyperstack_TZCYX.tif"


@pytest.fixture(scope="module")
def scanned(formats_dir):
    """Each format's folder scanned as a dataset."""
    return {sub: DatasetIndex.scan(formats_dir / sub) for sub in ("czi", "nd2", "lif", "ome-tiff", "tiff", "ome-zarr")}


def test_every_file_scans_into_one_sample_per_plane_with_its_channels_and_pixel_size(formats_dir, scanned):
    for name, (planes, channels, shape, _, pixel_size, _) in EXPECTED.items():
        index = scanned[name.split("/")[0]]
        samples = [s for s in index.samples if s.image == formats_dir / name]
        assert len(samples) == planes, name
        assert len({s.name for s in samples}) == planes, name
        first = samples[0]
        assert first.metadata.shape == shape, name
        if not isinstance(channels, int):
            assert first.channel_names == channels, name
        assert len(first.channel_names) == (channels if isinstance(channels, int) else len(channels)), name
        size = index.pixel_size_um(first)
        assert size == (None if pixel_size is None else pytest.approx((pixel_size, pixel_size), rel=2e-3)), name
        if planes == 1:
            assert first.name == first.image.stem  # a single plane keeps today's name


def test_plane_names_say_which_plane(scanned):
    czi = [s for s in scanned["czi"].samples if s.image.name == "czitools_CellDivision_T3_Z5_CH2_X240_Y170.czi"]
    assert [s.name[-6:] for s in czi[:6]] == ["_t1_z1", "_t1_z2", "_t1_z3", "_t1_z4", "_t1_z5", "_t2_z1"]
    assert czi[0].channel_names == ("LED555", "LED470") and czi[7].plane_label == "T2 Z3"
    pages = [s.name for s in scanned["tiff"].samples if "multipage" in s.name]
    assert pages == [f"bbbc039_multipage_3frames_page{i}" for i in (1, 2, 3)]
    assert scanned["lif"].samples[23].name == "PR2729_frameOrderCombinedScanTypes_t2_z3_tile4"


@pytest.mark.parametrize("sub, plane_number", [("tiff", 4), ("czi", 7), ("lif", 30), ("nd2", 5), ("ome-zarr", 0),
                                                ("ome-tiff", 10)])
def test_a_plane_read_through_the_index_is_the_readers_plane(scanned, sub, plane_number):
    index = scanned[sub]
    sample = [s for s in index.samples if s.plane is not None][plane_number] if plane_number else index.samples[0]
    with open_source(sample.image) as source:
        expected = source.read_plane(sample.plane or source.planes[0])
    image = index.load_image(sample)
    assert image.dtype == expected.dtype
    np.testing.assert_array_equal(image, expected)


def test_a_mask_saved_for_one_plane_pairs_back_to_that_plane_only(formats_dir, tmp_path):
    shutil.copy(formats_dir / "tiff" / HYPERSTACK, tmp_path)
    index = DatasetIndex.scan(tmp_path)
    target = index.sample("bbbc039_imagej_hyperstack_TZCYX_t2_z2")
    mask = np.zeros((128, 128), np.uint8)
    mask[10:40, 20:30] = 1
    saved = save_annotation(index, target, mask)
    assert saved.sample.mask == tmp_path / "masks" / "bbbc039_imagej_hyperstack_TZCYX_t2_z2.png"
    rescanned = DatasetIndex.scan(tmp_path)
    assert rescanned.layout == "folders" and len(rescanned.samples) == 6
    assert [s.name for s in rescanned.labeled] == ["bbbc039_imagej_hyperstack_TZCYX_t2_z2"]
    np.testing.assert_array_equal(rescanned.load_mask(rescanned.labeled[0]), mask)
    assert not [p for p in rescanned.validate() if p.kind != "unlabeled"]


def test_plane_masks_beside_the_stack_pair_by_suffix(formats_dir, tmp_path):
    shutil.copy(formats_dir / "tiff" / "bbbc039_multipage_3frames.tif", tmp_path)
    Image.fromarray(np.ones((520, 696), np.uint8)).save(tmp_path / "bbbc039_multipage_3frames_page3_mask.png")
    index = DatasetIndex.scan(tmp_path)
    assert index.layout == "suffix"
    assert [(s.name, s.mask is not None) for s in index.samples] == [
        ("bbbc039_multipage_3frames_page1", False), ("bbbc039_multipage_3frames_page2", False),
        ("bbbc039_multipage_3frames_page3", True)]


def test_a_two_channel_image_needs_a_chosen_channel(formats_dir, tmp_path):
    shutil.copy(formats_dir / "tiff" / HYPERSTACK, tmp_path)
    index = DatasetIndex.scan(tmp_path)
    sample = index.samples[3]
    with pytest.raises(ConfigError) as caught:
        index.model_image(sample, 1)
    message = str(caught.value)
    assert HYPERSTACK in message and "T2 Z1" in message and "0: Channel 1, 1: Channel 2" in message
    assert "--channel" in message
    chosen = replace(index, settings=replace(index.settings, channel="channel 2"))
    image, note = chosen.model_image(sample, 1)
    np.testing.assert_array_equal(image, index.load_image(sample)[:, :, 1])
    assert note is None
    by_number = replace(index, settings=replace(index.settings, channel=0))
    np.testing.assert_array_equal(by_number.model_image(sample, 1)[0], index.load_image(sample)[:, :, 0])
    image, _ = index.model_image(sample, 2)  # a 2-channel model reads both
    assert image.shape == (128, 128, 2)
    with pytest.raises(ConfigError, match="no channel 'DAPI'.*0: Channel 1, 1: Channel 2"):
        replace(index, settings=replace(index.settings, channel="DAPI")).model_image(sample, 1)


def test_an_rgb_photo_is_read_as_gray_and_the_run_is_told(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 255, (30, 40, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "photo.png")
    index = DatasetIndex.scan(tmp_path)
    image, note = index.model_image(index.samples[0], 1)
    expected = np.rint(rgb.astype(np.float64) @ [0.299, 0.587, 0.114]).astype(np.uint8)
    assert np.abs(image.astype(int) - expected).max() <= 1 and note == COLOUR_PHOTO_NOTE
    green = replace(index, settings=replace(index.settings, channel="Green"))
    image, note = green.model_image(index.samples[0], 1)
    np.testing.assert_array_equal(image, rgb[:, :, 1])
    assert note is None


def test_the_dataset_setting_gives_a_pixel_size_where_the_file_has_none(formats_dir, tmp_path):
    shutil.copy(formats_dir / "tiff" / "bbbc039_lzw.tif", tmp_path)
    assert DatasetIndex.scan(tmp_path).pixel_size_um(DatasetIndex.scan(tmp_path).samples[0]) is None
    settings = DatasetSettings(ClassTable.default(2), channel="Hoechst", pixel_size_um=0.65)
    settings.save(tmp_path)
    assert json.loads((tmp_path / "seglab.json").read_text())["version"] == 2
    index = DatasetIndex.scan(tmp_path)
    assert index.settings == settings
    assert index.pixel_size_um(index.samples[0]) == (0.65, 0.65)
    DatasetSettings(ClassTable.default(2)).save(tmp_path)  # nothing new set: still readable by older SegLab
    assert json.loads((tmp_path / "seglab.json").read_text())["version"] == 1
    (tmp_path / "seglab.json").write_text(json.dumps({**settings.to_json(), "pixel_size_um": -1}))
    scan = DatasetIndex.scan(tmp_path)
    assert [p.message for p in scan.problems if p.kind == "settings"][0].startswith(
        "the dataset settings cannot be read (the pixel size must be a positive number")


def test_measurements_and_label_tiffs_carry_the_pixel_size(formats_dir, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(formats_dir / "tiff" / HYPERSTACK, data)
    index = DatasetIndex.scan(data)
    mask = np.zeros((128, 128), np.uint8)
    mask[:10, :10] = 1
    mask[50:60, 50:55] = 1
    save_annotation(index, index.samples[0], mask)
    index = DatasetIndex.scan(data)
    result = export_masks(ExportRequest(truth_items(index), tmp_path / "out", index.settings.classes,
                                        ("measurements", "label_tiff", "overlay_png")))
    assert not result.failures
    with open(tmp_path / "out" / "measurements.csv", encoding="utf-8-sig", newline="") as handle:
        rows = {row["class"]: row for row in csv.DictReader(handle)}
    pixel = 0.65 * 0.65
    assert float(rows["class 1"]["area_um2"]) == pytest.approx(150 * pixel, rel=1e-4)
    assert int(rows["class 1"]["area_px"]) == 150 and rows["class 1"]["pixel_size_um"] == "0.65"
    assert float(rows["class 1"]["mean_object_um2"]) == pytest.approx(75 * pixel, rel=1e-4)
    label = tmp_path / "out" / "label_tiff" / "bbbc039_imagej_hyperstack_TZCYX_t1_z1.tif"
    with open_source(label) as source:
        assert source.pixel_size_um == pytest.approx((0.65, 0.65))
        np.testing.assert_array_equal(source.read_plane(source.planes[0]), mask)
    with tifffile.TiffFile(label) as tif:  # resolution tags for ImageJ: pixels per centimetre
        assert tif.pages[0].tags["XResolution"].value[0] / tif.pages[0].tags["XResolution"].value[1] == \
            pytest.approx(1e4 / 0.65)


def test_measurements_leave_micrometre_cells_empty_without_a_pixel_size(tmp_path):
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "a.png")
    index = DatasetIndex.scan(tmp_path)
    save_annotation(index, index.samples[0], np.eye(8, dtype=np.uint8))
    index = DatasetIndex.scan(tmp_path)
    export_masks(ExportRequest(truth_items(index), tmp_path / "out", index.settings.classes, ("measurements",)))
    with open(tmp_path / "out" / "measurements.csv", encoding="utf-8-sig", newline="") as handle:
        row = [r for r in csv.DictReader(handle) if r["class"] == "class 1"][0]
    assert row["area_px"] == "8" and row["area_um2"] == row["mean_object_um2"] == row["pixel_size_um"] == ""


def test_a_broken_microscope_file_is_one_unreadable_sample(tmp_path):
    (tmp_path / "scan.czi").write_bytes(b"not a czi" * 100)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "fine.png")
    index = DatasetIndex.scan(tmp_path)
    assert Counter(s.image.name for s in index.samples) == {"scan.czi": 1, "fine.png": 1}
    problems = [p for p in index.validate() if p.kind == "unreadable"]
    assert [p.path.name for p in problems] == ["scan.czi"] and "CZI" in problems[0].message
    with pytest.raises(DatasetError):
        DatasetIndex.scan(tmp_path / "missing")


def test_training_reads_the_chosen_channel_of_every_labelled_plane(formats_dir, tmp_path):
    from core.training.config import TrainConfig
    from core.training.data_setup import prepare_training_data

    shutil.copy(formats_dir / "tiff" / HYPERSTACK, tmp_path)
    index = DatasetIndex.scan(tmp_path)
    for sample in index.samples[:3]:
        save_annotation(index, sample, np.eye(128, dtype=np.uint8))
    index = DatasetIndex.scan(tmp_path)
    config = TrainConfig(data_dir=str(tmp_path), output=str(tmp_path / "m.safetensors"), val_fraction=0.0)
    both = prepare_training_data(config, index=index)
    assert both.in_channels == 2 and not both.skipped
    chosen = replace(index, settings=replace(index.settings, channel="Channel 2"))
    data = prepare_training_data(config, index=chosen)
    assert data.in_channels == 1 and len(data.train) == 3 and not data.skipped
    loaded = {s.name: s for s in data.train}
    np.testing.assert_array_equal(loaded["bbbc039_imagej_hyperstack_TZCYX_t1_z2"].image[:, :, 0],
                                  index.load_image(index.samples[1])[:, :, 1])
    with pytest.raises(TrainingError, match=r"TZCYX.tif \(T1 Z2\): the model reads 1 channel but this image has 2"):
        prepare_training_data(config, in_channels=1, index=index)  # fine-tuning a 1-channel model, no choice
