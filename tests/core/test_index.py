"""Dataset scanning: pairing in every layout, natural order, problems reported as data, mask loading."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from core.classes import ClassTable
from core.data.index import DatasetIndex, Problem, propose_settings
from core.data.settings import DatasetSettings
from core.errors import DatasetError
from core.io.masks import MaskEncoding, read_raw_mask

EMPTY_BBBC = "IXMtest_L10_s6_w12D12D64C-2639-4CA8-9BB4-99F92C9B7068"


def png(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def image(path: Path, size=(8, 6), seed=0) -> Path:
    return png(path, np.random.default_rng(seed).integers(0, 255, (size[1], size[0]), dtype=np.uint8))


def mask(path: Path, size=(8, 6), values=(0, 1)) -> Path:
    array = np.zeros((size[1], size[0]), np.uint8)
    array.flat[: len(values)] = values
    return png(path, array)


def names(index: DatasetIndex) -> list[str]:
    return [s.name for s in index.samples]


def kinds(problems, folders=False) -> dict[str, str]:
    return {f"{p.path.parent.name}/{p.path.name}" if folders else p.path.name: p.kind for p in problems}


# real data -----------------------------------------------------------------------------------------

def test_isbi_pairs_thirty_in_numeric_order(isbi_dir):
    index = DatasetIndex.scan(isbi_dir)
    assert index.layout == "folders" and index.problems == ()
    assert names(index) == [str(i) for i in range(30)]
    assert len(index.labeled) == 30 and index.unlabeled == ()
    assert all(s.image.parent.name == "images" and s.mask.parent.name == "masks" for s in index.samples)
    assert index.settings.classes.names == ["background", "class 1"]
    sample = index.sample("7")
    raw = np.asarray(Image.open(isbi_dir / "masks" / "7.png"))
    np.testing.assert_array_equal(index.load_mask(sample), (raw == 255).astype(np.uint8))
    assert index.load_image(sample).shape == (512, 512)
    assert index.validate(deep=True) == ()


def test_bbbc_pairs_forty_and_explains_colour_values(bbbc_dir):
    index = DatasetIndex.scan(bbbc_dir, DatasetSettings())  # 2 classes, auto encoding
    assert index.layout == "folders" and len(index.labeled) == 40
    assert {s.image.suffix for s in index.samples} == {".tif"}
    assert {s.mask.suffix for s in index.samples} == {".png"}
    problems = index.validate(deep=True)
    assert len(problems) == 39 and {p.kind for p in problems} == {"bad_values"}
    assert EMPTY_BBBC not in {p.path.stem for p in problems}
    assert ("values 2, 3 are outside the 2 classes; if they are colours of one class, set the mask encoding "
            "to binary on the red channel") in problems[0].message


def test_bbbc_binary_red_channel_settings_decode_nuclei(bbbc_dir, tmp_path):
    stems = [EMPTY_BBBC] + sorted(p.stem for p in (bbbc_dir / "images").glob("*.tif"))[:2]
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    for stem in stems:  # a few files only
        shutil.copy(bbbc_dir / "images" / f"{stem}.tif", tmp_path / "images")
        shutil.copy(bbbc_dir / "masks" / f"{stem}.png", tmp_path / "masks")
    binary_red = MaskEncoding(mode="binary", channel=0)
    DatasetSettings(ClassTable.from_names(["background", "nucleus"]), binary_red).save(tmp_path)
    index = DatasetIndex.scan(tmp_path)
    assert index.settings.encoding == MaskEncoding(mode="binary", channel=0)
    assert index.validate(deep=True) == ()
    for stem in stems:
        decoded = index.load_mask(index.sample(stem))
        red = read_raw_mask(tmp_path / "masks" / f"{stem}.png")[:, :, 0]
        assert decoded.dtype == np.uint8 and set(np.unique(decoded).tolist()) <= {0, 1}
        np.testing.assert_array_equal(decoded, (red > 0).astype(np.uint8))
    assert not index.load_mask(index.sample(EMPTY_BBBC)).any()
    assert index.load_mask(index.sample(stems[1])).any()


# layouts -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("image_dir, mask_dir", [
    ("images", "masks"), ("image", "label"), ("images", "labels"), ("images", "annotations"), ("imgs", "gt"),
    ("images", "groundtruth")])
def test_image_and_mask_folders(tmp_path, image_dir, mask_dir):
    for stem in ["10", "2", "a", "b", "c"]:
        image(tmp_path / image_dir / f"{stem}.png")
    tifffile.imwrite(tmp_path / image_dir / "d.tif", np.zeros((6, 8), np.uint16))
    for name in ["10.png", "2_label.png", "a.tif", "b_mask.png", "d.png", "orphan.png"]:
        mask(tmp_path / mask_dir / name)
    (tmp_path / mask_dir / "readme.txt").write_text("not a mask")
    index = DatasetIndex.scan(tmp_path)
    assert index.layout == "folders"
    assert names(index) == ["2", "10", "a", "b", "c", "d"]
    assert {s.name: s.mask.name for s in index.labeled} == {"2": "2_label.png", "10": "10.png", "a": "a.tif",
                                                            "b": "b_mask.png", "d": "d.png"}
    assert kinds(index.problems) == {"orphan.png": "orphan_mask", "c.png": "unlabeled"}
    orphan = next(p for p in index.problems if p.kind == "orphan_mask")
    assert str(orphan) == f"{mask_dir}/orphan.png: no image with this name (orphan mask)"


def test_suffix_masks_beside_images_ignoring_hidden_and_seglab_files(tmp_path):
    for stem in ["1", "2", "3", "4"]:
        image(tmp_path / f"{stem}.png")
    mask(tmp_path / "1_mask.png")
    mask(tmp_path / "2_matte.png")
    tifffile.imwrite(tmp_path / "3_seg.tif", np.zeros((6, 8), np.uint8))
    mask(tmp_path / "5_label.png")
    image(tmp_path / ".hidden.png")
    image(tmp_path / ".seglab" / "autosave.png")
    (tmp_path / "notes.txt").write_text("hello")
    DatasetSettings().save(tmp_path)
    index = DatasetIndex.scan(tmp_path)
    assert index.layout == "suffix"
    assert names(index) == ["1", "2", "3", "4"]
    assert [s.mask.name if s.mask else None for s in index.samples] == [
        "1_mask.png", "2_matte.png", "3_seg.tif", None]
    assert kinds(index.problems) == {"5_label.png": "orphan_mask", "4.png": "unlabeled"}


def test_class_folders_combine_into_one_index_mask(tmp_path):
    for stem in ["1", "2", "3"]:
        image(tmp_path / "images" / f"{stem}.png")
    cell = np.zeros((6, 8), np.uint8)
    cell[0:4, 0:4] = 255
    nucleus = np.zeros((6, 8), np.uint8)
    nucleus[2:6, 2:6] = 1
    png(tmp_path / "masks" / "nucleus" / "1.png", nucleus)
    png(tmp_path / "masks" / "cell" / "1.png", cell)
    png(tmp_path / "masks" / "cell" / "2_mask.png", cell)
    png(tmp_path / "masks" / "cell" / "9.png", cell)
    index = DatasetIndex.scan(tmp_path)
    assert index.layout == "class_folders" and index.class_folders == ("cell", "nucleus")
    assert index.settings.classes.names == ["background", "cell", "nucleus"]
    assert [len(s.class_masks) for s in index.samples] == [2, 1, 0]
    combined = index.load_mask(index.sample("1"))
    expected = np.zeros((6, 8), np.uint8)
    expected[0:4, 0:4] = 1
    expected[2:6, 2:6] = 2  # the later class wins where they overlap
    np.testing.assert_array_equal(combined, expected)
    np.testing.assert_array_equal(index.load_mask(index.sample("2")), (cell > 0).astype(np.uint8))
    assert kinds(index.problems) == {"9.png": "orphan_mask", "3.png": "unlabeled"}
    assert index.validate() == ()


def labelme_json(path: Path, shapes: list[tuple[str, list]], size=(8, 6)) -> Path:
    data = {"version": "5.5.0", "flags": {}, "imagePath": path.stem + ".png", "imageData": None,
            "shapes": [{"label": label, "points": points, "group_id": None, "shape_type": "polygon",
                        "flags": {}} for label, points in shapes],
            "imageWidth": size[0], "imageHeight": size[1]}
    path.write_text(json.dumps(data))
    return path


def test_labelme_files_beside_images(tmp_path):
    image(tmp_path / "a.png")
    image(tmp_path / "b.png")
    labelme_json(tmp_path / "a.json", [("nucleus", [[0, 0], [3, 0], [3, 3], [0, 3]]),
                                       ("cell", [[5, 1], [7, 1], [7, 2]])])
    labelme_json(tmp_path / "c.json", [("cell", [[0, 0], [1, 0], [1, 1]])])
    (tmp_path / "meta.json").write_text('{"microscope": "X"}')
    index = DatasetIndex.scan(tmp_path)
    assert index.layout == "labelme"
    assert [s.labelme.name if s.labelme else None for s in index.samples] == ["a.json", None]
    assert index.settings.classes.names == ["background", "cell", "nucleus"]
    assert kinds(index.problems) == {"c.json": "orphan_mask", "b.png": "unlabeled"}
    mask_a = index.load_mask(index.sample("a"))
    assert mask_a[0:4, 0:4].tolist() == [[2] * 4] * 4 and mask_a[1, 7] == 1 and mask_a[5, 0] == 0
    assert index.validate() == ()


def test_labelme_problems_unknown_labels_skipped_shapes_and_size(tmp_path):
    image(tmp_path / "a.png")
    image(tmp_path / "b.png")
    labelme_json(tmp_path / "a.json", [("axon", [[0, 0], [3, 0], [3, 3]])])
    path = labelme_json(tmp_path / "b.json", [("cell", [[0, 0], [3, 0], [3, 3]])], size=(9, 9))
    data = json.loads(path.read_text())
    data["shapes"].append({"label": "cell", "points": [[0, 0], [5, 5]], "shape_type": "cuboid"})
    path.write_text(json.dumps(data))
    settings = DatasetSettings(ClassTable.from_names(["background", "cell"]))
    problems = DatasetIndex.scan(tmp_path, settings).validate(deep=True)
    by_file = {(p.path.name, p.kind): p.message for p in problems}
    assert "'axon'" in by_file[("a.json", "labelme")] and "background, cell" in by_file[("a.json", "labelme")]
    assert "9x9 image but its image is 8x6" in by_file[("b.json", "size_mismatch")]
    assert "cuboid 'cell'" in by_file[("b.json", "labelme")]  # a shape type labelme cannot export


@pytest.mark.parametrize("subfolder", ["", "images"])
def test_images_only(tmp_path, subfolder):
    for stem in ["img10", "img9", "img1"]:
        image(tmp_path / subfolder / f"{stem}.png")
    (tmp_path / "test").mkdir()
    image(tmp_path / "test" / "other.png")
    index = DatasetIndex.scan(tmp_path)
    assert index.layout == "images_only" and names(index) == ["img1", "img9", "img10"]
    assert index.labeled == () and len(index.unlabeled) == 3 and index.problems == ()
    assert index.settings.classes.names == ["background", "class 1"]
    with pytest.raises(DatasetError, match="no mask yet"):
        index.load_mask(index.samples[0])


@pytest.mark.parametrize("contents", [[], ["notes.txt", "data.csv"]])
def test_folder_without_images_is_an_error(tmp_path, contents):
    for name in contents:
        (tmp_path / name).write_text("x")
    (tmp_path / "images").mkdir()
    with pytest.raises(DatasetError) as caught:
        DatasetIndex.scan(tmp_path)
    assert f"no images found in {tmp_path}; SegLab reads PNG, JPEG, BMP, TIFF" in str(caught.value)


# problems ------------------------------------------------------------------------------------------

def broken_dataset(root: Path) -> Path:
    for stem in ["good", "small", "values", "nomask", "cutmask"]:
        image(root / "images" / f"{stem}.png")
    (root / "images" / "textfile.png").write_text("this is not a picture")
    noisy = image(root / "images" / "cutpng.png", size=(64, 64)).read_bytes()
    (root / "images" / "cutpng.png").write_bytes(noisy[: len(noisy) // 2])
    tifffile.imwrite(root / "images" / "cuttif.tif", np.arange(64 * 64, dtype=np.uint16).reshape(64, 64))
    tiff = (root / "images" / "cuttif.tif").read_bytes()
    (root / "images" / "cuttif.tif").write_bytes(tiff[: len(tiff) * 2 // 3])
    for stem in ["good", "textfile", "cutpng", "cuttif", "values", "orphan"]:
        mask(root / "masks" / f"{stem}.png", size=(64, 64) if stem.startswith("cut") else (8, 6))
    mask(root / "masks" / "small.png", size=(8, 5))
    mask(root / "masks" / "values.png", values=(0, 1, 5, 7))
    cut = mask(root / "masks" / "cutmask.png", size=(8, 6), values=tuple(range(40))).read_bytes()
    (root / "masks" / "cutmask.png").write_bytes(cut[:-20])
    return root


def test_every_problem_names_its_file_and_keeps_the_other_samples(tmp_path):
    root = broken_dataset(tmp_path)
    index = DatasetIndex.scan(root, DatasetSettings())
    assert len(index.samples) == 8 and len(index.labeled) == 7
    assert kinds(index.problems) == {"orphan.png": "orphan_mask", "nomask.png": "unlabeled"}
    problems = index.validate(deep=True)
    assert len(problems) == 6 and kinds(problems, folders=True) == {
        "images/textfile.png": "unreadable", "images/cutpng.png": "unreadable",
        "images/cuttif.tif": "unreadable", "masks/cutmask.png": "unreadable",
        "masks/small.png": "size_mismatch", "masks/values.png": "bad_values"}
    by_name = {p.path.name: p for p in problems}
    assert str(by_name["small.png"]) == "masks/small.png: the mask is 8x5 but its image is 8x6"
    assert "values 5, 7 are outside the 2 classes" in by_name["values.png"].message
    assert "truncated" in by_name["cutpng.png"].message
    assert all(isinstance(p, Problem) and p.path.exists() for p in problems)
    shallow = index.validate(deep=False)
    assert "values.png" not in kinds(shallow) and kinds(shallow)["small.png"] == "size_mismatch"


def test_validate_reports_progress_and_stops_when_cancelled(tmp_path):
    index = DatasetIndex.scan(broken_dataset(tmp_path), DatasetSettings())
    seen = []
    index.validate(progress=lambda done, total: seen.append((done, total)))
    assert seen == [(i, 8) for i in range(1, 9)]
    asked = []

    def cancel() -> bool:
        asked.append(True)
        return len(asked) > 3

    problems = index.validate(cancel=cancel)
    assert len(asked) == 4  # stopped before the fourth sample
    assert {p.path.stem for p in problems} == {"cutmask", "cutpng", "cuttif"}


def test_broken_settings_file_is_a_problem_and_defaults_are_proposed(tmp_path):
    image(tmp_path / "images" / "a.png")
    mask(tmp_path / "masks" / "a.png", values=(0, 1, 2))
    (tmp_path / "seglab.json").write_text("{ broken")
    index = DatasetIndex.scan(tmp_path)
    assert kinds(index.problems) == {"seglab.json": "settings"}
    assert "fix or delete the file" in index.problems[0].message
    assert index.settings.classes.names == ["background", "class 1", "class 2"]  # proposed from the mask
    assert len(index.labeled) == 1


def test_saved_settings_win_over_given_ones_and_proposals_need_no_scan(tmp_path):
    image(tmp_path / "a.png")
    mask(tmp_path / "a_mask.png", values=(0, 1, 2, 3))
    assert propose_settings(tmp_path).classes.names == ["background", "class 1", "class 2", "class 3"]
    given = DatasetSettings(ClassTable.from_names(["background", "given"]))
    assert DatasetIndex.scan(tmp_path, given).settings == given
    saved = DatasetSettings(ClassTable.from_names(["background", "saved"]))
    saved.save(tmp_path)
    assert DatasetIndex.scan(tmp_path, given).settings == saved


def test_sample_lookup_names_missing_samples(tmp_path):
    image(tmp_path / "a.png")
    index = DatasetIndex.scan(tmp_path)
    assert index.sample("a").image == tmp_path / "a.png"
    with pytest.raises(DatasetError, match="no image named 'b'"):
        index.sample("b")
