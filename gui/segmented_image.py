"""What a segmentation or evaluation job hands the window for each image it predicted."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SegmentedImage:
    name: str  # the sample
    mask_path: str  # where the prediction was written
    mask: np.ndarray
    uncertainty: np.ndarray | None = None  # uint8 0..255 map (core.inference.uncertainty.display_levels)
    score: float | None = None  # its uncertainty score
