"""Prediction settings and the callback types shared by the predictor and folder runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.device import DEVICE_CHOICES
from core.errors import ConfigError

BACKENDS = ("auto", "torch", "onnx", "openvino")
PRECISIONS = ("auto", "exact")

TileProgress = Callable[[int, int], None]
"""progress(done_tiles, total_tiles), called after every batch of tiles."""

PhaseCallback = Callable[[str], None]
"""on_phase(text): a step that takes a while before the first tile, in words (choosing how the network runs)."""

CancelCheck = Callable[[], bool]
"""cancel() -> True to stop (core.errors.Cancelled); checked between tile batches and between images."""


@dataclass(frozen=True)
class PredictOptions:
    """How an image is cut into tiles and run through the network.

    tile_size/overlap: square tiles of tile_size pixels, neighbours sharing `overlap` pixels that are
        blended with a raised-cosine ramp. Images smaller than a tile are padded, not tiled.
    batch_size: tiles per forward pass.
    tta: average the prediction over the image and its horizontal and vertical flips (3x slower).
    device: "cpu", "cuda", "cuda:N", "mps" or "auto" (core.device.select_device: the GPU when there is one).
    backend: "torch", "onnx" (onnxruntime, CPU only), "openvino" (CPU only) or "auto": the fastest way measured
        on this machine (core.inference.path_choice; a named backend that cannot run the model falls back to
        32-bit torch).
    precision: "auto": also reduced precision (bfloat16, float16, 8-bit) where it is faster, used only when
        its masks agree with 32-bit on at least 99.9% of the pixels of the first images; "exact": 32-bit only.
        backend_reason says what was chosen and why.
    return_probabilities: Predictor.predict returns (mask, probabilities) instead of the mask alone.
    onnx_cache_dir: where exported ONNX models are kept; None means $SEGLAB_ONNX_CACHE or ~/.cache/seglab/onnx.
    """

    tile_size: int = 512
    overlap: int = 64
    batch_size: int = 4
    tta: bool = False
    device: str = "cpu"
    backend: str = "auto"
    precision: str = "auto"
    return_probabilities: bool = False
    onnx_cache_dir: str | None = None

    def __post_init__(self):
        if self.tile_size < 16:
            raise ConfigError(f"tile size {self.tile_size} is too small; use at least 16 pixels (512 is usual)")
        if not 0 <= self.overlap < self.tile_size:
            raise ConfigError(f"overlap {self.overlap} must be at least 0 and less than the tile size {self.tile_size}")
        if self.batch_size < 1:
            raise ConfigError(f"batch size {self.batch_size} must be at least 1")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {self.precision!r}; choose one of: {', '.join(PRECISIONS)}")
        if self.backend not in BACKENDS:
            raise ConfigError(f"unknown backend {self.backend!r}; choose one of: {', '.join(BACKENDS)}")
        if self.device not in DEVICE_CHOICES and not self.device.startswith("cuda:"):
            raise ConfigError(f"unknown device {self.device!r}; choose one of: {', '.join(DEVICE_CHOICES)}, cuda:N")
