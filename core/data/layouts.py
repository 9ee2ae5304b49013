"""Find images and their annotations in the folder layouts people use and pair them by name, from file
names and, for files that can hold several planes (TIFF, CZI, ND2, LIF, OME-Zarr), their metadata: no pixel
is decoded, so thousands of files pair in well under a second.

Every plane of a file (z slice, time point, scene, mosaic tile) is a sample of its own, named
<stem><plane suffix> (e.g. "stack_t2_z3"); its mask is masks/<stem><plane suffix>.png. Files with one plane
keep the plain stem.

Layouts (DatasetIndex.layout):
  folders        images/ + masks/ (or mask/, labels/, label/, annotations/, gt/, groundtruth/): same stem, any
                 extension; mask stems may end in _mask, _label, ...; labelme .json files there count too
  class_folders  images/ + masks/<class name>/<stem>.<ext>: one binary mask per class
  suffix         <stem>_mask (_matte, _label, _labels, _seg) beside <stem> in one folder
  labelme        <stem>.json (labelme, with "shapes") beside <stem>.<ext>
  images_only    no annotations: every sample is unlabeled
Images live in images/ (or image/, imgs/, img/), else in the folder itself; other subfolders (test/, ...)
are not read, but for OME-Zarr images (.zarr folders). Names sort naturally (2.png before 10.png); hidden files, seglab.json, .seglab/ and files
that are not images are ignored.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from core.data.settings import SETTINGS_FILE
from core.errors import DatasetError
from core.io.images import is_image_file
from core.io.readers import PlaneAddress
from core.io.readers.planes import ImagePlane, PlaneMetadata, is_plane_source, list_planes

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
    """One image (one plane of a file) and its annotation: a mask file, one binary mask per class, or a
    labelme file. `plane` is None for a file read whole (PNG, JPEG, BMP, single-plane TIFF); `metadata`
    (size, channel names, pixel size) is there where the file was opened to list its planes."""

    image: Path
    mask: Path | None = None
    class_masks: tuple[tuple[int, Path], ...] = ()  # (class index, binary mask), in class order
    labelme: Path | None = None
    plane: PlaneAddress | None = None
    metadata: PlaneMetadata | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        """The file's stem plus the plane's suffix ("stack_t2_z3"): unique in a dataset, names its mask."""
        return self.image.stem + (self.plane.suffix if self.plane is not None else "")

    @property
    def plane_label(self) -> str:
        """What a person reads for the plane, e.g. "T2 Z3"; empty for a file with one plane."""
        return self.plane.label if self.plane is not None else ""

    @property
    def channel_names(self) -> tuple[str, ...]:
        """Channel names from the file's metadata; empty where the file was not opened (PNG, JPEG, BMP)."""
        return self.metadata.channel_names if self.metadata is not None else ()

    @property
    def image_plane(self) -> ImagePlane:
        """The sample's plane as core.inference.predict_folder takes it (its mask is named `name`)."""
        return ImagePlane(self.image, self.plane, self.metadata)

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
    images = [f for f in image_files if is_plane_source(f)]
    if not images:
        image_files = files
        images = [f for f in files if is_plane_source(f)]
    if not images:
        raise DatasetError(f"no images found in {folder}; SegLab reads PNG, JPEG, BMP, TIFF (also OME-TIFF and "
                           "ImageJ stacks), CZI, ND2, LIF and OME-Zarr", folder)
    mask_dir = next((dirs[n] for n in MASK_DIR_NAMES if n in dirs), None)
    if mask_dir is not None:
        mask_files, mask_subdirs = _listing(mask_dir)
        class_dirs = {d.name: d for d in mask_subdirs.values() if any(is_image_file(f) for f in _listing(d)[0])}
        if class_dirs:
            return _pair_class_folders(_planes_of(images), mask_files, class_dirs)
        return _pair_mask_folder(_planes_of(images), mask_files)
    stems = {f.stem.casefold() for f in images}
    if any(_strip_suffix(f.stem.casefold()) in stems for f in images):
        return _pair_suffixed(images)
    planes = _planes_of(images)
    names = {s.name.casefold() for s in planes}
    if any(_strip_suffix(f.stem.casefold()) in names for f in images):  # masks of planes: <stem>_z2_mask.png
        return _pair_suffixed(images)
    labelme = {f.stem.casefold(): f for f in image_files if f.suffix.lower() == ".json" and _looks_labelme(f)}
    if names & labelme.keys():
        samples = [replace(s, labelme=labelme.get(s.name.casefold())) for s in planes]
        orphans = [f for key, f in labelme.items() if key not in names]
        return _finish("labelme", samples, orphans)
    return Pairing("images_only", tuple(planes), ())


def _planes_of(images: list[Path]) -> list[Sample]:
    """One unpaired sample per plane of each image file (core/io/readers/planes.py)."""
    return [Sample(plane.path, plane=plane.address, metadata=plane.metadata)
            for path in images for plane in list_planes(path)]


def _listing(folder: Path) -> tuple[list[Path], dict[str, Path]]:
    """Visible files (natural order) and subfolders (by lower-case name), SegLab's own files left out."""
    files, dirs = [], {}
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith(".") or entry.name == SETTINGS_FILE:
                continue
            if entry.is_dir() and not entry.name.lower().endswith(".zarr"):
                dirs[entry.name.casefold()] = Path(entry.path)
            elif entry.is_file() or entry.is_dir():  # an OME-Zarr image is a folder
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


def _pair_mask_folder(images: list[Sample], mask_files: list[Path]) -> Pairing:
    image_keys = {s.name.casefold() for s in images}
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
        key = image.name.casefold()
        mask = masks.get(key)
        samples.append(replace(image, mask=mask, labelme=None if mask is not None else labelme.get(key)))
    return _finish("folders", samples, orphans, duplicates)


def _pair_class_folders(images: list[Sample], loose_files: list[Path], class_dirs: dict[str, Path]) -> Pairing:
    image_keys = {s.name.casefold() for s in images}
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
    samples = [replace(s, class_masks=tuple(per_image.get(s.name.casefold(), ()))) for s in images]
    return replace(_finish("class_folders", samples, orphans, loose), class_folders=tuple(names))


def _pair_suffixed(files: list[Path]) -> Pairing:
    """Every file with a mask suffix is a mask; the others are images."""
    images = _planes_of([f for f in files if _strip_suffix(f.stem.casefold()) is None or not is_image_file(f)])
    image_keys = {s.name.casefold() for s in images}
    masks: dict[str, Path] = {}
    orphans: list[Path] = []
    duplicates: list[Problem] = []
    for path in files:
        base = _strip_suffix(path.stem.casefold())
        if base is None or not is_image_file(path):
            continue
        if base not in image_keys:
            orphans.append(path)
        elif base in masks:
            duplicates.append(_duplicate(path, masks[base]))
        else:
            masks[base] = path
    samples = [replace(s, mask=masks.get(s.name.casefold())) for s in images]
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
