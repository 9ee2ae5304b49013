"""ONNX Runtime backend: export a model once to a cache, check it against torch, run tiles with it.

The export uses torch's TorchScript-based exporter (dynamo=False): the newer dynamo exporter needs the
`onnxscript` package, which SegLab does not ship. Cache files are named by network_digest and only land in
the cache (atomically) once their output matched torch's, so a cached file is a checked file.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from core.device import select_device
from core.inference.torch_runner import TorchRunner, network_digest
from core.io.atomic import atomic_path
from core.models.outputs import main_output, to_probabilities
from core.models.spec import ModelSpec

log = logging.getLogger(__name__)

OPSET = 17
EXPORT_SHAPE = (1, 64, 64)
"""(batch, height, width) traced at export; height, width and batch stay dynamic in the graph."""
VERIFY_SHAPE = (2, 96, 128)
"""A different shape for the check, so a graph that baked in its export shape is caught."""
TOLERANCE = 1e-3
"""Largest allowed difference between ONNX and torch class probabilities."""


class OnnxUnavailable(Exception):
    """The model cannot run under ONNX Runtime (export failed, or its output disagrees with torch)."""


def default_cache_dir() -> Path:
    return Path(os.environ.get("SEGLAB_ONNX_CACHE") or Path.home() / ".cache" / "seglab" / "onnx")


class OnnxRunner:
    """Runs tiles one at a time: onnxruntime already uses every core within a tile, so larger batches gain
    nothing on CPU (measured) and multiply the memory its arena keeps (about 200 MB per 512 x 512 tile)."""

    def __init__(self, path: Path, name: str = "onnx-fp32"):
        import onnxruntime

        self.path = Path(path)
        self.name = name
        session_options = onnxruntime.SessionOptions()
        session_options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        session_options.intra_op_num_threads = torch.get_num_threads()
        self.session = onnxruntime.InferenceSession(str(path), session_options, providers=["CPUExecutionProvider"])
        self._input = self.session.get_inputs()[0].name

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        logits = [self.session.run(None, {self._input: batch[i:i + 1]})[0] for i in range(len(batch))]
        return to_probabilities(torch.from_numpy(np.concatenate(logits))).numpy()


def onnx_runner(model: torch.nn.Module, spec: ModelSpec, cache_dir: Path | None = None) -> OnnxRunner:
    """An OnnxRunner for the model from the cache, or exported, checked against torch and then cached (in a
    helper process when called off the main thread: the export holds the GIL for long stretches).

    Raises OnnxUnavailable with the reason when the export fails or the outputs disagree.
    """
    from core.inference.isolated import HelperProcessFailed, run_isolated

    path = (cache_dir or default_cache_dir()) / f"{network_digest(model, spec)}.opset{OPSET}.onnx"
    if path.is_file():
        try:
            return OnnxRunner(path)
        except Exception as exc:  # onnxruntime raises its own types; a damaged cache file is exported again
            log.warning("cached ONNX model %s is unusable (%s); exporting again", path, exc)
    try:
        run_isolated(export_checked, model, spec.in_channels, path)
    except HelperProcessFailed as exc:
        raise OnnxUnavailable(f"export failed: {exc}") from None
    log.info("exported and checked ONNX model %s", path)
    return OnnxRunner(path)


def export_checked(model: torch.nn.Module, in_channels: int, path: Path) -> None:
    """Export the model to `path` once its ONNX output matched torch's; raises OnnxUnavailable otherwise."""
    reference = TorchRunner(model, select_device("cpu"))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            export_onnx(reference.model, in_channels, tmp)
            try:
                runner = OnnxRunner(tmp)
            except Exception as exc:  # onnxruntime's own exception types
                raise OnnxUnavailable(f"onnxruntime cannot load the exported model: {exc}") from None
            difference = _largest_difference(runner, reference, in_channels)
            if not difference <= TOLERANCE:
                raise OnnxUnavailable(f"ONNX output differs from torch by {difference:.2g} (tolerance {TOLERANCE})")
    except OSError as exc:
        raise OnnxUnavailable(f"cannot write the ONNX cache folder {path.parent}: {exc}") from None


def export_onnx(model: torch.nn.Module, in_channels: int, path: Path) -> None:
    """Write an eval-mode model as ONNX (logits output, dynamic batch/height/width) to `path`."""
    batch, height, width = EXPORT_SHAPE
    example = torch.randn(batch, in_channels, height, width)
    dynamic = {0: "batch", 2: "height", 3: "width"}
    try:
        with warnings.catch_warnings(), torch.no_grad():
            # The legacy exporter is chosen on purpose (see the module docstring); its deprecation notices
            # are not actionable here.
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx")
            warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
            # The wrapper must be in eval mode: the exporter restores the wrapper's mode afterwards, recursively,
            # and a fresh module is in training mode, which would leave BatchNorm of `model` training.
            torch.onnx.export(MainOutput(model).eval(), (example,), str(path), dynamo=False, opset_version=OPSET,
                              input_names=["image"], output_names=["logits"],
                              dynamic_axes={"image": dynamic, "logits": dynamic})
    except Exception as exc:  # the exporter raises many types for unsupported models
        raise OnnxUnavailable(f"export failed ({type(exc).__name__}: {exc})") from None


class MainOutput(torch.nn.Module):
    """The prediction alone of models that also return deep-supervision outputs (for ONNX and TorchScript)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        return main_output(self.model(x))


def _largest_difference(runner: OnnxRunner, reference: TorchRunner, in_channels: int) -> float:
    batch, height, width = VERIFY_SHAPE
    generator = torch.Generator().manual_seed(0)
    sample = torch.randn(batch, in_channels, height, width, generator=generator).numpy()
    try:
        ours = runner(sample)
    except Exception as exc:  # onnxruntime's own exception types
        raise OnnxUnavailable(f"onnxruntime failed on a {height}x{width} input: {exc}") from None
    expected = reference(sample)
    if ours.shape != expected.shape:
        raise OnnxUnavailable(f"ONNX output shape {ours.shape} differs from torch's {expected.shape}")
    return float(np.abs(ours - expected).max())
