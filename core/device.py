"""Device choice for training and prediction: CUDA, then Apple MPS, then CPU; explains when a GPU is unused."""

from __future__ import annotations

import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

from core.errors import ConfigError

DEVICE_CHOICES = ("auto", "cuda", "mps", "cpu")
BF16_FLAGS = ("avx512_bf16", "amx_bf16")


@dataclass(frozen=True)
class DeviceInfo:
    """The chosen device in plain words, and why a present GPU is not used (note)."""

    torch_device: str  # "cuda:0", "mps" or "cpu"
    kind: str  # "cuda" | "mps" | "cpu"
    name: str
    memory_gb: float | None = None
    amp: bool = False
    note: str | None = None

    def describe(self) -> str:
        memory = f", {self.memory_gb:.0f} GB" if self.memory_gb else ""
        text = f"{self.kind.upper()}: {self.name}{memory}" if self.kind != "cpu" else f"CPU: {self.name}"
        return text + (f" ({self.note})" if self.note else "")


def nvidia_gpu_present() -> bool:
    """An NVIDIA driver is installed, whatever PyTorch thinks of it."""
    return Path("/proc/driver/nvidia/version").exists() or shutil.which("nvidia-smi") is not None


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except OSError:
        pass
    import platform

    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


_cuda_warnings: list[str] = []  # why CUDA failed to start, as torch said it: it says so only once a process


def _cuda_available(torch) -> bool:
    """torch.cuda.is_available(), keeping its warning (e.g. 'driver too old') for the note instead of stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        available = torch.cuda.is_available()
    for warning in caught:
        line = str(warning.message).splitlines()[0]
        if line not in _cuda_warnings:
            _cuda_warnings.append(line)
    return available


def _cuda_problem(torch) -> str:
    """Why CUDA is unusable although an NVIDIA driver is present."""
    if torch.version.cuda is None:
        return "an NVIDIA GPU is present but this PyTorch is a CPU-only build; install the CUDA build of torch"
    detail = "; ".join(_cuda_warnings) or "the driver may be too old or missing"
    return f"an NVIDIA GPU is present but PyTorch cannot use it ({detail})"


def select_device(requested: str = "auto") -> DeviceInfo:
    """Pick the device. 'auto' prefers CUDA, then MPS, then CPU; an explicit choice that cannot work raises."""
    import torch

    requested = (requested or "auto").strip().lower()
    numbered = requested.startswith("cuda:") and requested[5:].isdigit()
    if requested not in DEVICE_CHOICES and not numbered:
        raise ConfigError(f"unknown device {requested!r}; choose one of: {', '.join(DEVICE_CHOICES)} "
                          "(or cuda:N for GPU number N)")
    if requested.startswith("cuda") or requested == "auto":
        if _cuda_available(torch):
            index = int(requested[5:]) if numbered else 0
            if index >= torch.cuda.device_count():
                raise ConfigError(f"there is no CUDA device {index}; this machine has {torch.cuda.device_count()}")
            props = torch.cuda.get_device_properties(index)
            return DeviceInfo(f"cuda:{index}", "cuda", props.name, props.total_memory / 1024**3, amp=True)
        problem = _cuda_problem(torch) if nvidia_gpu_present() else "no CUDA GPU found"
        if requested != "auto":
            raise ConfigError(f"CUDA was asked for but cannot be used: {problem}")
        gpu_note = problem if nvidia_gpu_present() else None
    else:
        gpu_note = None
    mps = getattr(torch.backends, "mps", None)
    mps_ok = mps is not None and mps.is_available()
    if requested in ("mps", "auto") and mps_ok:
        return DeviceInfo("mps", "mps", "Apple GPU (Metal)", amp=False)
    if requested == "mps":
        reason = "this Mac's PyTorch was built without MPS" if mps is not None and not mps.is_built() else "no Apple GPU"
        raise ConfigError(f"MPS was asked for but cannot be used: {reason}")
    return DeviceInfo("cpu", "cpu", _cpu_name(), amp=False, note=gpu_note)


def cpu_flags() -> set[str]:
    """The processor's feature flags (Linux /proc/cpuinfo); empty where they cannot be read."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_has_bf16(flags: set[str] | None = None) -> bool:
    """The CPU computes bfloat16 natively (AVX512-BF16 or AMX), so bf16 autocast can be faster than fp32."""
    import torch

    flags = cpu_flags() if flags is None else flags
    if flags:
        return any(flag in flags for flag in BF16_FLAGS)
    return "AMX" in torch.backends.cpu.get_cpu_capability()


def autocast_dtype(info: DeviceInfo):
    """The mixed-precision dtype for this device: bfloat16 where the GPU supports it, else float16."""
    import torch

    if info.kind == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16
