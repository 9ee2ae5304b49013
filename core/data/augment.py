"""Augmentation applied alike to an image patch and its mask: flips, 90-degree rotations, scale,
brightness and contrast. Masks are resampled nearest-neighbour so class indices stay exact."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.errors import ConfigError


@dataclass(frozen=True)
class AugmentConfig:
    """What varies between training patches. scale=0.2 means crops of 0.8x to 1.25x the patch size."""

    flips: bool = True
    rotate90: bool = True
    scale: float = 0.2
    brightness: float = 0.1
    contrast: float = 0.1

    def __post_init__(self):
        if not 0.0 <= self.scale < 0.9:
            raise ConfigError(f"the scale augmentation must be at least 0 and below 0.9, got {self.scale}")
        if self.brightness < 0 or self.contrast < 0:
            raise ConfigError("brightness and contrast augmentation cannot be negative")

    @classmethod
    def none(cls) -> AugmentConfig:
        return cls(flips=False, rotate90=False, scale=0.0, brightness=0.0, contrast=0.0)

    def to_json(self) -> dict:
        return {"flips": self.flips, "rotate90": self.rotate90, "scale": self.scale,
                "brightness": self.brightness, "contrast": self.contrast}

    @classmethod
    def from_json(cls, data: dict | None) -> AugmentConfig:
        return cls(**{k: v for k, v in (data or {}).items() if k in cls.__dataclass_fields__})

    def crop_size(self, patch_size: int, rng: np.random.Generator) -> int:
        """Side of the region to cut before resizing to patch_size (scale augmentation)."""
        if self.scale <= 0:
            return patch_size
        factor = float(np.exp(rng.uniform(np.log(1 - self.scale), -np.log(1 - self.scale))))
        return max(8, round(patch_size * factor))


def augment_pair(image: np.ndarray, mask: np.ndarray, patch_size: int, config: AugmentConfig,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """image (C, S, S) float32 and mask (S, S) -> (C, P, P), (P, P): resized to patch_size, then
    flipped/rotated alike, then brightness/contrast on the image only."""
    if image.shape[1] != patch_size:
        image = np.stack([cv2.resize(c, (patch_size, patch_size), interpolation=cv2.INTER_LINEAR) for c in image])
        mask = cv2.resize(mask, (patch_size, patch_size), interpolation=cv2.INTER_NEAREST_EXACT)
    if config.flips and rng.random() < 0.5:
        image, mask = image[:, :, ::-1], mask[:, ::-1]
    if config.flips and rng.random() < 0.5:
        image, mask = image[:, ::-1, :], mask[::-1, :]
    if config.rotate90:
        turns = int(rng.integers(0, 4))
        image, mask = np.rot90(image, turns, axes=(1, 2)), np.rot90(mask, turns)
    if config.contrast > 0 or config.brightness > 0:
        gain = 1.0 + rng.uniform(-config.contrast, config.contrast)
        shift = rng.uniform(-config.brightness, config.brightness)
        image = image * np.float32(gain) + np.float32(shift)
    return np.ascontiguousarray(image, dtype=np.float32), np.ascontiguousarray(mask)
