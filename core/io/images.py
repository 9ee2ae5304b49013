"""Read micrographs in their native dtype, and normalise them for display and for the network.

PNG, JPEG, BMP and TIFF; 8-bit, 16-bit and float; grayscale, RGB(A) and multi-channel TIFF.
Images come back as (H, W) or (H, W, C) arrays, channels last, RGB order, never rescaled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import tifffile
from PIL import Image, UnidentifiedImageError

from core.errors import ConfigError, ImageReadError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
TIFF_EXTENSIONS = (".tif", ".tiff")
_MAX_CHANNELS_FIRST = 16
_PERCENTILE_SAMPLES = 1_000_000
_HISTOGRAM_BLOCK = 4_000_000  # pixels per bincount call


def is_image_file(path: str | Path) -> bool:
    suffix = path.suffix if isinstance(path, Path) else Path(path).suffix  # no new Path: scans call this a lot
    return suffix.lower() in IMAGE_EXTENSIONS


def read_image(path: str | Path) -> np.ndarray:
    """Read an image, keeping its dtype. Raises ImageReadError naming the file and the problem."""
    path = _existing_file(path)
    image = _read_tiff(path) if path.suffix.lower() in TIFF_EXTENSIONS else _read_other(path)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.size == 0:
        raise ImageReadError("the image has no pixels", path)
    return np.ascontiguousarray(image)


def _existing_file(path: str | Path) -> Path:
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ImageReadError("file not found", path) from None
    except OSError as exc:
        raise ImageReadError(f"cannot be read: {exc.strerror}", path) from None
    if not path.is_file():
        raise ImageReadError("not a file", path)
    if size == 0:
        raise ImageReadError("empty file (0 bytes); copy it again from its source", path)
    return path


# TIFF ----------------------------------------------------------------------------------------------
# tifffile names each axis: Y, X; C (channel) and S (sample: RGB, or the planes of a planar file); Z, T and
# others are stack dimensions, of which the first plane is read. Q and I are planes it cannot name
# (a minisblack (C, H, W) file, a multi-page file): up to 16 of them are channels, more are a stack.

def _read_tiff(path: Path) -> np.ndarray:
    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            index, order = _tiff_layout(series.shape, series.axes, _rgb_with_alpha(series.keyframe))
            data = _read_tiff_planes(tif, series, index)
    except Exception as exc:  # tifffile raises many types for broken files
        raise ImageReadError(f"not a readable TIFF (corrupt or truncated?): {exc}", path) from None
    return _arrange(data, order)


def _rgb_with_alpha(page) -> bool:
    """An RGB page whose extra samples are marked as alpha (associated or unassociated)."""
    rgb = page.photometric == tifffile.PHOTOMETRIC.RGB
    return rgb and any(int(e) in (1, 2) for e in page.extrasamples)


def _tiff_layout(shape: tuple[int, ...], axes: str, rgb_with_alpha: bool) -> tuple[tuple, list[int]]:
    """(index, axis order) that bring a TIFF series to (H, W[, channels...]): see the note above."""
    if len(axes) != len(shape) or "Y" not in axes or "X" not in axes:
        trailing = "YXS" if len(shape) >= 3 and shape[-1] <= _MAX_CHANNELS_FIRST < shape[-3] else "YX"
        axes = "Q" * (len(shape) - len(trailing)) + trailing
    channels = [i for i, a in enumerate(axes) if a in "CS"]
    unknown = [i for i, a in enumerate(axes) if a in "QI"]
    if not channels and unknown and shape[unknown[-1]] <= _MAX_CHANNELS_FIRST:
        channels = [unknown[-1]]
    index = tuple(slice(0, 3) if a == "S" and rgb_with_alpha else slice(None) if a in "YX" or i in channels else 0
                  for i, a in enumerate(axes))
    kept = [i for i, a in enumerate(axes) if a in "YX" or i in channels]
    order = [kept.index(axes.index("Y")), kept.index(axes.index("X"))] + [kept.index(i) for i in channels]
    return index, order


def _read_tiff_planes(tif: tifffile.TiffFile, series, index: tuple) -> np.ndarray:
    """series[index], decoding only the pages that hold the kept planes (a large stack is not read whole)."""
    shape, pages = series.shape, len(series)
    leading = next((k for k in range(len(shape) + 1) if int(np.prod(shape[:k])) == pages), None)
    if pages <= 1 or leading is None:
        return series.asarray()[index]
    wanted = np.arange(pages).reshape(shape[:leading])[index[:leading]]
    if wanted.size == pages:
        return series.asarray()[index]
    data = tif.asarray(key=wanted.ravel().tolist(), series=0).reshape(wanted.shape + tuple(shape[leading:]))
    kept_leading = tuple(slice(None) for i in index[:leading] if isinstance(i, slice))
    return data[kept_leading + index[leading:]]


def _arrange(data: np.ndarray, order: list[int]) -> np.ndarray:
    """Transpose to (H, W[, C...]) and merge two channel axes (C and S) into one."""
    data = np.transpose(data, order)
    return data.reshape(data.shape[0], data.shape[1], -1) if data.ndim > 3 else data


# PNG, JPEG, BMP ------------------------------------------------------------------------------------

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_GRAY_TYPES = (0, 4)  # gray, gray + alpha
_PILLOW_KEPT_MODES = ("L", "RGB", "RGBA", "I;16", "I;16B", "I;16L", "I", "F")


def _png_header(head: bytes) -> tuple[int, int] | None:
    """(bit depth, colour type) from the first 26 bytes of a PNG (its IHDR), or None for other files."""
    if len(head) < 26 or not head.startswith(_PNG_SIGNATURE) or head[12:16] != b"IHDR":
        return None
    return head[24], head[25]


def _read_other(path: Path) -> np.ndarray:
    """RGB order, alpha dropped, gray PNGs (with or without alpha) as one channel."""
    try:
        raw = np.fromfile(path, dtype=np.uint8)  # fromfile + imdecode handles non-ASCII paths
    except OSError as exc:
        raise ImageReadError(f"cannot be read: {exc.strerror}", path) from None
    png = _png_header(raw[:26].tobytes())
    image = cv2.imdecode(raw, cv2.IMREAD_UNCHANGED)
    if image is None:
        image = _read_with_pillow(path)
    elif image.ndim == 3:
        code = cv2.COLOR_BGRA2RGBA if image.shape[2] == 4 else cv2.COLOR_BGR2RGB
        image = cv2.cvtColor(image, code)
    if image.ndim == 3 and png is not None and png[1] in _PNG_GRAY_TYPES:
        return image[:, :, 0]
    return image[:, :, :3] if image.ndim == 3 and image.shape[2] == 4 else image


def _read_with_pillow(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as pil:
            pil.load()
            if pil.mode in ("1", "LA", "La"):
                pil = pil.convert("L")
            elif pil.mode not in _PILLOW_KEPT_MODES:
                pil = pil.convert("RGB")
            return np.asarray(pil)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ImageReadError(f"not a readable image (corrupt, truncated or not an image): {exc}", path) from None


@dataclass(frozen=True)
class ImageInfo:
    """What the scanner needs without decoding pixels: size, channels and dtype (as read_image returns them)."""

    width: int
    height: int
    channels: int
    dtype: str


def read_image_info(path: str | Path) -> ImageInfo:
    """Header-only read of size, channels and dtype; raises ImageReadError for unreadable files.

    Truncated pixel data is only found by read_image."""
    path = _existing_file(path)
    try:
        if path.suffix.lower() in TIFF_EXTENSIONS:
            return _tiff_info(path)
        with open(path, "rb") as handle:
            png = _png_header(handle.read(26))
        with Image.open(path) as pil:
            if png is not None:
                depth, colour_type = png
                channels = 1 if colour_type in _PNG_GRAY_TYPES else 3
                return ImageInfo(pil.width, pil.height, channels, "uint16" if depth == 16 else "uint8")
            channels = 1 if pil.mode in ("1", "L", "LA", "La", "I", "F") or pil.mode.startswith("I;16") else 3
            dtype = {"I": "int32", "F": "float32"}.get(pil.mode, "uint16" if pil.mode.startswith("I;16") else "uint8")
            return ImageInfo(pil.width, pil.height, channels, dtype)
    except Exception as exc:
        raise ImageReadError(f"not a readable image: {exc}", path) from None


def _tiff_info(path: Path) -> ImageInfo:
    """The shape read_image would return, worked out on a zero-stride stand-in for the pixels."""
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        index, order = _tiff_layout(series.shape, series.axes, _rgb_with_alpha(series.keyframe))
        stand_in = _arrange(np.broadcast_to(np.zeros((), np.uint8), series.shape)[index], order)
        channels = 1 if stand_in.ndim == 2 else stand_in.shape[2]
        return ImageInfo(stand_in.shape[1], stand_in.shape[0], channels, str(series.dtype))


def channel_count(image: np.ndarray) -> int:
    return 1 if image.ndim == 2 else image.shape[2]


def match_channels(image: np.ndarray, channels: int) -> np.ndarray:
    """Make an (H, W[, C]) image have `channels` channels: gray is repeated, RGB is averaged to gray."""
    have = channel_count(image)
    if have == channels:
        return image
    if channels == 1:
        return image[:, :, :3].mean(axis=2).astype(image.dtype)
    if have == 1:
        return np.repeat(image[:, :, None], channels, axis=2)
    if have > channels:
        return image[:, :, :channels]
    raise ConfigError(f"cannot turn a {have}-channel image into {channels} channels")


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
        return out


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
