"""Turn a dataset folder into in-memory training and validation samples; bad files are skipped and named."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.classes import ClassTable
from core.data.dataset import LoadedSample
from core.data.index import DatasetIndex
from core.data.split import split_names
from core.errors import SegLabError, TrainingError
from core.io.images import channel_count, match_channels
from core.io.masks import ignore_index_for, out_of_range_values
from core.training.config import TrainConfig

MAX_TRAINING_CLASSES = 255


def dataset_index(folder: str | Path, scanned: DatasetIndex | None) -> DatasetIndex:
    """`scanned` when it is the index of `folder`, else a new scan of `folder`."""
    if scanned is not None and Path(scanned.root).resolve() == Path(folder).resolve():
        return scanned
    return DatasetIndex.scan(folder)


@dataclass(frozen=True)
class TrainingData:
    train: list[LoadedSample]
    val: list[LoadedSample]
    skipped: tuple[str, ...]
    classes: ClassTable
    in_channels: int
    notes: tuple[str, ...] = ()  # said once for the run, e.g. colour photos turned into gray


def prepare_training_data(config: TrainConfig, in_channels: int | None = None,
                          cancel: Callable[[], bool] | None = None,
                          index: DatasetIndex | None = None) -> TrainingData | None:
    """Split and load; None when cancel() turned true meanwhile.
    in_channels: forced by a model being fine-tuned, else 1 when the dataset names a channel to read (the
    channel rule of DatasetIndex.model_image), else taken from the first image.
    index: config.data_dir as already scanned (the window's open folder); scanned here when not given."""
    index = dataset_index(config.data_dir, index)
    labeled = index.labeled
    if not labeled:
        raise TrainingError("no labeled images: add masks (e.g. images/ + masks/ with the same names) "
                            "or label images in SegLab first", index.root)
    classes = index.settings.classes
    if len(classes) > MAX_TRAINING_CLASSES:
        raise TrainingError(f"SegLab trains up to {MAX_TRAINING_CLASSES} classes (255 marks unlabeled pixels); "
                            f"this dataset has {len(classes)}", index.root)
    train_names, val_names = split_names([s.name for s in labeled], config.val_fraction, config.seed,
                                         config.val_names)
    val_set = set(val_names)
    loaded: dict[str, LoadedSample] = {}
    skipped: list[str] = []
    notes: list[str] = []
    in_channels = in_channels or (1 if index.settings.channel is not None else None)
    for sample in labeled:
        if cancel is not None and cancel():
            return None
        try:
            image, note = index.model_image(sample, in_channels) if in_channels else (index.load_image(sample), None)
            mask = index.load_mask(sample)
        except SegLabError as exc:
            skipped.append(str(exc))
            continue
        if image.shape[:2] != mask.shape:
            skipped.append(f"{sample.image}: image {image.shape[1]}x{image.shape[0]} and mask "
                           f"{mask.shape[1]}x{mask.shape[0]} differ in size")
            continue
        bad = out_of_range_values(mask, len(classes))
        if bad:
            skipped.append(f"{sample.mask or sample.image}: mask values {bad[:5]} are not among the "
                           f"{len(classes)} classes; check the class table or the mask encoding")
            continue
        if not np.any(mask != ignore_index_for(len(classes))):
            skipped.append(f"{sample.mask or sample.labelme or sample.image}: every pixel is unlabeled, so it "
                           "cannot teach the model anything; label some pixels to use it")
            continue
        in_channels = in_channels or channel_count(image)
        try:
            image = match_channels(image, in_channels)
        except SegLabError as exc:
            skipped.append(f"{sample.image}: {exc}")
            continue
        if note is not None and note not in notes:
            notes.append(note)
        loaded[sample.name] = LoadedSample.create(sample.name, image, mask, config.normalisation)
    train = [loaded[n] for n in train_names if n in loaded]
    val = [loaded[n] for n in val_names if n in loaded and n in val_set]
    if not train:
        raise TrainingError("none of the labeled images could be used for training:\n" + "\n".join(skipped[:10]),
                            index.root)
    return TrainingData(train, val, tuple(skipped), classes, in_channels or 1, tuple(notes))
