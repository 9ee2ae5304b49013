"""OpenVINO runner: the checked ONNX export (onnx_backend.py) compiled by OpenVINO for the CPU, in 32-bit or
bfloat16 arithmetic (AMX / AVX512-BF16). On a busy 2-core Xeon with AMX it ran U-Net resnet18 tiles about
three times faster than PyTorch's bfloat16 autocast (tests/bench/README.md); path_choice.py measures it against
the others on each machine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from core.models.outputs import to_probabilities

HINTS = {"fp32": "f32", "bf16": "bf16"}


class OpenVinoRunner:
    """Tiles (N, C, H, W) float32 -> class probabilities; input shapes stay dynamic, as in the export."""

    def __init__(self, onnx_path: Path, precision: str):
        import openvino

        self.name = f"openvino-{precision}"
        core = openvino.Core()
        config = {"INFERENCE_PRECISION_HINT": HINTS[precision], "PERFORMANCE_HINT": "LATENCY",
                  "INFERENCE_NUM_THREADS": torch.get_num_threads()}
        self.compiled = core.compile_model(str(onnx_path), "CPU", config)
        self.request = self.compiled.create_infer_request()
        self._output = self.compiled.output(0)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        logits = self.request.infer({0: np.ascontiguousarray(batch, dtype=np.float32)})[self._output]
        return to_probabilities(torch.from_numpy(np.array(logits, dtype=np.float32))).numpy()
