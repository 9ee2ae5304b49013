"""`predict` on stacks and microscope formats: one mask per plane named after it, a 1-channel model reads the
channel chosen with --channel, and a multi-channel image without a choice fails with the channels named."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from core.classes import ClassTable
from core.inference import PredictOptions, Predictor, predict_folder
from core.io.images import COLOUR_PHOTO_NOTE
from core.io.readers import open_source
from core.models.model_file import save_model_file
from core.models.registry import build_from_spec
from core.models.spec import ModelSpec
from tests.conftest import REPO

HYPERSTACK = "bbbc039_imagej_hyperstack_TZCYX.tif"


@pytest.fixture(scope="module")
def gray_model(tmp_path_factory):
    """A small untrained 1-channel model file."""
    torch.manual_seed(0)
    spec = ModelSpec("unet_classic", 1, ClassTable.default(2), 2, options={"base_channels": 4})
    return save_model_file(tmp_path_factory.mktemp("model") / "gray", build_from_spec(spec), spec)


def _predict(model, input_dir, output_dir, *extra):
    command = [sys.executable, "main.py", "predict", str(model), str(input_dir), str(output_dir),
               "--backend", "torch", "--tile", "256", *extra]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)


def test_predict_writes_a_mask_per_plane_of_the_chosen_channel(formats_dir, gray_model, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(formats_dir / "tiff" / HYPERSTACK, inputs)
    shutil.copy(formats_dir / "tiff" / "bbbc039_multipage_3frames.tif", inputs)
    refused = _predict(gray_model, inputs, tmp_path / "refused")
    assert refused.returncode == 1, refused.stderr
    assert sorted(p.name for p in (tmp_path / "refused").iterdir()) == [
        f"bbbc039_multipage_3frames_page{i}.png" for i in (1, 2, 3)]
    assert f"{HYPERSTACK} (T1 Z1)" in refused.stderr and "0: Channel 1, 1: Channel 2" in refused.stderr
    assert "--channel" in refused.stderr
    result = _predict(gray_model, inputs, tmp_path / "out", "--channel", "1")
    assert result.returncode == 0, result.stderr
    stem = HYPERSTACK[:-4]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        [f"{stem}_t{t}_z{z}.png" for t in (1, 2) for z in (1, 2, 3)]
        + [f"bbbc039_multipage_3frames_page{i}.png" for i in (1, 2, 3)])
    predictor = Predictor.from_file(gray_model, PredictOptions(tile_size=256, backend="torch"))
    with open_source(inputs / HYPERSTACK) as source:
        plane = source.planes[4]  # T2 Z2
        expected = predictor.predict(source.read_plane(plane, channel=1))
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out" / f"{stem}_t2_z2.png")), expected)


def test_predict_reads_nd2_by_channel_name(formats_dir, gray_model, tmp_path):
    result = _predict(gray_model, formats_dir / "nd2", tmp_path / "out", "--channel", "DAPI")
    assert result.returncode == 0, result.stderr
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == sorted(["arcadia_example-multichannel.png"]
                             + [f"arcadia_example-zstack_z{z}.png" for z in range(1, 12)])


@pytest.mark.parametrize("sub", ["czi", "lif", "ome-tiff", "ome-zarr"])
def test_every_plane_of_the_other_formats_gets_a_mask(formats_dir, gray_model, tmp_path, sub):
    predictor = Predictor.from_file(gray_model, PredictOptions(tile_size=256, backend="torch"))
    result = predict_folder(predictor, formats_dir / sub, tmp_path, channel=0)
    assert not result.failures
    expected = {"czi": 15 + 15 + 1 + 4, "lif": 24 + 44, "ome-tiff": 1 + 1 + 1 + 17, "ome-zarr": 1}[sub]
    assert len(result.written) == len(set(result.written)) == expected


def test_colour_photos_are_read_as_gray_and_the_run_says_so_once(gray_model, tmp_path):
    for i in range(2):
        rgb = np.random.default_rng(i).integers(0, 255, (40, 50, 3), dtype=np.uint8)
        Image.fromarray(rgb).save(tmp_path / f"photo{i}.png")
    predictor = Predictor.from_file(gray_model, PredictOptions(tile_size=256, backend="torch"))
    result = predict_folder(predictor, tmp_path, tmp_path / "out")
    assert len(result.written) == 2 and result.warnings == [(tmp_path / "photo0.png", COLOUR_PHOTO_NOTE)]
    green = predict_folder(predictor, tmp_path, tmp_path / "green", channel="Green")
    assert green.warnings == []
    rgb = np.asarray(Image.open(tmp_path / "photo1.png"))
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "green" / "photo1.png")),
                                  predictor.predict(rgb[:, :, 1]))


def test_samples_of_a_stack_predict_as_their_own_planes(formats_dir, gray_model, tmp_path):
    from core.data.index import DatasetIndex

    index = DatasetIndex.scan(formats_dir / "tiff")
    picked = [s for s in index.samples if "multipage" in s.name][1:]
    predictor = Predictor.from_file(gray_model, PredictOptions(tile_size=256, backend="torch"))
    result = predict_folder(predictor, [s.image_plane for s in picked], tmp_path)
    assert [p.stem for p in result.written] == [s.name for s in picked]  # pages 2 and 3 only
    np.testing.assert_array_equal(np.asarray(Image.open(result.written[1])),
                                  predictor.predict(index.load_image(picked[1])))
