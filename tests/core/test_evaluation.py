"""Evaluation scores the images a model never trained on (its file records them), says how many it left out
and why, and on request scores the training images too, marked, with both figures."""

from __future__ import annotations

import shutil

import pytest

from core.classes import ClassTable
from core.errors import DatasetError
from core.evaluation import evaluate_model
from core.evaluation_scope import NO_RECORD
from core.report import total_matrix
from tests.core.synthetic import write_dataset

TRAINING = {"data_dir": "/elsewhere/discs", "train_images": ["img0", "img1", "img2", "img3"],
            "val_images": ["img4"]}
NAMES = [f"img{i}" for i in range(6)]


def model_file(folder, training: dict):
    import torch

    from core.models.model_file import save_model_file
    from core.models.registry import build_from_spec
    from core.models.spec import ModelSpec

    torch.manual_seed(0)
    spec = ModelSpec("unet_classic", 1, ClassTable.default(2), 2, options={"base_channels": 4}, patch_size=64,
                     training=training)
    return save_model_file(folder / "tiny.safetensors", build_from_spec(spec), spec)


def evaluate(model, data, include_training=False):
    from core.inference import PredictOptions, Predictor

    predictor = Predictor.from_file(model, PredictOptions(backend="torch", device="cpu", tile_size=64, overlap=0))
    return evaluate_model(predictor, model, data, include_training=include_training)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluation")
    return root, write_dataset(root / "data", count=6), model_file(root, TRAINING)


def test_images_the_model_trained_on_are_left_out_by_default(setup):
    root, data, model = setup
    evaluation = evaluate(model, data)
    assert [r.name for r in evaluation.results] == ["img4", "img5"]
    assert evaluation.scope.left_out == ("img0", "img1", "img2", "img3")
    assert evaluation.describe_scope("use --include-training") == (
        "scored 2 images the model never trained on; left out 4 it was trained on (use --include-training)")
    assert evaluation.scope.validation_note(["img4", "img5"]) == \
        "1 of them was a validation image of the model (used to choose its best epoch)"
    assert evaluation.held_out_summary() == evaluation.dataset_summary()
    assert evaluation.meta["scope"]["left_out"] == ["img0", "img1", "img2", "img3"]


def test_a_copy_of_the_training_folder_counts_as_trained_on(setup):
    root, data, model = setup
    copy = shutil.copytree(data, root / "copy of discs")
    assert [r.name for r in evaluate(model, copy).results] == ["img4", "img5"]


def test_included_training_images_are_marked_and_both_figures_given(setup):
    root, data, model = setup
    evaluation = evaluate(model, data, include_training=True)
    assert [(r.name, r.trained_on) for r in evaluation.results] == [(n, n in TRAINING["train_images"]) for n in NAMES]
    held_out = [r for r in evaluation.results if r.name in ("img4", "img5")]
    assert evaluation.held_out_summary() == total_matrix(held_out, 2).summary(["background", "class 1"])
    assert evaluation.dataset_summary() == total_matrix(evaluation.results, 2).summary(["background", "class 1"])
    assert evaluation.scope.left_out == ()
    assert evaluation.describe_scope() == ("scored 6 images: 2 the model never trained on and 4 it was trained on "
                                           "(marked “trained on”)")


def test_a_model_without_a_training_record_scores_everything_and_says_so(tmp_path):
    data = write_dataset(tmp_path / "data", count=3)
    evaluation = evaluate(model_file(tmp_path, {}), data)
    assert len(evaluation.results) == 3 and evaluation.held_out_summary() is None
    assert evaluation.describe_scope() == f"scored all 3 images: {NO_RECORD}"


def test_a_folder_the_model_was_wholly_trained_on_is_refused_by_default(tmp_path):
    data = write_dataset(tmp_path / "data", count=2)
    model = model_file(tmp_path, {"train_images": ["img0", "img1"], "val_images": []})
    with pytest.raises(DatasetError, match="trained on all 2 labeled images.*include the training images"):
        evaluate(model, data)
    assert len(evaluate(model, data, include_training=True).results) == 2
