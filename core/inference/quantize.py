"""'Fast' precision on the CPU: an 8-bit copy of the checked ONNX model (onnxruntime static quantization,
per-channel weights), calibrated on tiles of the images being segmented and kept only when its masks agree
with the exact model's. Cached beside the exact model as <digest>.opset<N>.int8.onnx."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

import numpy as np

from core.inference.onnx_backend import OnnxRunner, OnnxUnavailable
from core.io.atomic import atomic_path

log = logging.getLogger(__name__)

MIN_AGREEMENT = 0.99
"""Share of calibration pixels whose class must be the same as with the exact model."""


def int8_runner(exact: OnnxRunner, calibration: np.ndarray) -> tuple[OnnxRunner, float]:
    """An 8-bit runner and its agreement with `exact` on `calibration` (N, C, H, W) float32 tiles.
    Raises OnnxUnavailable when quantization fails or the masks disagree too much."""
    target = exact.path.with_name(exact.path.name.removesuffix(".onnx") + ".int8.onnx")
    try:
        if not target.is_file():
            with tempfile.TemporaryDirectory() as folder:
                made = _quantize(exact.path, calibration, Path(folder))
                with atomic_path(target) as tmp:
                    shutil.copyfile(made, tmp)
        runner = OnnxRunner(target, name="onnx-int8")
    except Exception as exc:  # onnxruntime's quantization tools raise many types
        raise OnnxUnavailable(f"8-bit quantization failed ({type(exc).__name__}: {exc})") from None
    agreement = float(np.mean(runner(calibration).argmax(axis=1) == exact(calibration).argmax(axis=1)))
    if agreement < MIN_AGREEMENT:
        target.unlink(missing_ok=True)  # calibrated on other images; another folder may do better
        raise OnnxUnavailable(f"the 8-bit model agrees with the exact one on only {agreement:.2%} of the "
                              f"calibration pixels (at least {MIN_AGREEMENT:.0%} needed)")
    log.info("8-bit model %s agrees on %.3f%% of calibration pixels", target, 100 * agreement)
    return runner, agreement


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
