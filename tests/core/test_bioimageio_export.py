"""Exporting a SegLab model as a BioImage.IO package, checked by bioimageio.core's own test (the function the
`bioimageio test` command calls), by onnxruntime outside SegLab, and by reading the package back."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from core.bioimageio.importing import load_predictor, seglab_model_from_package
from core.classes import ClassTable
from core.cli import run_cli
from core.inference import PredictOptions, Predictor
from core.io.images import read_image
from core.models.model_file import load_model_file, save_model_file
from core.models.registry import create_model
from core.models.spec import ModelSpec

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, isbi_dir):
    """A small fixed-seed SegLab model that names ISBI image 3 as its validation image."""
    torch.manual_seed(0)
    options = {"base_channels": 8}
    model = create_model("unet_classic", in_channels=1, out_channels=2, options=options)
    spec = ModelSpec("unet_classic", 1, ClassTable.from_names(["background", "membrane"]), 2, options=options,
                     training={"data_dir": str(isbi_dir), "train_images": ["0"], "val_images": ["3"],
                               "epochs_done": 1, "best_epoch": 1},
                     metrics={"mean_iou": 0.5, "mean_dice": 0.6, "pixel_accuracy": 0.7,
                              "per_class": [{"name": "background", "iou": 0.4, "dice": 0.5},
                                            {"name": "membrane", "iou": 0.6, "dice": 0.7}]})
    return save_model_file(tmp_path_factory.mktemp("model") / "membranes", model.eval(), spec)


@pytest.fixture(scope="module")
def package(model_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("package") / "membranes"
    code = run_cli(["export-bioimageio", str(model_file), str(out), "--name", "ISBI membranes",
                    "--author", "Ada Lovelace", "--license", "MIT"])
    assert code == 0
    return out.with_name("membranes.zip")


def _member(package, name: str) -> bytes:
    with zipfile.ZipFile(package) as archive:
        return archive.read(name)


def test_package_passes_bioimageio_test_offline(package, tmp_path, monkeypatch):
    from bioimageio.core import test_description
    from bioimageio.spec import settings

    monkeypatch.setattr(settings, "cache_path", tmp_path / "cache")  # nothing to fetch: all files are inside
    summary = test_description(package)
    failed = [(d.name, [e.msg for e in d.errors]) for d in summary.details if d.status != "passed"]
    assert summary.status == "passed", failed
    reproduced = {d.name for d in summary.details if d.name.startswith("Reproduce test outputs")}
    assert reproduced == {"Reproduce test outputs from test inputs (onnx)",
                          "Reproduce test outputs from test inputs (torchscript)"}


def test_test_output_is_seglabs_prediction_of_the_test_input(package, model_file):
    test_input = np.load(io.BytesIO(_member(package, "test_input.npy")))
    test_output = np.load(io.BytesIO(_member(package, "test_output.npy")))
    model, spec = load_model_file(model_file)
    predictor = Predictor(model, spec, PredictOptions(backend="torch", tile_size=512, return_probabilities=True))
    _, probabilities = predictor.predict(test_input[0, 0])
    assert test_input.shape == (1, 1, 256, 256) and test_output.shape == (1, 2, 256, 256)
    np.testing.assert_allclose(test_output[0], probabilities, atol=1e-5)
    rdf = yaml.safe_load(_member(package, "rdf.yaml"))
    assert rdf["inputs"][0]["preprocessing"][1] == {
        "id": "scale_range", "kwargs": {"axes": ["y", "x"], "min_percentile": 1.0, "max_percentile": 99.0}}
    assert rdf["outputs"][0]["axes"][1]["channel_names"] == ["background", "membrane"]


def test_exported_onnx_run_outside_seglab_gives_seglabs_mask_on_a_real_image(package, model_file, isbi_dir):
    import onnxruntime

    image = read_image(isbi_dir / "images" / "5.png")
    low, high = np.percentile(image.astype(np.float64), [1, 99])
    network_input = ((image - low) / (high - low + 1e-6)).astype(np.float32)[None, None]
    session = onnxruntime.InferenceSession(_member(package, "weights.onnx"), providers=["CPUExecutionProvider"])
    logits = session.run(None, {session.get_inputs()[0].name: network_input})[0]
    outside = logits[0].argmax(axis=0)
    seglab = load_predictor(model_file, PredictOptions(tile_size=512)).predict(image)
    assert np.mean(outside == seglab) > 0.999


def test_readme_cover_and_attached_model_describe_the_model(package, model_file, tmp_path):
    readme = _member(package, "README.md").decode()
    assert "| 1 | membrane |" in readme and "| membrane | 0.600 | 0.700 |" in readme
    assert "folder `isbi2012`, 1 training and 1 validation images" in readme
    cover = np.asarray(Image.open(io.BytesIO(_member(package, "cover.png"))))
    assert cover.shape == (256, 512, 3)
    assert not np.array_equal(cover[:, :256], cover[:, 256:])  # the overlay half shows predicted classes
    attached = seglab_model_from_package(package, tmp_path)
    assert attached.read_bytes() == model_file.read_bytes()
    config = yaml.safe_load(_member(package, "rdf.yaml"))["config"]["seglab"]
    assert json.dumps(config["classes"]) == json.dumps(load_model_file(model_file)[1].classes.to_json())


def test_export_without_an_author_is_refused_with_what_to_give(model_file, tmp_path, capsys):
    assert run_cli(["export-bioimageio", str(model_file), str(tmp_path / "p.zip")]) == 2
    assert "--author NAME" in capsys.readouterr().err
    assert not (tmp_path / "p.zip").exists()
