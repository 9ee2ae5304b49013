"""ImageJ/Fiji ROI sets: one .zip per image (open it with Fiji's ROI Manager), one ROI per object.

Each connected object of a class other than 0 (core/export/outlines.py) becomes a traced polygon ROI along
its pixel edges, as Fiji's wand tool makes them, so Fiji's mask and area of the ROI equal the object's
pixels. An object with holes becomes a composite (shape) ROI: its outline and its holes' outlines as
sub-paths, which ImageJ fills with the even-odd rule. ROIs are named "<class name>-<number>" and drawn in
the class colour; written with the roifile package.

ROI files hold pixel coordinates only (ImageJ's format has no calibration field): Fiji measures a ROI in the
calibration of the image it is put on. The calibrated original, or SegLab's label TIFF export (which carries
the pixel size), gives areas in µm².
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from roifile import ROI_TYPE, ImagejRoi, roiwrite

from core.classes import ClassTable
from core.export.outlines import MaskObject, Outline, mask_objects
from core.io.atomic import write_atomic
from core.io.masks import ignore_index_for

_PATH_MOVE, _PATH_LINE, _PATH_CLOSE = 0, 1, 4  # java.awt.geom.PathIterator segment types


def roi_name(class_name: str, number: int) -> str:
    """'nucleus-0007'; characters that are awkward in file names (inside the zip) become '_'."""
    safe = re.sub(r"[^\w .+()-]", "_", class_name).strip() or "class"
    return f"{safe}-{number:04d}"


def object_roi(obj: MaskObject, name: str, colour: tuple[int, int, int]) -> ImagejRoi:
    if obj.holes:
        roi = ImagejRoi(roitype=ROI_TYPE.RECT, name=name)
        roi.multi_coordinates = _shape_path([obj.outline, *obj.holes])
        roi.shape_roi_size = len(roi.multi_coordinates)
    else:
        roi = ImagejRoi.frompoints(obj.outline.astype(np.int32), name=name)
        roi.roitype = ROI_TYPE.TRACED
    roi.left, roi.top = obj.left, obj.top
    roi.right, roi.bottom = obj.left + obj.width, obj.top + obj.height
    roi.stroke_color = bytes((255, *colour))
    return roi


def mask_rois(mask: np.ndarray, classes: ClassTable, objects: Sequence[MaskObject] | None = None) -> list[ImagejRoi]:
    """The ROIs of every object of the mask (traced here unless given), numbered from 1 within each class."""
    if objects is None:
        objects = list(mask_objects(mask, skip=(0, ignore_index_for(len(classes)))))
    rois = []
    for obj in objects:
        spec = classes[obj.class_index] if obj.class_index < len(classes) else None
        name = roi_name(spec.name if spec else f"class {obj.class_index}", obj.number)
        rois.append(object_roi(obj, name, spec.colour if spec else (255, 255, 0)))
    return rois


def write_roi_zip(path: str | Path, mask: np.ndarray, classes: ClassTable,
                  objects: Sequence[MaskObject] | None = None) -> Path:
    """Write the mask's objects as an ImageJ ROI set (atomically; an image without objects gives an
    empty set)."""
    path = Path(path).with_suffix(".zip")
    rois = mask_rois(mask, classes, objects)
    write_atomic(path, lambda tmp: roiwrite(tmp, rois, mode="w"))
    return path


def _shape_path(rings: list[Outline]) -> np.ndarray:
    """Closed sub-paths in ImageJ's shape-ROI float array: MOVETO x y, LINETO x y ..., CLOSE."""
    path: list[float] = []
    for ring in rings:
        (x0, y0), rest = ring[0], ring[1:]
        path += [_PATH_MOVE, float(x0), float(y0)]
        for x, y in rest:
            path += [_PATH_LINE, float(x), float(y)]
        path.append(_PATH_CLOSE)
    return np.asarray(path, np.float32)
