"""Training samples: images and masks loaded once, random patches with augmentation for training,
a fixed grid of tiles for validation, and a deterministic train/validation split.

Partially labeled images: unlabeled pixels (IGNORE_INDEX) add nothing to the loss, so images are drawn in
proportion to their labeled pixels and their patches are centred on labeled pixels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.classes import IGNORE_INDEX
from core.data.augment import AugmentConfig, augment_pair
from core.errors import ConfigError
from core.io.images import Normalisation, non_finite_pixels, replace_non_finite

FOREGROUND_FRACTION = 0.33
"""Share of training patches centred on a labeled non-background pixel, so small classes are seen."""
_MAX_POINTS = 20_000


@dataclass(frozen=True)
class LoadedSample:
    """One labeled image in memory: native pixels, its whole-image normalisation levels, its index mask."""

    name: str
    image: np.ndarray  # (H, W, C), native dtype
    levels: np.ndarray  # (C, 2): per-channel (lo, hi) from Normalisation.levels on the whole image
    mask: np.ndarray  # (H, W) class indices, IGNORE_INDEX = unlabeled

    @classmethod
    def create(cls, name: str, image: np.ndarray, mask: np.ndarray, normalisation: Normalisation) -> LoadedSample:
        """NaN and infinite pixels become unlabeled in the mask (the network sees them as the low level)."""
        unusable = non_finite_pixels(image)
        if unusable is not None:
            mask = np.where(unusable, np.asarray(IGNORE_INDEX, mask.dtype), mask)
        planes = image[:, :, None] if image.ndim == 2 else image
        return cls(name, planes, normalisation.levels(image), mask)

    def foreground_points(self) -> np.ndarray:
        """Up to 20,000 (y, x) positions of labeled non-background pixels."""
        return self._points((self.mask > 0) & (self.mask != IGNORE_INDEX))

    def labeled_points(self) -> np.ndarray:
        """Up to 20,000 (y, x) positions of labeled pixels when some pixels are unlabeled; none when all are
        labeled (any patch then has labels)."""
        labeled = self.mask != IGNORE_INDEX
        return self._points(labeled) if not labeled.all() else np.zeros((0, 2), np.int64)

    def labeled_count(self) -> int:
        return int(np.count_nonzero(self.mask != IGNORE_INDEX))

    def _points(self, selected: np.ndarray) -> np.ndarray:
        flat = np.flatnonzero(selected)
        if flat.size > _MAX_POINTS:
            flat = flat[:: flat.size // _MAX_POINTS]
        return np.stack(np.unravel_index(flat, self.mask.shape), axis=1)


def crop_padded(array: np.ndarray, top: int, left: int, size: int, fill: float | None) -> np.ndarray:
    """array[top:top+size, left:left+size] for (H, W[, C]); outside the array: mirrored pixels (fill=None) or fill."""
    height, width = array.shape[:2]
    y0, x0, y1, x1 = max(top, 0), max(left, 0), min(top + size, height), min(left + size, width)
    region = array[y0:y1, x0:x1]
    pads = ((y0 - top, top + size - y1), (x0 - left, left + size - x1)) + ((0, 0),) * (array.ndim - 2)
    if not any(p for pair in pads for p in pair):
        return region
    if fill is not None:
        return np.pad(region, pads, mode="constant", constant_values=fill)
    return np.pad(region, pads, mode="symmetric")


def normalise_region(sample: LoadedSample, region: np.ndarray) -> np.ndarray:
    """(S, S, C) native pixels -> (C, S, S) float32 with the whole image's levels."""
    lo = sample.levels[:, 0].astype(np.float32)
    span = (sample.levels[:, 1] - sample.levels[:, 0]).astype(np.float32)
    normalised = np.ascontiguousarray(((region.astype(np.float32) - lo) / span).transpose(2, 0, 1))
    return replace_non_finite(normalised) if region.dtype.kind == "f" else normalised


class PatchDataset(torch.utils.data.Dataset):
    """Random, augmented patches; the same index gives the same patch in the same epoch (resumable)."""

    def __init__(self, samples: list[LoadedSample], patch_size: int, augment: AugmentConfig,
                 length: int, seed: int = 0):
        if not samples:
            raise ConfigError("no labeled images to train on")
        self.samples = samples
        self.patch_size = patch_size
        self.augment = augment
        self.length = length
        self.seed = seed
        self.epoch = 0
        labeled = np.array([s.labeled_count() for s in samples], dtype=np.float64)
        if labeled.sum() == 0:
            raise ConfigError("every pixel of the training images is unlabeled; label some pixels first")
        self._weights = labeled / labeled.sum()
        self._foreground = [s.foreground_points() for s in samples]
        self._labeled = [s.labeled_points() for s in samples]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng((self.seed, self.epoch, item))
        which = int(rng.choice(len(self.samples), p=self._weights))
        sample, foreground, labeled = self.samples[which], self._foreground[which], self._labeled[which]
        size = self.augment.crop_size(self.patch_size, rng)
        height, width = sample.mask.shape
        centres = foreground if len(foreground) and rng.random() < FOREGROUND_FRACTION else labeled
        if len(centres):  # a foreground pixel, or any labeled pixel of a partially labeled image
            y, x = centres[int(rng.integers(len(centres)))]
            top, left = int(y) - size // 2, int(x) - size // 2
        else:
            top = int(rng.integers(0, max(height - size, 0) + 1))
            left = int(rng.integers(0, max(width - size, 0) + 1))
        image = normalise_region(sample, crop_padded(sample.image, top, left, size, None))
        mask = crop_padded(sample.mask, top, left, size, IGNORE_INDEX)
        image, mask = augment_pair(image, mask, self.patch_size, self.augment, rng)
        return torch.from_numpy(image), torch.from_numpy(mask.astype(np.int64))


class ValidationTiles(torch.utils.data.Dataset):
    """Every validation image cut into a fixed grid of tiles; padding is labeled IGNORE_INDEX."""

    def __init__(self, samples: list[LoadedSample], tile_size: int):
        self.samples = samples
        self.tile_size = tile_size
        self.tiles = [(i, top, left) for i, s in enumerate(samples)
                      for top in range(0, s.mask.shape[0], tile_size)
                      for left in range(0, s.mask.shape[1], tile_size)]

    def __len__(self) -> int:
        return len(self.tiles)

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor]:
        which, top, left = self.tiles[item]
        sample = self.samples[which]
        image = normalise_region(sample, crop_padded(sample.image, top, left, self.tile_size, None))
        mask = crop_padded(sample.mask, top, left, self.tile_size, IGNORE_INDEX)
        return torch.from_numpy(image), torch.from_numpy(mask.astype(np.int64))

