"""The PyTorch runner, and network_digest (what names an exported copy of a network).

A runner turns a batch of normalised tiles (N, C, H, W) float32 into class probabilities (N, K, H, W).
TorchRunner: an eval copy of the model with BatchNorm folded into the convolutions, channels_last,
inference_mode, and with reduced=True autocast to the device's fast format (bfloat16 on CPUs that compute it
natively and on recent GPUs, float16 on older GPUs). runner_choice.py builds the candidates, path_choice.py
picks one.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging

import numpy as np
import torch

from core.device import DeviceInfo, autocast_dtype, cpu_has_bf16
from core.models.outputs import main_output, to_probabilities
from core.models.spec import ModelSpec

log = logging.getLogger(__name__)


def reduced_dtype_name(device: DeviceInfo) -> str | None:
    """The autocast format that is fast on this device ("bf16" or "fp16"), or None where there is none
    (Apple GPUs, CPUs without native bfloat16, where it is emulated and slow)."""
    if device.kind == "cuda":
        return "bf16" if autocast_dtype(device) == torch.bfloat16 else "fp16"
    if device.kind == "cpu":
        return "bf16" if cpu_has_bf16() else None
    return None


class TorchRunner:
    """Tiles through an eval copy of the model: fp32, or autocast to the device's reduced format. fuse=False
    skips folding BatchNorm (half a second for a ResNet-18 U-Net) for a runner that runs only once."""

    def __init__(self, model: torch.nn.Module, device: DeviceInfo, reduced: bool = False, fuse: bool = True):
        self.device = torch.device(device.torch_device)
        dtype_name = reduced_dtype_name(device) if reduced else None
        if reduced and dtype_name is None:
            raise ValueError(f"{device.describe()} has no fast reduced-precision format")
        self.dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, None: torch.float32}[dtype_name]
        self.name = f"torch-{dtype_name or 'fp32'}"
        model = copy.deepcopy(model).eval()
        model = fuse_batchnorm(model) if fuse else model
        self.model = model.to(self.device, memory_format=torch.channels_last)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(batch).to(self.device).contiguous(memory_format=torch.channels_last)
        reduced = self.dtype != torch.float32
        with torch.inference_mode(), torch.autocast(self.device.type, self.dtype, enabled=reduced):
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
