"""The PyTorch runner, and network_digest (what names an exported copy of a network).

A runner turns a batch of normalised tiles (N, C, H, W) float32 into class probabilities (N, K, H, W).
TorchRunner: an eval copy of the model with BatchNorm folded into the convolutions, channels_last,
inference_mode, and mixed precision (autocast) on CUDA. The ONNX runner (onnx_backend.py) builds on this
module; runner_choice.py picks one of them.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging

import numpy as np
import torch

from core.device import DeviceInfo, autocast_dtype
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
