"""Improve Model: a fine-tune run of a model on everything labeled so far for a time budget (the recipe's
fine-tune settings, a new model file beside the dataset's others), and the old and new model scored on the
same validation images afterwards."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import Cancelled, SegLabError, TrainingError
from core.training.config import TrainConfig

if TYPE_CHECKING:
    from core.data.index import DatasetIndex
    from core.device import DeviceInfo

DEFAULT_MINUTES = 3.0


def improve_config(index: DatasetIndex, model_path: str | Path, minutes: float,
                   device: DeviceInfo | None = None) -> TrainConfig:
    """Fine-tune `model_path` on the labeled images of `index` for `minutes`: its architecture and normalisation,
    the settings core.training.recipe recommends for fine-tuning on a budget, written to a new model file
    (core.training.paths.new_model_path, never over an earlier one). Reads image headers and the device."""
    from core.device import select_device
    from core.models.model_file import read_model_spec
    from core.models.registry import model_info
    from core.training.paths import new_model_path
    from core.training.recipe import DatasetFacts, recommend
    from core.training.setup import check_model_choice

    if not index.labeled:
        raise TrainingError("no labeled images to improve the model on: label an image (or accept a prediction) "
                            "and save it first", index.root)
    base = read_model_spec(model_path)
    device = device or select_device("auto")
    recommendation = recommend(DatasetFacts.read(index), device, model_info(base.architecture), base, minutes)
    config = TrainConfig(data_dir=str(index.root), output=str(new_model_path(index.root)),
                         architecture=base.architecture, encoder=base.encoder, model_options=dict(base.options),
                         init_model=str(model_path), minutes=minutes, normalisation=base.normalisation,
                         **recommendation.config_fields())
    check_model_choice(config, base)
    return config


def validation_iou(model_paths: Sequence[str | Path], index: DatasetIndex, names: Sequence[str],
                   cancel: Callable[[], bool] | None = None) -> list[float | None]:
    """The mean IoU of each model on the whole images `names` (labeled samples of `index`), 32-bit, for a fair
    before/after comparison. None for a model whose classes differ in number from the dataset's, or when no
    image could be scored."""
    from core.inference import PredictOptions
    from core.inference.predictor import Predictor
    from core.io.masks import out_of_range_values
    from core.metrics import ConfusionMatrix

    samples = [s for s in (index.sample(name) for name in names) if s is not None and s.labeled]
    scores: list[float | None] = []
    for path in model_paths:
        predictor = Predictor.from_file(path, PredictOptions(precision="exact"))
        classes = len(index.settings.classes)
        if len(predictor.spec.classes) != classes:
            scores.append(None)
            continue
        matrix, scored = ConfusionMatrix(classes), 0
        for sample in samples:
            if cancel is not None and cancel():
                raise Cancelled("validation scoring cancelled")
            try:
                image, _note = index.model_image(sample, predictor.spec.in_channels)
                truth = index.load_mask(sample)
            except SegLabError:
                continue  # training skipped it too, and named it
            if truth.shape == image.shape[:2] and not out_of_range_values(truth, classes):
                matrix.update(predictor.predict_mask(image, cancel=cancel), truth)
                scored += 1
        mean_iou = matrix.mean_iou()
        scores.append(mean_iou if scored and not math.isnan(mean_iou) else None)
    return scores
