"""How a training step runs fastest on this machine: number format (fp32, bfloat16 or float16 autocast) and memory
layout (NCHW or channels-last). CUDA keeps mixed precision with channels-last; Apple GPUs use float16 autocast
where this PyTorch has it; on the CPU the candidates the processor supports are timed once per machine (a few
real training steps of the network family at the run's batch and crop size: the order changes with size, e.g.
float32 channels-last ties bfloat16 at 256 px but is 1.9x slower at 512 px on a Xeon with AMX) and the fastest
is kept in the user's data folder, keyed by the torch version, the CPU model, the network family and the size.
bfloat16 is only a candidate on CPUs that compute it natively (AVX512-BF16 or AMX); elsewhere it is emulated and
slow, and bfloat16 in NCHW is not tried (every convolution then converts layouts: slowest of all there)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.device import cpu_has_bf16
from core.machine_measurements import read_measurements, store_measurements

if TYPE_CHECKING:
    import torch

    from core.device import DeviceInfo

CACHE_NAME = "training_speed.json"
TIMED_STEPS = 2  # rounds after a warm-up round


@dataclass(frozen=True)
class Precision:
    """How training steps run: autocast (and its dtype name) and the memory layout."""

    autocast: bool
    dtype: str  # "float32" | "bfloat16" | "float16"
    channels_last: bool
    reason: str

    @property
    def torch_dtype(self) -> torch.dtype:
        import torch

        return getattr(torch, self.dtype)

    @property
    def memory_format(self) -> torch.memory_format:
        import torch

        return torch.channels_last if self.channels_last else torch.contiguous_format

    def describe(self) -> str:
        layout = "channels-last" if self.channels_last else "NCHW"
        return f"{self.dtype if self.autocast else 'float32'}, {layout} ({self.reason})"


CPU_CANDIDATES = {
    "fp32": Precision(False, "float32", False, "plain"),
    "fp32_channels_last": Precision(False, "float32", True, "plain"),
    "bf16_channels_last": Precision(True, "bfloat16", True, "native bfloat16"),
}


def choose_precision(device: DeviceInfo, model: torch.nn.Module, in_channels: int, family: str,
                     batch_size: int, patch_size: int, allow_reduced: bool = True) -> Precision:
    """The fastest way to train `model` (of `family`, e.g. 'unet/resnet18') on `device` with batches of
    `batch_size` crops of `patch_size`. allow_reduced=False (the user turned mixed precision off) keeps float32
    and only picks the layout."""
    import torch

    if device.kind == "cuda":
        from core.device import autocast_dtype

        dtype = str(autocast_dtype(device)).removeprefix("torch.")
        return Precision(allow_reduced, dtype if allow_reduced else "float32", True, "CUDA mixed precision")
    if device.kind == "mps":
        fp16 = allow_reduced and torch.amp.autocast_mode.is_autocast_available("mps")
        return Precision(fp16, "float16" if fp16 else "float32", True, "Apple GPU")
    names = [name for name in CPU_CANDIDATES
             if (allow_reduced and cpu_has_bf16()) or not CPU_CANDIDATES[name].autocast]
    timings = _cached_or_measured(names, model, in_channels, family, batch_size, patch_size)
    best = min(names, key=lambda name: timings[name])
    chosen = CPU_CANDIDATES[best]
    return Precision(chosen.autocast, chosen.dtype, chosen.channels_last,
                     f"fastest of {len(names)} measured on this CPU: {timings[best]:.2f} s per test step")


def cache_key(family: str, batch_size: int, patch_size: int) -> str:
    """'torch 2.5.1 | Intel Xeon ..., 2 cores | unet/resnet18 | 8 x 256 px'."""
    import torch

    from core.device import select_device

    return f"torch {torch.__version__} | {select_device('cpu').name} | {family} | {batch_size} x {patch_size} px"


def _cached_or_measured(names: list[str], model: torch.nn.Module, in_channels: int, family: str, batch_size: int,
                        patch_size: int) -> dict[str, float]:
    key = cache_key(family, batch_size, patch_size)
    timings = read_measurements(CACHE_NAME, key)
    missing = [name for name in names if name not in timings]
    if missing:
        measured = measure_steps(model, in_channels, missing, batch_size, patch_size)
        store_measurements(CACHE_NAME, key, measured)
        timings.update(measured)
    return timings


def measure_steps(model: torch.nn.Module, in_channels: int, names: list[str], batch_size: int,
                  patch_size: int) -> dict[str, float]:
    """Seconds per training step (forward, loss, backward) of a copy of `model` for each candidate on random
    batches of `batch_size` x `patch_size`: a warm-up step each, then TIMED_STEPS rounds that take one step of
    every candidate in turn, so a machine busy with other work slows them alike; the best step of each counts."""
    import copy

    import torch

    from core.models.outputs import main_output

    trial = copy.deepcopy(model).cpu().train()
    images = torch.randn(batch_size, in_channels, patch_size, patch_size)
    seconds = {name: math.inf for name in names}
    for round_index in range(TIMED_STEPS + 1):
        for name in names:
            candidate = CPU_CANDIDATES[name]
            trial = trial.to(memory_format=candidate.memory_format)
            batch = images.contiguous(memory_format=candidate.memory_format)
            start = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=candidate.autocast):
                loss = main_output(trial(batch)).float().square().mean()
            loss.backward()
            trial.zero_grad(set_to_none=True)
            if round_index:
                seconds[name] = min(seconds[name], time.perf_counter() - start)
    return seconds
