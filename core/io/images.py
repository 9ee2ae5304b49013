"""Read micrographs in their native dtype, and normalise them for display and for the network.

PNG, JPEG, BMP and TIFF read whole (stacks and microscope formats: core/io/readers); 8-bit, 16-bit and
float; grayscale, RGB(A) and multi-channel TIFF.
Images come back as (H, W) or (H, W, C) arrays, channels last, RGB order, never rescaled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from core.errors import ConfigError, ImageReadError
from core.io.image_headers import ImageInfo as ImageInfo  # re-exported: callers import it from here
from core.io.image_headers import read_image_info
from core.io.tiff_image import read_tiff

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
TIFF_EXTENSIONS = (".tif", ".tiff")
_PERCENTILE_SAMPLES = 1_000_000
_HISTOGRAM_BLOCK = 4_000_000  # pixels per bincount call
_PILLOW_KEPT_MODES = ("L", "RGB", "I;16", "I;16B", "I;16L", "I", "F")


def is_image_file(path: str | Path) -> bool:
    suffix = path.suffix if isinstance(path, Path) else Path(path).suffix  # no new Path: scans call this a lot
    return suffix.lower() in IMAGE_EXTENSIONS


def read_image(path: str | Path) -> np.ndarray:
    """Read an image, keeping its dtype. Raises ImageReadError naming the file and the problem, whatever the
    decoder raised; the header is checked first (core/io/image_headers.py), so nothing huge is allocated."""
    info = read_image_info(path)
    path = Path(path)
    try:
        image = _read_tiff_or_pillow(path) if info.format == "tiff" else _read_other(path)
    except ImageReadError:
        raise
    except Exception as exc:  # decoders raise many types: cv2.error, Pillow's, struct.error, MemoryError, ...
        raise ImageReadError(f"not a readable image (corrupt, truncated or not an image): {exc}", path) from None
    if image.ndim == 3 and (image.shape[2] == 1 or info.channels == 1):
        image = image[:, :, 0]  # gray PNGs with alpha decode as four channels
    if image.size == 0:
        raise ImageReadError("the image has no pixels", path)
    return np.ascontiguousarray(image)


def _read_tiff_or_pillow(path: Path) -> np.ndarray:
    """tifffile first; Pillow where tifffile cannot decode (a compression it lacks a codec for)."""
    try:
        return read_tiff(path)
    except Exception as tiff_error:  # tifffile raises many types for what it cannot decode
        try:
            return _read_with_pillow(path)
        except Exception:
            raise ImageReadError(f"not a readable TIFF (corrupt or truncated?): {tiff_error}", path) from None


def _read_other(path: Path) -> np.ndarray:
    """PNG, JPEG, BMP (and what else OpenCV or Pillow recognise) in RGB order."""
    raw = np.fromfile(path, dtype=np.uint8)  # fromfile + imdecode handles non-ASCII paths
    try:
        image = cv2.imdecode(raw, cv2.IMREAD_UNCHANGED)
    except cv2.error:
        image = None
    if image is None:
        return _read_with_pillow(path)
    if image.ndim == 3:
        code = cv2.COLOR_BGRA2RGBA if image.shape[2] == 4 else cv2.COLOR_BGR2RGB
        image = cv2.cvtColor(image, code)
    return image[:, :, :3] if image.ndim == 3 and image.shape[2] == 4 else image  # alpha dropped


def _read_with_pillow(path: Path) -> np.ndarray:
    with Image.open(path) as pil:
        pil.load()
        if pil.mode in ("1", "LA", "La"):
            pil = pil.convert("L")
        elif pil.mode not in _PILLOW_KEPT_MODES:
            pil = pil.convert("RGB")  # palette, CMYK, alpha dropped
        return np.asarray(pil)


def channel_count(image: np.ndarray) -> int:
    return 1 if image.ndim == 2 else image.shape[2]


COLOUR_PHOTO_NOTE = ("colour (RGB) images were turned into gray (luminance) for this 1-channel model; to use one "
                     "colour instead, choose it (--channel Red, or the dataset's channel setting)")
_LUMINANCE = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R BT.601, as OpenCV's RGB2GRAY


def match_channels(image: np.ndarray, channels: int, chosen: int | None = None,
                   names: Sequence[str] = ()) -> np.ndarray:
    """Make an (H, W[, C]) image have `channels` channels: gray is repeated. For a 1-channel model the
    `chosen` channel (0-based) is taken; without a choice an 8-bit RGB(A) photo becomes luminance (callers say
    so: COLOUR_PHOTO_NOTE) and any other multi-channel image is a ConfigError naming its channels (`names`)."""
    have = channel_count(image)
    if channels == 1 and have > 1:
        if chosen is not None:
            if not 0 <= chosen < have:
                raise ConfigError(f"channel {chosen} does not exist; this image has channels 0-{have - 1} "
                                  f"({_channel_list(names, have)})")
            return np.ascontiguousarray(image[:, :, chosen])
        if is_colour_photo(image):
            return luminance(image)
        raise ConfigError(f"the model reads 1 channel but this image has {have}: {_channel_list(names, have)}; "
                          "choose one with --channel NAME (or its number from 0), or set the dataset's channel")
    if have == channels:
        return image
    if have == 1:
        return np.repeat(image[:, :, None], channels, axis=2)
    if have > channels:
        return image[:, :, :channels]
    raise ConfigError(f"cannot turn a {have}-channel image into {channels} channels")


def is_colour_photo(image: np.ndarray) -> bool:
    """An 8-bit RGB or RGBA picture (not a multi-channel micrograph)."""
    return image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] in (3, 4)


def luminance(image: np.ndarray) -> np.ndarray:
    """Gray of an 8-bit RGB(A) image (alpha ignored), rounded, uint8."""
    gray = image[:, :, :3].astype(np.float32) @ _LUMINANCE
    return np.clip(np.rint(gray), 0, 255).astype(np.uint8)


def channel_index(channel: int | str | None, names: Sequence[str], count: int) -> int | None:
    """The 0-based channel a user chose by name (any case) or number ("0", 2); None when none was chosen.
    ConfigError naming the channels when this image has no such channel."""
    if channel is None or count == 1:
        return None
    text = str(channel).strip()
    folded = [name.casefold() for name in names]
    if text.casefold() in folded:
        return folded.index(text.casefold())
    if text.isdigit() and int(text) < count:
        return int(text)
    raise ConfigError(f"there is no channel {text!r}; this image has {_channel_list(names, count)} "
                      "(choose one by name or by its number from 0)")


def _channel_list(names: Sequence[str], count: int) -> str:
    names = list(names) if len(names) == count else [f"Channel {i + 1}" for i in range(count)]
    return ", ".join(f"{i}: {name}" for i, name in enumerate(names))


def value_counts(array: np.ndarray, minlength: int = 0) -> np.ndarray:
    """How many pixels hold each value 0..max of a non-negative integer array, as int64.

    uint8/uint16 go through OpenCV's histogram in blocks of rows (exact: each block counts fewer pixels than
    float32 can hold), about 10x faster than np.bincount and without its int64 copy of the whole array."""
    if array.dtype not in (np.uint8, np.uint16) or array.size == 0:
        return np.bincount(np.asarray(array).ravel(), minlength=minlength)
    bins = int(array.max()) + 1
    rows_view = array.reshape(array.shape[0], -1) if array.ndim > 1 else array.reshape(1, -1)
    counts = np.zeros(max(bins, minlength), dtype=np.int64)
    step = max(1, _HISTOGRAM_BLOCK // max(rows_view.shape[1], 1))
    for top in range(0, rows_view.shape[0], step):
        block = np.ascontiguousarray(rows_view[top: top + step])
        counts[:bins] += cv2.calcHist([block], [0], None, [bins], [0, bins]).ravel().astype(np.int64)
    return counts


def present_values(array: np.ndarray) -> np.ndarray:
    """The distinct values of a non-negative integer array, ascending (much faster than np.unique)."""
    return np.flatnonzero(value_counts(array))


def percentile_levels(image: np.ndarray, low: float = 0.5, high: float = 99.5) -> np.ndarray:
    """Per-channel (lo, hi) intensity percentiles, shape (C, 2); exact for integer images, sampled for float."""
    planes = image[:, :, None] if image.ndim == 2 else image
    levels = np.zeros((planes.shape[2], 2), dtype=np.float64)
    for c in range(planes.shape[2]):
        plane = planes[:, :, c]
        if plane.dtype in (np.uint8, np.uint16):
            counts = value_counts(plane)
            cumulative = np.cumsum(counts) / plane.size
            lo = int(np.searchsorted(cumulative, low / 100.0))
            hi = int(np.searchsorted(cumulative, high / 100.0))
        else:
            flat = plane.ravel()
            step = max(1, flat.size // _PERCENTILE_SAMPLES)
            sample = flat[::step].astype(np.float64)
            sample = sample[np.isfinite(sample)]
            lo, hi = np.percentile(sample, [low, high]) if sample.size else (0.0, 1.0)
        if hi <= lo:
            hi = lo + 1
        levels[c] = (lo, hi)
    return levels


def to_display(image: np.ndarray, levels: np.ndarray | None = None) -> np.ndarray:
    """uint8 view of an image for the screen, stretched between per-channel (lo, hi) levels.

    Integer images go through a lookup table, so a 2048 x 2048 16-bit image takes milliseconds.
    """
    if levels is None:
        levels = percentile_levels(image)
    planes = image[:, :, None] if image.ndim == 2 else image
    out = np.empty(planes.shape, dtype=np.uint8)
    for c in range(planes.shape[2]):
        lo, hi = levels[min(c, len(levels) - 1)]
        plane = planes[:, :, c]
        if plane.dtype in (np.uint8, np.uint16):
            values = np.arange(256 if plane.dtype == np.uint8 else 65536, dtype=np.float32)
            lut = np.clip((values - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)
            out[:, :, c] = lut[plane]
        else:
            scaled = (plane.astype(np.float32) - lo) * (255.0 / (hi - lo))
            out[:, :, c] = np.clip(np.nan_to_num(scaled), 0, 255).astype(np.uint8)
    return out[:, :, 0] if image.ndim == 2 else out


@dataclass(frozen=True)
class Normalisation:
    """How pixel values become network inputs; stored in the model file so prediction matches training.

    percentile: per image and channel, (x - p_low) / (p_high - p_low), robust for 8-, 12- and 16-bit data.
    dtype_range: x / max of the dtype (x / 255 for 8-bit), the seed articles' convention.
    """

    mode: str = "percentile"
    low: float = 1.0
    high: float = 99.0

    def to_json(self) -> dict:
        return {"mode": self.mode, "low": self.low, "high": self.high}

    @classmethod
    def from_json(cls, data: dict) -> Normalisation:
        norm = cls(str(data.get("mode", "percentile")), float(data.get("low", 1.0)), float(data.get("high", 99.0)))
        if norm.mode not in ("percentile", "dtype_range"):
            raise ConfigError(f"unknown normalisation {norm.mode!r}; choose percentile or dtype_range")
        return norm

    def levels(self, image: np.ndarray) -> np.ndarray:
        """Per-channel (offset, scale span) for this image, shape (C, 2)."""
        if self.mode == "percentile":
            return percentile_levels(image, self.low, self.high)
        top = float(np.iinfo(image.dtype).max) if np.issubdtype(image.dtype, np.integer) else 1.0
        return np.tile([0.0, top], (channel_count(image), 1))

    def apply(self, image: np.ndarray, levels: np.ndarray | None = None) -> np.ndarray:
        """(H, W[, C]) image -> float32 (C, H, W) network input."""
        levels = self.levels(image) if levels is None else levels
        planes = image[:, :, None] if image.ndim == 2 else image
        out = np.empty((planes.shape[2],) + planes.shape[:2], dtype=np.float32)
        for c in range(planes.shape[2]):
            lo, hi = levels[c]
            np.subtract(planes[:, :, c], np.float32(lo), out=out[c], dtype=np.float32)
            out[c] *= np.float32(1.0 / (hi - lo))
        if image.dtype.kind == "f":
            replace_non_finite(out)
        return out


def replace_non_finite(normalised: np.ndarray) -> np.ndarray:
    """NaN and infinite network inputs become 0, the image's low level, in place, so they do not spread
    through the network into the prediction of their neighbours. Training and prediction both do this."""
    return np.nan_to_num(normalised, copy=False, nan=0.0, posinf=0.0, neginf=0.0)


def non_finite_pixels(image: np.ndarray) -> np.ndarray | None:
    """(H, W) map of the pixels with a NaN or infinite value in any channel; None when there are none."""
    if image.dtype.kind != "f":
        return None
    finite = np.isfinite(image)
    if image.ndim == 3:
        finite = finite.all(axis=2)
    return None if finite.all() else ~finite


def display_view(image: np.ndarray, levels: np.ndarray, channel: int | None = None) -> np.ndarray:
    """The uint8 picture of an image: one channel in gray, or gray/RGB as stored (first three channels of
    a multi-channel image)."""
    if channel is not None and image.ndim == 3:
        return to_display(image[:, :, channel], levels[channel: channel + 1])
    if image.ndim == 3 and image.shape[2] == 2:
        return to_display(image[:, :, 0], levels[:1])
    if image.ndim == 3 and image.shape[2] > 3:
        return to_display(image[:, :, :3], levels[:3])
    return to_display(image, levels)
