"""Improve Model's core parts: how much a prediction changed (from mask files kept before they were overwritten),
the fine-tune run it plans, and both models scored on the same validation images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.classes import ClassTable
from core.data.index import DatasetIndex
from core.device import DeviceInfo
from core.errors import TrainingError
from core.inference.prediction_changes import changed_share, compare_predictions, keep_copies
from core.io.masks import write_mask
from core.models.spec import ModelSpec
from core.training.improve import improve_config, validation_iou
from core.training.recipe import BUDGET_LR
from tests.core.synthetic import make_shapes, write_dataset

CLASSES = ClassTable.default(2)
CPU = DeviceInfo("cpu", "cpu", "x86_64")


def constant_model(path, background_first: bool = True, classes: ClassTable = CLASSES):
    """A small U-Net whose output layer answers one class everywhere (background, or the last class)."""
    import torch

    from core.io.images import Normalisation
    from core.models.model_file import save_model_file
    from core.models.registry import build_from_spec

    spec = ModelSpec("unet_classic", 1, classes, len(classes), options={"base_channels": 4}, patch_size=64,
                     normalisation=Normalisation(mode="dtype_range"))
    model = build_from_spec(spec)
    with torch.no_grad():
        model.outc.weight.zero_()
        model.outc.bias.fill_(-10.0)
        model.outc.bias[0 if background_first else len(classes) - 1] = 10.0
    return save_model_file(path, model, spec)


def test_changed_share_counts_the_pixels_whose_class_changed():
    before = np.zeros((10, 10), np.uint8)
    after = before.copy()
    after[:3, :6] = 1  # 18 of 100 pixels
    assert changed_share(before, after) == pytest.approx(0.18)
    assert changed_share(before, before) == 0.0
    assert changed_share(before, np.zeros((5, 5), np.uint8)) == 1.0  # another size: all changed


def test_kept_copies_are_compared_with_the_overwritten_masks_most_changed_first(tmp_path):
    predictions = tmp_path / "predictions"
    predictions.mkdir()
    masks = {name: make_shapes(64, seed)[1] for seed, name in enumerate(["a", "b", "c"])}
    files = {name: write_mask(predictions / f"{name}.png", mask, CLASSES) for name, mask in masks.items()}
    kept = keep_copies({**files, "gone": predictions / "gone.png"}, tmp_path / "kept")
    assert sorted(kept) == ["a", "b", "c"]  # a file that is not there is skipped

    write_mask(files["a"], np.where(np.arange(64)[:, None] < 8, 1, masks["a"]).astype(np.uint8), CLASSES)
    write_mask(files["b"], 1 - masks["b"], CLASSES)  # every pixel flipped
    kept["c"].write_bytes(b"not a mask")  # nothing to compare with: left out
    changes = compare_predictions(kept, files)

    expected_a = np.count_nonzero(masks["a"][:8] != 1) / 64 ** 2
    assert [c.name for c in changes] == ["b", "a"]
    assert changes[0].changed_share == 1.0 and changes[1].changed_share == pytest.approx(expected_a)


def test_improve_config_fine_tunes_the_model_for_the_minutes_into_a_new_file(tmp_path):
    data = write_dataset(tmp_path / "data", count=4)
    base = constant_model(tmp_path / "base.safetensors")
    config = improve_config(DatasetIndex.scan(data), base, 0.5, CPU)

    assert config.init_model == str(base) and config.minutes == 0.5
    assert config.architecture == "unet_classic" and config.model_options == {"base_channels": 4}
    assert config.normalisation.mode == "dtype_range"  # the model's own, not the default
    assert config.learning_rate == pytest.approx(BUDGET_LR / 10) and config.patch_size == 64
    assert Path(config.output).parent == data / "models" and not Path(config.output).exists()

    (data / "masks").rename(data / "gone")
    with pytest.raises(TrainingError, match="no labeled images") as raised:
        improve_config(DatasetIndex.scan(data), base, 0.5, CPU)
    assert raised.value.path == data


def test_validation_iou_scores_each_model_on_the_same_images(tmp_path):
    data = write_dataset(tmp_path / "data", count=3)
    background = constant_model(tmp_path / "background.safetensors")
    three_classes = constant_model(tmp_path / "three.safetensors", classes=ClassTable.default(3))
    index = DatasetIndex.scan(data)

    scores = validation_iou([background, three_classes], index, ["img0", "img2"])

    truth = np.concatenate([make_shapes(64, seed)[1].ravel() for seed in (0, 2)])
    assert scores[0] == pytest.approx(np.mean(truth == 0) / 2)  # background IoU, and 0 for the discs
    assert scores[1] is None  # another class count: not comparable
