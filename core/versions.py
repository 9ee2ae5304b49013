"""Versions of SegLab and the libraries it relies on, for model files, reports and the About dialog.

Read from installed package metadata, so nothing heavy (torch, Qt) is imported to answer.
"""

from __future__ import annotations

import platform
import re
from importlib import metadata

import core

# key -> distributions that provide it, first installed one wins
_DISTRIBUTIONS = {
    "torch": ("torch",),
    "torchvision": ("torchvision",),
    "segmentation_models_pytorch": ("segmentation-models-pytorch", "segmentation_models_pytorch"),
    "numpy": ("numpy",),
    "opencv": (
        "opencv-python-headless",
        "opencv-python",
        "opencv-contrib-python-headless",
        "opencv-contrib-python",
    ),
    "safetensors": ("safetensors",),
    "PySide6": ("PySide6-Essentials", "PySide6"),
    "onnxruntime": ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml"),
}
_OPTIONAL = {"PySide6", "onnxruntime"}


def software_versions() -> dict[str, str]:
    """{'seglab': ..., 'python': ..., 'platform': ..., 'torch': '2.x (CUDA 12.x)', ...}; optional ones only if present."""
    versions = {
        "seglab": core.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    for key, distributions in _DISTRIBUTIONS.items():
        version = _installed_version(distributions)
        if version is None and key in _OPTIONAL:
            continue
        versions[key] = version or "not installed"
    cuda = _torch_cuda_version()
    if cuda and "torch" in versions:
        versions["torch"] += f" (CUDA {cuda})"
    return versions


def _installed_version(distributions: tuple[str, ...]) -> str | None:
    for name in distributions:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def _torch_cuda_version() -> str | None:
    """The CUDA version torch was built for, read from torch/version.py without importing torch."""
    try:
        text = metadata.distribution("torch").locate_file("torch/version.py").read_text()
    except (metadata.PackageNotFoundError, OSError):
        return None
    match = re.search(r"^cuda\s*(?::[^=]*)?=\s*['\"]([^'\"]+)['\"]", text, re.MULTILINE)
    return match.group(1) if match else None
