"""Folder prediction on a local Dask cluster: the same masks as one process, failures named, cancel."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.classes import ClassTable
from core.errors import ConfigError, ModelFileError
from core.inference import PredictOptions, Predictor, predict_folder
from core.models.model_file import save_model_file
from core.models.registry import build_from_spec
from core.models.spec import ModelSpec
from tests.conftest import REPO
from tests.core.test_inference import smooth_image

pytest.importorskip("distributed", reason='Dask distributed is not installed (pip install -e ".[cluster]")')

from core.inference.distributed_predict import dask_client, predict_folder_on_dask  # noqa: E402

OPTIONS = PredictOptions(tile_size=64, overlap=16, backend="torch", precision="exact")


@pytest.fixture(scope="module")
def client():
    with dask_client(workers=2) as client:
        yield client


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    spec = ModelSpec("unet_classic", 1, ClassTable.default(3), 3, options={"base_channels": 4})
    return save_model_file(tmp_path_factory.mktemp("model") / "tiny", build_from_spec(spec), spec)


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    """Five small images and a truncated PNG among them."""
    folder = tmp_path_factory.mktemp("images")
    for index in range(5):
        Image.fromarray(smooth_image(80, 112, seed=index)).save(folder / f"cell_{index}.png")
    (folder / "cell_2b_corrupt.png").write_bytes((folder / "cell_0.png").read_bytes()[:100])
    return folder


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as mask:
        return np.asarray(mask)


def assert_same_masks(single: Path, distributed: Path) -> None:
    names = sorted(p.name for p in single.iterdir())
    assert names == sorted(p.name for p in distributed.iterdir()) == [f"cell_{i}.png" for i in range(5)]
    for name in names:
        np.testing.assert_array_equal(pixels(distributed / name), pixels(single / name))
        with Image.open(distributed / name) as mask, Image.open(single / name) as reference:
            assert mask.mode == "P" and mask.getpalette() == reference.getpalette()


def test_two_workers_write_the_masks_of_one_process_and_name_the_corrupt_file(client, model_path, images,
                                                                              tmp_path):
    single = predict_folder(model_path, images, tmp_path / "single", OPTIONS)
    progress, results = [], []
    result = predict_folder_on_dask(client, model_path, images, tmp_path / "dask", OPTIONS,
                                    progress=lambda *a: progress.append(a),
                                    on_result=lambda image, mask: results.append((image.name, mask.name)))
    assert result.workers == 2 and not result.cancelled
    assert_same_masks(tmp_path / "single", tmp_path / "dask")
    assert result.written == [tmp_path / "dask" / f"cell_{i}.png" for i in range(5)]
    assert [(path.name, "cell_2b_corrupt.png" in message) for path, message in result.failures] == [
        ("cell_2b_corrupt.png", True)]
    assert [path.name for path, _ in single.failures] == ["cell_2b_corrupt.png"]
    assert [done for done, _, _ in progress] == [1, 2, 3, 4, 5, 6] and progress[-1] == (6, 6, 0.0)
    assert sorted(results) == [(f"cell_{i}.png", f"cell_{i}.png") for i in range(5)]
    assert result.backend_reason == Predictor.from_file(model_path, OPTIONS).backend_reason  # run the same way


def test_cancel_stops_the_workers_and_keeps_finished_masks(client, model_path, images, tmp_path):
    result = predict_folder_on_dask(client, model_path, images, tmp_path / "out", OPTIONS, cancel=lambda: True)
    assert result.cancelled
    assert len(result.written) < 5
    assert sorted(tmp_path.joinpath("out").iterdir()) == sorted(result.written)


def test_a_model_the_workers_cannot_load_fails_before_any_image(client, images, tmp_path):
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ")
    with pytest.raises(ModelFileError, match="broken.safetensors"):
        predict_folder_on_dask(client, broken, images, tmp_path / "out", OPTIONS)
    assert list((tmp_path / "out").iterdir()) == []


def test_missing_dask_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed raises ImportError
    with pytest.raises(ConfigError, match=r'pip install -e "\.\[cluster\]"'), dask_client(workers=2):
        pass


def test_cli_on_two_local_workers_names_the_corrupt_file_and_exits_1(model_path, images, tmp_path):
    cache = tmp_path / "onnx"
    env = {**os.environ, "SEGLAB_ONNX_CACHE": str(cache)}
    done = subprocess.run([sys.executable, str(REPO / "main.py"), "predict", str(model_path), str(images),
                           str(tmp_path / "cli"), "--workers", "2", "--tile", "64", "--overlap", "16",
                           "--backend", "onnx", "--precision", "exact"],
                          capture_output=True, text=True, env=env, timeout=240)
    assert done.returncode == 1, done.stderr
    assert f"could not process {images / 'cell_2b_corrupt.png'}" in done.stderr
    assert "wrote 5 masks" in done.stdout and "2 Dask worker(s)" in done.stdout
    options = PredictOptions(tile_size=64, overlap=16, device="cpu", backend="onnx", precision="exact",
                             onnx_cache_dir=str(cache))
    predict_folder(model_path, images, tmp_path / "single", options)
    assert_same_masks(tmp_path / "single", tmp_path / "cli")
