"""Training for a time budget: the learning rate spans the planned steps, a run ends on time with its best model, a
killed run resumes with the budget it had left, a finished run takes added minutes; bfloat16 training on CPUs
that have it scores like float32."""

from __future__ import annotations

import time

import pytest
import torch

from core.training.budget import LR_FLOOR, BudgetPlan
from core.training.interrupted import read_interrupted_run
from core.training.loop import Trainer
from core.training.precision import CPU_CANDIDATES, cpu_has_bf16
from core.training.reports import BatchReport, EpochReport, TrainingFinished, TrainingStarted
from tests.core.synthetic import write_dataset
from tests.core.test_training import tiny_config

PEAK = 1e-3


def simulate(plan: BudgetPlan, step_seconds, validation_seconds: float = 3.0,
             batch: int = 4) -> tuple[list[float], float]:
    """Drive `plan` as the loop does with a fake clock; step_seconds(step) -> seconds. Returns the rates used
    and the clock at the end."""
    clock, rates, in_round = 0.0, [], 0
    while True:
        rates.append(plan.learning_rate())
        clock += step_seconds(len(rates))
        plan.record_step(step_seconds(len(rates)) if len(rates) > 1 else None, clock, batch, 100)
        in_round += 1
        if plan.round_is_over(in_round, clock, batch):
            plan.finished = plan.training_is_over(clock, batch)
            clock += validation_seconds
            plan.record_validation(validation_seconds, clock, batch)
            in_round = 0
            if plan.finished:
                return rates, clock


def test_the_learning_rate_falls_to_its_floor_exactly_at_the_planned_end():
    plan = BudgetPlan.start(minutes=2, peak_lr=PEAK)
    rates, end = simulate(plan, lambda step: 0.5)
    assert max(rates) == pytest.approx(PEAK, rel=0.01)  # the warm-up reaches the peak ...
    assert rates[-1] == pytest.approx(PEAK * LR_FLOOR, rel=0.05)  # ... and the last planned step is at the floor
    falling = rates[rates.index(max(rates)):]
    assert all(later <= earlier for earlier, later in zip(falling, falling[1:], strict=False))
    assert 120 * 0.97 <= end <= 120  # on time, with validation inside the budget
    assert len(rates) >= 0.85 * 120 / 0.5  # validation took no more than its bounded share


def test_when_steps_slow_down_the_plan_ends_earlier_and_still_on_time():
    plan = BudgetPlan.start(minutes=1, peak_lr=PEAK)
    rates, end = simulate(plan, lambda step: 0.2 if step < 60 else 0.6)  # the machine gets busy
    assert rates[-1] == pytest.approx(PEAK * LR_FLOOR, rel=0.1)
    assert 60 * 0.95 <= end <= 60 * 1.02


def budget_run(config) -> tuple[list, float]:
    """Reports of a run and the wall time from its start report to its end."""
    reports, started_at = [], None
    for report in Trainer(config).run():
        if isinstance(report, TrainingStarted):
            started_at = time.perf_counter()
        reports.append(report)
    return reports, time.perf_counter() - started_at


def test_a_20_second_budget_ends_on_time_with_the_best_model_and_the_rate_at_its_floor(tmp_path):
    data = write_dataset(tmp_path / "data", count=6)
    config = tiny_config(data, tmp_path / "m.safetensors", minutes=20 / 60, epochs=1)
    reports, wall = budget_run(config)
    finished = reports[-1]
    assert isinstance(finished, TrainingFinished) and finished.reason == "budget"
    assert 20 * 0.9 <= finished.seconds <= 22 and wall <= 22
    epochs = [r for r in reports if isinstance(r, EpochReport)]
    assert len(epochs) >= 3 and epochs[-1].elapsed_s == pytest.approx(finished.seconds, abs=1.5)
    assert finished.model_path and finished.best_mean_iou == max(e.mean_iou for e in epochs)
    batches = [r for r in reports if isinstance(r, BatchReport)]
    assert batches[-1].learning_rate == pytest.approx(config.learning_rate * LR_FLOOR, rel=0.3)
    assert max(b.learning_rate for b in batches) == pytest.approx(config.learning_rate, rel=0.05)


def test_a_killed_budgeted_run_resumes_with_the_budget_it_had_left(tmp_path):
    data = write_dataset(tmp_path / "data", count=6)
    config = tiny_config(data, tmp_path / "m.safetensors", minutes=0.25)
    run = Trainer(config).run()
    for report in run:
        if isinstance(report, EpochReport):
            break  # the process dies after its first checkpoint
    run.close()
    interrupted = read_interrupted_run(config.checkpoint_path)
    assert interrupted is not None and "of 0.25 minutes" in interrupted.describe()
    done_before = interrupted.seconds

    reports, wall = budget_run(config.with_changes(resume=True, minutes=None))
    started, finished = reports[0], reports[-1]
    assert started.minutes == pytest.approx(0.25) and started.start_epoch == 2
    assert finished.reason == "budget" and finished.seconds == pytest.approx(15, abs=1.5)
    assert wall == pytest.approx(15 - done_before, abs=1.5)  # only what was left
    assert read_interrupted_run(config.checkpoint_path) is None  # a spent budget is not offered for resuming


def test_the_command_line_trains_for_minutes_and_adds_minutes_to_a_finished_run(tmp_path, capsys):
    from core.cli import run_cli
    from core.models.model_file import read_model_spec

    data, out = write_dataset(tmp_path / "data", count=6), tmp_path / "m.safetensors"
    tiny = ["--arch", "unet_classic", "--option", "base_channels=8", "--batch-size", "4", "--patch-size", "64",
            "--device", "cpu", "--out", str(out)]
    assert run_cli(["train", str(data), *tiny, "--minutes", "0.15"]) == 0
    first = capsys.readouterr().out
    assert "time budget: 0.15 minutes" in first and "used its time budget" in first
    epochs_before = len(read_model_spec(out).training["history"])
    started = time.perf_counter()
    assert run_cli(["train", str(data), "--out", str(out), "--resume", "--minutes", "0.1"]) == 0  # 6 s more
    assert time.perf_counter() - started < 6 * 1.1 + 10  # start-up: scanning, loading, building
    spec = read_model_spec(out)
    assert spec.training["config"]["minutes"] == pytest.approx(0.25, abs=0.02)
    assert len(spec.training["history"]) > epochs_before and "used its time budget" in capsys.readouterr().out


@pytest.mark.skipif(not cpu_has_bf16(), reason="this CPU has no native bfloat16 (AVX512-BF16 or AMX)")
def test_bfloat16_training_scores_like_float32_on_isbi(isbi_dir, tmp_path, monkeypatch):
    """Same run, same seed, on ISBI: validation mIoU in bfloat16 (channels-last) within 0.03 of float32. A cosine
    schedule ends both runs at a low rate, so the scores compare settled models rather than one noisy step."""
    import core.training.loop as loop
    from core.training.config import TrainConfig

    scores = {}
    for name in ("fp32", "bf16_channels_last"):
        monkeypatch.setattr(loop, "choose_precision", lambda *args, name=name, **kw: CPU_CANDIDATES[name])
        config = TrainConfig(
            data_dir=str(isbi_dir), output=str(tmp_path / f"{name}.safetensors"), architecture="unet_classic",
            encoder=None, model_options={"base_channels": 16, "bilinear": True}, epochs=6, batch_size=8,
            patch_size=128, patches_per_epoch=64, learning_rate=5e-3, schedule="cosine", val_names=("3", "17"),
            device="cpu", early_stopping=0)
        scores[name] = list(Trainer(config).run())[-1].best_mean_iou
    print(scores)
    assert scores["fp32"] > 0.6
    assert scores["bf16_channels_last"] == pytest.approx(scores["fp32"], abs=0.03)


def test_the_fastest_precision_is_measured_once_per_machine_and_network_family(monkeypatch, tmp_path):
    import core.training.precision as precision
    from core.device import select_device

    monkeypatch.setenv("SEGLAB_DATA_HOME", str(tmp_path))
    measured = []

    def fake_measure(model, in_channels, names, batch_size, patch_size):
        measured.append(list(names))
        return {name: {"fp32": 2.0, "fp32_channels_last": 1.5, "bf16_channels_last": 0.7}[name] for name in names}

    monkeypatch.setattr(precision, "measure_steps", fake_measure)
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda flags=None: True)
    cpu, model = select_device("cpu"), torch.nn.Conv2d(1, 2, 3)
    chosen = precision.choose_precision(cpu, model, 1, "unet/resnet18", 8, 256)
    assert (chosen.dtype, chosen.channels_last, chosen.autocast) == ("bfloat16", True, True)
    assert precision.choose_precision(cpu, model, 1, "unet/resnet18", 8, 256) == chosen and len(measured) == 1
    assert precision.cache_key("unet/resnet18", 8, 256) in (tmp_path / precision.CACHE_NAME).read_text()
    exact = precision.choose_precision(cpu, model, 1, "unet/resnet18", 8, 256, allow_reduced=False)  # --no-amp
    assert (exact.autocast, exact.channels_last) == (False, True) and len(measured) == 1
    precision.choose_precision(cpu, model, 1, "unet/resnet18", 4, 512)  # another size is measured again
    assert len(measured) == 2
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda flags=None: False)  # e.g. an older or AMD CPU
    precision.choose_precision(cpu, model, 1, "linknet/resnet18", 8, 256)
    assert measured[-1] == ["fp32", "fp32_channels_last"]  # bfloat16 is not even tried where it is emulated
    assert cpu_has_bf16({"avx512f", "amx_bf16"}) and not cpu_has_bf16({"avx2", "avx512f"})


def test_the_automatic_recipe_depends_only_on_the_device_report_the_data_and_the_budget(tmp_path):
    from core.data.index import DatasetIndex
    from core.device import DeviceInfo
    from core.models.registry import model_info
    from core.training.recipe import DatasetFacts, recommend

    cpu, gpu = DeviceInfo("cpu", "cpu", "Xeon, 2 cores"), DeviceInfo("cuda:0", "cuda", "H100", memory_gb=80)
    data = write_dataset(tmp_path / "d", count=3, size=200)
    facts, again = (DatasetFacts.read(DatasetIndex.scan(data)) for _ in range(2))
    unet = model_info("unet")
    budget = recommend(facts, cpu, unet, minutes=5)
    assert budget == recommend(again, DeviceInfo("cpu", "cpu", "Xeon, 2 cores"), unet, minutes=5)  # same inputs
    assert (budget.batch_size, budget.learning_rate, budget.schedule, budget.early_stopping) == (8, 0.002, "cosine", 0)
    assert budget.patch_size == 192  # no larger than the 200 px images
    assert recommend(facts, cpu, unet, minutes=1) == budget  # the plan, not the recipe, follows the minutes
    assert recommend(facts, gpu, unet, minutes=5).batch_size == 16
    by_epochs = recommend(facts, cpu, unet)
    assert (by_epochs.batch_size, by_epochs.learning_rate, by_epochs.schedule) == (4, 0.001, "plateau")
