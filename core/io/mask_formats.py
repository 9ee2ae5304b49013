"""How a dataset stores its masks, learnt from one of its mask files, and the way back from an index mask
to stored pixels: encode_mask is the inverse of core.io.masks.decode_mask for every encoding.

A StoredFormat says where the value sits (a 2-D image, a palette, one channel of an RGB(A) file, all three
colour channels, or class colours) and which stored value each class gets: the values the dataset's own
files use where they decode to the class (ISBI's 0/255 stays 0/255, BBBC039's red channel keeps 0..3,
with nucleus written as 1), else the class number itself. Writing is atomic (core/io/atomic.py).

Unlabeled pixels (the ignore value) are stored as that value by index formats (files marked as class
indices, core.io.masks.LabelIndices) and as UNLABELED_COLOUR by colour masks; binary formats cannot hold
them and say so.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from core.classes import IGNORE_INDEX, ClassTable
from core.errors import MaskFormatError
from core.io.atomic import write_atomic
from core.io.images import TIFF_EXTENSIONS, present_values
from core.io.masks import (
    MAX_PNG_CLASSES,
    UNLABELED_COLOUR,
    LabelIndices,
    MaskEncoding,
    decode_mask,
    ignore_index_for,
    read_raw_mask,
    save_png,
    save_tiff,
    single_nonzero_channel,
    write_mask,
)

WRITABLE_SUFFIXES = (".png", ".bmp") + TIFF_EXTENSIONS
_MAX_SEEN_VALUES = 256



@dataclass(frozen=True)
class StoredFormat:
    """How mask files are stored. kind: index (a 2-D image of values), paletted (a 2-D PNG with a palette),
    channel (the value in one channel of a 2/3/4-channel file, the others constant), gray_rgb (the value
    in R, G and B), colour (the class colours of the class table).

    Values: a stored value v reads back as class value_map.get(v, v), or (mode binary) as 1 when that is
    above `threshold`, else 0. `seen` are values the dataset's files use; they are preferred when writing.
    """

    kind: str = "paletted"
    suffix: str = ".png"
    dtype: str = "uint8"
    channels: int = 0  # 0: a 2-D image
    channel: int = 0  # kind channel: the channel that holds the value
    fill: tuple[int, ...] = ()  # every channel's constant value (those holding the value are ignored)
    mode: str = "index"  # index or binary
    threshold: int = 0
    value_map: tuple[tuple[int, int], ...] = ()
    seen: tuple[int, ...] = ()
    palette: bytes | None = None  # kind paletted: 768 bytes; None: the class colours

    def describe(self) -> str:
        where = {"index": "values", "paletted": "paletted values", "gray_rgb": "gray values in RGB",
                 "colour": "class colours"}.get(self.kind, f"values in channel {'RGBA'[self.channel]}")
        if self.kind == "colour":
            return f"{where} ({self.suffix})"
        if self.mode == "binary":
            values = "/".join(str(v) for v in self.seen[:4]) or f"0/>{self.threshold}"
            return f"binary {where} ({values}, one class) ({self.suffix})"
        return f"{self.dtype} {where} ({self.suffix})"

    @property
    def top(self) -> int:
        return int(np.iinfo(self.dtype).max)

    def class_of(self, stored: int) -> int:
        """The class a stored value reads back as."""
        value = dict(self.value_map).get(stored, stored)
        return int(value > self.threshold) if self.mode == "binary" else value

    def stored_value(self, class_index: int) -> int | None:
        """The value written for a class: a value the dataset uses, the class number, the largest value,
        or a mapped value, whichever reads back as the class first. None: it cannot be stored."""
        candidates = [*self.seen, class_index, self.top, self.threshold + 1, *(k for k, _ in self.value_map)]
        for value in candidates:
            if 0 <= value <= self.top and self.class_of(value) == class_index:
                return int(value)
        return None


def default_format(classes: ClassTable, encoding: MaskEncoding) -> StoredFormat:
    """SegLab's own format: a paletted index PNG (palette = class colours), a 16-bit label TIFF beyond 255
    classes, or class colours when the dataset reads colours."""
    if encoding.mode == "colour":
        return StoredFormat("colour", channels=3, fill=(0, 0, 0))
    mode = "binary" if encoding.mode == "binary" else "index"
    if len(classes) > MAX_PNG_CLASSES:
        return StoredFormat("index", ".tif", "uint16", mode=mode, threshold=encoding.threshold,
                            value_map=encoding.value_map)
    return StoredFormat("paletted", mode=mode, threshold=encoding.threshold, value_map=encoding.value_map)


def detect_format(path: str | Path, encoding: MaskEncoding, classes: ClassTable,
                  raw: np.ndarray | None = None) -> StoredFormat:
    """The format of an existing mask file (its pixels `raw`, read here when not given), as the dataset's
    encoding reads it."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in WRITABLE_SUFFIXES:
        raise MaskFormatError(f"SegLab cannot write {suffix} masks (a lossy or unknown format); convert the "
                              "dataset's masks to PNG or TIFF", path)
    raw = read_raw_mask(path) if raw is None else raw
    dtype = "uint16" if raw.dtype.itemsize > 1 or raw.dtype.kind == "f" else "uint8"
    if raw.ndim == 2:
        return _with_values(StoredFormat(_flat_kind(path), suffix, dtype, palette=_palette(path)),
                            raw, raw, encoding, classes, path)
    channels = raw.shape[2]
    fill = tuple(int(raw[0, 0, c]) if np.all(raw[:, :, c] == raw[0, 0, c]) else (255 if c == 3 else 0)
                 for c in range(channels))
    base = StoredFormat("channel", suffix, dtype, channels, fill=fill)
    if encoding.mode == "colour":
        return StoredFormat("colour", suffix, "uint8", max(3, channels), fill=fill)
    if encoding.channel is not None or channels == 2:
        channel = encoding.channel or 0
        return _with_values(replace(base, channel=channel), raw[:, :, channel], raw, encoding, classes, path)
    rgb = raw[:, :, :3]
    if np.array_equal(rgb[:, :, 0], rgb[:, :, 1]) and np.array_equal(rgb[:, :, 0], rgb[:, :, 2]):
        return _with_values(replace(base, kind="gray_rgb"), rgb[:, :, 0], raw, encoding, classes, path)
    channel = single_nonzero_channel(rgb)
    if channel is not None:
        return _with_values(replace(base, channel=channel), rgb[:, :, channel], raw, encoding, classes, path)
    return StoredFormat("colour", suffix, "uint8", channels, fill=fill)  # auto mode reads colours here


def _flat_kind(path: Path) -> str:
    if path.suffix.lower() != ".png":
        return "index"
    with Image.open(path) as image:
        return "paletted" if image.mode == "P" else "index"


def _palette(path: Path) -> bytes | None:
    if path.suffix.lower() != ".png":
        return None
    with Image.open(path) as image:
        palette = image.getpalette() if image.mode == "P" else None
    return bytes(palette[:768]).ljust(768, b"\0") if palette else None


def _with_values(fmt: StoredFormat, scalar: np.ndarray, raw: np.ndarray, encoding: MaskEncoding,
                 classes: ClassTable, path: Path) -> StoredFormat:
    """Add how values read back (index or binary, after the value map) and the values the file uses."""
    scalar = np.asarray(scalar)
    if scalar.dtype.kind == "f":
        scalar = scalar.astype(np.int64)
    seen = tuple(int(v) for v in present_values(scalar)[:_MAX_SEEN_VALUES])
    mode, threshold = ("binary", encoding.threshold) if encoding.mode == "binary" else ("index", 0)
    if encoding.mode == "auto" and not encoding.value_map:
        decoded = decode_mask(raw, encoding, classes, path)
        if not np.array_equal(decoded, scalar):  # auto mode found a 0/255 (0/65535) binary mask
            mode, threshold = "binary", 127
    return replace(fmt, mode=mode, threshold=threshold, value_map=encoding.value_map, seen=seen)


# encoding and writing --------------------------------------------------------------------------

def encode_mask(mask: np.ndarray, fmt: StoredFormat, classes: ClassTable, path: str | Path | None = None
                ) -> np.ndarray:
    """The stored pixels of an index mask. Raises MaskFormatError naming the classes the format cannot hold."""
    if mask.ndim != 2 or mask.dtype.kind not in "iub":
        raise MaskFormatError(f"an index mask must be a 2-D integer array, got {mask.dtype} {mask.shape}", path)
    present = present_values(mask)
    if fmt.kind == "colour":
        ignore = ignore_index_for(len(classes))
        table = np.zeros((int(present[-1]) + 1, 3), np.uint8)
        table[: len(classes)] = classes.colours_array()[: len(table)]
        storable = ignore == IGNORE_INDEX and list(UNLABELED_COLOUR) not in classes.colours_array().tolist()
        if storable and ignore < len(table):
            table[ignore] = UNLABELED_COLOUR
        missing = [int(v) for v in present if v >= len(classes) and not (v == ignore and storable)]
        if missing:
            raise _unstorable(missing, fmt, classes, path)
        return _assemble(table[mask], fmt, colour=True)
    lut = np.zeros(int(present[-1]) + 1, dtype=fmt.dtype)
    missing = []
    for value in present.tolist():
        stored = fmt.stored_value(value)
        if stored is None:
            missing.append(value)
        else:
            lut[value] = stored
    if missing:
        raise _unstorable(missing, fmt, classes, path)
    raw = _assemble(lut[mask], fmt)
    return raw.view(LabelIndices) if fmt.mode == "index" else raw


def _assemble(values: np.ndarray, fmt: StoredFormat, colour: bool = False) -> np.ndarray:
    if fmt.channels == 0:
        return np.ascontiguousarray(values)
    height, width = values.shape[:2]
    raw = np.empty((height, width, fmt.channels), dtype=fmt.dtype)
    for channel in range(fmt.channels):
        raw[:, :, channel] = fmt.fill[channel] if channel < len(fmt.fill) else 0
    if colour:
        raw[:, :, :3] = values
    elif fmt.kind == "gray_rgb":
        raw[:, :, :3] = values[:, :, None]
    else:
        raw[:, :, fmt.channel] = values
    return raw


def _unstorable(values: list[int], fmt: StoredFormat, classes: ClassTable, path) -> MaskFormatError:
    ignore = ignore_index_for(len(classes))
    if values == [ignore]:
        held = "a class colour" if fmt.kind == "colour" else "in the class or background"
        return MaskFormatError(f"this dataset stores masks as {fmt.describe()}: every pixel is {held}, so it "
                               "cannot hold unlabeled pixels; paint them with a class or the Eraser "
                               "(background) before saving", path)
    names = [("unlabeled pixels" if v in (ignore, IGNORE_INDEX) else
              f"class {v} ({classes[v].name})" if v < len(classes) else f"value {v}") for v in values[:4]]
    return MaskFormatError(f"this dataset stores masks as {fmt.describe()}, which cannot hold "
                           f"{', '.join(names)}; remove those pixels, or change how masks are read "
                           "(File > How Masks Are Read…)", path)


def check_round_trip(mask: np.ndarray, raw: np.ndarray, encoding: MaskEncoding, classes: ClassTable,
                     path: str | Path | None = None) -> None:
    """Raise MaskFormatError unless decode_mask reads `raw` back as `mask`."""
    decoded = decode_mask(raw, encoding, classes, path)
    if decoded.shape != mask.shape or not np.array_equal(decoded, mask):
        raise MaskFormatError("the mask would read back differently with this dataset's mask settings "
                              f"({encoding.describe()}); set how masks are read (File > How Masks Are "
                              "Read…) to index values and save again", path)


def keep_stored_pixels(raw: np.ndarray, old_raw: np.ndarray, mask: np.ndarray, encoding: MaskEncoding,
                       classes: ClassTable, path: str | Path | None = None) -> np.ndarray:
    """`raw` with the old file's own pixels wherever the class did not change, so what a dataset stores
    beyond the class survives an edit (e.g. BBBC039's red values 1-3 that tell touching nuclei apart)."""
    if old_raw.shape != raw.shape or old_raw.dtype != raw.dtype:
        return raw
    try:
        unchanged = decode_mask(old_raw, encoding, classes, path) == mask
    except MaskFormatError:
        return raw
    kept = raw.copy()
    kept[unchanged] = old_raw[unchanged]
    return kept


def write_stored(path: str | Path, raw: np.ndarray, fmt: StoredFormat, classes: ClassTable) -> Path:
    """Write stored pixels atomically in the format's container (PNG, BMP or TIFF)."""
    path = Path(path)
    marked = isinstance(raw, LabelIndices)  # read back as class indices, never as a 0/255 binary mask
    raw = np.asarray(raw)
    if path.suffix.lower() in TIFF_EXTENSIONS:
        photometric = "minisblack" if raw.ndim == 2 or raw.shape[2] < 3 else "rgb"
        write_atomic(path, lambda tmp: save_tiff(tmp, raw, marked, photometric))
    elif fmt.kind == "paletted" and fmt.palette is None:
        write_mask(path, raw, classes)  # palette = the class colours
    elif fmt.kind == "paletted":
        image = Image.frombytes("P", (raw.shape[1], raw.shape[0]), np.ascontiguousarray(raw, np.uint8).tobytes())
        image.putpalette(fmt.palette)
        write_atomic(path, lambda tmp: save_png(tmp, image, marked))
    elif raw.dtype == np.uint16 and raw.ndim == 3:  # Pillow writes no 16-bit colour; OpenCV does (BGR)
        order = [2, 1, 0, 3][: raw.shape[2]] if raw.shape[2] >= 3 else list(range(raw.shape[2]))
        ok, data = cv2.imencode(path.suffix, np.ascontiguousarray(raw[:, :, order]))
        if not ok:
            raise MaskFormatError("OpenCV could not encode this mask", path)
        write_atomic(path, lambda tmp: tmp.write_bytes(data.tobytes()))
    else:
        image = Image.fromarray(np.ascontiguousarray(raw))
        if path.suffix.lower() == ".bmp":
            write_atomic(path, lambda tmp: image.save(tmp, format="BMP"))
        else:
            write_atomic(path, lambda tmp: save_png(tmp, image, marked))
    return path

