"""Runners turn a batch of normalised tiles (N, C, H, W) float32 into class probabilities (N, K, H, W).

TorchRunner: an eval copy of the model with BatchNorm folded into the convolutions, channels_last,
inference_mode, and mixed precision (autocast) on CUDA. The ONNX runner lives in onnx_backend.py;
choose_runner picks one.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import torch

from core.device import DeviceInfo, autocast_dtype, select_device
from core.errors import ConfigError
from core.inference.options import PredictOptions
from core.models.outputs import main_output, to_probabilities
from core.models.spec import ModelSpec

log = logging.getLogger(__name__)


class TorchRunner:
    name = "torch"

    def __init__(self, model: torch.nn.Module, device: DeviceInfo):
        self.device = torch.device(device.torch_device)
        self.amp = device.amp
        self.amp_dtype = autocast_dtype(device)
        model = fuse_batchnorm(copy.deepcopy(model).eval())
        self.model = model.to(self.device, memory_format=torch.channels_last)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(batch).to(self.device).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), torch.autocast(self.device.type, self.amp_dtype, enabled=self.amp):
            logits = main_output(self.model(x))
        return to_probabilities(logits.float()).cpu().numpy()


def fuse_batchnorm(model: torch.nn.Module) -> torch.nn.Module:
    """Fold eval-mode BatchNorm into the preceding convolution (a traced copy); the model as is when its
    forward cannot be traced (Python control flow), which only costs a little speed."""
    from torch.fx.experimental.optimization import fuse

    try:
        return fuse(model, inplace=True)
    except Exception as exc:  # tracing fails in many ways on dynamic models
        log.info("BatchNorm not fused (%s: %s); running the model unfused", type(exc).__name__, exc)
        return model


def network_digest(model: torch.nn.Module, spec: ModelSpec) -> str:
    """sha256 of what defines the computation: model class, architecture settings and weights.

    Names the ONNX cache file, so any change of weights or code version exports afresh.
    """
    from core import __version__

    digest = hashlib.sha256()
    header = {
        "class": f"{type(model).__module__}.{type(model).__qualname__}",
        "architecture": spec.architecture, "encoder": spec.encoder, "in_channels": spec.in_channels,
        "out_channels": spec.out_channels, "options": spec.options,
        "seglab": __version__, "torch": torch.__version__,
    }
    digest.update(json.dumps(header, sort_keys=True, default=str).encode())
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def choose_runner(model: torch.nn.Module, spec: ModelSpec, options: PredictOptions):
    """The runner the options ask for; returns (runner, reason) where reason says why it was chosen.

    "auto" means ONNX Runtime on CPU (about 2x faster than eager torch on a 2-core machine) and torch on
    CUDA. When the ONNX export fails or disagrees with torch, prediction falls back to torch and says why.
    """
    device = select_device(options.device)
    if options.backend == "torch" or (options.backend == "auto" and device.kind != "cpu"):
        return TorchRunner(model, device), f"torch on {device.describe()}"
    if device.kind != "cpu":
        raise ConfigError(f"the onnx backend runs on the CPU only; use backend 'torch' on {device.describe()}")
    from core.inference.onnx_backend import OnnxUnavailable, onnx_runner

    try:
        cache = Path(options.onnx_cache_dir) if options.onnx_cache_dir else None
        return onnx_runner(model, spec, cache), "onnxruntime on cpu"
    except OnnxUnavailable as exc:
        log.warning("ONNX backend not used, falling back to torch: %s", exc)
        return TorchRunner(model, device), f"torch on {device.describe()} (ONNX not used: {exc})"
