"""Tile layout and seam blending, in plain numpy.

A TileGrid places tiles in rows; BandBlender accumulates weighted class probabilities only for the image rows
that some tile row still covers, so memory grows with the image width, not its area.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


def axis_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Tile start positions along one axis: stride tile - overlap, the last tile flush with the end."""
    if length <= tile:
        return [0]
    stride = tile - overlap
    return list(range(0, length - tile, stride)) + [length - tile]


def blend_window(size: int, ramp: int, ramp_start: bool, ramp_end: bool) -> np.ndarray:
    """1-D weights: a raised-cosine rise over `ramp` pixels at each side that meets a neighbour, else 1.

    Weights stay above zero, so every pixel is covered; edges of the image keep full weight.
    """
    weights = np.ones(size, dtype=np.float32)
    ramp = min(ramp, size // 2)
    if ramp > 0:
        rise = (0.5 - 0.5 * np.cos(np.pi * (np.arange(ramp) + 0.5) / ramp)).astype(np.float32)
        if ramp_start:
            weights[:ramp] = np.minimum(weights[:ramp], rise)
        if ramp_end:
            weights[size - ramp:] = np.minimum(weights[size - ramp:], rise[::-1])
    return weights


def round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


@dataclass(frozen=True)
class TileGrid:
    """Where the tiles of an image lie. Tiles are tile_h x tile_w (smaller than the tile size only when the
    image is), in row-major order; the network sees them padded to padded_h x padded_w."""

    height: int
    width: int
    tile_h: int
    tile_w: int
    padded_h: int
    padded_w: int
    row_starts: tuple[int, ...]
    col_starts: tuple[int, ...]
    overlap: int

    @classmethod
    def for_image(cls, height: int, width: int, tile_size: int, overlap: int, size_multiple: int) -> TileGrid:
        tile_h, tile_w = min(tile_size, height), min(tile_size, width)
        return cls(
            height, width, tile_h, tile_w,
            round_up(tile_h, size_multiple), round_up(tile_w, size_multiple),
            tuple(axis_starts(height, tile_size, overlap)), tuple(axis_starts(width, tile_size, overlap)),
            overlap,
        )

    @property
    def count(self) -> int:
        return len(self.row_starts) * len(self.col_starts)

    def tiles(self) -> list[tuple[int, int]]:
        """(row index, column index) of every tile, row by row."""
        return [(r, c) for r in range(len(self.row_starts)) for c in range(len(self.col_starts))]

    def origin(self, row: int, col: int) -> tuple[int, int]:
        return self.row_starts[row], self.col_starts[col]

    def weight(self, row: int, col: int) -> np.ndarray:
        """(tile_h, tile_w) blending weights of one tile."""
        return self._row_windows[row][:, None] * self._col_windows[col][None, :]

    def final_rows(self, complete_tile_rows: int) -> int:
        """Image rows that no later tile touches once the first `complete_tile_rows` tile rows are added."""
        if complete_tile_rows >= len(self.row_starts):
            return self.height
        return self.row_starts[complete_tile_rows]

    @cached_property
    def _row_windows(self) -> list[np.ndarray]:
        return _windows(self.row_starts, self.tile_h, self.height, self.overlap)

    @cached_property
    def _col_windows(self) -> list[np.ndarray]:
        return _windows(self.col_starts, self.tile_w, self.width, self.overlap)


def _windows(starts: tuple[int, ...], size: int, length: int, overlap: int) -> list[np.ndarray]:
    return [blend_window(size, overlap, start > 0, start + size < length) for start in starts]


class BandBlender:
    """Weighted sums of class probabilities for the open band of rows [top, top + rows)."""

    def __init__(self, classes: int, width: int):
        self.top = 0
        self._sums = np.zeros((classes, 0, width), dtype=np.float32)
        self._weights = np.zeros((0, width), dtype=np.float32)

    def add(self, y: int, x: int, probabilities: np.ndarray, weight: np.ndarray) -> None:
        """Blend one tile's (C, h, w) probabilities in at image position (y, x)."""
        h, w = weight.shape
        self._ensure_rows(y + h)
        r = y - self.top
        self._sums[:, r:r + h, x:x + w] += probabilities * weight
        self._weights[r:r + h, x:x + w] += weight

    def release(self, bottom: int, normalise: bool) -> np.ndarray:
        """Hand out rows [top, bottom) and forget them: probabilities (C, n, W) if normalise, else weighted
        sums (enough for an argmax)."""
        n = bottom - self.top
        block = self._sums[:, :n].copy()
        if normalise:
            block /= self._weights[:n]
        rest = self._weights.shape[0] - n
        self._sums[:, :rest] = self._sums[:, n:]
        self._sums[:, rest:] = 0
        self._weights[:rest] = self._weights[n:]
        self._weights[rest:] = 0
        self.top = bottom
        return block

    def _ensure_rows(self, bottom: int) -> None:
        rows = bottom - self.top
        have = self._weights.shape[0]
        if rows <= have:
            return
        sums = np.zeros((self._sums.shape[0], rows, self._sums.shape[2]), dtype=np.float32)
        weights = np.zeros((rows, self._weights.shape[1]), dtype=np.float32)
        sums[:, :have] = self._sums
        weights[:have] = self._weights
        self._sums, self._weights = sums, weights
