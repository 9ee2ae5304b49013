"""The ways a network can run on this machine ("candidates") and how each is built.

A candidate is named "<runtime>-<number format>": torch-fp32, torch-bf16 / torch-fp16 (autocast, channels-last),
onnx-fp32, onnx-int8 (onnxruntime), openvino-fp32, openvino-bf16. path_choice.py times them and picks one;
the builders here only construct. ONNX Runtime and OpenVINO run exported copies (onnx_backend.py), on the CPU.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.device import DeviceInfo
from core.errors import ConfigError
from core.inference.options import PredictOptions
from core.models.spec import ModelSpec

TITLES = {"torch-fp32": "PyTorch 32-bit", "torch-bf16": "PyTorch bfloat16 (channels-last)",
          "torch-fp16": "PyTorch float16 (channels-last)", "onnx-fp32": "ONNX Runtime 32-bit",
          "onnx-int8": "ONNX Runtime 8-bit", "openvino-fp32": "OpenVINO 32-bit", "openvino-bf16": "OpenVINO bfloat16"}
REDUCED = ("bf16", "fp16", "int8")
"""Number formats whose masks must pass the agreement check (path_choice.check_agreement)."""


class RunnerUnavailable(Exception):
    """A candidate cannot run this model here (export failed, a runtime refused it); the message says why."""


@dataclass
class BuildContext:
    """What the builders need, and the exact ONNX export they share (made at most once)."""

    model: object  # torch.nn.Module
    spec: ModelSpec
    device: DeviceInfo
    onnx_cache: Path | None
    tiles: np.ndarray | None = None  # calibration tiles of the run's first images (8-bit quantization)
    _exact_onnx: object = field(default=None, repr=False)

    def exact_onnx(self):
        """The checked fp32 OnnxRunner (exported on first use, then from the cache)."""
        from core.inference.onnx_backend import OnnxUnavailable, onnx_runner

        if self._exact_onnx is None:
            try:
                self._exact_onnx = onnx_runner(self.model, self.spec, self.onnx_cache)
            except OnnxUnavailable as exc:
                raise RunnerUnavailable(f"ONNX export not usable: {exc}") from None
        return self._exact_onnx


def is_reduced(name: str) -> bool:
    return name.rsplit("-", 1)[1] in REDUCED


def openvino_installed() -> bool:
    return importlib.util.find_spec("openvino") is not None


def candidate_names(device: DeviceInfo, options: PredictOptions) -> list[str]:
    """The candidates for this device and these options, the likely fastest first (path_choice times them in
    this order, within a budget). A backend other than auto keeps its own. On CPUs that compute bfloat16
    natively its paths come first and 8-bit is left out (it did not beat bfloat16 there: tests/bench/README.md);
    elsewhere 8-bit comes last, timed only when the budget allows."""
    from core.inference.torch_runner import reduced_dtype_name

    if device.kind != "cpu":
        if options.backend not in ("auto", "torch"):
            raise ConfigError(f"the {options.backend} backend runs on the CPU only; use backend 'torch' or "
                              f"'auto' on {device.describe()}")
        reduced = reduced_dtype_name(device)
        return ([f"torch-{reduced}"] if options.precision == "auto" and reduced else []) + ["torch-fp32"]
    if options.backend == "openvino" and not openvino_installed():
        raise ConfigError("the openvino backend needs the openvino package: pip install openvino")
    openvino = ["openvino"] if openvino_installed() else []
    bf16 = options.precision == "auto" and reduced_dtype_name(device) == "bf16"
    names = [f"{runtime}-bf16" for runtime in openvino + ["torch"]] if bf16 else []
    names += [f"{runtime}-fp32" for runtime in openvino + ["onnx", "torch"]]
    names = [name for name in names if options.backend == "auto" or name.startswith(options.backend + "-")]
    if options.precision == "auto" and options.backend in ("auto", "onnx") and not any(map(is_reduced, names)):
        names.append("onnx-int8")
    return names


def build_runner(name: str, context: BuildContext):
    """The runner for candidate `name`; raises RunnerUnavailable with the reason when it cannot be made."""
    return BUILDERS[name](context)


def reference_runner(context: BuildContext):
    """32-bit PyTorch for the agreement check: it runs once, on a few tiles, so BatchNorm is not folded."""
    from core.inference.torch_runner import TorchRunner

    return TorchRunner(context.model, context.device, fuse=False)


def discard(name: str, runner) -> None:
    """Forget a refused runner's cached file: an 8-bit copy calibrated on other images (another folder may
    do better); the other candidates keep nothing specific to the images."""
    if name == "onnx-int8":
        runner.path.unlink(missing_ok=True)


def _torch(context: BuildContext, reduced: bool):
    from core.inference.torch_runner import TorchRunner

    return TorchRunner(context.model, context.device, reduced=reduced)


def _onnx_int8(context: BuildContext):
    from core.inference.onnx_backend import OnnxUnavailable
    from core.inference.quantize import int8_runner

    if context.tiles is None:
        raise RunnerUnavailable("8-bit quantization needs tiles of the images to segment")
    try:
        return int8_runner(context.exact_onnx(), context.tiles)
    except OnnxUnavailable as exc:
        raise RunnerUnavailable(str(exc)) from None


def _openvino(context: BuildContext, precision: str):
    from core.inference.openvino_runner import OpenVinoRunner

    try:
        return OpenVinoRunner(context.exact_onnx().path, precision)
    except RunnerUnavailable:
        raise
    except Exception as exc:  # OpenVINO raises its own runtime errors for models it cannot compile
        raise RunnerUnavailable(f"OpenVINO cannot compile the model ({type(exc).__name__}: {exc})") from None


BUILDERS: dict[str, Callable[[BuildContext], object]] = {
    "torch-fp32": lambda context: _torch(context, False),
    "torch-bf16": lambda context: _torch(context, True),
    "torch-fp16": lambda context: _torch(context, True),
    "onnx-fp32": BuildContext.exact_onnx,
    "onnx-int8": _onnx_int8,
    "openvino-fp32": lambda context: _openvino(context, "fp32"),
    "openvino-bf16": lambda context: _openvino(context, "bf16"),
}
