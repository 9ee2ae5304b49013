"""Small synthetic datasets for fast tests: bright discs (class 1) and squares (class 2) on noise."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def make_shapes(size: int, seed: int, classes: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """A uint8 image and its index mask: discs are class 1, squares class 2 (when classes > 2)."""
    rng = np.random.default_rng(seed)
    image = rng.normal(60, 12, (size, size)).clip(0, 255)
    mask = np.zeros((size, size), np.uint8)
    for _ in range(4):
        y, x = rng.integers(12, size - 12, 2)
        radius = int(rng.integers(5, 11))
        cv2.circle(mask, (int(x), int(y)), radius, 1, -1)
        if classes > 2:
            y, x = rng.integers(10, size - 20, 2)
            cv2.rectangle(mask, (int(x), int(y)), (int(x) + 9, int(y) + 9), 2, -1)
    image[mask == 1] += 110
    image[mask == 2] += 60
    return image.clip(0, 255).astype(np.uint8), mask


def write_dataset(root: Path, count: int = 6, size: int = 64, classes: int = 2, binary_masks: bool = True) -> Path:
    """images/ + masks/ (0/255 masks when binary) in `root`."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(exist_ok=True)
    for i in range(count):
        image, mask = make_shapes(size, seed=i, classes=classes)
        cv2.imwrite(str(root / "images" / f"img{i}.png"), image)
        stored = mask * 255 if binary_masks and classes == 2 else mask
        cv2.imwrite(str(root / "masks" / f"img{i}.png"), stored)
    return root
