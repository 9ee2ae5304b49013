"""What an image file claims before any pixel is decoded: size, channels, dtype, and whether it can be read.

The format is told by the file's first bytes, not its name. PNG, JPEG and BMP headers are parsed here (no
decoder involved, so a hostile header cannot make one allocate); TIFF goes through tifffile's metadata.
Sizes beyond MAX_PIXELS or the free memory, and files cut short, are refused here, before decoding: the
scanner (read_image_info) and the reader (read_image) run the same checks, so a file listed as fine opens.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from core.errors import ImageReadError
from core.io.tiff_image import tiff_info

MAX_PIXELS = 1 << 30
"""Largest image read (32768 x 32768): OpenCV's own decoding limit."""
MAX_SIDE = 1 << 20
"""Longest side read (OpenCV's limit)."""
_DECODE_COPIES = 2  # a decoder's output plus one converted copy (BGR -> RGB) live at once
_MEMORY_CHECK_BYTES = 256 << 20  # smaller images are not worth a look at the free memory
_TAIL_BYTES = 4096  # where a PNG's IEND chunk or a JPEG's end marker must be found
_TRUNCATED = "the file is cut short (truncated); copy it again from its source"

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_GRAY_TYPES = (0, 4)  # gray, gray + alpha
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_JPEG_FRAME_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_BMP_DECODED = (0, 1, 2, 3)  # BI_RGB, BI_RLE8, BI_RLE4, BI_BITFIELDS: what OpenCV and Pillow decode
_BMP_UNCOMPRESSED = (0, 3)  # the pixel data size is known
_BMP_16BIT_MASKS = ((0xF800, 0x7E0, 0x1F), (0x7C00, 0x3E0, 0x1F))  # 5-6-5 and 5-5-5
_BMP_BITS = (1, 4, 8, 16, 24, 32)


@dataclass(frozen=True)
class ImageInfo:
    """What the scanner needs without decoding pixels: size, channels and dtype (as read_image returns them),
    and the format found from the file's first bytes (png, jpeg, bmp, tiff or other)."""

    width: int
    height: int
    channels: int
    dtype: str
    format: str = "other"


def existing_file(path: str | Path) -> Path:
    """The path of a non-empty file; ImageReadError naming it otherwise."""
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


def read_image_info(path: str | Path) -> ImageInfo:
    """Size, channels and dtype from the header, after the checks in the module note.
    Raises ImageReadError naming the file and the problem, whatever went wrong."""
    path = existing_file(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(32)
            size = os.fstat(handle.fileno()).st_size
            if head.startswith(PNG_SIGNATURE):
                info = _png_info(head, handle, size)
            elif head.startswith(b"\xff\xd8"):
                info = _jpeg_info(handle, size)
            elif head.startswith(b"BM"):
                info = _bmp_info(head, handle, size)
            elif head.startswith(_TIFF_MAGICS):
                info = ImageInfo(*tiff_info(path), "tiff")
                check_size(info)
            else:
                info = _pillow_info(path)
    except ImageReadError as exc:
        raise ImageReadError(exc.reason, path) from None
    except Exception as exc:  # struct.error, tifffile's and Pillow's many error types for broken headers
        raise ImageReadError(f"not a readable image (corrupt or not an image): {exc}", path) from None
    return info


def check_size(info: ImageInfo) -> None:
    """Refuse sizes that are impossible (a corrupt header) or that would not fit in the free memory."""
    width, height = info.width, info.height
    if width <= 0 or height <= 0:
        raise ImageReadError(f"the header gives an impossible size, {width} x {height} pixels; the file is "
                             "corrupt: copy it again from its source")
    if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
        raise ImageReadError(f"the header claims {width:,} x {height:,} = {width * height:,} pixels; SegLab reads "
                             f"up to {MAX_PIXELS:,} pixels ({MAX_SIDE:,} per side): the file is corrupt, or cut "
                             "the image into tiles first")
    needed = width * height * info.channels * np.dtype(info.dtype).itemsize * _DECODE_COPIES
    if needed > _MEMORY_CHECK_BYTES:
        free = available_memory()
        if free is not None and needed > free:
            raise ImageReadError(f"reading this {width:,} x {height:,} image needs about {needed / 1e9:.1f} GB of "
                                 f"memory but {free / 1e9:.1f} GB are free; close other programs or cut the "
                                 "image into tiles")


def available_memory() -> int | None:
    """Bytes free for new allocations (Linux: MemAvailable; elsewhere the physical memory), None if unknown."""
    try:
        with open("/proc/meminfo", "rb") as handle:
            for line in handle:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _cut_short(handle, size: int, end_marker: bytes) -> bool:
    handle.seek(max(0, size - _TAIL_BYTES))
    return end_marker not in handle.read()


def _png_info(head: bytes, handle, size: int) -> ImageInfo:
    if head[12:16] != b"IHDR":
        raise ImageReadError("not a readable PNG: its first chunk is not the image header (corrupt file)")
    width, height, depth, colour_type = struct.unpack(">IIBB", head[16:26])
    info = ImageInfo(width, height, 1 if colour_type in _PNG_GRAY_TYPES else 3,
                     "uint16" if depth == 16 else "uint8", "png")
    check_size(info)
    if _cut_short(handle, size, b"IEND\xaeB`\x82"):
        raise ImageReadError(_TRUNCATED)
    return info


def _jpeg_info(handle, size: int) -> ImageInfo:
    """The frame header (SOFn) found by walking the marker segments."""
    handle.seek(2)
    while True:
        marker = handle.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            raise ImageReadError("not a readable JPEG: no frame header before the end of the file "
                                 "(corrupt or truncated)")
        code = marker[1]
        if code == 0xFF:  # fill byte
            handle.seek(-1, os.SEEK_CUR)
            continue
        if code == 0x01 or 0xD0 <= code <= 0xD8:  # markers without a length
            continue
        (length,) = struct.unpack(">H", handle.read(2))
        if code in _JPEG_FRAME_MARKERS:
            precision, height, width, components = struct.unpack(">BHHB", handle.read(6))
            break
        if code in (0xD9, 0xDA):  # end of image, or scan data, before any frame header
            raise ImageReadError("not a readable JPEG: the image data comes before its frame header (corrupt)")
        handle.seek(length - 2, os.SEEK_CUR)
    info = ImageInfo(width, height, 1 if components == 1 else 3, "uint8" if precision <= 8 else "uint16", "jpeg")
    check_size(info)
    if _cut_short(handle, size, b"\xff\xd9"):
        raise ImageReadError(_TRUNCATED)
    return info


def _bmp_info(head: bytes, handle, size: int) -> ImageInfo:
    """BITMAPCOREHEADER (12 bytes) or BITMAPINFOHEADER and its successors (40 bytes or more)."""
    data_offset, header_size = struct.unpack("<II", head[10:18])
    if header_size == 12:
        width, height, _, bits = struct.unpack("<HHHH", head[18:26])
        compression, colours_used, entry_size = 0, 0, 3
    elif header_size >= 40:
        handle.seek(18)
        width, height, _, bits, compression, _, _, _, colours_used = struct.unpack("<iiHHIIiiI", handle.read(32))
        entry_size = 4
    else:
        raise ImageReadError(f"not a readable BMP: unknown header size {header_size} (corrupt file)")
    height = abs(height)  # negative: rows stored top-down
    if bits not in _BMP_BITS:
        raise ImageReadError(f"not a readable BMP: {bits} bits per pixel (corrupt file)")
    if compression not in _BMP_DECODED:
        raise ImageReadError(f"BMP compression {compression} cannot be decoded; save the image as PNG or TIFF")
    if compression == 3 and bits == 16:
        handle.seek(54)  # the colour masks follow a 40-byte header, and are part of longer ones
        if struct.unpack("<III", handle.read(12)) not in _BMP_16BIT_MASKS:
            raise ImageReadError("16-bit BMP with colour masks other than 5-6-5 or 5-5-5 cannot be decoded; "
                                 "save the image as PNG or TIFF")
    channels = 3
    if bits <= 8:  # palette images: gray when every palette entry is gray, as OpenCV decides
        handle.seek(14 + header_size)
        count = min(colours_used or 1 << bits, 256)
        palette = handle.read(count * entry_size)
        entries = [palette[i:i + 3] for i in range(0, len(palette) - 2, entry_size)]
        channels = 1 if all(e[0] == e[1] == e[2] for e in entries) else 3
    info = ImageInfo(width, height, channels, "uint8", "bmp")
    check_size(info)
    if compression in _BMP_UNCOMPRESSED and size < data_offset + (width * bits + 31) // 32 * 4 * height:
        raise ImageReadError(_TRUNCATED)
    return info


def _pillow_info(path: Path) -> ImageInfo:
    """Other content behind an image file name: whatever Pillow recognises (its bomb check may refuse it)."""
    with Image.open(path) as pil:
        channels = 1 if pil.mode in ("1", "L", "LA", "La", "I", "F") or pil.mode.startswith("I;16") else 3
        dtype = {"I": "int32", "F": "float32"}.get(pil.mode, "uint16" if pil.mode.startswith("I;16") else "uint8")
        info = ImageInfo(pil.width, pil.height, channels, dtype)
    check_size(info)
    return info
