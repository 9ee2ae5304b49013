"""TIFF files as one (H, W[, C]) image: the first plane of the first series, with tifffile (and imagecodecs
for LZW, Deflate, JPEG, CCITT, PackBits and the rest).

tifffile names each axis: Y, X; C (channel) and S (sample: RGB, or the planes of a planar file); Z, T and
others are stack dimensions, of which the first plane is read. Q and I are planes it cannot name
(a minisblack (C, H, W) file, a multi-page file): up to 16 of them are channels, more are a stack.
1-bit images come back as uint8 0/255, as 1-bit PNGs do.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

from core.errors import ImageReadError

_MAX_CHANNELS_FIRST = 16
_PIXEL_KINDS = "buif"  # bool, unsigned, signed, float: what can be shown and segmented


def read_tiff(path: Path) -> np.ndarray:
    """The image as read_image returns it; tifffile's own errors pass through (the caller words them)."""
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        index, order = _tiff_layout(series.shape, series.axes, _rgb_with_alpha(series.keyframe))
        data = _arrange(_read_tiff_planes(tif, series, index), order)
    return data.view(np.uint8) * np.uint8(255) if data.dtype == bool else data


def tiff_info(path: Path) -> tuple[int, int, int, str]:
    """(width, height, channels, dtype) that read_tiff would return, worked out on a zero-stride stand-in for
    the pixels. Raises ImageReadError for pixels that cannot be decoded or used, and for a file cut short."""
    with tifffile.TiffFile(path) as tif:
        if not tif.series:
            raise ImageReadError("there is no image inside this TIFF (corrupt file); copy it again from its source")
        series = tif.series[0]
        page = series.keyframe
        if page.compression not in tifffile.TIFF.DECOMPRESSORS and not _pillow_opens(path):
            raise ImageReadError(f"its pixels are compressed with {_compression_name(page.compression)}, which "
                                 "neither tifffile (with imagecodecs) nor Pillow decodes; save it uncompressed "
                                 "or with LZW")
        if series.dtype.kind not in _PIXEL_KINDS:
            raise ImageReadError(f"its pixels are of type {series.dtype}, which cannot be segmented; convert "
                                 "them to integers or real numbers")
        ends = [o + c for o, c in zip(tif.pages[0].dataoffsets, tif.pages[0].databytecounts, strict=False)]
        if max(ends, default=0) > path.stat().st_size:
            raise ImageReadError("the file is cut short (truncated); copy it again from its source")
        index, order = _tiff_layout(series.shape, series.axes, _rgb_with_alpha(page))
    stand_in = _arrange(np.broadcast_to(np.zeros((), np.uint8), series.shape)[index], order)
    channels = 1 if stand_in.ndim == 2 else stand_in.shape[2]
    dtype = "uint8" if series.dtype == bool else str(series.dtype)
    return stand_in.shape[1], stand_in.shape[0], channels, dtype


def _pillow_opens(path: Path) -> bool:
    try:
        with Image.open(path):
            return True
    except Exception:  # Pillow raises many types for files it does not know
        return False


def _compression_name(code: int) -> str:
    try:
        return tifffile.COMPRESSION(code).name
    except ValueError:
        return f"compression scheme {code}"


def _rgb_with_alpha(page) -> bool:
    """An RGB page whose extra samples are marked as alpha (associated or unassociated)."""
    rgb = page.photometric == tifffile.PHOTOMETRIC.RGB
    return rgb and any(int(e) in (1, 2) for e in page.extrasamples)


def _tiff_layout(shape: tuple[int, ...], axes: str, rgb_with_alpha: bool) -> tuple[tuple, list[int]]:
    """(index, axis order) that bring a TIFF series to (H, W[, channels...]): see the module note."""
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
