"""An 8-bit copy of the checked ONNX model (onnxruntime static quantization, per-channel weights), calibrated
on tiles of the images being segmented; one of the CPU candidates of path_choice.py, used only when its masks
agree with 32-bit (path_choice.check_agreement). Cached beside the exact model as <digest>.opset<N>.int8.onnx;
runner_choice.discard removes a refused copy, so another folder calibrates its own."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

import numpy as np

from core.inference.onnx_backend import OnnxRunner, OnnxUnavailable
from core.io.atomic import atomic_path


def int8_runner(exact: OnnxRunner, calibration: np.ndarray) -> OnnxRunner:
    """An 8-bit runner calibrated on `calibration` (N, C, H, W) float32 tiles, from the cache when it is there
    (quantized in a helper process when called off the main thread: onnxruntime's tools hold the GIL for long
    stretches). Raises OnnxUnavailable when quantization fails."""
    from core.inference.isolated import run_isolated

    target = exact.path.with_name(exact.path.name.removesuffix(".onnx") + ".int8.onnx")
    try:
        if not target.is_file():
            run_isolated(quantize_to, exact.path, calibration, target)
        return OnnxRunner(target, name="onnx-int8")
    except Exception as exc:  # onnxruntime's quantization tools raise many types
        raise OnnxUnavailable(f"8-bit quantization failed ({type(exc).__name__}: {exc})") from None


def quantize_to(source: Path, calibration: np.ndarray, target: Path) -> None:
    """Write an 8-bit copy of `source`, calibrated on `calibration`, to `target` (atomically)."""
    with tempfile.TemporaryDirectory() as folder:
        made = _quantize(source, calibration, Path(folder))
        with atomic_path(target) as tmp:
            shutil.copyfile(made, tmp)


def _quantize(source: Path, calibration: np.ndarray, folder: Path) -> Path:
    """Quantize `source` into `folder` (onnxruntime's tools write their own temporary files there)."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Tiles(CalibrationDataReader):
        def __init__(self):
            self._tiles = iter(calibration)

        def get_next(self):
            tile = next(self._tiles, None)
            return None if tile is None else {"image": np.ascontiguousarray(tile[None], np.float32)}

    prepared, target = folder / "prepared.onnx", folder / "int8.onnx"
    quiet = _SkippedTensorNotes()
    logging.getLogger().addFilter(quiet)  # onnxruntime logs each shape tensor it leaves in float, with its proto
    try:
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(target), Tiles(), quant_format=QuantFormat.QOperator,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True)
    finally:
        logging.getLogger().removeFilter(quiet)
    return target


class _SkippedTensorNotes(logging.Filter):
    """Drops onnxruntime's notes about tensors it does not quantize (integer shape arithmetic): expected."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Inference failed or unsupported type to quantize")
