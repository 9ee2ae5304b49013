"""Mask versions: every save keeps the files it replaces (byte for byte, whoever wrote them) in the dataset's
workspace, bounded per image, readable back as the dataset reads its masks."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from core.classes import ClassTable
from core.data import mask_history
from core.data.index import DatasetIndex
from core.data.mask_history import list_versions, read_version, record_version
from core.data.mask_saving import annotation_stamp, save_annotation
from core.data.settings import DatasetSettings
from core.data.workspace import WORKSPACE_NAME, user_data_dir
from core.io.labelme import write_labelme
from core.io.masks import MaskEncoding, write_mask
from core.io.polygons import Polygon, rasterise
from tests.core.synthetic import write_dataset

THREE = ClassTable.from_names(["background", "nucleus", "membrane"])
SHAPE = (40, 50)


def blocks(shift: int = 0, membrane: bool = True) -> np.ndarray:
    mask = np.zeros(SHAPE, np.uint8)
    mask[5:15, 5 + shift:20 + shift] = 1
    if membrane:
        mask[20:35, 25:45] = 2
    return mask


def images(root, *names: str):
    (root / "images").mkdir(parents=True)
    for name in names:
        Image.fromarray(np.full(SHAPE, 90, np.uint8)).save(root / "images" / f"{name}.png")
    return root


def save(root, name: str, mask: np.ndarray) -> DatasetIndex:
    index = DatasetIndex.scan(root)
    sample = index.sample(name)
    save_annotation(index, sample, mask, annotation_stamp(index, sample))
    return index


def labeled(mask: np.ndarray) -> int:
    return int(np.count_nonzero(mask))


def test_each_save_keeps_the_mask_it_replaces(tmp_path):
    name = "cell 1%"  # a space and a percent sign in the image name
    root = images(tmp_path / "data", name)
    (root / "masks").mkdir()
    write_mask(root / "masks" / f"{name}.png", blocks(), THREE)
    DatasetSettings(THREE).save(root)
    save(root, name, blocks(shift=10))
    index = save(root, name, blocks(shift=20, membrane=False))
    versions = list_versions(root, name)
    assert len(versions) == 2 and versions[0].time >= versions[1].time
    assert np.array_equal(read_version(versions[0], index), blocks(shift=10))
    assert np.array_equal(read_version(versions[1], index), blocks())
    assert [v.labeled_pixels for v in versions] == [labeled(blocks(shift=10)), labeled(blocks())]
    assert versions[0].reason == "before save" and versions[0].files[0].original == f"masks/{name}.png"
    info = json.loads((versions[0].folder / "version.json").read_text())
    assert info["version"] == 1 and info["name"] == name and info["labeled_pixels"] == labeled(blocks(shift=10))
    assert versions[0].folder.is_relative_to(root / WORKSPACE_NAME / "history")


def test_a_first_save_of_an_unlabeled_image_keeps_nothing_and_unchanged_files_are_kept_once(tmp_path):
    root = images(tmp_path / "data", "a", "b")
    (root / "masks").mkdir()
    write_mask(root / "masks" / "a.png", blocks(), THREE)
    DatasetSettings(THREE).save(root)
    save(root, "b", blocks())
    assert list_versions(root, "b") == []
    save(root, "b", blocks())
    save(root, "b", blocks(shift=5))
    assert len(list_versions(root, "b")) == 1  # the same file twice is one version


def _rgba_red_channel(path, mask: np.ndarray) -> None:
    """A BBBC039-style mask: object numbers in the red channel of an RGBA PNG."""
    rgba = np.zeros((*mask.shape, 4), np.uint8)
    rgba[..., 0] = mask * 7
    rgba[..., 3] = 255
    Image.fromarray(rgba, "RGBA").save(path)


@pytest.mark.parametrize("style", ["binary_0_255", "rgba_red_channel"])
def test_a_mask_seglab_did_not_write_is_kept_byte_for_byte(tmp_path, style):
    root = write_dataset(tmp_path / "data", count=2, size=48)
    mask_file = root / "masks" / "img0.png"
    if style == "rgba_red_channel":
        _rgba_red_channel(mask_file, (np.arange(48 * 48).reshape(48, 48) % 5 == 0).astype(np.uint8))
        DatasetSettings(ClassTable.from_names(["background", "nucleus"]),
                        MaskEncoding("binary", channel=0, threshold=0)).save(root)
    original_bytes = mask_file.read_bytes()
    before = DatasetIndex.scan(root).load_mask(DatasetIndex.scan(root).sample("img0"))
    index = save(root, "img0", np.zeros((48, 48), np.uint8))
    (version,) = list_versions(root, "img0")
    assert version.files[0].path.read_bytes() == original_bytes
    assert np.array_equal(read_version(version, index), before) and version.labeled_pixels == labeled(before)


def test_the_oldest_versions_are_dropped_past_the_bound(tmp_path, monkeypatch):
    monkeypatch.setattr(mask_history, "MAX_VERSIONS", 3)
    root = images(tmp_path / "data", "a")
    (root / "masks").mkdir()
    write_mask(root / "masks" / "a.png", blocks(shift=0), THREE)
    DatasetSettings(THREE).save(root)
    for shift in range(1, 6):
        index = save(root, "a", blocks(shift=shift))
    versions = list_versions(root, "a")
    assert [labeled(read_version(v, index)) for v in versions] == [labeled(blocks())] * 3
    assert [int(np.argmax(read_version(v, index)[10] == 1)) for v in versions] == [9, 8, 7]  # shifts 4, 3, 2
    assert len(list(versions[0].folder.parent.iterdir())) == 3


def test_one_mask_per_class_folder_round_trips(tmp_path):
    root = images(tmp_path / "data", "a")
    for number, name in ((1, "nucleus"), (2, "membrane")):
        (root / "masks" / name).mkdir(parents=True)
        Image.fromarray(np.where(blocks() == number, 255, 0).astype(np.uint8)).save(root / "masks" / name / "a.png")
    index = DatasetIndex.scan(root)
    assert index.layout == "class_folders"
    before = index.load_mask(index.sample("a"))
    assert labeled(before) == labeled(blocks())
    index = save(root, "a", blocks(shift=10))
    (version,) = list_versions(root, "a")
    assert version.kind == "class_masks" and len(version.files) == 2
    assert sorted(f.original for f in version.files) == ["masks/membrane/a.png", "masks/nucleus/a.png"]
    assert np.array_equal(read_version(version, index), before)
    assert not np.array_equal(index.load_mask(index.sample("a")), before)


def test_a_labelme_file_round_trips_and_only_its_own_file_counts_as_replaced(tmp_path):
    root = images(tmp_path / "data", "a")
    triangle = Polygon(((5, 5), (40, 8), (12, 30)), 1)
    write_labelme(root / "images" / "a.json", [triangle], THREE, root / "images" / "a.png", SHAPE)
    original = (root / "images" / "a.json").read_bytes()
    DatasetSettings(THREE).save(root)
    index = DatasetIndex.scan(root)
    sample = index.sample("a")
    assert record_version(index, sample, "before labelme export", replacing=tmp_path / "x.json") is None
    exported = record_version(index, sample, "before labelme export", replacing=root / "images" / "a.json")
    assert exported.reason == "before labelme export"
    index = save(root, "a", blocks())
    (version,) = list_versions(root, "a")  # the save found the same file already kept
    assert version.kind == "labelme" and version.files[0].path.read_bytes() == original
    assert np.array_equal(read_version(version, index), rasterise([triangle], SHAPE))


def test_history_of_a_dataset_seglab_cannot_write_into_goes_to_the_user_data_folder(tmp_path):
    root = write_dataset(tmp_path / "data", count=1, size=32)
    (root / WORKSPACE_NAME).write_text("not a folder")  # SegLab cannot make its workspace in the dataset
    original = (root / "masks" / "img0.png").read_bytes()
    save(root, "img0", np.zeros((32, 32), np.uint8))
    (version,) = list_versions(root, "img0")
    assert version.folder.is_relative_to(user_data_dir() / "workspaces")
    assert version.files[0].path.read_bytes() == original
    shutil.rmtree(version.folder.parent)
