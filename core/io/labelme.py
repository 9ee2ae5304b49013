"""labelme JSON files (as labelme 5.x-7.x writes them): read shapes, rasterise them into masks, write polygons.

Masks are painted exactly as labelme's own export does (labelme 7.1 utils.shapes_to_label, labelme2voc):
every shape in file order, later ones over earlier ones, drawn with Pillow (core/io/polygons.LabelCanvas);
lines and line strips 10 px wide, points as discs of radius 5, `mask` shapes pasted from their PNG at
their box. `__ignore__` shapes paint the ignore value (255; 65535 past 255 classes) that losses and
metrics leave out; `_background_` paints class 0. tests/data/labelme/ holds labelme's own conversions.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from core.classes import ClassTable
from core.errors import ConfigError, MaskFormatError, UnknownLabelsError
from core.io.atomic import write_json_atomic
from core.io.masks import MAX_PNG_CLASSES, ignore_index_for
from core.io.polygons import LabelCanvas, Polygon, mask_to_polygons

LABELME_VERSION = "5.5.0"
BACKGROUND_LABEL = "_background_"
"""labelme's own name for class 0 (labelme2voc); matched to the first class."""
IGNORE_LABEL = "__ignore__"
"""labelme's name for pixels left out of training (labelme2voc writes them as 255)."""
LINE_WIDTH = 10
POINT_RADIUS = 5
"""labelme's shape_to_mask defaults for lines, line strips and points."""

Point = tuple[float, float]
_POINT_COUNTS = {"polygon": (1, None), "rectangle": (2, 2), "circle": (2, 2), "oriented_rectangle": (4, 4),
                 "line": (2, 2), "linestrip": (2, None), "point": (1, 1), "mask": (2, 2)}


@dataclass(frozen=True)
class LabelmeShape:
    label: str
    points: tuple[Point, ...]
    shape_type: str = "polygon"
    mask: np.ndarray | None = field(default=None, compare=False, repr=False)  # bool crop of a mask shape

    @property
    def drawable(self) -> bool:
        """Whether labelme's export draws this shape type (others are left out and reported)."""
        return self.shape_type in _POINT_COUNTS


@dataclass(frozen=True)
class LabelmeDocument:
    image_path: str  # as stored: relative to the JSON file's folder
    width: int
    height: int
    shapes: tuple[LabelmeShape, ...]
    path: Path | None = None  # the file read, for messages

    @property
    def skipped_shapes(self) -> tuple[LabelmeShape, ...]:
        return tuple(s for s in self.shapes if not s.drawable)

    def skipped_message(self) -> str:
        """'' or a sentence naming the shapes of a type labelme cannot export, left out of the mask."""
        skipped = self.skipped_shapes
        if not skipped:
            return ""
        listed = ", ".join(f"{s.shape_type} {s.label!r}" for s in skipped[:5])
        listed += ", ..." if len(skipped) > 5 else ""
        return (f"{len(skipped)} shape(s) of a type labelme cannot turn into a mask are left out: {listed}; "
                f"redraw them as polygons ({', '.join(_POINT_COUNTS)} are read)")


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
    shape_type = str(entry.get("shape_type") or "polygon")
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
    mask = _decode_mask(entry.get("mask"), f"shape {number} ({label!r})", path) if shape_type == "mask" else None
    return LabelmeShape(label, tuple((float(x), float(y)) for x, y in points), shape_type, mask)


def _decode_mask(encoded, what: str, path: Path) -> np.ndarray:
    """A mask shape's base64 PNG -> bool array (nonzero pixels are in the shape, as labelme reads it)."""
    try:
        if not isinstance(encoded, str):
            raise ValueError("no base64 PNG")
        with Image.open(io.BytesIO(base64.b64decode(encoded, validate=True))) as image:
            pixels = np.asarray(image)
    except (ValueError, binascii.Error, OSError, UnidentifiedImageError):
        raise MaskFormatError(f'{what}: its "mask" is not a base64 PNG; open the file in labelme and save '
                              "it again, or convert the shape to a polygon", path) from None
    if pixels.ndim != 2:
        raise MaskFormatError(f'{what}: its "mask" PNG has {pixels.shape[2]} channels, labelme masks have '
                              "one; convert the shape to a polygon in labelme", path)
    return pixels.astype(bool)


def labelme_labels(document: LabelmeDocument) -> list[str]:
    """Labels of the shapes that paint a class, each once, in order of first appearance."""
    return list(dict.fromkeys(s.label for s in document.shapes if s.drawable and s.label != IGNORE_LABEL))


def unknown_labels(document: LabelmeDocument, classes: ClassTable) -> list[str]:
    """The document's labels that match no class (add them with ClassTable.with_added), sorted."""
    lookup = _label_lookup(classes)
    return sorted({s.label for s in document.shapes if s.drawable and _match(s.label, lookup) is None})


def labelme_to_mask(document: LabelmeDocument, classes: ClassTable) -> np.ndarray:
    """Rasterise the shapes into an (H, W) index mask as labelme's export does; labels match class names.

    Raises UnknownLabelsError (its `labels`) when some labels are not in the class table.
    """
    missing = unknown_labels(document, classes)
    if missing:
        raise UnknownLabelsError(missing, classes.names, document.path)
    lookup = _label_lookup(classes)
    canvas = LabelCanvas((document.height, document.width), np.uint8 if len(classes) <= MAX_PNG_CLASSES
                         else np.uint16)
    for shape in document.shapes:
        if shape.drawable:
            _paint(canvas, shape, _match(shape.label, lookup), document)
    return canvas.array()


def _paint(canvas: LabelCanvas, shape: LabelmeShape, value: int, document: LabelmeDocument) -> None:
    """One shape, drawn with the same Pillow calls as labelme's shape_to_mask."""
    draw, xy, kind = canvas.draw, list(shape.points), shape.shape_type
    if kind in ("circle", "point"):
        cx, cy = xy[0]
        radius = math.sqrt((cx - xy[1][0]) ** 2 + (cy - xy[1][1]) ** 2) if kind == "circle" else POINT_RADIUS
        draw.ellipse(((cx - radius, cy - radius), (cx + radius, cy + radius)), fill=value, outline=value)
    elif kind == "rectangle":
        (x0, y0), (x1, y1) = xy
        draw.rectangle(((min(x0, x1), min(y0, y1)), (max(x0, x1), max(y0, y1))), fill=value, outline=value)
    elif kind == "line":
        draw.line(xy, fill=value, width=LINE_WIDTH)
    elif kind == "linestrip":
        draw.line(xy, fill=value, width=LINE_WIDTH, joint="curve")
    elif kind == "mask":
        _paste_mask(canvas, shape, value, document)
    else:  # polygon, oriented_rectangle
        canvas.polygon(xy, value)


def _paste_mask(canvas: LabelCanvas, shape: LabelmeShape, value: int, document: LabelmeDocument) -> None:
    """labelme's rule: the box's rounded first corner places the PNG; whole-number corners also give its
    size (a larger PNG is cropped), fractional ones take the PNG's own size; the image edge clips it."""
    corners = np.asarray(shape.points)
    (x1, y1), (x2, y2) = corners.round().astype(int).tolist()
    if np.array_equal(corners, np.trunc(corners)):
        height, width = y2 - y1 + 1, x2 - x1 + 1
    else:
        height, width = shape.mask.shape
    top, bottom = max(y1, 0), min(y1 + height, document.height)
    left, right = max(x1, 0), min(x1 + width, document.width)
    if top >= bottom or left >= right:
        return
    crop = shape.mask[top - y1:bottom - y1, left - x1:right - x1]
    if crop.shape != (bottom - top, right - left):
        raise MaskFormatError(f"the mask of shape {shape.label!r} is {shape.mask.shape[1]}x{shape.mask.shape[0]} "
                              f"but its box is {width}x{height}; open the file in labelme and save it again",
                              document.path)
    canvas.paste(crop, top, left, value)


def _label_lookup(classes: ClassTable) -> dict[str, int]:
    """Label -> mask value; `__ignore__` is always the ignore value, even where a class has that name."""
    lookup = {BACKGROUND_LABEL: 0}
    lookup.update({spec.name.strip().casefold(): spec.index for spec in reversed(classes.classes)})
    lookup.update({spec.name: spec.index for spec in reversed(classes.classes)})
    lookup[IGNORE_LABEL] = ignore_index_for(len(classes))
    return lookup


def _match(label: str, lookup: dict[str, int]) -> int | None:
    """Exact class name first, then ignoring case and surrounding spaces."""
    found = lookup.get(label)
    return found if found is not None else lookup.get(label.strip().casefold())


def write_labelme(path: str | Path, polygons: Iterable[Polygon], classes: ClassTable, image_path: str | Path,
                  image_shape: tuple[int, ...]) -> Path:
    """Write polygons as a labelme file (atomically, imageData null) that labelme opens.

    Labels are the class names (`__ignore__` for the ignore value); image_path is stored relative to the
    file's folder where possible.
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
    """Trace an index mask into a labelme file; epsilon 0 keeps it exact, unlabeled pixels included."""
    polygons = mask_to_polygons(mask, epsilon=epsilon, skip=(0,))
    return write_labelme(path, polygons, classes, image_path, mask.shape)


def _shape_json(polygon: Polygon, classes: ClassTable) -> dict:
    ignored = polygon.class_index == ignore_index_for(len(classes))
    if not ignored and not 0 <= polygon.class_index < len(classes):
        raise ConfigError(f"a polygon has class {polygon.class_index}, which is not in the class table "
                          f"(0..{len(classes) - 1}); add the class first")
    points = [[x, y] for x, y in polygon.points]
    points += [points[-1]] * (3 - len(points))  # labelme needs three points; repeats paint nothing more
    return {
        "label": IGNORE_LABEL if ignored else classes[polygon.class_index].name,
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
