"""How prediction runs: the fastest way measured on this machine (cached per machine and network), used only
when its masks agree with 32-bit on 99.9% of the pixels of the first images; CUDA choices with a simulated GPU."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

import core.inference.path_choice as path_choice
import core.inference.path_timings as path_timings
import core.inference.runner_choice as runner_choice
import core.inference.torch_runner as torch_runner
from core.classes import ClassTable
from core.device import cpu_has_bf16, select_device
from core.errors import ConfigError
from core.inference import PredictOptions, Predictor
from core.inference.torch_runner import TorchRunner
from core.models.spec import ModelSpec


def smooth_image(size: int = 96, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (np.kron(rng.random((size // 4, size // 4)), np.ones((4, 4))) * 255).astype(np.uint8)


def small_model() -> tuple[nn.Module, ModelSpec]:
    """Two classes that both occur on smooth_image (a wide margin between the logits on most pixels)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 2, 3, padding=1)).eval()
    with torch.no_grad():
        model[2].weight *= 10
    return model, ModelSpec("small", 1, ClassTable.default(2), 2)


class FlippingRunner:
    """32-bit PyTorch whose masks differ on `share` of the pixels (the class swapped there): a broken fast path."""

    def __init__(self, model, device, share: float, name: str = "torch-bf16"):
        self.exact = TorchRunner(model, device)
        self.share = share
        self.name = name

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        probabilities = self.exact(batch)
        flat = probabilities.transpose(1, 0, 2, 3).reshape(probabilities.shape[1], -1)
        flipped = np.random.default_rng(0).permutation(flat.shape[1])[: round(self.share * flat.shape[1])]
        flat[:, flipped] = flat[::-1, flipped]
        return np.ascontiguousarray(flat.reshape(probabilities.shape[1], *probabilities.shape[:1],
                                                 *probabilities.shape[2:]).transpose(1, 0, 2, 3))


@pytest.fixture
def bf16_machine(monkeypatch):
    """This machine, with PyTorch bfloat16 as a candidate whatever the processor (its builder injected by tests)."""
    monkeypatch.setattr(torch_runner, "reduced_dtype_name", lambda device: "bf16" if device.kind == "cpu" else None)


def broken_bf16(monkeypatch, share: float) -> None:
    monkeypatch.setitem(runner_choice.BUILDERS, "torch-bf16",
                        lambda context: FlippingRunner(context.model, context.device, share))
    monkeypatch.setattr(path_choice, "read_timings", lambda key: {"torch-bf16": 0.001, "torch-fp32": 1.0})


def test_a_fast_path_whose_masks_differ_on_more_than_a_thousandth_is_refused(bf16_machine, monkeypatch):
    model, spec = small_model()
    image = smooth_image()
    exact = Predictor(model, spec, PredictOptions(tile_size=64, overlap=16, backend="torch", precision="exact"))
    broken_bf16(monkeypatch, share=0.002)
    predictor = Predictor(model, spec, PredictOptions(tile_size=64, overlap=16, backend="torch"))
    mask = predictor.predict(image)
    assert predictor.backend == "torch-fp32"
    assert "PyTorch bfloat16 (channels-last) refused: its masks agree with 32-bit on only 99.80%" \
        in predictor.backend_reason
    np.testing.assert_array_equal(mask, exact.predict(image))

    broken_bf16(monkeypatch, share=0.0005)  # within the rule: used, and the agreement is reported
    tolerated = Predictor(model, spec, PredictOptions(tile_size=64, overlap=16, backend="torch"))
    mask = tolerated.predict(image)
    assert tolerated.backend == "torch-bf16"
    assert "masks agree with 32-bit on 99.9" in tolerated.backend_reason, tolerated.backend_reason
    assert 0.998 < (mask == exact.predict(image)).mean() < 1


def test_timings_are_measured_once_per_machine_and_again_for_new_versions(bf16_machine, monkeypatch):
    measured = []
    real_seconds = path_choice.seconds_per_tile
    monkeypatch.setattr(path_choice, "seconds_per_tile", lambda runner, tiles, deadline:
                        measured.append(runner.name) or real_seconds(runner, tiles, deadline))
    model, spec = small_model()
    options = PredictOptions(tile_size=96, overlap=0, backend="torch")
    first = Predictor(model, spec, options)
    first.predict(smooth_image())
    assert sorted(measured) == ["torch-bf16", "torch-fp32"]
    cache = json.loads(path_timings.cache_path().read_text())
    key = next(key for key in cache if "small/-" in key and "batch 4 of 96x96" in key)
    assert f"torch {torch.__version__}" in key and select_device("cpu").name in key
    assert set(cache[key]["seconds"]) == {"torch-bf16", "torch-fp32"}

    again = Predictor(model, spec, options)
    again.predict(smooth_image(seed=1))
    assert len(measured) == 2 and again.backend == first.backend  # read from the cache

    real_version = path_timings.version
    monkeypatch.setattr(path_timings, "version", lambda name: "9.9" if name == "onnxruntime" else real_version(name))
    Predictor(model, spec, options).predict(smooth_image())
    assert len(measured) == 4  # a new onnxruntime measures again
    monkeypatch.setattr(torch, "__version__", "99.0")
    Predictor(model, spec, options).predict(smooth_image())
    assert len(measured) == 6  # and so does a new torch
    keys = json.loads(path_timings.cache_path().read_text())
    assert any("torch 99.0 | onnxruntime 9.9" in key for key in keys)


def test_the_default_on_this_cpu_is_the_fastest_candidate_that_agrees_and_says_so(tmp_path):
    model, spec = small_model()
    image = smooth_image(128)
    options = PredictOptions(tile_size=64, overlap=16, onnx_cache_dir=str(tmp_path))
    assert (options.precision, options.backend) == ("auto", "auto")
    predictor = Predictor(model, spec, options)
    assert predictor.needs_calibration
    mask = predictor.predict(image)
    candidates = runner_choice.candidate_names(select_device("cpu"), options)
    assert {"torch-fp32", "onnx-fp32"} <= set(candidates)
    assert ("onnx-int8" in candidates) != cpu_has_bf16()  # 8-bit only where bfloat16 is not native
    assert predictor.backend in candidates
    reason = predictor.backend_reason
    assert reason.startswith(runner_choice.TITLES[predictor.backend] + " on CPU: ")
    assert "seconds per tile measured on this machine" in reason
    assert all(runner_choice.TITLES[name] in reason for name in candidates)  # timed, or said why not
    if runner_choice.is_reduced(predictor.backend):
        assert "masks agree with 32-bit on" in reason
    exact = Predictor(model, spec, PredictOptions(tile_size=64, overlap=16, backend="torch", precision="exact"))
    assert (mask == exact.predict(image)).mean() >= path_choice.MIN_AGREEMENT


def test_unknown_precision_names_the_choices():
    with pytest.raises(ConfigError, match="unknown precision 'fast'; choose one of: auto, exact"):
        PredictOptions(precision="fast")


# CUDA, simulated ----------------------------------------------------------------------------------

@pytest.fixture
def fake_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_properties",
                        lambda index: SimpleNamespace(name="Fake GPU", total_memory=24 * 1024**3))


@pytest.mark.parametrize(("bf16", "reduced"), [(True, "torch-bf16"), (False, "torch-fp16")])
def test_cuda_candidates_are_32_bit_and_the_gpus_autocast_format(fake_cuda, monkeypatch, bf16, reduced):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: bf16)
    cuda = select_device("cuda")
    assert runner_choice.candidate_names(cuda, PredictOptions(device="cuda")) == [reduced, "torch-fp32"]
    assert runner_choice.candidate_names(cuda, PredictOptions(device="cuda", precision="exact")) == ["torch-fp32"]
    with pytest.raises(ConfigError, match="the onnx backend runs on the CPU only"):
        runner_choice.candidate_names(cuda, PredictOptions(device="cuda", backend="onnx"))


class FakeGpuRunner:
    """Stands for a TorchRunner on the simulated GPU: 32-bit results, or results differing on `share`."""

    def __init__(self, name: str, share: float = 0.0):
        self.name = name
        self.share = share

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        foreground = (batch[:, :1] > 0).astype(np.float32)
        flat = foreground.reshape(-1)
        flat[: round(self.share * flat.size)] = 1 - flat[: round(self.share * flat.size)]
        return np.concatenate([1 - foreground, foreground], axis=1)


@pytest.mark.parametrize(("share", "chosen"), [(0.0, "torch-fp16"), (0.01, "torch-fp32")])
def test_cuda_uses_mixed_precision_when_its_masks_agree(fake_cuda, monkeypatch, share, chosen):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: False)
    monkeypatch.setitem(runner_choice.BUILDERS, "torch-fp32", lambda context: FakeGpuRunner("torch-fp32"))
    monkeypatch.setitem(runner_choice.BUILDERS, "torch-fp16", lambda context: FakeGpuRunner("torch-fp16", share))
    monkeypatch.setattr(path_choice, "reference_runner", lambda context: FakeGpuRunner("torch-fp32"))
    monkeypatch.setattr(path_choice, "seconds_per_tile",
                        lambda runner, tiles, deadline: {"torch-fp16": 0.001}.get(runner.name, 1))
    model, spec = small_model()
    tiles = np.random.default_rng(0).standard_normal((4, 1, 64, 64), dtype=np.float32)
    path = path_choice.choose_path(model, spec, PredictOptions(device="cuda"), tiles)
    assert path.name == chosen
    assert path.reason.startswith(f"{runner_choice.TITLES[chosen]} on CUDA: Fake GPU")
    assert any(key.split(" | ")[3] == "Fake GPU" for key in json.loads(path_timings.cache_path().read_text()))
    if share:
        assert "PyTorch float16 (channels-last) refused" in path.reason


def test_torch_runner_autocasts_to_the_devices_format(fake_cuda, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: False)
    assert torch_runner.reduced_dtype_name(select_device("cuda")) == "fp16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)
    assert torch_runner.reduced_dtype_name(select_device("cuda")) == "bf16"
    monkeypatch.setattr(torch_runner, "reduced_dtype_name", lambda device: "bf16")
    model, _ = small_model()
    runner = TorchRunner(model, select_device("cpu"), reduced=True)  # the CPU runs the same autocast code
    assert (runner.name, runner.dtype) == ("torch-bf16", torch.bfloat16)
    assert next(runner.model.parameters()).is_contiguous(memory_format=torch.channels_last)
    tiles = np.random.default_rng(0).standard_normal((2, 1, 32, 32), dtype=np.float32)
    assert runner(tiles).dtype == np.float32 and runner(tiles).shape == (2, 2, 32, 32)


# Order and budget of the measurement -------------------------------------------------------------------

@pytest.mark.parametrize("flags", [{"avx512f", "amx_bf16"}, {"avx512f", "avx512_bf16"}, {"avx2"}])
def test_candidates_come_likely_fastest_first_for_the_processor(monkeypatch, flags):
    import core.device

    monkeypatch.setattr(core.device, "cpu_flags", lambda: flags)
    monkeypatch.setattr(runner_choice, "openvino_installed", lambda: True)
    cpu = select_device("cpu")
    names = runner_choice.candidate_names(cpu, PredictOptions())
    if flags == {"avx2"}:  # no native bfloat16: 32-bit, then 8-bit last (timed only when the budget allows)
        assert names == ["openvino-fp32", "onnx-fp32", "torch-fp32", "onnx-int8"]
    else:  # bfloat16 first, and no 8-bit
        assert names == ["openvino-bf16", "torch-bf16", "openvino-fp32", "onnx-fp32", "torch-fp32"]
    assert runner_choice.candidate_names(cpu, PredictOptions(precision="exact")) == [
        "openvino-fp32", "onnx-fp32", "torch-fp32"]
    assert runner_choice.candidate_names(cpu, PredictOptions(backend="onnx")) == ["onnx-fp32", "onnx-int8"]


class FakeClock:
    """time.perf_counter for path_choice, moved on only by the fake timings."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


class NamedRunner(FakeGpuRunner):
    """Any candidate, built instantly; 32-bit results."""


@pytest.fixture
def fake_candidates(monkeypatch, tmp_path):
    """Every CPU candidate builds instantly; timing one takes 4 s of a fake clock and gives SECONDS[name]; what
    was timed is listed in the returned list. The timings cache starts empty."""
    monkeypatch.setenv("SEGLAB_DATA_HOME", str(tmp_path))
    timed = []
    clock = FakeClock()
    monkeypatch.setattr(path_choice, "time", clock)
    for name in runner_choice.TITLES:
        monkeypatch.setitem(runner_choice.BUILDERS, name, lambda context, name=name: NamedRunner(name))
    monkeypatch.setattr(path_choice, "reference_runner", lambda context: NamedRunner("torch-fp32"))

    def seconds_per_tile(runner, tiles, deadline):
        timed.append(runner.name)
        clock.now += 4.0
        return SECONDS[runner.name]

    monkeypatch.setattr(path_choice, "seconds_per_tile", seconds_per_tile)
    monkeypatch.setattr(runner_choice, "openvino_installed", lambda: True)
    return timed


SECONDS = {"openvino-bf16": 0.05, "torch-bf16": 0.11, "openvino-fp32": 0.25, "onnx-fp32": 0.29,
           "torch-fp32": 0.32, "onnx-int8": 0.17}


def choose(on_phase=None):
    model, spec = small_model()
    tiles = np.random.default_rng(0).standard_normal((4, 1, 64, 64), dtype=np.float32)
    return path_choice.choose_path(model, spec, PredictOptions(tile_size=64, overlap=16), tiles, on_phase)


def test_on_a_bf16_cpu_32_bit_paths_are_not_timed_once_bf16_is_much_faster(bf16_machine, fake_candidates):
    phases = []
    path = choose(phases.append)
    assert fake_candidates == ["openvino-bf16", "torch-bf16", "openvino-fp32"]
    assert phases == [path_choice.MEASURING]
    assert path.name == "openvino-bf16"
    assert "not timed: ONNX Runtime 32-bit, PyTorch 32-bit (OpenVINO bfloat16 ran more than 2x faster than " \
           "32-bit)" in path.reason
    again = choose(phases.append)  # the cache holds the answer: nothing is timed, nothing is said
    assert len(fake_candidates) == 3 and phases == [path_choice.MEASURING]
    assert again.name == "openvino-bf16" and "not timed: ONNX Runtime 32-bit" in again.reason


def test_measuring_stops_within_the_budget_and_later_runs_time_the_rest(monkeypatch, fake_candidates):
    monkeypatch.setattr(torch_runner, "reduced_dtype_name", lambda device: None)  # no bf16: 8-bit comes last
    monkeypatch.setattr(path_choice, "BUDGET_S", 10.0)
    first = choose()
    # 4 s a candidate: started at 0, 4 and 8 s, the third ends at 12 s, within the budget plus one candidate
    assert fake_candidates == ["openvino-fp32", "onnx-fp32", "torch-fp32"]
    assert path_choice.time.perf_counter() <= path_choice.BUDGET_S + 4.0
    assert first.name == "openvino-fp32"
    assert "not timed yet: ONNX Runtime 8-bit (beyond this run's time for measuring; a later run times " \
           "them)" in first.reason
    second = choose()  # what was timed is cached; only the rest is timed now
    assert fake_candidates == ["openvino-fp32", "onnx-fp32", "torch-fp32", "onnx-int8"]
    assert second.name == "onnx-int8" and "masks agree with 32-bit on 100.000%" in second.reason
    assert "not timed" not in second.reason


def test_the_budget_grows_with_the_network_and_the_tiles():
    def network(parameters: int):
        return SimpleNamespace(parameters=lambda: [torch.empty(parameters)])

    resnet18_unet = network(14_322_082)
    assert path_choice.measuring_budget(resnet18_unet, (4, 1, 512, 512)) == path_choice.BUDGET_S
    assert path_choice.measuring_budget(resnet18_unet, (4, 1, 1024, 1024)) == 4 * path_choice.BUDGET_S
    assert path_choice.measuring_budget(network(2 * 14_322_082), (4, 3, 512, 512)) == 2 * path_choice.BUDGET_S
    assert path_choice.measuring_budget(network(1000), (4, 1, 512, 512)) == path_choice.BUDGET_S  # at least
    assert path_choice.measuring_budget(network(100 * 14_322_082), (4, 1, 512, 512)) == \
        path_choice.MAX_BUDGET_SCALE * path_choice.BUDGET_S  # at most


def test_a_candidate_is_timed_twice_after_a_warm_up_unless_the_budget_is_spent():
    calls = []

    def runner(tiles):
        calls.append(len(tiles))
        return tiles

    tiles = np.zeros((4, 1, 8, 8), np.float32)
    assert path_timings.seconds_per_tile(runner, tiles, deadline=time.perf_counter() + 60) < 0.01
    assert calls == [4, 4, 4]  # a warm-up and two timed calls
    calls.clear()
    path_timings.seconds_per_tile(runner, tiles, deadline=time.perf_counter())
    assert calls == [4, 4]  # no time left: one timed call
