"""Find images and their annotations in the folder layouts people use and pair them by name, from file
names alone (no file is decoded, so thousands of files pair in milliseconds).

Layouts (DatasetIndex.layout):
  folders        images/ + masks/ (or mask/, labels/, label/, annotations/, gt/, groundtruth/): same stem, any
                 extension; mask stems may end in _mask, _label, ...; labelme .json files there count too
  class_folders  images/ + masks/<class name>/<stem>.<ext>: one binary mask per class
  suffix         <stem>_mask (_matte, _label, _labels, _seg) beside <stem> in one folder
  labelme        <stem>.json (labelme, with "shapes") beside <stem>.<ext>
  images_only    no annotations: every sample is unlabeled
Images live in images/ (or image/, imgs/, img/), else in the folder itself; other subfolders (test/, ...)
are not read. Names sort naturally (2.png before 10.png); hidden files, seglab.json, .seglab/ and files
that are not images are ignored.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

from core.data.settings import SETTINGS_FILE
from core.errors import DatasetError
from core.io.images import is_image_file

IMAGE_DIR_NAMES = ("images", "image", "imgs", "img")
MASK_DIR_NAMES = ("masks", "mask", "labels", "label", "annotations", "gt", "groundtruth", "ground_truth")
MASK_SUFFIXES = ("_mask", "_matte", "_labels", "_label", "_seg")
PROBLEM_KINDS = ("unreadable", "unlabeled", "orphan_mask", "size_mismatch", "bad_values", "settings",
                 "labelme")
_LABELME_HEAD_BYTES = 65536  # labelme writes "shapes" before the (possibly huge) "imageData"


@dataclass(frozen=True)
class Problem:
    """Something wrong (or worth knowing, kind "unlabeled") about one file; reported, never raised."""

    path: Path
    kind: str  # one of PROBLEM_KINDS
    message: str

    def __str__(self) -> str:
        shown = f"{self.path.parent.name}/{self.path.name}" if self.path.parent.name else self.path.name
        return f"{shown}: {self.message}"


@dataclass(frozen=True)
class Sample:
    """One image and its annotation: a mask file, one binary mask per class, or a labelme file."""

    image: Path
    mask: Path | None = None
    class_masks: tuple[tuple[int, Path], ...] = ()  # (class index, binary mask), in class order
    labelme: Path | None = None

    @property
    def name(self) -> str:
        return self.image.stem

    @property
    def labeled(self) -> bool:
        return self.mask is not None or bool(self.class_masks) or self.labelme is not None


@dataclass(frozen=True)
class Pairing:
    layout: str
    samples: tuple[Sample, ...]
    problems: tuple[Problem, ...]
    class_folders: tuple[str, ...] = ()  # class_folders layout: folder names of classes 1, 2, ...


def natural_key(name: str) -> tuple:
    """Sort key that orders numbers by value: 0.png, 1.png, 2.png, ..., 10.png."""
    parts = re.split(r"(\d+)", name.casefold())
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts))


def pair_folder(folder: str | Path) -> Pairing:
    """Detect the layout of `folder` and pair its images with their annotations."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError("the folder does not exist or is not a folder", folder)
    files, dirs = _listing(folder)
    image_dir = next((dirs[n] for n in IMAGE_DIR_NAMES if n in dirs), None)
    image_files = _listing(image_dir)[0] if image_dir is not None else []
    images = [f for f in image_files if is_image_file(f)]
    if not images:
        image_files = files
        images = [f for f in files if is_image_file(f)]
    if not images:
        raise DatasetError(f"no images found in {folder}; SegLab reads PNG, JPEG, BMP and TIFF", folder)
    mask_dir = next((dirs[n] for n in MASK_DIR_NAMES if n in dirs), None)
    if mask_dir is not None:
        mask_files, mask_subdirs = _listing(mask_dir)
        class_dirs = {d.name: d for d in mask_subdirs.values() if any(is_image_file(f) for f in _listing(d)[0])}
        if class_dirs:
            return _pair_class_folders(images, mask_files, class_dirs)
        return _pair_mask_folder(images, mask_files)
    stems = {f.stem.casefold() for f in images}
    if any(_strip_suffix(f.stem.casefold()) in stems for f in images):
        return _pair_suffixed(images)
    labelme = {f.stem.casefold(): f for f in image_files if f.suffix.lower() == ".json" and _looks_labelme(f)}
    if stems & labelme.keys():
        samples = [Sample(f, labelme=labelme.get(f.stem.casefold())) for f in images]
        orphans = [f for key, f in labelme.items() if key not in stems]
        return _finish("labelme", samples, orphans)
    return Pairing("images_only", tuple(Sample(f) for f in images), ())


def _listing(folder: Path) -> tuple[list[Path], dict[str, Path]]:
    """Visible files (natural order) and subfolders (by lower-case name), SegLab's own files left out."""
    files, dirs = [], {}
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith(".") or entry.name == SETTINGS_FILE:
                continue
            if entry.is_dir():
                dirs[entry.name.casefold()] = Path(entry.path)
            elif entry.is_file():
                files.append(Path(entry.path))
    files.sort(key=lambda p: natural_key(p.name))
    return files, dirs


def _strip_suffix(stem: str) -> str | None:
    """'cell_mask' -> 'cell' (lower-case stems); None without a mask suffix."""
    for suffix in MASK_SUFFIXES:
        if stem.endswith(suffix) and len(stem) > len(suffix):
            return stem[: -len(suffix)]
    return None


def _mask_key(stem: str, image_keys: set[str]) -> str:
    """The image key a mask belongs to: its own stem, or the stem without a mask suffix."""
    key = stem.casefold()
    if key in image_keys:
        return key
    return _strip_suffix(key) or key


def _looks_labelme(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return b'"shapes"' in handle.read(_LABELME_HEAD_BYTES)
    except OSError:
        return False


def _pair_mask_folder(images: list[Path], mask_files: list[Path]) -> Pairing:
    image_keys = {f.stem.casefold() for f in images}
    masks: dict[str, Path] = {}
    labelme: dict[str, Path] = {}
    duplicates: list[Problem] = []
    for path in mask_files:
        key = _mask_key(path.stem, image_keys)
        if path.suffix.lower() == ".json" and _looks_labelme(path):
            labelme.setdefault(key, path)
        elif is_image_file(path):
            if key in masks:
                duplicates.append(_duplicate(path, masks[key]))
            else:
                masks[key] = path
    orphans = [p for k, p in masks.items() if k not in image_keys]
    orphans += [p for k, p in labelme.items() if k not in image_keys and k not in masks]
    samples = []
    for image in images:
        key = image.stem.casefold()
        mask = masks.get(key)
        samples.append(Sample(image, mask, labelme=None if mask is not None else labelme.get(key)))
    return _finish("folders", samples, orphans, duplicates)


def _pair_class_folders(images: list[Path], loose_files: list[Path], class_dirs: dict[str, Path]) -> Pairing:
    image_keys = {f.stem.casefold() for f in images}
    per_image: dict[str, list[tuple[int, Path]]] = {}
    orphans: list[Path] = []
    names = sorted(class_dirs, key=natural_key)
    for class_index, name in enumerate(names, start=1):
        for path in _listing(class_dirs[name])[0]:
            if not is_image_file(path):
                continue
            key = _mask_key(path.stem, image_keys)
            if key in image_keys:
                per_image.setdefault(key, []).append((class_index, path))
            else:
                orphans.append(path)
    loose = [Problem(p, "orphan_mask", "not inside a class folder; per-class masks go in masks/<class name>/")
             for p in loose_files if is_image_file(p)]
    samples = [Sample(f, class_masks=tuple(per_image.get(f.stem.casefold(), ()))) for f in images]
    return replace(_finish("class_folders", samples, orphans, loose), class_folders=tuple(names))


def _pair_suffixed(files: list[Path]) -> Pairing:
    """Every file with a mask suffix is a mask; the others are images."""
    images = [f for f in files if _strip_suffix(f.stem.casefold()) is None]
    image_keys = {f.stem.casefold() for f in images}
    masks: dict[str, Path] = {}
    orphans: list[Path] = []
    duplicates: list[Problem] = []
    for path in files:
        base = _strip_suffix(path.stem.casefold())
        if base is None:
            continue
        if base not in image_keys:
            orphans.append(path)
        elif base in masks:
            duplicates.append(_duplicate(path, masks[base]))
        else:
            masks[base] = path
    samples = [Sample(f, masks.get(f.stem.casefold())) for f in images]
    return _finish("suffix", samples, orphans, duplicates)


def _duplicate(path: Path, kept: Path) -> Problem:
    return Problem(path, "orphan_mask",
                   f"{kept.name} is already the mask of this image; this file is not used")


def _finish(layout: str, samples: list[Sample], orphans: list[Path], extra: list[Problem] = ()) -> Pairing:
    problems = [Problem(p, "orphan_mask", "no image with this name (orphan mask)") for p in orphans]
    problems += extra
    problems += [Problem(s.image, "unlabeled", "no mask for this image (unlabeled)")
                 for s in samples if not s.labeled]
    return Pairing(layout, tuple(samples), tuple(problems))
