"""Mask pictures for export: index masks (paletted PNG or label TIFF), colour masks, and overlays of the
coloured mask on the image for slides. Colours are the class table's, as in the viewer and thumbnails;
unlabeled pixels (the ignore value) are UNLABELED_COLOUR in colour masks, as in the paletted PNG's palette."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import tifffile
from PIL import Image

from core.classes import ClassTable
from core.errors import MaskFormatError
from core.io.atomic import write_atomic
from core.io.images import display_view, percentile_levels
from core.io.masks import MAX_PNG_CLASSES, UNLABELED_COLOUR, ignore_index_for, write_mask

OVERLAY_OPACITY = 0.45
"""How strongly a class colour covers the image in overlays (the viewer's default opacity)."""

_MICROMETRES_PER_CM = 1e4


def write_index_png(path: str | Path, mask: np.ndarray, classes: ClassTable) -> Path:
    """Paletted PNG: pixel value = class index, palette = class colours (SegLab's own mask format)."""
    return write_mask(Path(path).with_suffix(".png"), mask, classes)


def write_label_tiff(path: str | Path, mask: np.ndarray, classes: ClassTable,
                     pixel_size_um: tuple[float, float] | None = None) -> Path:
    """Single-channel TIFF of class indices (8-bit, 16-bit past 255 classes), e.g. for Fiji or napari. With
    a pixel size (y, x) µm it is an OME-TIFF with PhysicalSizeX/Y (Bio-Formats, napari) and resolution
    tags in pixels per centimetre (ImageJ, any TIFF reader), so areas measured there are in µm²."""
    path = Path(path).with_suffix(".tif")
    top = 65535 if len(classes) > MAX_PNG_CLASSES else 255
    fits = mask.ndim == 2 and mask.dtype.kind in "iub" and (not mask.size or 0 <= mask.min() <= mask.max() <= top)
    if pixel_size_um is None or not fits:
        return write_mask(path, mask, classes)  # raises the MaskFormatError that names what does not fit
    data = np.ascontiguousarray(mask, np.uint8 if top == 255 else np.uint16)
    y, x = pixel_size_um
    metadata = {"axes": "YX", "PhysicalSizeX": x, "PhysicalSizeXUnit": "µm", "PhysicalSizeY": y,
                "PhysicalSizeYUnit": "µm"}
    write_atomic(path, lambda tmp: tifffile.imwrite(
        tmp, data, ome=True, photometric="minisblack", compression="zlib", metadata=metadata,
        resolution=(_MICROMETRES_PER_CM / x, _MICROMETRES_PER_CM / y), resolutionunit="CENTIMETER"))
    return path


def colour_mask(mask: np.ndarray, classes: ClassTable) -> np.ndarray:
    """(H, W) index mask -> (H, W, 3) uint8 RGB in the class colours; unlabeled pixels UNLABELED_COLOUR."""
    ignore = ignore_index_for(len(classes))
    lut = classes.lookup_table(max(int(mask.max(initial=0)), len(classes) - 1, ignore) + 1)
    lut[ignore] = UNLABELED_COLOUR
    return lut[mask]


def write_colour_png(path: str | Path, mask: np.ndarray, classes: ClassTable) -> Path:
    path = Path(path).with_suffix(".png")
    _write_rgb(path, colour_mask(mask, classes))
    return path


def overlay_image(image: np.ndarray, mask: np.ndarray, classes: ClassTable,
                  opacity: float = OVERLAY_OPACITY) -> np.ndarray:
    """The image (contrast stretched as the viewer shows it) with every class but 0 blended in its colour
    and outlined at full colour; unlabeled pixels are left as they are. Returns (H, W, 3) uint8 RGB."""
    if image.shape[:2] != mask.shape:
        raise MaskFormatError(f"the mask is {mask.shape[1]}x{mask.shape[0]} but the image is "
                              f"{image.shape[1]}x{image.shape[0]}")
    picture = display_rgb(image)
    painted = (mask != 0) & (mask != ignore_index_for(len(classes)))
    colours = colour_mask(mask, classes)
    blended = picture.astype(np.float32)
    blended[painted] = (1 - opacity) * blended[painted] + opacity * colours[painted]
    out = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    edges = painted & _class_edges(mask)
    out[edges] = colours[edges]
    return out


def display_rgb(image: np.ndarray) -> np.ndarray:
    """The image as the viewer shows it by default (percentile contrast), always (H, W, 3) uint8."""
    view = display_view(image, percentile_levels(image))
    return np.repeat(view[:, :, None], 3, axis=2) if view.ndim == 2 else view


def write_overlay_png(path: str | Path, image: np.ndarray, mask: np.ndarray, classes: ClassTable) -> Path:
    path = Path(path).with_suffix(".png")
    _write_rgb(path, overlay_image(image, mask, classes))
    return path


_CROSS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], np.uint8)


def _class_edges(mask: np.ndarray) -> np.ndarray:
    """Pixels with a 4-neighbour of another value (the inner border of every region)."""
    values = mask.astype(np.uint16, copy=False)
    low = cv2.erode(values, _CROSS, borderType=cv2.BORDER_REPLICATE)
    high = cv2.dilate(values, _CROSS, borderType=cv2.BORDER_REPLICATE)
    return (low != values) | (high != values)


def _write_rgb(path: Path, rgb: np.ndarray) -> None:
    picture = Image.fromarray(np.ascontiguousarray(rgb), "RGB")
    write_atomic(path, lambda tmp: picture.save(tmp, format="PNG"))
