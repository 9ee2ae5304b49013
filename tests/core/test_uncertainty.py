"""Uncertainty: the per-pixel map, the image score, the most uncertain region, and what predict --uncertainty
writes (a float32 TIFF per image and a CSV of scores)."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from core.classes import ClassTable
from core.cli import run_cli
from core.errors import ConfigError
from core.inference import Predictor, predict_folder
from core.inference.uncertainty import image_score, pixel_uncertainty, uncertain_region
from core.inference.uncertainty_files import (
    forget_uncertainty,
    map_path,
    read_scores,
    write_map,
    write_scores,
)
from core.models.model_file import save_model_file
from core.models.registry import build_from_spec
from core.models.spec import ModelSpec
from tests.core.test_inference import smooth_image, tiny_model, torch_options, write_images


@pytest.mark.parametrize("measure", ["entropy", "margin"])
@pytest.mark.parametrize("classes", [2, 3, 5])
def test_map_is_zero_where_one_class_is_certain_and_one_where_all_are_equally_likely(measure, classes):
    probabilities = np.zeros((classes, 2, 3), np.float32)
    probabilities[1, 0] = 1.0  # top row: class 1 for sure
    probabilities[:, 1] = 1.0 / classes  # bottom row: uniform
    result = pixel_uncertainty(probabilities, measure)
    assert result.dtype == np.float32 and result.shape == (2, 3)
    np.testing.assert_allclose(result[0], 0.0, atol=1e-6)
    np.testing.assert_allclose(result[1], 1.0, atol=1e-5)


@pytest.mark.parametrize("measure", ["entropy", "margin"])
def test_map_stays_in_zero_to_one_and_grows_towards_a_tie(measure):
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(4), size=(30, 40)).transpose(2, 0, 1).astype(np.float32)
    result = pixel_uncertainty(probabilities, measure)
    assert 0.0 <= result.min() and result.max() <= 1.0
    leaning = pixel_uncertainty(np.array([[[0.9]], [[0.1]]], np.float32), measure)
    closer = pixel_uncertainty(np.array([[[0.6]], [[0.4]]], np.float32), measure)
    assert 0.0 < leaning[0, 0] < closer[0, 0] < 1.0


def test_unknown_measure_or_single_class_is_refused_with_the_choices():
    with pytest.raises(ConfigError, match="entropy, margin"):
        pixel_uncertainty(np.full((2, 4, 4), 0.5, np.float32), "variance")
    with pytest.raises(ConfigError, match="at least 2 classes"):
        pixel_uncertainty(np.ones((1, 4, 4), np.float32))


def test_score_is_the_mean_of_the_most_uncertain_pixels():
    uncertainty = np.zeros((100, 100), np.float32)
    uncertainty[:5] = 0.8  # 5% of the pixels
    assert image_score(uncertainty, 0.05) == pytest.approx(0.8)
    assert image_score(uncertainty, 1.0) == pytest.approx(0.04)
    uncertainty[50, 50] = np.nan  # a pixel without prediction is left out
    assert image_score(uncertainty, 0.05) == pytest.approx(0.8, abs=0.01)


@pytest.mark.parametrize("shape", [(300, 400), (3000, 2200)])
def test_region_frames_the_most_uncertain_square(shape):
    rng = np.random.default_rng(1)
    uncertainty = (rng.random(shape) * 0.3).astype(np.float32)
    height, width = shape
    hot = (int(height * 0.6), int(width * 0.2))  # top-left of a hot square a fifth of the shorter side
    side = min(shape) // 5
    uncertainty[hot[0]:hot[0] + side, hot[1]:hot[1] + side] = 1.0
    top, left, bottom, right = uncertain_region(uncertainty)
    assert bottom - top == right - left == round(min(shape) / 3)
    assert 0 <= top and 0 <= left and bottom <= height and right <= width
    assert top <= hot[0] and left <= hot[1] and bottom >= hot[0] + side and right >= hot[1] + side


def test_predicted_uncertainty_is_the_map_of_the_blended_probabilities():
    """Band by band over tiles, the map equals the one made from the whole probability map, NaN pixels
    stay NaN, and the mask is the plain prediction's."""
    image = smooth_image(150, 170).astype(np.float32)
    image[10, 20] = np.nan
    model, spec = tiny_model(smooth_image(150, 170))
    options = dict(tile_size=64, overlap=16, batch_size=3)
    mask, uncertainty = Predictor(model, spec, torch_options(**options)).predict_uncertain(image)
    whole_mask, probabilities = Predictor(model, spec, torch_options(return_probabilities=True, **options)).predict(image)
    np.testing.assert_array_equal(mask, whole_mask)
    expected = pixel_uncertainty(probabilities)
    expected[10, 20] = np.nan
    np.testing.assert_allclose(uncertainty, expected, atol=1e-6)
    assert np.isnan(uncertainty[10, 20]) and 0.0 < np.nanmean(uncertainty) < 1.0


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    torch.manual_seed(0)
    spec = ModelSpec("unet_classic", 1, ClassTable.default(2), 2, options={"base_channels": 4})
    return save_model_file(tmp_path_factory.mktemp("model") / "model", build_from_spec(spec), spec)


def test_cli_predict_uncertainty_writes_a_float_tiff_per_image_and_the_scores(model_file, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    write_images(inputs, 3)
    out = tmp_path / "out"
    code = run_cli(["predict", str(model_file), str(inputs), str(out), "--uncertainty", "--tile", "64", "--overlap", "16",
                    "--backend", "torch", "--device", "cpu"])
    assert code == 0
    maps = {}
    for i in range(3):
        data = tifffile.imread(out / "uncertainty" / f"image_{i}.tif")
        assert data.dtype == np.float32 and data.shape == (70, 90)
        assert 0.0 <= data.min() and data.max() <= 1.0 and data.max() > 0.0
        maps[f"image_{i}"] = data
        assert (out / f"image_{i}.png").is_file()
    with open(out / "uncertainty.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["image", "score"]
    scores = {name: float(score) for name, score in rows[1:]}
    assert set(scores) == set(maps)
    for name, score in scores.items():
        assert score == pytest.approx(image_score(maps[name]), abs=1e-5)
    assert [float(s) for _, s in rows[1:]] == sorted(scores.values(), reverse=True)  # most uncertain first


def test_folder_run_adds_its_scores_to_those_of_earlier_runs(model_file, tmp_path):
    images = write_images(tmp_path, 2)
    out = tmp_path / "out"
    out.mkdir()
    write_scores(out, {"earlier": 0.5})
    first = predict_folder(model_file, images[:1], out, torch_options(tile_size=64, overlap=16), uncertainty=True)
    assert set(first.scores) == {"image_0"}
    predict_folder(model_file, images[1:], out, torch_options(tile_size=64, overlap=16), uncertainty=True)
    assert set(read_scores(out)) == {"earlier", "image_0", "image_1"}


def test_forgetting_removes_the_maps_and_scores_of_those_images_only(tmp_path):
    for name in ("a", "b"):
        write_map(map_path(tmp_path, name), np.zeros((4, 4), np.float32))
    write_scores(tmp_path, {"a": 0.5, "b": 0.25})
    forget_uncertainty(tmp_path, ["a", "missing"])
    assert read_scores(tmp_path) == {"b": 0.25}
    assert not map_path(tmp_path, "a").exists() and map_path(tmp_path, "b").exists()


def test_uncertainty_with_dask_is_refused_in_one_line(model_file, tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.fromarray(smooth_image(40, 40)).save(inputs / "a.png")
    code = run_cli(["predict", str(model_file), str(inputs), str(tmp_path / "out"), "--uncertainty",
                    "--workers", "2"])
    assert code == 2
    assert "--uncertainty is not available with --dask or --workers" in capsys.readouterr().err
