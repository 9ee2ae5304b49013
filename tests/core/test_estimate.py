"""Time estimate: real batches are timed, nothing is written beside the data, cancel and bad data are handled."""

from __future__ import annotations

import time

import pytest

from core.durations import format_duration
from core.errors import TrainingError
from core.training.estimate import EpochEstimate, estimate_epoch_time
from core.training.loop import Trainer
from core.training.reports import TrainingStarted
from tests.core.synthetic import write_dataset
from tests.core.test_training import tiny_config


def test_estimate_times_real_batches_and_writes_nothing(tmp_path):
    data = write_dataset(tmp_path / "data", count=6)
    out = tmp_path / "models" / "m.safetensors"
    config = tiny_config(data, out, epochs=40)
    start = time.perf_counter()
    estimate = estimate_epoch_time(config, measure_batches=2)
    took = time.perf_counter() - start
    started = next(r for r in Trainer(config).run() if isinstance(r, TrainingStarted))
    assert estimate.batches_per_epoch == started.batches_per_epoch == 4
    assert estimate.measured_batches == 2 and estimate.device.startswith("CPU")
    assert 0 < estimate.seconds_per_batch < took
    # 2 validation images of 64 x 64 = 2 tiles of 64 px = one batch of 4: a third of a training step
    assert estimate.validation_seconds == pytest.approx(estimate.seconds_per_batch / 3)
    assert estimate.seconds_per_epoch == pytest.approx(4 * estimate.seconds_per_batch + estimate.validation_seconds)
    assert not out.exists() and not out.parent.exists()  # the trial run wrote only to a temporary folder


def test_describe_reads_like_the_wizard_says():
    estimate = EpochEstimate("CPU: test", batches_per_epoch=10, seconds_per_batch=4.5, validation_seconds=0.0,
                             preparation_seconds=1.0, measured_batches=3)
    assert estimate.describe(50) == "about 45 s per epoch, 38 min for 50 epochs"
    assert estimate.describe(1) == "about 45 s per epoch, 45 s for 1 epoch"
    assert format_duration(3.25) == "3.2 s" and format_duration(7200 + 300) == "2 h 05 min"


def test_cancel_returns_none_without_training(tmp_path):
    data = write_dataset(tmp_path / "data", count=4)
    assert estimate_epoch_time(tiny_config(data, tmp_path / "m.safetensors"), cancel=lambda: True) is None


def test_unusable_data_raises_the_training_error(tmp_path):
    data = write_dataset(tmp_path / "data", count=2)
    for image in (data / "images").iterdir():
        image.write_bytes(b"broken")
    with pytest.raises(TrainingError, match="none of the labeled images"):
        estimate_epoch_time(tiny_config(data, tmp_path / "m.safetensors"))
