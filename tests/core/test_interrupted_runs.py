"""Unfinished training runs: found beside the dataset's models from their checkpoints (and only those of this
dataset), described without loading the weights, resumed with the time of every part counted, never offered once
finished, and discarded without touching the model."""

from __future__ import annotations

import shutil
import time

import pytest

from core.training.config import TrainConfig
from core.training.interrupted import discard_checkpoint, find_interrupted_runs, run_is_over
from core.training.loop import Trainer
from core.training.paths import new_model_path
from core.training.reports import BatchReport, EpochReport, TrainingFinished
from tests.core.synthetic import write_dataset
from tests.core.test_training import run_all, tiny_config


def stopped_run(config: TrainConfig, epoch: int) -> TrainingFinished:
    """Run `config` and stop it at the first batch of `epoch`, as Stop, a crash or closing the window would."""
    trainer = Trainer(config)
    for report in trainer.run():
        if isinstance(report, BatchReport) and report.epoch == epoch:
            trainer.request_stop()
    assert isinstance(report, TrainingFinished) and report.reason == "stopped"
    return report


def test_a_stopped_run_is_found_described_and_resumed_with_both_parts_counted(tmp_path):
    data = write_dataset(tmp_path / "cells", count=6)
    config = tiny_config(data, new_model_path(data), epochs=3)
    first = stopped_run(config, epoch=2)

    [run] = find_interrupted_runs(data)
    assert run.checkpoint == config.checkpoint_path and str(run.model_path) == config.output
    assert (run.epoch, run.config.epochs, run.best_epoch) == (1, 3, 1)
    assert run.best_mean_iou == pytest.approx(first.best_mean_iou)
    assert 0 < run.seconds <= first.seconds and [h["epoch"] for h in run.history] == [1]
    assert run.describe() == f"interrupted after epoch 1 of 3 (best mean IoU {first.best_mean_iou:.3f})"

    begun = time.perf_counter()
    resumed = run_all(Trainer(run.config.with_changes(resume=True)))
    wall = time.perf_counter() - begun
    finished = resumed[-1]
    assert resumed[0].start_epoch == 2 and finished.reason == "completed" and finished.epochs_done == 3
    resumed_epochs = sum(r.seconds for r in resumed if isinstance(r, EpochReport))
    assert run.seconds + resumed_epochs <= finished.seconds <= run.seconds + wall  # the first part counts too
    assert find_interrupted_runs(data) == []  # finished: never offered again, although its checkpoint stays
    assert config.checkpoint_path.is_file()


def test_only_runs_on_this_dataset_where_models_are_saved_are_offered(tmp_path):
    data = write_dataset(tmp_path / "cells", count=6)
    other = write_dataset(tmp_path / "other", count=6)
    stopped_run(tiny_config(other, new_model_path(other), epochs=3), epoch=2)
    shutil.copytree(other / "models", data / "models")  # another folder's run, copied here
    elsewhere = tiny_config(data, tmp_path / "somewhere" / "m.safetensors", epochs=3)  # not a default place
    stopped_run(elsewhere, epoch=2)
    assert find_interrupted_runs(data) == []
    assert [run.config.data_dir for run in find_interrupted_runs(other)] == [str(other)]


def test_discarding_deletes_the_checkpoint_and_keeps_the_model(tmp_path):
    data = write_dataset(tmp_path / "cells", count=6)
    config = tiny_config(data, new_model_path(data), epochs=3)
    stopped_run(config, epoch=2)
    [run] = find_interrupted_runs(data)
    discard_checkpoint(run)
    assert not config.checkpoint_path.exists() and not config.checkpoint_path.parent.exists()
    assert run.model_path.is_file()
    assert find_interrupted_runs(data) == []


@pytest.mark.parametrize("epoch, best_epoch, early_stopping, over", [
    (30, 30, 0, True), (7, 7, 0, False), (7, 2, 5, True), (7, 3, 5, False), (7, 2, 0, False)])
def test_a_run_is_over_after_its_last_epoch_or_when_it_stopped_early(epoch, best_epoch, early_stopping, over):
    config = TrainConfig(data_dir=".", output="m.safetensors", epochs=30, early_stopping=early_stopping)
    assert run_is_over(config, epoch, best_epoch) is over

