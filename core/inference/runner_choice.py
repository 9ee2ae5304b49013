"""Choosing how to run a network for prediction: PyTorch (torch_runner.py) or ONNX Runtime (onnx_backend.py)."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from core.device import select_device
from core.errors import ConfigError
from core.inference.external_runner import ExternalNetwork
from core.inference.onnx_backend import OnnxUnavailable, onnx_runner
from core.inference.options import PredictOptions
from core.inference.torch_runner import TorchRunner
from core.models.spec import ModelSpec

log = logging.getLogger(__name__)


def choose_runner(model: torch.nn.Module | ExternalNetwork, spec: ModelSpec, options: PredictOptions):
    """The runner the options ask for; returns (runner, reason) where reason says why it was chosen.

    "auto" means ONNX Runtime on CPU (about 2x faster than eager torch on a 2-core machine) and torch on
    CUDA. When the ONNX export fails or disagrees with torch, prediction falls back to torch and says why.
    """
    device = select_device(options.device)
    if isinstance(model, ExternalNetwork):  # a BioImage.IO package's network: its own ONNX or TorchScript weights
        return model.runner(device, options.backend)
    if options.backend == "torch" or (options.backend == "auto" and device.kind != "cpu"):
        return TorchRunner(model, device), f"torch on {device.describe()}"
    if device.kind != "cpu":
        raise ConfigError(f"the onnx backend runs on the CPU only; use backend 'torch' on {device.describe()}")
    try:
        cache = Path(options.onnx_cache_dir) if options.onnx_cache_dir else None
        return onnx_runner(model, spec, cache), "onnxruntime on cpu"
    except OnnxUnavailable as exc:
        log.warning("ONNX backend not used, falling back to torch: %s", exc)
        return TorchRunner(model, device), f"torch on {device.describe()} (ONNX not used: {exc})"
