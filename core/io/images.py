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


def is_image_file(path: str | Path) -> bool:
    suffix = path.suffix if isinstance(path, Path) else Path(path).suffix  # no new Path: scans call this a lot
    return suffix.lower() in IMAGE_EXTENSIONS


def read_image(path: str | Path) -> np.ndarray:
    """Read an image, keeping its dtype. Raises ImageReadError naming the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise ImageReadError("file not found", path)
    if path.suffix.lower() in TIFF_EXTENSIONS:
        image = _read_tiff(path)
    else:
        image = _read_other(path)
    if image.ndim == 3 and image.shape[2] == 4 and image.dtype != np.float32:
        image = image[:, :, :3]  # alpha is not image data
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.size == 0:
        raise ImageReadError("the image has no pixels", path)
    return np.ascontiguousarray(image)


def _read_tiff(path: Path) -> np.ndarray:
    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            data = series.asarray()
            axes = series.axes
    except Exception as exc:  # tifffile raises many types for broken files
        raise ImageReadError(f"not a readable TIFF (corrupt or truncated?): {exc}", path) from None
    return _to_hwc(np.asarray(data), axes, path)


def _to_hwc(data: np.ndarray, axes: str, path: Path) -> np.ndarray:
    """Bring a TIFF array to (H, W) or (H, W, C): first plane of stacks, channels last."""
    if data.ndim == 2:
        return data
    axes = axes if len(axes) == data.ndim else ""
    if "Y" in axes and "X" in axes:
        keep = {"Y", "X", "C", "S"}
        index = tuple(slice(None) if a in keep else 0 for a in axes)
        data, axes = data[index], "".join(a for a in axes if a in keep)
        order = [axes.index("Y"), axes.index("X")] + [i for i, a in enumerate(axes) if a in "CS"]
        data = np.transpose(data, order)
        if data.ndim == 4:  # both C and S: merge
            data = data.reshape(data.shape[0], data.shape[1], -1)
        return data
    while data.ndim > 3:
        data = data[0]
    if data.ndim == 3 and data.shape[0] <= _MAX_CHANNELS_FIRST < data.shape[2]:
        data = np.transpose(data, (1, 2, 0))
    if data.ndim != 3:
        raise ImageReadError(f"unsupported TIFF layout {data.shape}", path)
    return data


def _read_other(path: Path) -> np.ndarray:
    try:
        raw = np.fromfile(path, dtype=np.uint8)  # fromfile + imdecode handles non-ASCII paths
    except OSError as exc:
        raise ImageReadError(f"cannot be read: {exc.strerror}", path) from None
    image = cv2.imdecode(raw, cv2.IMREAD_UNCHANGED) if raw.size else None
    if image is None:
        return _read_with_pillow(path)
    if image.ndim == 3:
        code = cv2.COLOR_BGRA2RGBA if image.shape[2] == 4 else cv2.COLOR_BGR2RGB
        image = cv2.cvtColor(image, code)
    return image


def _read_with_pillow(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as pil:
            pil.load()
            if pil.mode == "P":
                pil = pil.convert("RGBA" if "transparency" in pil.info else "RGB")
            return np.asarray(pil)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        kind = "empty file" if path.stat().st_size == 0 else "not a readable image (corrupt, truncated or not an image)"
        raise ImageReadError(f"{kind}: {exc}", path) from None


@dataclass(frozen=True)
class ImageInfo:
    """What the scanner needs without decoding pixels: size, channels and dtype."""

    width: int
    height: int
    channels: int
    dtype: str


def read_image_info(path: str | Path) -> ImageInfo:
    """Header-only read of size, channels and dtype; raises ImageReadError for unreadable files."""
    path = Path(path)
    try:
        if path.suffix.lower() in TIFF_EXTENSIONS:
            with tifffile.TiffFile(path) as tif:
                page = tif.pages[0]
                channels = 1 if page.samplesperpixel == 1 else page.samplesperpixel
                shape = tif.series[0].shape
                if len(shape) == 3 and shape[0] <= _MAX_CHANNELS_FIRST < shape[2] and channels == 1:
                    channels = shape[0]
                return ImageInfo(page.imagewidth, page.imagelength, channels, str(page.dtype))
        with Image.open(path) as pil:
            bands = len(pil.getbands())
            dtype = {"I;16": "uint16", "I;16B": "uint16", "I": "int32", "F": "float32"}.get(pil.mode, "uint8")
            channels = 3 if pil.mode in ("P", "RGBA") else bands
            return ImageInfo(pil.width, pil.height, channels, dtype)
    except FileNotFoundError:
        raise ImageReadError("file not found", path) from None
    except Exception as exc:
        raise ImageReadError(f"not a readable image: {exc}", path) from None


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


def percentile_levels(image: np.ndarray, low: float = 0.5, high: float = 99.5) -> np.ndarray:
    """Per-channel (lo, hi) intensity percentiles, shape (C, 2); exact for integer images, sampled for float."""
    planes = image[:, :, None] if image.ndim == 2 else image
    levels = np.zeros((planes.shape[2], 2), dtype=np.float64)
    for c in range(planes.shape[2]):
        plane = planes[:, :, c]
        if plane.dtype in (np.uint8, np.uint16):
            counts = np.bincount(plane.ravel(), minlength=1)
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
