"""Colour tables for the mask overlay, taken from the ClassTable so the viewer, legend and exports agree.

A colour table maps every possible uint8 mask value to a Qt ARGB colour. Class 0 (background) and the
unlabeled value (IGNORE_INDEX) are transparent; hidden classes get alpha 0. Changing a colour or the
visibility builds a new 256-entry table; the mask pixels are never touched.
"""

from __future__ import annotations

import cv2
import numpy as np

from core.classes import IGNORE_INDEX, ClassTable
from core.difference_colours import DIFFERENCE_KINDS

TABLE_SIZE = 256
OUTLINE_TINT = 0.45
UNCERTAINTY_FIRST_SHADE = 60  # the uncertainty colours skip inferno's near-black start  # how far towards white the prediction outline is drawn in the "both" layer


def _argb(rgb: np.ndarray, alpha: np.ndarray) -> list[int]:
    values = (alpha.astype(np.uint32) << 24) | (rgb[:, 0].astype(np.uint32) << 16) \
        | (rgb[:, 1].astype(np.uint32) << 8) | rgb[:, 2].astype(np.uint32)
    return [int(v) for v in values]


def class_colour_table(classes: ClassTable, hidden: frozenset[int] = frozenset(), tint: float = 0.0) -> list[int]:
    """ARGB table for an index mask: class colours (mixed towards white by `tint`), transparent background,
    unlabeled and hidden classes; values past the class table are drawn black, as core's lookup_table says."""
    rgb = classes.lookup_table(TABLE_SIZE)[:TABLE_SIZE].astype(np.float32)
    rgb = np.rint(rgb + (255.0 - rgb) * tint).astype(np.uint8)
    alpha = np.full(TABLE_SIZE, 255, dtype=np.uint8)
    alpha[0] = 0
    alpha[IGNORE_INDEX] = 0
    alpha[[i for i in hidden if 0 <= i < TABLE_SIZE]] = 0
    return _argb(rgb, alpha)


def difference_colour_table() -> list[int]:
    """ARGB table for difference codes (core.difference_colours); code 0 (agreement) is transparent."""
    rgb = np.zeros((TABLE_SIZE, 3), dtype=np.uint8)
    alpha = np.zeros(TABLE_SIZE, dtype=np.uint8)
    for kind in DIFFERENCE_KINDS:
        rgb[kind.code] = kind.colour
        alpha[kind.code] = 255
    return _argb(rgb, alpha)


def outline_opacity(opacity: float) -> float:
    """Thin outlines are drawn stronger than fills at the same slider value (and vanish at 0)."""
    return float(np.sqrt(max(0.0, min(1.0, opacity))))


def uncertainty_colour_table() -> list[int]:
    """ARGB table for a uint8 uncertainty map (0 certain .. 255 most uncertain): the perceptual inferno colour
    map from its purple on, with alpha rising in step with the uncertainty (certain pixels leave the image
    untouched), so the most unsure parts stand out and the structures under the others stay visible."""
    ramp = np.arange(TABLE_SIZE, dtype=np.float32) / (TABLE_SIZE - 1)
    shades = np.rint(UNCERTAINTY_FIRST_SHADE + ramp * (255 - UNCERTAINTY_FIRST_SHADE)).astype(np.uint8)
    bgr = cv2.applyColorMap(shades.reshape(-1, 1), cv2.COLORMAP_INFERNO).reshape(-1, 3)
    alpha = np.rint(ramp * 255).astype(np.uint8)
    return _argb(bgr[:, ::-1], alpha)
