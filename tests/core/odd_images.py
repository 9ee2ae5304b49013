"""A folder of odd, broken and fuzzed image files, made at test time (nothing big is committed).

write_odd_folder(folder) returns {file name: True if SegLab must read it, False if it must be refused}.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import cv2
import numpy as np
import tifffile
from PIL import Image

SIZE = 48  # pixels per side of the readable files


def gradient(channels: int = 1, dtype=np.uint8, top: int = 255) -> np.ndarray:
    """(SIZE, SIZE[, channels]) values rising from 0 to `top`, each channel shifted along the rows."""
    values = np.linspace(0, top, SIZE * SIZE).reshape(SIZE, SIZE)
    image = np.stack([np.roll(values, 7 * c, axis=1) for c in range(channels)], axis=2) if channels > 1 else values
    return image.astype(dtype)


def bmp_header(width: int, height: int, bits: int, compression: int = 0, header_size: int = 40,
               masks: tuple[int, ...] = ()) -> bytes:
    """BITMAPFILEHEADER + an info header of `header_size` bytes (40 = BITMAPINFOHEADER, 108 = V4)."""
    info = struct.pack("<IiiHHIIiiII", header_size, width, height, 1, bits, compression, 0, 2835, 2835, 0, 0)
    info += struct.pack("<" + "I" * len(masks), *masks)
    info += b"\0" * (header_size - len(info))
    offset = 14 + len(info)
    row_bytes = (width * bits + 31) // 32 * 4
    total = offset + row_bytes * abs(height)
    return b"BM" + struct.pack("<IHHI", min(total, 2**32 - 1), 0, 0, offset) + info


def bmp_32bit_with_alpha(image: np.ndarray) -> bytes:
    """A valid 32-bit BGRA BMP with a V4 header and BI_BITFIELDS masks, as image editors write them."""
    height, width = image.shape[:2]
    masks = (0x00FF0000, 0x0000FF00, 0x000000FF, 0xFF000000)
    pixels = np.ascontiguousarray(image[::-1, :, [2, 1, 0, 3]])  # bottom-up rows, BGRA
    return bmp_header(width, height, 32, compression=3, header_size=108, masks=masks) + pixels.tobytes()


def _encoded(image: np.ndarray, suffix: str) -> bytes:
    ok, data = cv2.imencode(suffix, image)
    assert ok
    return data.tobytes()


def _pillow_bytes(pil: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    pil.save(buffer, fmt, **options)
    return buffer.getvalue()


def _tiff_bytes(image: np.ndarray, **options) -> bytes:
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, image, **options)
    return buffer.getvalue()


def readable_files() -> dict[str, bytes]:
    """Valid files in less common flavours, each of which SegLab must read."""
    gray, rgb = gradient(), gradient(3)
    rgba = np.dstack([rgb, gradient()[::-1]])
    return {
        "bmp_32bit_alpha.bmp": bmp_32bit_with_alpha(rgba),
        "png_1bit.png": _pillow_bytes(Image.fromarray(gray > 127), "PNG"),
        "png_palette.png": _pillow_bytes(Image.fromarray(rgb).quantize(16), "PNG"),
        "png_16bit.png": _encoded(gradient(dtype=np.uint16, top=65535), ".png"),
        "png_gray_alpha.png": _pillow_bytes(Image.fromarray(np.dstack([gray, gray[::-1]]), "LA"), "PNG"),
        "png_rgba.png": _pillow_bytes(Image.fromarray(rgba, "RGBA"), "PNG"),
        "jpeg_cmyk.jpg": _pillow_bytes(Image.fromarray(rgb).convert("CMYK"), "JPEG"),
        "tiff_lzw.tif": _tiff_bytes(gradient(dtype=np.uint16, top=4095), compression="lzw"),
        "tiff_packbits.tif": _tiff_bytes(gray, compression="packbits"),
        "tiff_jpeg.tif": _tiff_bytes(rgb, compression="jpeg", photometric="rgb"),
        "tiff_ccitt_group4.tif": _pillow_bytes(Image.fromarray(gray > 127), "TIFF", compression="group4"),
    }


def broken_files() -> dict[str, bytes]:
    """Files no reader can turn into an image: truncated, fuzzed, empty, or with impossible sizes."""
    rng = np.random.default_rng(12)
    noise = rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()
    gray = gradient()
    png, jpeg, bmp = _encoded(gray, ".png"), _encoded(gradient(3), ".jpg"), _encoded(gray, ".bmp")
    tiff = _tiff_bytes(gray)
    return {
        "cut_png.png": png[: len(png) // 2],
        "cut_jpeg.jpg": jpeg[: len(jpeg) // 2],
        "cut_bmp.bmp": bmp[: len(bmp) // 2],
        "cut_tiff.tif": tiff[: len(tiff) // 2],
        "noise_png.png": b"\x89PNG\r\n\x1a\n" + noise,
        "noise_jpeg.jpg": b"\xff\xd8\xff\xe0" + noise,
        "noise_bmp.bmp": b"BM" + noise,
        "noise_tiff.tif": b"II*\x00" + noise,
        "giant_bmp.bmp": bmp_header(524_288, 524_287, 24) + noise,
        "too_wide_bmp.bmp": bmp_header(2**31 - 1, 1, 24) + noise,
        "empty.png": b"",
        "empty_tiff.tif": b"",
    }


def write_odd_folder(folder: Path) -> dict[str, bool]:
    """Write every odd file into `folder`; {name: must be readable}."""
    folder.mkdir(parents=True, exist_ok=True)
    expected = {}
    for readable, files in ((True, readable_files()), (False, broken_files())):
        for name, data in files.items():
            (folder / name).write_bytes(data)
            expected[name] = readable
    return expected
