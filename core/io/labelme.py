"""labelme JSON files (as labelme 5.x writes them): read shapes, rasterise them into masks, write polygons.

Shapes are painted in file order, later ones over earlier ones, as labelme's own export does. Coordinates
use the pixel-centre convention of core/io/polygons.py. Polygons traced from a mask (what SegLab writes)
rasterise to the same pixels here and in labelme (PIL); for hand-drawn shapes with slanted edges the two
rasterisers can disagree by a pixel along the edge.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.classes import ClassTable
from core.errors import ConfigError, MaskFormatError
from core.io.atomic import write_json_atomic
from core.io.masks import MAX_PNG_CLASSES, ignore_index_for
from core.io.polygons import Polygon, mask_to_polygons, rasterise

LABELME_VERSION = "5.5.0"
FILLED_SHAPE_TYPES = ("polygon", "rectangle", "circle", "oriented_rectangle")
BACKGROUND_LABEL = "_background_"
"""labelme's own name for class 0 (labelme_json_to_dataset); matched to the first class."""

Point = tuple[float, float]


@dataclass(frozen=True)
class LabelmeShape:
    label: str
    points: tuple[Point, ...]
    shape_type: str = "polygon"

    @property
    def filled(self) -> bool:
        """Whether the shape encloses an area; lines and points do not and are skipped."""
        return self.shape_type in FILLED_SHAPE_TYPES

    def outline(self) -> tuple[Point, ...]:
        """The outline of the filled area: rectangles as four corners, circles as a fine polygon."""
        if self.shape_type == "rectangle":
            (x0, y0), (x1, y1) = self.points
            return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
        if self.shape_type == "circle":
            (cx, cy), (px, py) = self.points
            radius = math.hypot(px - cx, py - cy)
            count = max(12, math.ceil(2 * math.pi * radius))
            angles = (2 * math.pi * i / count for i in range(count))
            return tuple((cx + radius * math.cos(a), cy + radius * math.sin(a)) for a in angles)
        return self.points


_POINT_COUNTS = {"rectangle": (2, 2), "circle": (2, 2), "oriented_rectangle": (4, 4), "polygon": (1, None)}


@dataclass(frozen=True)
class LabelmeDocument:
    image_path: str  # as stored: relative to the JSON file's folder
    width: int
    height: int
    shapes: tuple[LabelmeShape, ...]
    path: Path | None = None  # the file read, for messages

    @property
    def skipped_shapes(self) -> tuple[LabelmeShape, ...]:
        return tuple(s for s in self.shapes if not s.filled)

    def skipped_message(self) -> str:
        """'' or a sentence naming the shapes that have no area and are left out of the mask."""
        skipped = self.skipped_shapes
        if not skipped:
            return ""
        listed = ", ".join(f"{s.shape_type} {s.label!r}" for s in skipped[:5])
        listed += ", ..." if len(skipped) > 5 else ""
        return f"{len(skipped)} shape(s) have no area and are left out of the mask: {listed}"


def read_labelme(path: str | Path) -> LabelmeDocument:
    """Parse a labelme JSON file. Raises MaskFormatError naming the file and what is wrong with it."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MaskFormatError(f"cannot be read: {exc.strerror or exc}", path) from None
    except ValueError as exc:
        raise MaskFormatError(f"not valid JSON ({exc}); open it in labelme and save it again", path) from None
    if not isinstance(data, dict) or not isinstance(data.get("shapes"), list):
        raise MaskFormatError('not a labelme file: it has no "shapes" list', path)
    size = []
    for key in ("imageWidth", "imageHeight"):
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise MaskFormatError(f'"{key}" is missing or not a positive whole number; open the file in '
                                  "labelme and save it again to add the image size", path)
        size.append(value)
    shapes = tuple(_parse_shape(entry, number, path) for number, entry in enumerate(data["shapes"], 1))
    image_path = data.get("imagePath")
    return LabelmeDocument(image_path if isinstance(image_path, str) else "", size[0], size[1], shapes, path)


def _parse_shape(entry, number: int, path: Path) -> LabelmeShape:
    if not isinstance(entry, dict) or not isinstance(entry.get("label"), str):
        raise MaskFormatError(f"shape {number} has no text label", path)
    label = entry["label"]
    shape_type = entry.get("shape_type") or "polygon"
    points = entry.get("points")
    valid = isinstance(points, list) and all(
        isinstance(p, (list, tuple)) and len(p) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in p)
        for p in points)
    if not valid:
        raise MaskFormatError(f"shape {number} ({label!r}): points must be a list of [x, y] numbers", path)
    low, high = _POINT_COUNTS.get(shape_type, (0, None))
    if len(points) < low or (high is not None and len(points) > high):
        wanted = f"{low}" if low == high else f"at least {low}"
        raise MaskFormatError(f"shape {number} ({label!r}): a {shape_type} needs {wanted} point(s), "
                              f"it has {len(points)}", path)
    return LabelmeShape(label, tuple((float(x), float(y)) for x, y in points), str(shape_type))


def labelme_labels(document: LabelmeDocument) -> list[str]:
    """Labels of the filled shapes, each once, in order of first appearance."""
    return list(dict.fromkeys(s.label for s in document.shapes if s.filled))


def labelme_to_mask(document: LabelmeDocument, classes: ClassTable) -> np.ndarray:
    """Rasterise the filled shapes into an (H, W) index mask; labels are matched to class names."""
    lookup = _label_lookup(classes)
    filled = [s for s in document.shapes if s.filled]
    unknown = sorted({s.label for s in filled if _match(s.label, lookup) is None})
    if unknown:
        raise MaskFormatError(f"label(s) {', '.join(map(repr, unknown))} are not in the class table "
                              f"(valid names: {', '.join(classes.names)}); add them as classes or rename "
                              "the shapes in labelme", document.path)
    polygons = [Polygon(s.outline(), _match(s.label, lookup)) for s in filled]
    dtype = np.uint8 if len(classes) <= MAX_PNG_CLASSES else np.uint16
    return rasterise(polygons, (document.height, document.width), dtype=dtype)


def _label_lookup(classes: ClassTable) -> dict[str, int]:
    lookup = {BACKGROUND_LABEL: 0}
    lookup.update({spec.name.strip().casefold(): spec.index for spec in reversed(classes.classes)})
    lookup.update({spec.name: spec.index for spec in reversed(classes.classes)})
    return lookup


def _match(label: str, lookup: dict[str, int]) -> int | None:
    """Exact class name first, then ignoring case and surrounding spaces."""
    found = lookup.get(label)
    return found if found is not None else lookup.get(label.strip().casefold())


def write_labelme(path: str | Path, polygons: Iterable[Polygon], classes: ClassTable, image_path: str | Path,
                  image_shape: tuple[int, ...]) -> Path:
    """Write polygons as a labelme file (atomically, imageData null) that labelme opens.

    Labels are the class names; image_path is stored relative to the file's folder where possible.
    """
    path = Path(path)
    shapes = [_shape_json(p, classes) for p in polygons if p.points]
    data = {
        "version": LABELME_VERSION,
        "flags": {},
        "shapes": shapes,
        "imagePath": _relative_path(Path(image_path), path.parent),
        "imageData": None,
        "imageHeight": int(image_shape[0]),
        "imageWidth": int(image_shape[1]),
    }
    write_json_atomic(path, data)
    return path


def mask_to_labelme(path: str | Path, mask: np.ndarray, classes: ClassTable, image_path: str | Path,
                    epsilon: float = 0.0) -> Path:
    """Trace an index mask into a labelme file; epsilon 0 keeps it exact (unlabeled pixels read back as 0)."""
    polygons = mask_to_polygons(mask, epsilon=epsilon, skip=(0, ignore_index_for(len(classes))))
    return write_labelme(path, polygons, classes, image_path, mask.shape)


def _shape_json(polygon: Polygon, classes: ClassTable) -> dict:
    if not 0 <= polygon.class_index < len(classes):
        raise ConfigError(f"a polygon has class {polygon.class_index}, which is not in the class table "
                          f"(0..{len(classes) - 1}); add the class first")
    points = [[x, y] for x, y in polygon.points]
    points += [points[-1]] * (3 - len(points))  # labelme needs three points; repeats paint nothing more
    return {
        "label": classes[polygon.class_index].name,
        "points": points,
        "group_id": None,
        "description": "",
        "shape_type": "polygon",
        "flags": {},
    }


def _relative_path(image_path: Path, folder: Path) -> str:
    if not image_path.is_absolute():
        return image_path.as_posix()
    try:
        return Path(os.path.relpath(image_path.resolve(), folder.resolve())).as_posix()
    except ValueError:  # another drive on Windows
        return image_path.as_posix()
