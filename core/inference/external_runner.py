"""Runners for networks that come from outside SegLab (a BioImage.IO package): ONNX or TorchScript weights
with the package's own input size rules and output activation.

An ExternalNetwork stands where Predictor takes a torch model; runner_choice.py turns it into a runner. Each
tile is reflect-padded up to a size the network accepts, run alone (many packages fix the batch at 1),
cropped back, and turned into class probabilities the way the package says (sigmoid, softmax, a threshold).
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from core.device import DeviceInfo
from core.errors import ConfigError

RUNNABLE_FORMATS = ("onnx", "torchscript")


@dataclass(frozen=True)
class AxisSize:
    """Sizes a network accepts along y or x: minimum + k * step (step 0: exactly minimum)."""

    minimum: int
    step: int

    def fit(self, length: int) -> int:
        """The smallest accepted size at least `length`."""
        if self.step == 0:
            if length > self.minimum:
                raise ConfigError(f"a tile of {length} pixels is larger than the network's fixed input of "
                                  f"{self.minimum}; use a tile size of at most {self.minimum}")
            return self.minimum
        return self.minimum + max(0, math.ceil((length - self.minimum) / self.step)) * self.step


@dataclass(frozen=True)
class ExternalNetwork:
    """A network SegLab cannot rebuild but can run. read_weights(format) returns the weights file's bytes.

    activation: what turns the raw output into probabilities ("none" when the network already outputs them).
    threshold: for a one-channel output, the probability above which a pixel is foreground (0.5 usually).
    input_axes / output_axes: the tensors' axis order over b(atch), c(hannel), y, x; b and c may be absent.
    """

    name: str
    formats: tuple[str, ...]
    read_weights: Callable[[str], bytes]
    size_y: AxisSize
    size_x: AxisSize
    activation: str = "none"
    threshold: float = 0.5
    input_axes: str = "bcyx"
    output_axes: str = "bcyx"

    def runner(self, device: DeviceInfo, backend: str) -> tuple[ExternalRunner, str]:
        """The runner for the weights format the backend asks for; returns (runner, reason)."""
        wanted = {"onnx": ("onnx",), "torch": ("torchscript",)}.get(backend)
        if wanted is None:  # auto: ONNX Runtime on the CPU, TorchScript on a GPU
            wanted = ("onnx", "torchscript") if device.kind == "cpu" else ("torchscript", "onnx")
        chosen = next((f for f in wanted if f in self.formats), None)
        if chosen is None:
            raise ConfigError(f"{self.name} has no {' or '.join(wanted)} weights (it has: "
                              f"{', '.join(self.formats)}); choose backend 'auto'")
        if chosen == "onnx":
            run = _onnx_session(self.read_weights("onnx"))
            where = "onnxruntime on cpu"
        else:
            run = _torchscript_module(self.read_weights("torchscript"), device)
            where = f"torchscript on {device.describe()}"
        return ExternalRunner(self, run), f"{self.name}: {chosen} weights, {where}"


class ExternalRunner:
    """(N, C, h, w) normalised tiles -> (N, K, h, w) class probabilities (K = 2 for a one-channel output)."""

    def __init__(self, network: ExternalNetwork, run: Callable[[np.ndarray], np.ndarray]):
        self.network = network
        self.name = "bioimageio"
        self._run = run

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        height, width = batch.shape[2:]
        padded_h, padded_w = self.network.size_y.fit(height), self.network.size_x.fit(width)
        outputs = []
        for tile in batch:
            tile = np.pad(tile, ((0, 0), (0, padded_h - height), (0, padded_w - width)), mode="reflect")
            raw = self._run(np.ascontiguousarray(to_layout(tile, self.network.input_axes), dtype=np.float32))
            outputs.append(from_layout(raw, self.network.output_axes)[:, :height, :width])
        return class_probabilities(np.stack(outputs), self.network.activation, self.network.threshold)


def to_layout(tile: np.ndarray, axes: str) -> np.ndarray:
    """A (C, h, w) tile in the axis order `axes` (a missing c needs C == 1; b becomes a batch of one)."""
    dims = "cyx"
    if "c" not in axes:
        tile, dims = tile[0], "yx"
    if "b" in axes:
        tile, dims = tile[None], "b" + dims
    return tile.transpose([dims.index(axis) for axis in axes])


def from_layout(output: np.ndarray, axes: str) -> np.ndarray:
    """A network output in the axis order `axes` -> (K, h, w) of its first batch entry."""
    output = np.asarray(output)
    if "b" in axes:
        output, axes = np.take(output, 0, axis=axes.index("b")), axes.replace("b", "")
    if "c" not in axes:
        output, axes = output[None], "c" + axes
    return output.transpose([axes.index(axis) for axis in "cyx"])


def class_probabilities(raw: np.ndarray, activation: str, threshold: float = 0.5) -> np.ndarray:
    """Raw outputs (N, K, h, w) -> probabilities as SegLab blends them: a one-channel output p becomes the two
    classes (1 - p, p), with p stretched so that `threshold` lands on 0.5 (the argmax then honours it)."""
    scores = torch.from_numpy(np.ascontiguousarray(raw, dtype=np.float32))
    if activation == "sigmoid":
        scores = torch.sigmoid(scores)
    elif activation == "softmax":
        scores = torch.softmax(scores, dim=1)
    if scores.shape[1] > 1:
        return scores.numpy()
    p = scores.clamp(0, 1)
    if threshold != 0.5:
        p = torch.where(p < threshold, p / (2 * threshold), 0.5 + (p - threshold) / (2 * (1 - threshold)))
    return torch.cat([1 - p, p], dim=1).numpy()


def _onnx_session(weights: bytes) -> Callable[[np.ndarray], np.ndarray]:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    try:
        session = onnxruntime.InferenceSession(weights, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ConfigError(f"onnxruntime cannot load the package's ONNX weights: {exc}") from None
    name = session.get_inputs()[0].name
    return lambda tile: session.run(None, {name: tile})[0]


def _torchscript_module(weights: bytes, device: DeviceInfo) -> Callable[[np.ndarray], np.ndarray]:
    # torch.jit.load reads a TorchScript archive: a graph in TorchScript's own restricted language, not a
    # Python pickle that imports and calls arbitrary functions. The file is one the user chose to open, and
    # nothing is fetched from the network, so running it is what the user asked for.
    target = torch.device(device.torch_device)
    try:
        with warnings.catch_warnings():
            # torch marks jit.load deprecated in favour of torch.export; TorchScript is the package's format.
            warnings.filterwarnings("ignore", category=FutureWarning, message=".*torch.jit.load.*")
            module = torch.jit.load(io.BytesIO(weights), map_location=target).eval()
    except (RuntimeError, ValueError) as exc:
        raise ConfigError(f"the package's TorchScript weights cannot be loaded: {exc}") from None

    def run(tile: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            output = module(torch.from_numpy(tile).to(target))
        output = output[0] if isinstance(output, (tuple, list)) else output
        return output.float().cpu().numpy()

    return run
