"""Where a prediction is unsure: a per-pixel map from the class probabilities (0 = certain, 1 = most
uncertain), one score per image, and the image's most uncertain region.

The map is the normalised entropy of the class probabilities (with test-time augmentation, of their mean
over the flips, so disagreement between the flips raises it too). On ISBI 2012 (two classes, where entropy
and 1 - max probability order pixels alike) it tells wrong from right pixels with AUROC 0.86, flips or not
(tests/bench/bench_uncertainty.py); entropy is kept because with more classes it also sees a tie between
the runners-up.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from core.errors import ConfigError

MEASURES = ("entropy", "margin")
DEFAULT_MEASURE = "entropy"
TOP_FRACTION = 0.05
"""The image score is the mean of this fraction of its most uncertain pixels: a few unsure cells in an
otherwise easy image still rank it high (in the suggestion benchmark, 0.697 held-out mIoU against 0.669
for the plain mean)."""
REGION_FRACTION = 1 / 3  # the suggested region's side, as a fraction of the image's shorter side
MIN_REGION = 64
_SEARCH_SIDE = 512  # the region is searched on a copy of the map at most this large


def pixel_uncertainty(probabilities: np.ndarray, measure: str = DEFAULT_MEASURE) -> np.ndarray:
    """(K, H, W) class probabilities -> (H, W) float32 in [0, 1]: 0 where one class has probability 1, 1
    where all K are equally likely. measure 'entropy': entropy / log K; 'margin': (1 - max) * K / (K - 1)."""
    probabilities = np.asarray(probabilities, dtype=np.float32)
    classes = probabilities.shape[0] if probabilities.ndim == 3 else 0
    if classes < 2:
        raise ConfigError(f"uncertainty needs (K, H, W) probabilities of at least 2 classes, got shape "
                          f"{probabilities.shape}")
    if measure == "entropy":
        logs = np.log(np.clip(probabilities, 1e-12, 1.0))
        logs *= probabilities
        result = logs.sum(axis=0)
        result *= -1.0 / math.log(classes)
    elif measure == "margin":
        result = 1.0 - probabilities.max(axis=0)
        result *= classes / (classes - 1)
    else:
        raise ConfigError(f"unknown uncertainty measure {measure!r}; choose one of: {', '.join(MEASURES)}")
    return np.clip(result, 0.0, 1.0, out=result).astype(np.float32, copy=False)


def image_score(uncertainty: np.ndarray, top_fraction: float = TOP_FRACTION) -> float:
    """One number per image, in [0, 1]: the mean of its `top_fraction` most uncertain pixels (1.0: the
    plain mean). NaN pixels (no prediction) are left out; an image without any scores 0."""
    values = np.asarray(uncertainty, dtype=np.float32).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 0.0
    if not 0 < top_fraction <= 1:
        raise ConfigError(f"top fraction {top_fraction} must be more than 0 and at most 1")
    count = max(1, math.ceil(values.size * top_fraction))
    return float(np.partition(values, values.size - count)[values.size - count:].mean())


def region_size(shape: tuple[int, int]) -> int:
    """The side of the suggested region for an image of this (height, width)."""
    return min(min(shape), max(MIN_REGION, round(min(shape) * REGION_FRACTION)))


def uncertain_region(uncertainty: np.ndarray, size: int | None = None) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of the square of side `size` (default region_size) with the highest mean
    uncertainty, inside the image; bottom and right exclusive. Found on a downsampled copy of large maps."""
    values = np.nan_to_num(np.asarray(uncertainty, dtype=np.float32), nan=0.0)
    height, width = values.shape
    size = min(size or region_size(values.shape), height, width)
    factor = max(1, math.ceil(max(height, width) / _SEARCH_SIDE))
    small = values if factor == 1 else cv2.resize(values, (math.ceil(width / factor), math.ceil(height / factor)),
                                                  interpolation=cv2.INTER_AREA)
    box = max(1, min(size // factor, *small.shape))
    sums = cv2.integral(small, sdepth=cv2.CV_64F)
    window = sums[box:, box:] - sums[:-box, box:] - sums[box:, :-box] + sums[:-box, :-box]
    row, col = np.unravel_index(int(np.argmax(window)), window.shape)
    top = min(height - size, row * factor)
    left = min(width - size, col * factor)
    return (int(top), int(left), int(top + size), int(left + size))


def display_levels(uncertainty: np.ndarray) -> np.ndarray:
    """The map as uint8 0..255 for drawing through a colour table (NaN: 0)."""
    scaled = np.multiply(uncertainty, 255.0, dtype=np.float32)
    np.nan_to_num(scaled, copy=False, nan=0.0)
    return cv2.convertScaleAbs(scaled)  # rounded and clipped to 0..255 (the map is never negative)
