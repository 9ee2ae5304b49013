"""Checks of a dataset's files, reported as Problems: unreadable or truncated files and size mismatches
(header reads: the checks read_image makes before decoding, so a file passed here opens), and with
deep=True mask values outside the class table (masks decoded), with a hint that names the fix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from core.data.layouts import Problem, Sample
from core.data.settings import DatasetSettings
from core.errors import ImageReadError, MaskFormatError
from core.io.images import read_image_info
from core.io.labelme import labelme_to_mask, read_labelme
from core.io.masks import decode_mask, out_of_range_values, read_raw_mask, single_nonzero_channel
from core.io.readers import open_source

_CHANNEL_NAMES = ("red", "green", "blue", "alpha")
_VALUES_SHOWN = 8
Size = tuple[int, int]


def validate_index(samples: Iterable[Sample], settings: DatasetSettings, deep: bool = True,
                   progress: Callable[[int, int], None] | None = None,
                   cancel: Callable[[], bool] | None = None) -> tuple[Problem, ...]:
    """Check every sample's files. progress(done, total) after each sample; cancel() is asked before each
    sample and, when it says True, the problems found so far are returned."""
    samples = tuple(samples)
    problems: list[Problem] = []
    for done, sample in enumerate(samples, 1):
        if cancel is not None and cancel():
            break
        problems += _check_sample(sample, settings, deep)
        if progress is not None:
            progress(done, len(samples))
    return tuple(problems)


def _check_sample(sample: Sample, settings: DatasetSettings, deep: bool) -> list[Problem]:
    image_size, problems = _plane_size(sample) if sample.plane is not None else _read_header(sample.image)
    if sample.mask is not None:
        found = _check_mask_file(sample.mask, image_size)
        if deep and not _unreadable(found):
            found += _check_values(sample.mask, settings)
        problems += found
    for class_index, path in sample.class_masks:
        found = _check_mask_file(path, image_size)
        if class_index >= len(settings.classes):
            found.append(Problem(path, "bad_values",
                                 f"the class folder {path.parent.name!r} is class {class_index}, but the "
                                 f"class table has {len(settings.classes)} classes; add the class"))
        if deep and not _unreadable(found):
            found += _check_readable(path)
        problems += found
    if sample.labelme is not None:
        problems += _check_labelme(sample.labelme, image_size, settings, deep)
    return problems


def _unreadable(problems: list[Problem]) -> bool:
    return any(p.kind == "unreadable" for p in problems)


def _read_header(path: Path) -> tuple[Size | None, list[Problem]]:
    try:
        info = read_image_info(path)
    except ImageReadError as exc:
        return None, [Problem(path, "unreadable", exc.reason)]
    return (info.width, info.height), []


def _plane_size(sample: Sample) -> tuple[Size | None, list[Problem]]:
    """A plane's size from the metadata the scan read; a file whose metadata could not be read is opened
    again for the reason."""
    if sample.metadata is not None:
        height, width = sample.metadata.shape
        return (width, height), []
    try:
        open_source(sample.image).close()
    except ImageReadError as exc:
        return None, [Problem(sample.image, "unreadable", exc.reason)]
    return None, []


def _check_mask_file(path: Path, image_size: Size | None) -> list[Problem]:
    size, problems = _read_header(path)
    if size is not None and image_size is not None and size != image_size:
        problems.append(Problem(path, "size_mismatch", f"the mask is {size[0]}x{size[1]} but its image is "
                                                       f"{image_size[0]}x{image_size[1]}"))
    return problems


def _check_readable(path: Path) -> list[Problem]:
    try:
        read_raw_mask(path)
    except MaskFormatError as exc:
        return [Problem(path, "unreadable", exc.reason)]
    return []


def _check_values(path: Path, settings: DatasetSettings) -> list[Problem]:
    try:
        raw = read_raw_mask(path)
    except MaskFormatError as exc:
        return [Problem(path, "unreadable", exc.reason)]
    try:
        mask = decode_mask(raw, settings.encoding, settings.classes, path)
    except MaskFormatError as exc:
        return [Problem(path, "bad_values", exc.reason)]
    bad = out_of_range_values(mask, len(settings.classes))
    return [Problem(path, "bad_values", _out_of_range_message(bad, raw, settings))] if bad else []


def _out_of_range_message(values: list[int], raw, settings: DatasetSettings) -> str:
    shown = ", ".join(map(str, values[:_VALUES_SHOWN])) + (", ..." if len(values) > _VALUES_SHOWN else "")
    head = (f"values {shown} are" if len(values) > 1 else f"value {shown} is") + \
        f" outside the {len(settings.classes)} classes"
    encoding = settings.encoding
    if encoding.mode not in ("auto", "index"):
        return f"{head}; add classes or change the mask encoding"
    channel = encoding.channel
    if channel is None and raw.ndim == 3 and raw.shape[2] >= 3:
        channel = single_nonzero_channel(raw[:, :, :3])
    where = ""
    if channel is not None:
        where = f" on the {_CHANNEL_NAMES[channel] if channel < len(_CHANNEL_NAMES) else channel} channel"
    return (f"{head}; if they are colours of one class, set the mask encoding to binary{where}; "
            "otherwise add classes")


def _check_labelme(path: Path, image_size: Size | None, settings: DatasetSettings,
                   deep: bool) -> list[Problem]:
    try:
        document = read_labelme(path)
    except MaskFormatError as exc:
        return [Problem(path, "labelme", exc.reason)]
    problems = []
    if image_size is not None and (document.width, document.height) != image_size:
        problems.append(Problem(path, "size_mismatch", f"the labelme file is for a {document.width}x"
                                                       f"{document.height} image but its image is "
                                                       f"{image_size[0]}x{image_size[1]}"))
    if document.skipped_message():
        problems.append(Problem(path, "labelme", document.skipped_message()))
    if deep:
        try:
            labelme_to_mask(document, settings.classes)
        except MaskFormatError as exc:
            problems.append(Problem(path, "labelme", exc.reason))
    return problems
