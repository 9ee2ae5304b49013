"""What the contrast panel needs to know about an image: per-channel range and histogram. Numpy only,
run on a worker thread (a full pass over an 8000 x 8000 16-bit image takes a few hundred ms)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HISTOGRAM_BINS = 256
_HISTOGRAM_SAMPLES = 4_000_000


@dataclass(frozen=True)
class ImageStatistics:
    minimum: np.ndarray  # (C,) smallest finite value per channel
    maximum: np.ndarray  # (C,) largest finite value per channel
    low: float  # the histograms' common range, over all channels (integer images: whole-number bins)
    high: float
    counts: np.ndarray  # (C, bins) pixel counts per bin between low and high (sampled on huge images)
    integer: bool  # integer pixel values (levels move in whole steps)

    def min_max_levels(self) -> np.ndarray:
        """(C, 2) levels that stretch each channel from its smallest to its largest value."""
        levels = np.stack([self.minimum, self.maximum], axis=1).astype(np.float64)
        flat = levels[:, 1] <= levels[:, 0]
        levels[flat, 1] = levels[flat, 0] + 1
        return levels


def image_statistics(image: np.ndarray, cancelled=lambda: False) -> ImageStatistics:
    """Exact per-channel min/max; histograms from an evenly strided sample of at most ~4 M pixels."""
    planes = image[:, :, None] if image.ndim == 2 else image
    channels = planes.shape[2]
    integer = image.dtype.kind in "iub"
    minimum = np.zeros(channels)
    maximum = np.zeros(channels)
    for c in range(channels):
        plane = planes[:, :, c]
        if integer:
            minimum[c], maximum[c] = plane.min(), plane.max()
        else:
            minimum[c], maximum[c] = np.nan_to_num(np.nanmin(plane)), np.nan_to_num(np.nanmax(plane))
        if cancelled():
            break
    low, high = float(minimum.min()), float(maximum.max())
    bins = HISTOGRAM_BINS
    if integer:  # bins of whole numbers, so no bin is empty for want of a value
        width = int(np.ceil((high - low + 1) / HISTOGRAM_BINS))
        bins = int(np.ceil((high - low + 1) / width))
        high = low + bins * width
    elif high <= low:
        high = low + 1
    step = max(1, int(np.ceil(np.sqrt(planes.shape[0] * planes.shape[1] / _HISTOGRAM_SAMPLES))))
    sample = planes[::step, ::step]
    counts = np.zeros((channels, bins), dtype=np.float64)
    for c in range(channels):
        values = sample[:, :, c].ravel()
        if not integer:
            values = values[np.isfinite(values)]
        counts[c], _ = np.histogram(values, bins=bins, range=(low, high))
        if cancelled():
            break
    return ImageStatistics(minimum, maximum, low, high, counts, integer)
