"""What one training run holds (TrainingRun), and how it is written down and read back: the checkpoint's
contents, the spec stored with the model file, and the restore of a resumed run."""

from __future__ import annotations

import itertools
import json
import math
import time
from dataclasses import dataclass, field, replace

import torch

from core.data.dataset import PatchDataset, ValidationTiles
from core.device import DeviceInfo
from core.training.budget import BudgetPlan
from core.training.config import TrainConfig
from core.training.data_setup import TrainingData
from core.training.interrupted import prior_seconds
from core.training.precision import Precision
from core.training.setup import ModelSetup


@dataclass
class TrainingRun:
    """Everything one run holds, built once by Trainer._prepare."""

    config: TrainConfig
    device: DeviceInfo
    data: TrainingData
    setup: ModelSetup
    optimizer: torch.optim.Optimizer
    schedule: object
    loss_fn: torch.nn.Module
    train_set: PatchDataset
    loader: torch.utils.data.DataLoader
    network: torch.nn.Module  # the model as training steps run it (DistributedDataParallel under torchrun)
    val_tiles: ValidationTiles | None
    val_loader: torch.utils.data.DataLoader | None  # every tile; with a budget, its fixed sample (made lazily)
    precision: Precision
    scaler: torch.amp.GradScaler
    budget: BudgetPlan | None = None
    history: list[dict] = field(default_factory=list)
    best_score: float = -math.inf
    best_epoch: int = 0
    best_metrics: dict = field(default_factory=dict)
    start_epoch: int = 1
    earlier_seconds: float = 0.0  # training time of the parts before a resume
    val_seconds: float = 0.0
    model_path: str | None = None  # the model file, once an epoch was the best so far
    started: float = 0.0  # perf_counter() when the run began, moved back by the earlier parts' time
    stepped: bool = False  # a step ran in this process (the first one pays for set-up and is not timed)

    @property
    def memory_format(self) -> torch.memory_format:
        return self.precision.memory_format

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    @property
    def epochs(self) -> int:
        """The epoch count reports show; with a budget, the planned validation rounds."""
        return self.config.epochs if self.budget is None else self.budget.planned_rounds

    @property
    def model(self) -> torch.nn.Module:
        return self.setup.model

    def epoch_numbers(self):
        """The epochs to run: up to the epoch count, or with a budget, rounds until the plan is done."""
        if self.budget is None:
            return range(self.start_epoch, self.config.epochs + 1)
        return () if self.budget.finished else itertools.count(self.start_epoch)


def checkpoint_state(run: TrainingRun, epoch: int, seconds: float) -> dict:
    """What the checkpoint after `epoch` holds: enough to continue the run as if it had not stopped."""
    return {
        "model": run.model.state_dict(), "optimizer": run.optimizer.state_dict(),
        "schedule": json.dumps(run.schedule.state_dict()) if run.schedule is not None else "",
        "epoch": epoch, "history": json.dumps(run.history), "best_score": run.best_score,
        "best_epoch": run.best_epoch, "best_metrics": json.dumps(run.best_metrics),
        "config": json.dumps(run.config.to_json()), "seconds": seconds,
        "budget": json.dumps(run.budget.to_json()) if run.budget is not None else "",
    }


def restore(run: TrainingRun, state: dict) -> None:
    """Continue a run from its last checkpoint."""
    from core.models.model_file import model_file_path

    run.model.load_state_dict(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    if run.schedule is not None and state.get("schedule"):
        run.schedule.load_state_dict(json.loads(state["schedule"]))
    run.history = json.loads(state["history"])
    run.best_score, run.best_epoch = float(state["best_score"]), int(state["best_epoch"])
    run.best_metrics = json.loads(state["best_metrics"])
    run.start_epoch = int(state["epoch"]) + 1
    run.earlier_seconds = prior_seconds(state, run.history)
    saved = model_file_path(run.config.output)
    run.model_path = str(saved) if run.best_epoch and saved.is_file() else None


def model_spec(run: TrainingRun, seconds: float):
    """The spec stored with the weights: data and settings summary, curves so far, best metrics."""
    from core.versions import software_versions

    config, data = run.config, run.data
    training = {
        "data_dir": str(config.data_dir), "train_images": [s.name for s in data.train],
        "val_images": [s.name for s in data.val], "skipped": list(data.skipped), "best_epoch": run.best_epoch,
        "epochs_done": len(run.history), "seconds": round(seconds, 1), "device": run.device.describe(),
        "weights": run.setup.weights_note, "config": config.to_json(), "history": run.history,
    }
    return replace(run.setup.spec, training=training, metrics=run.best_metrics, versions=software_versions())
