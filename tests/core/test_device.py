"""Device choice: CPU always works, 'auto' falls back to the CPU and explains an unused GPU, explicit
choices that cannot work raise ConfigError. GPUs are simulated with monkeypatch."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import pytest
import torch

import core.device as device_module
from core.device import DEVICE_CHOICES, DeviceInfo, autocast_dtype, select_device
from core.errors import ConfigError


@pytest.fixture
def no_gpu(monkeypatch):
    """A machine without NVIDIA driver, CUDA or MPS, whatever this one has."""
    monkeypatch.setattr(device_module, "nvidia_gpu_present", lambda: False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


@pytest.fixture
def driver_but_no_cuda(monkeypatch, no_gpu):
    """An NVIDIA driver is installed but PyTorch cannot use it (e.g. driver too old): is_available warns,
    like torch, only the first time."""
    monkeypatch.setattr(device_module, "nvidia_gpu_present", lambda: True)
    monkeypatch.setattr(device_module, "_cuda_warnings", [])
    monkeypatch.setattr(torch.version, "cuda", "12.8")
    calls = []

    def unavailable():
        if not calls:
            warnings.warn("CUDA initialization: The NVIDIA driver on your system is too old (found version 11040)."
                          "\nPlease update your GPU driver.", UserWarning, stacklevel=2)
        calls.append(1)
        return False

    monkeypatch.setattr(torch.cuda, "is_available", unavailable)


@pytest.fixture
def fake_cuda(monkeypatch):
    """Two CUDA GPUs of 24 GiB."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_properties",
                        lambda index: SimpleNamespace(name=f"Fake GPU {index}", total_memory=24 * 1024**3))


def test_cpu_is_always_available():
    info = select_device("cpu")
    assert (info.torch_device, info.kind, info.amp, info.note) == ("cpu", "cpu", False, None)
    assert info.describe().startswith("CPU: ") and "cores" in info.describe()
    assert torch.zeros(2, device=info.torch_device).sum().item() == 0


def test_auto_without_a_gpu_is_the_cpu_without_a_note(no_gpu):
    for requested in ("auto", "AUTO", "", None):
        info = select_device(requested)
        assert info.kind == "cpu" and info.note is None


def test_auto_on_this_machine_matches_torch():
    info = select_device("auto")
    assert info.kind in ("cuda", "mps", "cpu")
    assert (info.kind == "cuda") == torch.cuda.is_available()


def test_cuda_without_a_gpu_is_a_clear_config_error(no_gpu):
    for requested in ("cuda", "cuda:0"):
        with pytest.raises(ConfigError, match="CUDA was asked for but cannot be used: no CUDA GPU found"):
            select_device(requested)


@pytest.mark.parametrize("requested", ["gpu", "cuda:", "cuda:x", "cuda:-1", "tpu"])
def test_unknown_device_lists_the_choices(requested):
    with pytest.raises(ConfigError) as caught:
        select_device(requested)
    message = str(caught.value)
    assert repr(requested) in message and all(choice in message for choice in DEVICE_CHOICES)


def test_driver_present_but_unusable_falls_back_with_a_note(driver_but_no_cuda):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch's warning goes into the note, not to the console
        info = select_device("auto")
        again = select_device("auto")
    assert info.kind == "cpu"
    assert "NVIDIA GPU is present but PyTorch cannot use it" in info.note
    assert "driver on your system is too old" in info.note and "Please update" not in info.note
    assert again.note == info.note, "the reason survives torch warning only once"
    assert info.note in info.describe()
    with pytest.raises(ConfigError, match="cannot use it.*too old"):
        select_device("cuda")


def test_cpu_only_torch_build_is_named(driver_but_no_cuda, monkeypatch):
    monkeypatch.setattr(torch.version, "cuda", None)
    info = select_device("auto")
    assert info.kind == "cpu" and "CPU-only build" in info.note and "CUDA build" in info.note


def test_explicit_cpu_has_no_note_even_with_a_driver(driver_but_no_cuda):
    assert select_device("cpu").note is None


def test_cuda_when_available(fake_cuda):
    info = select_device("auto")
    assert info == DeviceInfo("cuda:0", "cuda", "Fake GPU 0", 24.0, amp=True, note=None)
    assert info.describe() == "CUDA: Fake GPU 0, 24 GB"
    assert select_device("cuda:1").torch_device == "cuda:1" and select_device("cuda:1").name == "Fake GPU 1"
    with pytest.raises(ConfigError, match="no CUDA device 2; this machine has 2"):
        select_device("cuda:2")


def test_mps_on_a_mac(no_gpu, monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    info = select_device("auto")
    assert (info.torch_device, info.kind, info.amp) == ("mps", "mps", False)


def test_mps_elsewhere_is_a_config_error(no_gpu):
    with pytest.raises(ConfigError, match="MPS was asked for but cannot be used"):
        select_device("mps")


def test_autocast_dtype(fake_cuda, monkeypatch):
    cuda = select_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)
    assert autocast_dtype(cuda) == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: False)
    assert autocast_dtype(cuda) == torch.float16
    assert autocast_dtype(select_device("cpu")) == torch.float16
