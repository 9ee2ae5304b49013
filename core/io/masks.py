"""Index masks: decode what people store (index, 0/255 binary, paletted, label TIFF, colour masks,
one channel of an RGBA file) into class indices, and write paletted PNG / label TIFF atomically.

An index mask is a (H, W) uint8 array (uint16 past 255 classes) whose values are class indices;
IGNORE_INDEX (255; 65535 past 255 classes) marks unlabeled pixels. SegLab marks the index masks it writes
(a PNG text chunk, a TIFF description), so that one holding only background and unlabeled pixels is not
mistaken for a 0/255 binary mask when read back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image, PngImagePlugin

from core.classes import IGNORE_INDEX, ClassTable
from core.errors import ConfigError, ImageReadError, MaskFormatError
from core.io.atomic import write_atomic
from core.io.images import TIFF_EXTENSIONS, present_values, read_image_info

MASK_MODES = ("auto", "index", "binary", "colour")
MAX_PNG_CLASSES = 255
PNG_COMPRESS_LEVEL = 3  # twice as fast as zlib's default 6 on masks, files a little larger
UNLABELED_COLOUR = (224, 224, 192)
"""Unlabeled pixels in SegLab's palette (entry 255) and in colour masks: PASCAL VOC's 'void' colour."""
INDEX_MARK = ("SegLab", "class indices")  # PNG text chunk (key, value); TIFF ImageDescription: the value


class LabelIndices(np.ndarray):
    """Stored pixels that their file marks as class indices (SegLab's own masks): auto mode never reads
    them as a 0/255 binary mask, so background plus unlabeled pixels read back as written."""


def ignore_index_for(class_count: int) -> int:
    """The unlabeled value: 255 in 8-bit masks, 65535 in 16-bit label masks (more than 255 classes)."""
    return IGNORE_INDEX if class_count <= MAX_PNG_CLASSES else 65535


@dataclass(frozen=True)
class MaskEncoding:
    """How raw mask pixels become class indices; saved in the dataset settings so the user sets it once.

    mode: auto (detect per file: 0/255 or 0/65535 masks are binary, other values are classes),
          index (values are classes), binary (value > threshold is class 1),
          colour (RGB colours of the class table).
    channel: use only this channel of a multi-channel mask (0 = red), e.g. BBBC039's red channel.
    value_map: stored value -> new value, applied first to the stored values (of `channel`) in auto, index
          and binary mode; values not listed stay. In auto mode a value_map means the mapped values are
          class indices. E.g. {0: 1, 255: 0} makes ISBI's black membranes class 1. Accepts a dict.
    """

    mode: str = "auto"
    channel: int | None = None
    threshold: int = 0
    value_map: tuple[tuple[int, int], ...] = ()

    def __post_init__(self):
        if self.mode not in MASK_MODES:
            raise ConfigError(f"unknown mask mode {self.mode!r}; choose one of: {', '.join(MASK_MODES)}")
        if self.channel is not None and self.channel < 0:
            raise ConfigError(f"the mask channel must be 0 or more, got {self.channel}")
        pairs = self.value_map.items() if isinstance(self.value_map, dict) else self.value_map
        try:
            value_map = tuple(sorted((int(k), int(v)) for k, v in pairs))
        except (TypeError, ValueError):
            raise ConfigError(f"mask value map {self.value_map!r} must map whole numbers to whole numbers") from None
        if any(not (0 <= k <= 65535 and 0 <= v <= 65535) for k, v in value_map):
            raise ConfigError(f"mask value map {dict(value_map)} must map values 0..65535 to values 0..65535")
        if len({k for k, _ in value_map}) != len(value_map):
            raise ConfigError(f"mask value map {value_map} lists a value twice")
        if value_map and self.mode == "colour":
            raise ConfigError("a value map does not apply to colour masks; use index, binary or auto mode")
        object.__setattr__(self, "value_map", value_map)

    def to_json(self) -> dict:
        return {
            "mode": self.mode,
            "channel": self.channel,
            "threshold": self.threshold,
            "value_map": {str(k): v for k, v in self.value_map},
        }

    @classmethod
    def from_json(cls, data: dict | None) -> MaskEncoding:
        data = data or {}
        try:
            value_map = tuple(sorted((int(k), int(v)) for k, v in (data.get("value_map") or {}).items()))
            channel = data.get("channel")
            return cls(
                mode=str(data.get("mode", "auto")),
                channel=None if channel is None else int(channel),
                threshold=int(data.get("threshold", 0)),
                value_map=value_map,
            )
        except (TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"mask encoding {data!r} is not valid: {exc}") from None

    def describe(self) -> str:
        where = "" if self.channel is None else f" of channel {'RGBA'[self.channel] if self.channel < 4 else self.channel}"
        mapped = f", after mapping {dict(self.value_map)}" if self.value_map else ""
        if self.mode == "binary":
            return f"binary: value{where} > {self.threshold} is class 1{mapped}"
        if self.mode == "index" or self.value_map:
            return f"index values{where}{mapped}"
        return "colours of the class table" if self.mode == "colour" else "detected per file"


def read_raw_mask(path: str | Path) -> np.ndarray:
    """The stored pixel values, untouched: palette indices stay indices, colour stays colour."""
    path = Path(path)
    if not path.is_file():
        raise MaskFormatError("mask file not found", path)
    try:
        read_image_info(path)  # impossible sizes and truncated files are refused before decoding
    except ImageReadError as exc:
        raise MaskFormatError(exc.reason, path) from None
    try:
        if path.suffix.lower() in TIFF_EXTENSIONS:
            with tifffile.TiffFile(path) as tiff:
                data = tiff.asarray()
                marked = tiff.pages[0].description == INDEX_MARK[1]
            while data.ndim > 3 or (data.ndim == 3 and data.shape[0] == 1):
                data = data[0]
        else:
            with Image.open(path) as pil:
                pil.load()
                marked = pil.info.get(INDEX_MARK[0]) == INDEX_MARK[1]
                data = np.asarray(pil.convert("L") if pil.mode == "1" else pil)
        return np.asarray(data).view(LabelIndices) if marked else np.asarray(data)
    except Exception as exc:  # decoders raise many types: Pillow's, tifffile's, MemoryError, ...
        raise MaskFormatError(f"not a readable mask image (corrupt, truncated or not an image): {exc}", path) from None


def decode_mask(raw: np.ndarray, encoding: MaskEncoding = MaskEncoding(), classes: ClassTable | None = None,
                path: str | Path | None = None) -> np.ndarray:
    """Raw mask pixels -> (H, W) index mask, as the encoding says. The result is a writable array of its own."""
    data = raw
    if encoding.channel is not None:
        if data.ndim != 3 or encoding.channel >= data.shape[2]:
            raise MaskFormatError(f"the mask has no channel {encoding.channel} (shape {raw.shape})", path)
        data = data[:, :, encoding.channel]
    if data.ndim == 3 and data.shape[2] == 2:  # gray + alpha
        data = data[:, :, 0]
    if data.ndim == 3:
        data = data[:, :, :3]
        if encoding.mode == "colour":
            return _decode_colours(data, classes, path)
        if _channels_equal(data):
            data = data[:, :, 0]
        elif single_nonzero_channel(data) is not None:
            data = data[:, :, single_nonzero_channel(data)]
        elif encoding.mode == "auto":
            return _decode_colours(data, classes, path)
        else:
            raise MaskFormatError(f"a colour mask cannot be read in {encoding.mode} mode; choose colour mode "
                                  "or a single channel", path)
    if encoding.mode == "colour":
        raise MaskFormatError("colour mode needs an RGB mask; this one has a single channel", path)
    data = _whole_numbers(data, path)
    mode = encoding.mode
    if encoding.value_map:
        data = _apply_value_map(data, encoding.value_map)
        mode = "index" if mode == "auto" else mode
    threshold = encoding.threshold
    if mode == "auto":
        binary = _looks_binary(data) and not isinstance(raw, LabelIndices)
        mode, threshold = ("binary", 127) if binary else ("index", threshold)
    if mode == "binary":
        return (data > threshold).astype(np.uint8)
    fresh = data.flags.writeable and not np.may_share_memory(data, raw)
    return np.ascontiguousarray(data) if fresh else np.array(data, order="C", copy=True)


def _whole_numbers(data: np.ndarray, path) -> np.ndarray:
    """A single-channel mask as uint8 (uint16 when values pass 255); refuses fractions and values out of range."""
    if data.dtype.kind == "f" and (not np.all(np.isfinite(data)) or np.any(data != np.round(data))):
        raise MaskFormatError("a float mask must hold whole class numbers", path)
    if data.dtype.kind not in "iufb":
        raise MaskFormatError(f"mask pixels of type {data.dtype} are not class numbers", path)
    low, high = (data.min(), data.max()) if data.size else (0, 0)
    if low < 0 or high > 65535:
        raise MaskFormatError(f"mask values {low}..{high} are outside 0..65535", path)
    return data.astype(np.uint16 if high > 255 else np.uint8, copy=False)


def read_mask(path: str | Path, encoding: MaskEncoding = MaskEncoding(),
              classes: ClassTable | None = None) -> np.ndarray:
    """Read and decode a mask file into an index mask."""
    return decode_mask(read_raw_mask(path), encoding, classes, path)


def out_of_range_values(mask: np.ndarray, class_count: int) -> list[int]:
    """Values that are neither a class index nor the ignore value."""
    values = present_values(mask)
    ignore = ignore_index_for(class_count)
    return [int(v) for v in values if v >= class_count and v != ignore]


def _channels_equal(rgb: np.ndarray) -> bool:
    return bool(np.array_equal(rgb[:, :, 0], rgb[:, :, 1]) and np.array_equal(rgb[:, :, 0], rgb[:, :, 2]))


def single_nonzero_channel(rgb: np.ndarray) -> int | None:
    """The only channel of an RGB mask that holds values (e.g. BBBC039's red), or None."""
    nonzero = [c for c in range(3) if rgb[:, :, c].any()]
    return nonzero[0] if len(nonzero) == 1 else None


def _looks_binary(gray: np.ndarray) -> bool:
    """Only 0 and 255 (or 0 and the dtype's max): a 0/255 binary mask, not class indices."""
    top = 255 if gray.dtype == np.uint8 else (65535 if gray.dtype == np.uint16 else None)
    if top is None:
        return False
    present = present_values(gray)
    return top in present and set(present.tolist()) <= {0, top}


def _apply_value_map(mask: np.ndarray, value_map: tuple[tuple[int, int], ...]) -> np.ndarray:
    size = max(int(mask.max(initial=0)), max(k for k, _ in value_map)) + 1
    top = max(size - 1, max(v for _, v in value_map))
    lut = np.arange(size, dtype=np.uint16 if top > 255 else np.uint8)
    for raw_value, class_index in value_map:
        lut[raw_value] = class_index
    mapped = lut[mask]
    return mapped.astype(np.uint8) if mapped.dtype != np.uint8 and mapped.max(initial=0) <= 255 else mapped


def _decode_colours(rgb: np.ndarray, classes: ClassTable | None, path) -> np.ndarray:
    if classes is None:
        raise MaskFormatError("a colour mask needs a class table to map colours to classes", path)
    keys = (rgb[:, :, 0].astype(np.uint32) << 16) | (rgb[:, :, 1].astype(np.uint32) << 8) | rgb[:, :, 2]
    ignore = ignore_index_for(len(classes))
    table = np.vstack([classes.colours_array(), [UNLABELED_COLOUR]]).astype(np.uint32)
    table_keys = (table[:, 0] << 16) | (table[:, 1] << 8) | table[:, 2]
    order = np.argsort(table_keys, kind="stable")  # a class of the unlabeled colour is that class
    sorted_keys = table_keys[order]
    position = np.clip(np.searchsorted(sorted_keys, keys), 0, len(sorted_keys) - 1)
    known = sorted_keys[position] == keys
    if not known.all():
        unknown = np.unique(keys[~known])[:5]
        shown = ", ".join(f"#{int(k):06X}" for k in unknown)
        raise MaskFormatError(f"colours not in the class table: {shown}; add them as classes or pick a "
                              "single-channel encoding", path)
    dtype = np.uint8 if len(classes) <= MAX_PNG_CLASSES else np.uint16
    values = np.append(np.arange(len(classes)), ignore)[order]
    return values[position].astype(dtype)


# writing ---------------------------------------------------------------------------------------

def mask_suffix(class_count: int) -> str:
    """.png for up to 255 classes, .tif (16-bit labels) beyond."""
    return ".png" if class_count <= MAX_PNG_CLASSES else ".tif"


def write_mask(path: str | Path, mask: np.ndarray, classes: ClassTable) -> Path:
    """Write an index mask atomically: paletted PNG (palette = class colours) or 16-bit label TIFF."""
    path = Path(path)
    if mask.ndim != 2:
        raise MaskFormatError(f"an index mask must be 2-D, got shape {mask.shape}", path)
    if mask.dtype.kind not in "iub":
        raise MaskFormatError(f"an index mask must hold integers, got {mask.dtype}", path)
    suffix = path.suffix.lower()
    if suffix not in (".png",) + TIFF_EXTENSIONS:
        raise MaskFormatError("masks are saved as .png or .tif", path)
    wide = len(classes) > MAX_PNG_CLASSES
    if suffix == ".png" and wide:
        raise MaskFormatError(f"{len(classes)} classes do not fit an 8-bit PNG; save as .tif", path)
    top = 65535 if wide else 255
    if mask.size and (mask.min() < 0 or mask.max() > top):
        raise MaskFormatError(f"mask values {mask.min()}..{mask.max()} do not fit a {'16' if wide else '8'}-bit "
                              f"mask of {len(classes)} classes (0..{top})", path)
    data = np.ascontiguousarray(mask, np.uint16 if wide else np.uint8)
    if suffix == ".png":
        image = Image.frombytes("P", (data.shape[1], data.shape[0]), data.tobytes())
        image.putpalette(_palette_bytes(classes))
        write_atomic(path, lambda tmp: save_png(tmp, image, marked=True))
    else:
        write_atomic(path, lambda tmp: save_tiff(tmp, data, marked=True))
    return path


def save_png(target, image: Image.Image, marked: bool) -> None:
    """Save a mask image as PNG; `marked`: with the text chunk that says it holds class indices."""
    info = PngImagePlugin.PngInfo()
    if marked:
        info.add_text(*INDEX_MARK)
    image.save(target, format="PNG", compress_level=PNG_COMPRESS_LEVEL, pnginfo=info)


def save_tiff(target, data: np.ndarray, marked: bool, photometric: str = "minisblack") -> None:
    """Save mask pixels as a zlib TIFF; `marked`: with the description that says they are class indices."""
    tifffile.imwrite(target, np.asarray(data), photometric=photometric, compression="zlib",
                     description=INDEX_MARK[1] if marked else None)


def _palette_bytes(classes: ClassTable) -> bytes:
    palette = np.full((256, 3), 128, dtype=np.uint8)
    palette[: len(classes)] = classes.colours_array()
    palette[IGNORE_INDEX] = UNLABELED_COLOUR
    return palette.tobytes()
