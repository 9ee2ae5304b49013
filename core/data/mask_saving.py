"""Saving an edited mask where the dataset keeps it, in the dataset's own format.

- Where: the sample's own annotation (mask file, one binary mask per class folder, or labelme JSON); for an
  unlabeled image, where a rescan pairs it: beside the other masks with their naming (masks/<name>.png,
  <name>_mask.png...), <name>.json in labelme folders, masks/<name>.png in a folder of images only; <name> is
  the sample's: the file's stem plus its plane's suffix for a plane of a stack ("stack_t2_z3").
- How: core/io/mask_formats.py learns the format from the file itself or a sibling mask; datasets without
  masks get SegLab's paletted index PNG. Labelme datasets get labelme JSON: the editor's polygons when
  they paint exactly the mask, else the mask traced exactly.
- Safely: the files replaced are kept first as a version in the workspace (core/data/mask_history.py); atomic
  writes; a FileStamp taken when the mask was loaded detects a file changed on disk since
  (MaskChangedOnDiskError); read-only folders and full disks raise MaskSaveError saying what to do.
  Nothing is written when saving fails, and the previous file stays as it was.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.classes import ClassTable
from core.data.layouts import MASK_DIR_NAMES, MASK_SUFFIXES, Sample
from core.data.mask_history import record_version
from core.errors import MaskChangedOnDiskError, MaskFormatError, MaskSaveError
from core.io.file_stamp import FileStamp
from core.io.images import present_values
from core.io.labelme import mask_to_labelme, write_labelme
from core.io.mask_formats import (
    WRITABLE_SUFFIXES,
    StoredFormat,
    check_round_trip,
    default_format,
    detect_format,
    encode_mask,
    keep_stored_pixels,
    write_stored,
)
from core.io.masks import MaskEncoding, ignore_index_for, mask_suffix, read_raw_mask
from core.io.polygons import Polygon, rasterise

if TYPE_CHECKING:
    from core.data.index import DatasetIndex

_READ_ONLY = (errno.EACCES, errno.EPERM, errno.EROFS)
_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), getattr(errno, "EFBIG", errno.ENOSPC))


@dataclass(frozen=True)
class AnnotationTarget:
    """Where a sample's annotation is written. kind: mask, class_masks (one file per class 1..n, in
    class order) or labelme. `reference`: an existing mask file whose format new files copy."""

    kind: str
    paths: tuple[Path, ...]
    reference: Path | None = None


@dataclass(frozen=True)
class SavedAnnotation:
    sample: Sample  # the sample as a rescan would pair it now
    stamp: FileStamp  # of the files just written
    description: str  # e.g. "binary values (0/255, one class) (.png)"


def annotation_target(index: DatasetIndex, sample: Sample) -> AnnotationTarget:
    """Where `sample`'s annotation in dataset `index` is written."""
    if sample.mask is not None:
        return AnnotationTarget("mask", (sample.mask,), sample.mask)
    if sample.labelme is not None:
        return AnnotationTarget("labelme", (sample.labelme,))
    if index.layout == "class_folders":
        return _class_mask_target(index, sample)
    if index.layout == "labelme":
        return AnnotationTarget("labelme", (sample.image.parent / f"{sample.name}.json",))
    reference = next((s for s in index.samples if s.mask is not None), None)
    if reference is not None and index.layout in ("folders", "suffix"):
        folder = reference.mask.parent if index.layout == "folders" else sample.image.parent
        suffix = reference.mask.suffix if reference.mask.suffix.lower() in WRITABLE_SUFFIXES else ".png"
        name = sample.name + _name_suffix(reference) + suffix
        return AnnotationTarget("mask", (folder / name,), reference.mask)
    labelme = next((s for s in index.samples if s.labelme is not None), None)
    if labelme is not None:
        return AnnotationTarget("labelme", (labelme.labelme.parent / f"{sample.name}.json",))
    suffix = mask_suffix(len(index.settings.classes))
    return AnnotationTarget("mask", (_mask_folder(index.root) / f"{sample.name}{suffix}",))


def _name_suffix(reference: Sample) -> str:
    """'_mask' when the reference mask is <name>_mask.<ext>; '' when it shares the sample's name (stem and
    plane suffix)."""
    stem, image = reference.mask.stem, reference.name
    extra = stem[len(image):] if stem.casefold().startswith(image.casefold()) else ""
    return extra if extra.casefold() in MASK_SUFFIXES else ""


def _mask_folder(root: Path) -> Path:
    """The folder a scan reads masks from (masks/, labels/, ... when one exists), else root/masks."""
    existing = {p.name.casefold(): p for p in root.iterdir() if p.is_dir()} if root.is_dir() else {}
    return next((existing[n] for n in MASK_DIR_NAMES if n in existing), root / "masks")


def _class_mask_target(index: DatasetIndex, sample: Sample) -> AnnotationTarget:
    own = dict(sample.class_masks)
    reference = next((p for s in index.samples for _, p in s.class_masks), None)
    suffix = reference.suffix if reference is not None and reference.suffix.lower() in WRITABLE_SUFFIXES else ".png"
    folder = _mask_folder(index.root)
    paths = tuple(own.get(number, folder / name / f"{sample.name}{suffix}")
                  for number, name in enumerate(index.class_folders, start=1))
    return AnnotationTarget("class_masks", paths, reference)


def annotation_stamp(index: DatasetIndex, sample: Sample) -> FileStamp:
    """The stamp of the sample's annotation files now (taken when its mask is read)."""
    return FileStamp.of(annotation_target(index, sample).paths)


def mask_format(index: DatasetIndex, target: AnnotationTarget) -> tuple[StoredFormat, np.ndarray | None]:
    """The format the dataset's masks use, learnt from `target.reference` (or, when that is the file to
    replace and it cannot be read, from another mask of the dataset), else SegLab's default; and the pixels
    of the file to replace, when it is readable."""
    classes, encoding = index.settings.classes, index.settings.encoding
    references = [target.reference] if target.reference is not None else []
    if target.reference in target.paths:
        references += [s.mask for s in index.samples if s.mask is not None and s.mask != target.reference][:1]
    for reference in references:
        if reference.suffix.lower() not in WRITABLE_SUFFIXES:
            continue
        try:
            raw = read_raw_mask(reference)
            fmt = detect_format(reference, encoding, classes, raw)
        except MaskFormatError:
            continue
        return fmt, (raw if reference in target.paths else None)
    return default_format(classes, encoding), None


# saving ----------------------------------------------------------------------------------------

def save_annotation(index: DatasetIndex, sample: Sample, mask: np.ndarray, expected: FileStamp | None = None,
                    polygons: Sequence[Polygon] = (), overwrite: bool = False) -> SavedAnnotation:
    """Write `mask` as `sample`'s annotation in the dataset's format.

    expected: the stamp taken when the mask was read; if the files changed since, MaskChangedOnDiskError
    (unless overwrite). polygons: the editor's shapes, written to labelme files when they paint `mask`.
    """
    target = annotation_target(index, sample)
    if expected is not None and not overwrite:
        changed = expected.changed_files()
        if changed:
            raise MaskChangedOnDiskError("was changed on disk by another program since SegLab opened it; "
                                         "overwrite it, or keep your edits unsaved and look at the file "
                                         "first", changed[0])
    try:
        record_version(index, _on_disk(sample, target))
        for folder in {path.parent for path in target.paths}:
            folder.mkdir(parents=True, exist_ok=True)
        description = _write(index, sample, target, mask, polygons)
    except OSError as exc:
        raise _os_error(exc, target.paths[0]) from None
    if target.kind == "mask":
        sample = replace(sample, mask=target.paths[0], labelme=None)
    elif target.kind == "labelme":
        sample = replace(sample, labelme=target.paths[0])
    else:
        sample = replace(sample, class_masks=tuple(enumerate(target.paths, start=1)))
    return SavedAnnotation(sample, FileStamp.of(target.paths), description)


def _on_disk(sample: Sample, target: AnnotationTarget) -> Sample:
    """`sample` with the target's files that exist now as its annotation (one may have appeared since the
    scan, written by another program): the files a save replaces."""
    existing = tuple((number, path) for number, path in enumerate(target.paths, start=1) if path.is_file())
    if target.kind == "class_masks":
        return replace(sample, class_masks=existing)
    return replace(sample, **{target.kind: existing[0][1]}) if existing else sample


def _write(index: DatasetIndex, sample: Sample, target: AnnotationTarget, mask: np.ndarray,
           polygons: Sequence[Polygon]) -> str:
    classes, encoding = index.settings.classes, index.settings.encoding
    path = target.paths[0]
    if target.kind == "labelme":
        return write_labelme_annotation(path, mask, classes, sample.image, polygons)
    if target.kind == "class_masks":
        return _write_class_masks(target, mask, classes, encoding)
    fmt, old_raw = mask_format(index, target)
    write_stored(path, _stored_pixels(mask, fmt, old_raw, encoding, classes, path), fmt, classes)
    return fmt.describe()


def _stored_pixels(mask: np.ndarray, fmt: StoredFormat, old_raw: np.ndarray | None, encoding: MaskEncoding,
                   classes: ClassTable, path: Path) -> np.ndarray:
    """Pixels that read back as `mask`: the old file's own pixels where the class did not change (when that
    reads back exactly), the format's values elsewhere."""
    raw = encode_mask(mask, fmt, classes, path)
    if old_raw is not None:
        kept = keep_stored_pixels(raw, old_raw, mask, encoding, classes, path)
        try:
            check_round_trip(mask, kept, encoding, classes, path)
            return kept
        except MaskFormatError:
            pass  # e.g. auto mode reads the mixed pixels otherwise: the plain encoding is checked below
    check_round_trip(mask, raw, encoding, classes, path)
    return raw


def write_labelme_annotation(path: str | Path, mask: np.ndarray, classes: ClassTable, image_path: str | Path,
                             polygons: Sequence[Polygon] = ()) -> str:
    """Write a labelme file of `mask`: the polygons themselves when they paint exactly the mask (their
    vertices stay as drawn), else the mask traced exactly. Returns what was written."""
    if polygons and np.array_equal(rasterise(polygons, mask.shape, dtype=mask.dtype), mask):
        write_labelme(path, polygons, classes, image_path, mask.shape)
        return "labelme polygons (.json)"
    mask_to_labelme(path, mask, classes, image_path)
    return "labelme polygons traced from the mask (.json)"


def _write_class_masks(target: AnnotationTarget, mask: np.ndarray, classes: ClassTable,
                       encoding: MaskEncoding) -> str:
    """One 0/255 file per class folder; read back with core.data.index.read_class_masks. A pixel in no
    folder is background, so unlabeled pixels cannot be kept: refused, saying what to do."""
    values = present_values(mask)
    if ignore_index_for(len(classes)) in values:
        raise MaskFormatError("this dataset keeps one mask folder per class, where a pixel in no folder is "
                              "background, so it cannot hold unlabeled pixels; paint them with a class or "
                              "the Eraser (background) before saving", target.paths[0])
    extra = [int(v) for v in values if v > len(target.paths)]
    if extra:
        raise MaskFormatError(f"this dataset keeps one mask folder per class ({len(target.paths)} folders); "
                              f"class {extra[0]} has none: add a folder for it under masks/", target.paths[0])
    if encoding.mode == "binary" and encoding.threshold >= 255:
        raise MaskFormatError(f"the binary threshold {encoding.threshold} leaves no value for 'in the class'; "
                              "lower it in File > How Masks Are Read…", target.paths[0])
    binary = StoredFormat("index", ".png")
    for class_index, path in enumerate(target.paths, start=1):
        raw = np.where(mask == class_index, 255, 0).astype(np.uint8)
        write_stored(path, raw, replace(binary, suffix=path.suffix.lower()), classes)
    return "one 0/255 mask per class folder"


def _os_error(exc: OSError, path: Path) -> MaskSaveError:
    """The file being saved (exc.filename may be a temporary file beside it) and what to do."""
    if exc.errno in _READ_ONLY:
        return MaskSaveError(f"cannot be written: the folder is read-only or you lack permission "
                             f"({exc.strerror}); make the folder writable, or copy the dataset somewhere you "
                             "can write, and save again", path)
    if exc.errno in _FULL:
        return MaskSaveError(f"cannot be written: the disk is full ({exc.strerror}); free some space and save "
                             "again", path)
    return MaskSaveError(f"cannot be written ({exc.strerror or exc})", path)
