"""Export the masks of a set of images in chosen formats into one folder.

Layout of the output folder (per-image formats get a folder each, the file named after the image):
  masks/<name>.png          paletted index PNG (value = class index), the default
  label_tiff/<name>.tif     label TIFF (an OME-TIFF carrying the pixel size where it is known)
  colour_masks/<name>.png   RGB in the class colours
  overlays/<name>.png       the image with the coloured mask blended, for slides
  labelme/<name>.json       polygons for labelme (pixel-centre convention, exact: core/io/labelme.py)
  imagej_rois/<name>.zip    ImageJ/Fiji ROI set
  coco.json                 COCO instance annotations of all images
  measurements.csv          area, fraction, object count and mean object size per image and class (px, µm²)
Every file is written atomically. Nothing is overwritten unless the request says so: existing_files()
lists what would be. A mask or image that cannot be read is reported and the others carry on.
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.classes import ClassTable
from core.errors import ConfigError, MaskFormatError, SegLabError, unknown_name_error
from core.export.coco import CocoDocument
from core.export.imagej_rois import write_roi_zip
from core.export.masks_export import write_colour_png, write_index_png, write_label_tiff, write_overlay_png
from core.export.measurements import measure_mask, write_measurements_csv
from core.export.outlines import mask_objects
from core.io.atomic import write_error
from core.io.labelme import mask_to_labelme
from core.io.masks import ignore_index_for, out_of_range_values, read_mask
from core.io.readers import PlaneAddress
from core.io.readers.planes import read_plane_image


@dataclass(frozen=True)
class ExportFormat:
    key: str
    label: str
    target: str  # folder of the per-image files, or the file name of a format written once
    suffix: str = ""  # per-image file suffix; "" for formats written once for all images

    @property
    def per_image(self) -> bool:
        return bool(self.suffix)


FORMATS = (
    ExportFormat("index_png", "Index masks (paletted PNG)", "masks", ".png"),
    ExportFormat("label_tiff", "Label masks (TIFF)", "label_tiff", ".tif"),
    ExportFormat("colour_png", "Colour masks (PNG)", "colour_masks", ".png"),
    ExportFormat("overlay_png", "Overlays on the image (PNG, for slides)", "overlays", ".png"),
    ExportFormat("labelme", "Polygons: labelme JSON", "labelme", ".json"),
    ExportFormat("coco", "Polygons: COCO JSON", "coco.json"),
    ExportFormat("imagej_rois", "Polygons: ImageJ/Fiji ROI sets (.zip)", "imagej_rois", ".zip"),
    ExportFormat("measurements", "Measurements per image and class (CSV)", "measurements.csv"),
)
FORMAT_KEYS = tuple(f.key for f in FORMATS)
DEFAULT_FORMATS = ("index_png",)


def export_format(key: str) -> ExportFormat:
    for candidate in FORMATS:
        if candidate.key == key:
            return candidate
    raise unknown_name_error("export format", key, list(FORMAT_KEYS))


@dataclass(frozen=True)
class ExportItem:
    """One image (a plane of a file) and how to get its mask (a prediction file, or the dataset's decoded
    ground truth); its pixel size (y, x) µm goes into measurements and label TIFFs where known."""

    name: str
    image_path: Path
    load_mask: Callable[[], np.ndarray]
    plane: PlaneAddress | None = None
    pixel_size_um: tuple[float, float] | None = None


@dataclass(frozen=True)
class ExportRequest:
    items: tuple[ExportItem, ...]
    out_dir: Path
    classes: ClassTable
    formats: tuple[str, ...] = DEFAULT_FORMATS
    image_root: Path | None = None  # COCO file names are relative to it (default: out_dir)
    overwrite: bool = False

    def __post_init__(self):
        if not self.formats:
            raise ConfigError("choose at least one export format")
        for key in self.formats:
            export_format(key)
        object.__setattr__(self, "items", tuple(self.items))
        object.__setattr__(self, "out_dir", Path(self.out_dir))


@dataclass
class ExportResult:
    written: list[Path] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (image name, problem)
    cancelled: bool = False
    seconds: float = 0.0


def prediction_items(index, predictions: Mapping[str, str], names: Iterable[str] | None = None) -> list[ExportItem]:
    """Items for predicted masks (SegLab index masks on disk) of `names` (default: every predicted image)."""
    names = list(predictions) if names is None else [n for n in names if n in predictions]
    return [_item(index, index.sample(n), functools.partial(read_mask, predictions[n])) for n in names]


def truth_items(index, names: Iterable[str] | None = None) -> list[ExportItem]:
    """Items for the ground-truth masks of `names` (default: every labelled image), decoded with the
    dataset's settings."""
    samples = index.labeled if names is None else [index.sample(n) for n in names]
    return [_item(index, s, functools.partial(index.load_mask, s)) for s in samples if s.labeled]


def _item(index, sample, load_mask: Callable[[], np.ndarray]) -> ExportItem:
    return ExportItem(sample.name, sample.image, load_mask, sample.plane, index.pixel_size_um(sample))


def planned_files(request: ExportRequest) -> list[Path]:
    """Every file the export would write."""
    files = []
    for key in request.formats:
        spec = export_format(key)
        if spec.per_image:
            files += [request.out_dir / spec.target / f"{item.name}{spec.suffix}" for item in request.items]
        elif request.items:
            files.append(request.out_dir / spec.target)
    return files


def existing_files(request: ExportRequest) -> list[Path]:
    """The files that the export would overwrite."""
    return [path for path in planned_files(request) if path.exists()]


def export_masks(request: ExportRequest, progress: Callable[[int, int], None] | None = None,
                 cancel: Callable[[], bool] | None = None) -> ExportResult:
    """Write the request's formats for every item. Raises ConfigError before writing anything when files
    exist and overwrite is off; per-image problems end up in result.failures. On cancel the files written
    so far stay, and COCO/measurements cover the images done."""
    start = time.perf_counter()
    if not request.overwrite:
        existing = existing_files(request)
        if existing:
            shown = ", ".join(str(p) for p in existing[:3]) + (" ..." if len(existing) > 3 else "")
            raise ConfigError(f"{len(existing)} file(s) already exist and would be overwritten: {shown}; "
                              "choose an empty folder or allow overwriting", request.out_dir)
    run = _ExportRun(request)
    names = Counter(item.name for item in request.items)
    for done, item in enumerate(request.items, start=1):
        if cancel is not None and cancel():
            run.result.cancelled = True
            break
        if names[item.name] > 1:
            run.result.failures.append((item.name, f"{names[item.name]} images are named {item.name!r}; "
                                                   "only one file per name can be written"))
        else:
            run.export(item)
        if progress is not None:
            progress(done, len(request.items))
    run.finish()
    run.result.seconds = time.perf_counter() - start
    return run.result


class _ExportRun:
    def __init__(self, request: ExportRequest):
        self.request = request
        self.formats = [export_format(key) for key in request.formats]
        self.result = ExportResult()
        self.coco = CocoDocument(request.classes, request.image_root or request.out_dir) \
            if "coco" in request.formats else None
        self.measurements: list[dict] | None = [] if "measurements" in request.formats else None
        self.exported = 0

    def export(self, item: ExportItem) -> None:
        try:
            mask = self._mask(item)
            objects = list(mask_objects(mask, skip=(0, ignore_index_for(len(self.request.classes))))) \
                if {"coco", "imagej_rois"} & set(self.request.formats) else None
            for spec in self.formats:
                if spec.per_image:
                    self.result.written.append(self._write(spec, item, mask, objects))
            if self.coco is not None:
                self.coco.add(item.image_path, mask, objects)
            if self.measurements is not None:
                self.measurements += measure_mask(item.name, mask, self.request.classes, item.pixel_size_um)
        except (SegLabError, OSError) as exc:
            self.result.failures.append((item.name, _describe(exc)))
            return
        self.exported += 1

    def finish(self) -> None:
        if not self.exported:
            return
        out = self.request.out_dir
        try:
            out.mkdir(parents=True, exist_ok=True)  # no per-image format may have made it
            if self.coco is not None:
                self.result.written.append(self.coco.write(out / export_format("coco").target))
            if self.measurements is not None:
                self.result.written.append(write_measurements_csv(out / export_format("measurements").target,
                                                                  self.measurements))
        except OSError as exc:
            self.result.failures.append(("(all images)", _describe(exc)))

    def _mask(self, item: ExportItem) -> np.ndarray:
        mask = item.load_mask()
        if mask.ndim != 2:
            raise MaskFormatError(f"the mask of {item.name} is not a single-channel index mask", item.image_path)
        bad = out_of_range_values(mask, len(self.request.classes))
        if bad:
            raise MaskFormatError(f"mask values {bad[:5]} of {item.name} are not among the "
                                  f"{len(self.request.classes)} classes; add classes first", item.image_path)
        return mask

    def _write(self, spec: ExportFormat, item: ExportItem, mask: np.ndarray, objects) -> Path:
        folder = self.request.out_dir / spec.target
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{item.name}{spec.suffix}"
        if spec.key == "imagej_rois":
            return write_roi_zip(target, mask, self.request.classes, objects)
        return _PER_IMAGE_WRITERS[spec.key](target, item, mask, self.request.classes)


_PER_IMAGE_WRITERS = {
    "index_png": lambda target, item, mask, classes: write_index_png(target, mask, classes),
    "label_tiff": lambda target, item, mask, classes: write_label_tiff(target, mask, classes, item.pixel_size_um),
    "colour_png": lambda target, item, mask, classes: write_colour_png(target, mask, classes),
    "overlay_png": lambda target, item, mask, classes: write_overlay_png(
        target, read_plane_image(item.image_path, item.plane), mask, classes),
    "labelme": lambda target, item, mask, classes: mask_to_labelme(target, mask, classes, item.image_path),
}
"""(target file, item, mask, classes) -> written path, for the per-image formats but ImageJ ROIs (which
share the objects traced for COCO)."""


def _describe(exc: Exception) -> str:
    """One line naming the file and what to do (atomic writes report the file being written)."""
    if isinstance(exc, OSError) and not isinstance(exc, SegLabError):
        return str(write_error(exc, exc.filename))
    return str(exc)

