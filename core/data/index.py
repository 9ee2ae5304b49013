"""DatasetIndex: the samples of a dataset folder, its settings, and the problems found in it.

scan() pairs images with masks by name, one sample per plane of a stack (layouts in core/data/layouts.py);
validate() reads file headers, and with deep=True decodes masks, to find unreadable files, size mismatches and
mask values outside the class table. Problems are data for the user to see; nothing here raises because of
one file. Images are read plane by plane in their own dtype; model_image() gives what a model reads (the
dataset's chosen channel), pixel_size_um() the calibration (the dataset's setting, else the file's).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np

from core.classes import ClassTable
from core.data.layouts import PROBLEM_KINDS, Problem, Sample, natural_key, pair_folder
from core.data.settings import SETTINGS_FILE, DatasetSettings
from core.data.validation import validate_index
from core.data.workspace import remove_killed_writes
from core.errors import DatasetError, MaskFormatError
from core.io.images import present_values
from core.io.labelme import labelme_labels, labelme_to_mask, read_labelme
from core.io.masks import MAX_PNG_CLASSES, MaskEncoding, decode_mask, read_mask, read_raw_mask
from core.io.readers.planes import model_channels, read_plane_image

__all__ = ["PROBLEM_KINDS", "DatasetIndex", "Problem", "Sample", "propose_settings"]

_PROPOSAL_MASKS = 3
_MAX_PROPOSED_CLASSES = 64
_BACKGROUND_NAMES = ("background", "_background_")


@dataclass(frozen=True)
class DatasetIndex:
    root: Path
    layout: str  # folders, class_folders, suffix, labelme or images_only (see core/data/layouts.py)
    samples: tuple[Sample, ...]
    problems: tuple[Problem, ...]  # found while pairing and loading the settings; validate() finds more
    settings: DatasetSettings
    class_folders: tuple[str, ...] = ()  # class_folders layout: folder names of classes 1, 2, ...

    @classmethod
    def scan(cls, folder: str | Path, settings: DatasetSettings | None = None) -> DatasetIndex:
        """Pair the folder's files by name (no pixels decoded). Settings: the folder's seglab.json if
        readable, else `settings`, else proposed ones. Raises DatasetError only when there are no images."""
        folder = Path(folder)
        pairing = pair_folder(folder)
        remove_killed_writes(folder, _folders_of(pairing.samples))
        problems = list(pairing.problems)
        try:
            saved = DatasetSettings.load(folder)
        except DatasetError as exc:
            saved = None
            fallback = "the given" if settings is not None else "proposed"
            problems.append(Problem(folder / SETTINGS_FILE, "settings",
                                    f"{exc.reason}; SegLab uses {fallback} settings"))
        index = cls(folder, pairing.layout, pairing.samples, tuple(problems),
                    saved or settings or DatasetSettings(), pairing.class_folders)
        if saved is None and settings is None:
            index = replace(index, settings=propose_settings(index))
        return index

    @property
    def labeled(self) -> tuple[Sample, ...]:
        return tuple(s for s in self.samples if s.labeled)

    @property
    def unlabeled(self) -> tuple[Sample, ...]:
        return tuple(s for s in self.samples if not s.labeled)

    def sample(self, name: str) -> Sample:
        """The sample whose image has this stem."""
        found = self._by_name.get(name)
        if found is not None:
            return found
        raise DatasetError(f"no image named {name!r} in this dataset", self.root)

    @cached_property
    def _by_name(self) -> dict[str, Sample]:
        by_name: dict[str, Sample] = {}
        for sample in self.samples:
            by_name.setdefault(sample.name, sample)
        return by_name

    def validate(self, deep: bool = True, progress: Callable[[int, int], None] | None = None,
                 cancel: Callable[[], bool] | None = None) -> tuple[Problem, ...]:
        """Problems found by reading the files (core/data/validation.py); the scan's own are in `problems`."""
        return validate_index(self.samples, self.settings, deep, progress, cancel)

    def load_image(self, sample: Sample) -> np.ndarray:
        """The sample's plane, (H, W) or (H, W, C) in the file's dtype, all channels."""
        return read_plane_image(sample.image, sample.plane)

    def model_image(self, sample: Sample, in_channels: int) -> tuple[np.ndarray, str | None]:
        """What a model with `in_channels` channels reads of the sample, and a note when a colour photo was
        turned into gray. A 1-channel model reads the dataset's chosen channel; a multi-channel micrograph
        without a choice raises ConfigError naming the file, the plane and its channels."""
        where = f"{sample.image} ({sample.plane_label})" if sample.plane_label else sample.image
        return model_channels(self.load_image(sample), in_channels, self.settings.channel, sample.channel_names,
                              where)

    def pixel_size_um(self, sample: Sample) -> tuple[float, float] | None:
        """(y, x) µm: the dataset's pixel size setting when set, else the file's; None when neither says."""
        if self.settings.pixel_size_um is not None:
            return (self.settings.pixel_size_um, self.settings.pixel_size_um)
        return sample.metadata.pixel_size_um if sample.metadata is not None else None

    @property
    def channel_names(self) -> tuple[str, ...]:
        """The channel names of the dataset's first image with named channels (all planes of a dataset
        usually share them); empty for PNG/JPEG/BMP datasets."""
        return next((s.channel_names for s in self.samples if s.channel_names), ())

    def load_mask(self, sample: Sample) -> np.ndarray:
        """The sample's (H, W) index mask, decoded with the dataset's settings."""
        classes, encoding = self.settings.classes, self.settings.encoding
        if sample.mask is not None:
            return read_mask(sample.mask, encoding, classes)
        if sample.class_masks:
            return read_class_masks(sample.class_masks, encoding, len(classes))
        if sample.labelme is not None:
            return labelme_to_mask(read_labelme(sample.labelme), classes)
        raise DatasetError("this image has no mask yet (unlabeled)", sample.image)


def propose_settings(index_or_folder: DatasetIndex | str | Path) -> DatasetSettings:
    """Settings for a dataset without seglab.json. Classes: 'background' plus the class folders or the
    labelme labels; else as many as the first few single-channel masks' values need (2 for colour masks:
    validation then explains extra values); else 'background', 'class 1'. Encoding: auto."""
    index = index_or_folder
    if not isinstance(index, DatasetIndex):
        index = DatasetIndex.scan(index_or_folder, DatasetSettings())
    if index.class_folders:
        return DatasetSettings(ClassTable.from_names(["background", *index.class_folders]))
    labels = _labelme_labels(index.labeled)
    if labels:
        return DatasetSettings(ClassTable.from_names(["background", *labels]))
    return DatasetSettings(ClassTable.default(_class_count_from_masks(index.labeled)))


def read_class_masks(class_masks: tuple[tuple[int, Path], ...], encoding: MaskEncoding,
                     class_count: int) -> np.ndarray:
    """Combine one binary mask per class into an index mask; a later class wins where they overlap.

    A pixel is in the class where the mask's value (its `encoding.channel`, else the brightest colour
    channel) is above the encoding's threshold in binary mode, else above half the file's maximum
    (0/1, 0/255 and 0/65535 masks all work).
    """
    mask = None
    for class_index, path in class_masks:
        raw = read_raw_mask(path)
        if raw.ndim == 3:
            raw = raw[:, :, encoding.channel] if encoding.channel is not None else raw[:, :, :3].max(axis=2)
        threshold = encoding.threshold if encoding.mode == "binary" else int(raw.max(initial=0)) // 2
        if mask is None:
            mask = np.zeros(raw.shape, np.uint8 if class_count <= MAX_PNG_CLASSES else np.uint16)
        elif raw.shape != mask.shape:
            raise MaskFormatError(f"this class mask is {raw.shape[1]}x{raw.shape[0]} but the first one, "
                                  f"{class_masks[0][1].name}, is {mask.shape[1]}x{mask.shape[0]}", path)
        mask[raw > threshold] = class_index
    return mask


def _folders_of(samples: tuple[Sample, ...]) -> set[Path]:
    """Every folder holding an image or an annotation of these samples."""
    files = [path for s in samples for path in (s.mask, s.labelme, *(p for _, p in s.class_masks)) if path]
    return {path.parent for path in [*(s.image for s in samples), *files]}


def _labelme_labels(samples: tuple[Sample, ...]) -> list[str]:
    labels: dict[str, None] = {}
    for sample in samples:
        if sample.labelme is None:
            continue
        try:
            labels.update(dict.fromkeys(labelme_labels(read_labelme(sample.labelme))))
        except MaskFormatError:
            continue  # validate() reports it
    found = [label for label in labels if label.strip().casefold() not in _BACKGROUND_NAMES]
    return sorted(found, key=natural_key)


def _class_count_from_masks(samples: tuple[Sample, ...]) -> int:
    """max value + 1 over the first few single-channel masks; 2 when they are colour files or unreadable."""
    top = 1
    for sample in [s for s in samples if s.mask is not None][:_PROPOSAL_MASKS]:
        try:
            raw = read_raw_mask(sample.mask)
            if raw.ndim == 3:
                return 2  # colours or one channel of an RGBA file: values may not be classes
            mask = decode_mask(raw, MaskEncoding(), path=sample.mask)
        except MaskFormatError:
            continue  # validate() reports it
        values = present_values(mask)
        top = max(top, int(values[values != np.iinfo(mask.dtype).max].max(initial=0)))  # max: unlabeled
    return top + 1 if top < _MAX_PROPOSED_CLASSES else 2
