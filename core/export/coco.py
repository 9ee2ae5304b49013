"""COCO JSON (object detection / instance segmentation format) from index masks.

Every connected object of a class other than 0 (core/export/outlines.py, 8-connected) becomes one
annotation with category_id = class index, bbox [x, y, width, height] and area in pixels. Its
segmentation is a polygon along the pixel edges (pixel-corner coordinates, COCO's convention) when the
object has no holes; COCO polygons cannot cut holes (several polygons of one annotation are joined), so an
object with holes is stored as uncompressed RLE instead ({"size": [h, w], "counts": [...]}, column-major
runs starting with background, as pycocotools reads it). Either way the annotation covers exactly the
object's pixels. Unlabeled pixels (the ignore value) belong to no object.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core import __version__
from core.classes import ClassTable
from core.export.outlines import MaskObject, mask_objects
from core.io.atomic import write_json_atomic
from core.io.masks import ignore_index_for


def coco_categories(classes: ClassTable) -> list[dict]:
    """One category per class except class 0 (background); id = class index."""
    return [{"id": spec.index, "name": spec.name, "supercategory": ""} for spec in classes.classes[1:]]


def rle_encode(binary: np.ndarray) -> dict:
    """Uncompressed COCO RLE of a bool (H, W) mask: run lengths in column-major order, first run = 0s."""
    flat = np.asarray(binary, bool).ravel(order="F")
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts.insert(0, 0)
    return {"size": [int(binary.shape[0]), int(binary.shape[1])], "counts": counts}


def rle_decode(rle: dict) -> np.ndarray:
    """Uncompressed COCO RLE -> bool (H, W) mask."""
    height, width = rle["size"]
    values = np.zeros(len(rle["counts"]), bool)
    values[1::2] = True
    flat = np.repeat(values, rle["counts"])
    if flat.size != height * width:
        raise ValueError(f"RLE counts sum to {flat.size} pixels, the size {width}x{height} has {height * width}")
    return flat.reshape((height, width), order="F")


def object_annotation(obj: MaskObject, annotation_id: int, image_id: int, shape: tuple[int, int]) -> dict:
    if obj.holes:
        full = np.zeros(shape, bool)
        full[obj.top:obj.top + obj.height, obj.left:obj.left + obj.width] = obj.pixels
        segmentation = rle_encode(full)
    else:
        segmentation = [obj.outline.astype(float).ravel().tolist()]
    return {"id": annotation_id, "image_id": image_id, "category_id": obj.class_index,
            "segmentation": segmentation, "area": obj.area, "bbox": [float(v) for v in obj.bbox], "iscrowd": 0}


class CocoDocument:
    """Collects images and their objects; written once at the end of an export."""

    def __init__(self, classes: ClassTable, image_root: str | Path):
        self.classes = classes
        self.image_root = Path(image_root)
        self.images: list[dict] = []
        self.annotations: list[dict] = []

    def add(self, image_path: str | Path, mask: np.ndarray, objects: Sequence[MaskObject] | None = None) -> int:
        """Add one image's mask (and its objects, when already traced); returns how many objects it gave."""
        image_id = len(self.images) + 1
        self.images.append({"id": image_id, "file_name": self._file_name(Path(image_path)),
                            "width": int(mask.shape[1]), "height": int(mask.shape[0])})
        before = len(self.annotations)
        if objects is None:
            objects = list(mask_objects(mask, skip=(0, ignore_index_for(len(self.classes)))))
        for obj in objects:
            annotation_id = len(self.annotations) + 1
            self.annotations.append(object_annotation(obj, annotation_id, image_id, mask.shape))
        return len(self.annotations) - before

    def to_json(self) -> dict:
        return {
            "info": {"description": f"exported by SegLab {__version__}; file_name is relative to "
                                    f"{self.image_root}", "version": "1.0",
                     "date_created": datetime.datetime.now().astimezone().isoformat(timespec="seconds")},
            "licenses": [],
            "images": self.images,
            "annotations": self.annotations,
            "categories": coco_categories(self.classes),
        }

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        write_json_atomic(path, self.to_json())
        return path

    def _file_name(self, image_path: Path) -> str:
        try:
            return image_path.resolve().relative_to(self.image_root.resolve()).as_posix()
        except ValueError:
            return image_path.name
