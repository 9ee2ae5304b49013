"""Importing BioImage.IO packages written elsewhere: the spec's own example (unet2d_nuclei_broad) reproduces its
test output and segments BBBC039 nuclei from the command line; what SegLab cannot run is refused by name."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from core.bioimageio.importing import package_predictor, seglab_model_from_package
from core.bioimageio.package import read_package
from core.cli import run_cli
from core.errors import ModelFileError
from core.inference import PredictOptions

EXAMPLE = "formats/bioimageio/unet2d_nuclei_broad"
NUCLEUS_IOU = 0.72
"""Measured 0.771 pooled over these four images (0.861 over all 40 of the subset) with the ONNX weights."""


@pytest.fixture(scope="module")
def example(data_dir) -> Path:
    return data_dir / EXAMPLE


@pytest.mark.parametrize("backend", ["onnx", "torch"])  # its ONNX and its TorchScript weights
def test_example_package_reproduces_its_own_test_output(example, backend):
    predictor = package_predictor(example / "bioimageio.yaml",
                                  PredictOptions(backend=backend, return_probabilities=True))
    test_input = np.load(example / "test_input.npy")[0, 0]
    expected = np.load(example / "test_output.npy")[0, 0]
    mask, probabilities = predictor.predict(test_input)
    assert predictor.spec.classes.names == ["background", "probability"]
    np.testing.assert_allclose(probabilities[1], expected, atol=1e-4)  # measured: 1.4e-6
    np.testing.assert_array_equal(mask, expected > 0.5)


def test_predict_command_segments_bbbc039_nuclei_with_the_example_package(example, bbbc_dir, tmp_path):
    images = sorted((bbbc_dir / "images").iterdir())[::10]
    (tmp_path / "in").mkdir()
    for image in images:
        (tmp_path / "in" / image.name).symlink_to(image)
    assert run_cli(["predict", str(example / "bioimageio.yaml"), str(tmp_path / "in"), str(tmp_path / "out")]) == 0
    overlap = union = 0
    for image in images:
        predicted = np.asarray(Image.open(tmp_path / "out" / f"{image.stem}.png")) == 1
        nuclei = np.asarray(Image.open(bbbc_dir / "masks" / f"{image.stem}.png"))[:, :, 0] > 0
        overlap += np.count_nonzero(predicted & nuclei)
        union += np.count_nonzero(predicted | nuclei)
    assert overlap / union > NUCLEUS_IOU


def test_zip_and_folder_open_like_the_yaml(example, tmp_path):
    archive = shutil.make_archive(str(tmp_path / "nuclei"), "zip", example)
    for source in (example, Path(archive)):
        package = read_package(source)
        assert package.formats == ("onnx", "torchscript") and package.size_y.minimum == 512


def _variant(example: Path, folder: Path, change) -> Path:
    """A copy of the example's description (weights alongside) changed by change(rdf)."""
    rdf = yaml.safe_load((example / "bioimageio.yaml").read_text())
    change(rdf)
    for name in ("weights.onnx", "weights.pt"):
        (folder / name).symlink_to(example / name)
    (folder / "rdf.yaml").write_text(yaml.safe_dump(rdf))
    return folder


def _three_d(rdf):
    rdf["inputs"][0]["axes"].insert(2, {"type": "space", "id": "z", "size": 16})


def _instances(rdf):
    rdf["outputs"][0]["postprocessing"] = [{"id": "stardist_postprocessing", "kwargs": {}}]


def _foreign_weights(rdf):
    rdf["weights"] = {"pytorch_state_dict": rdf["weights"]["pytorch_state_dict"],
                      "keras_hdf5": {"source": "model.h5", "tensorflow_version": "2.15"}}


@pytest.mark.parametrize("change, reason", [
    (_three_d, "has the space axis 'z': it is a 3D model; SegLab runs 2D models"),
    (_instances, "it segments instances (stardist_postprocessing)"),
    (_foreign_weights, "keras_hdf5 (a format SegLab cannot run), pytorch_state_dict (only a URL; SegLab does not "
                       "download); SegLab runs onnx and torchscript weights stored in the package"),
])
def test_what_seglab_cannot_run_is_refused_with_the_reason(example, tmp_path, change, reason):
    package = _variant(example, tmp_path, change)
    with pytest.raises(ModelFileError) as error:
        read_package(package)
    assert str(error.value).startswith(f"{package}: cannot be run by SegLab: ")
    assert reason in str(error.value)


def test_old_format_is_refused_with_the_conversion_command(example, capsys, tmp_path):
    code = run_cli(["predict", str(example / "v0_4_9.bioimageio.yaml"), str(example), str(tmp_path)])
    assert code == 2
    assert "SegLab reads format 0.5 (convert it with `bioimageio update-format`)" in capsys.readouterr().err


def test_a_foreign_package_cannot_be_fine_tuned_and_says_why(example):
    with pytest.raises(ModelFileError, match="cannot be fine-tuned: .* comes only as onnx and torchscript weights"):
        seglab_model_from_package(example / "bioimageio.yaml")
