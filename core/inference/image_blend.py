"""One image's outputs assembled from its tiles' class probabilities, band by band.

The Predictor keeps an ImageBlend per image it is predicting; tiles of several images may share a network call,
each tile's output goes to its own image's blend, and rows no later tile touches are turned into mask pixels
(and probabilities or uncertainty when asked for) as soon as they are final.
"""

from __future__ import annotations

import numpy as np

from core.inference.tiling import BandBlender, TileGrid
from core.inference.uncertainty import pixel_uncertainty
from core.io.masks import ignore_index_for


class ImageBlend:
    """The normalised source of one image, its tile grid, and its outputs as they are filled in."""

    def __init__(self, source: np.ndarray, levels: np.ndarray, grid: TileGrid, classes: int, mask_dtype: type,
                 unusable: np.ndarray | None, want_probabilities: bool, want_uncertainty: bool):
        self.source, self.levels, self.grid = source, levels, grid
        self.classes = classes
        self.unusable = unusable  # NaN or infinite pixels: unlabeled in the mask
        self.mask = np.empty((grid.height, grid.width), dtype=mask_dtype)
        self.probabilities = (np.empty((classes, grid.height, grid.width), np.float32)
                              if want_probabilities else None)
        self.uncertainty = np.empty((grid.height, grid.width), np.float32) if want_uncertainty else None
        self._blender = BandBlender(classes, grid.width)
        self._tiles_added = 0

    def add(self, row: int, col: int, output: np.ndarray) -> None:
        """Blend in the network's (K, padded_h, padded_w) output for tile (row, col); tiles come row by row."""
        grid = self.grid
        self._blender.add(*grid.origin(row, col), output[:, :grid.tile_h, :grid.tile_w], grid.weight(row, col))
        self._tiles_added += 1

    def release_final_rows(self) -> None:
        """Turn the rows that no later tile touches into outputs, and free their sums."""
        top = self._blender.top
        bottom = self.grid.final_rows(self._tiles_added // len(self.grid.col_starts))
        if bottom <= top:
            return
        block = self._blender.release(bottom, normalise=self.probabilities is not None or self.uncertainty is not None)
        self.mask[top:bottom] = block.argmax(axis=0)
        if self.probabilities is not None:
            self.probabilities[:, top:bottom] = block
        if self.uncertainty is not None:
            self.uncertainty[top:bottom] = pixel_uncertainty(block)

    def result(self) -> tuple[np.ndarray, np.ndarray | None]:
        """(mask, uncertainty) when uncertainty was asked for, else (mask, probabilities or None); NaN and
        infinite pixels unlabeled (and NaN in the uncertainty)."""
        if self.unusable is not None:
            self.mask[self.unusable] = ignore_index_for(self.classes)
            if self.uncertainty is not None:
                self.uncertainty[self.unusable] = np.nan
        return (self.mask, self.uncertainty) if self.uncertainty is not None else (self.mask, self.probabilities)
