"""PNG, JPEG and BMP: one plane, read whole by core.io.images (these formats cannot be read in parts)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.io.images import read_image
from core.io.readers.source import ImageSource, PlaneAddress, Scene, default_channel_names

_COLOUR_NAMES = {3: ["Red", "Green", "Blue"], 4: ["Red", "Green", "Blue", "Alpha"]}


class PlainSource(ImageSource):
    """A single-plane image; its pixels are read at open (to learn its size) and kept."""

    format_name = "image"

    def __init__(self, path: Path):
        self._pixels = read_image(path)
        height, width = self._pixels.shape[:2]
        channels = 1 if self._pixels.ndim == 2 else self._pixels.shape[2]
        scene = Scene(path.name, (height, width), self._pixels.dtype,
                      default_channel_names(channels, _COLOUR_NAMES.get(channels)), None, None, ((height, width),))
        super().__init__(path, (scene,), (PlaneAddress(),))

    def _read(self, address: PlaneAddress, level: int) -> np.ndarray:
        return self._pixels.reshape(*self._pixels.shape[:2], -1)
