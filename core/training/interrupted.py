"""Training runs that did not finish (stopped, crashed, killed, or the window closed): found beside a dataset's
models from their checkpoints, described from the checkpoint's small entries, resumed or discarded.

A run is over when its last checkpoint reached the final epoch or the early-stopping patience ran out; the loop
ends on exactly that rule (run_is_over), so a finished run's checkpoint is never offered again."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from core.errors import TrainingError
from core.training.config import TrainConfig
from core.training.paths import CHECKPOINT_NAME, checkpoint_path, model_folders

CHECKPOINT_GLOB = f"*_training/{CHECKPOINT_NAME}"


def stops_early(config: TrainConfig, epoch: int, best_epoch: int) -> bool:
    """The validation score has not improved for `config.early_stopping` epochs."""
    return bool(config.early_stopping) and epoch - best_epoch >= config.early_stopping


def run_is_over(config: TrainConfig, epoch: int, best_epoch: int, budget_spent: bool = False) -> bool:
    """A checkpoint written after `epoch` ends its run: all epochs done, or stopped early; a run with a time
    budget (config.minutes) ends when the budget is spent."""
    if config.minutes is not None:
        return budget_spent
    return epoch >= config.epochs or stops_early(config, epoch, best_epoch)


@dataclass(frozen=True)
class InterruptedRun:
    """What a checkpoint says about its unfinished run (plain data: safe to send across threads)."""

    checkpoint: Path
    config: TrainConfig  # as stored; resume with config.with_changes(resume=True)
    epoch: int  # the last finished epoch
    best_epoch: int
    best_mean_iou: float | None
    seconds: float  # training time of every part so far
    history: tuple[dict, ...]  # one entry per finished epoch (curves)

    @property
    def model_path(self) -> Path:
        return Path(self.config.output)

    def describe(self) -> str:
        """'interrupted after epoch 7 of 30 (best mean IoU 0.710)', or 'after 2.5 of 5 minutes (...)'."""
        score = f" (best mean IoU {self.best_mean_iou:.3f})" if self.best_mean_iou is not None else ""
        if self.config.minutes is not None:
            return f"interrupted after {self.seconds / 60:.1f} of {self.config.minutes:g} minutes{score}"
        return f"interrupted after epoch {self.epoch} of {self.config.epochs}{score}"


def prior_seconds(state: dict, history: list[dict]) -> float:
    """The training time a checkpoint recorded; checkpoints without it count their epochs' times."""
    if "seconds" in state:
        return float(state["seconds"])
    return float(sum(entry.get("seconds") or 0.0 for entry in history))


def read_interrupted_run(path: str | Path) -> InterruptedRun | None:
    """The run whose checkpoint is `path`, or None when that run is over. Only the small entries are read:
    the weights stay on disk (memory-mapped, never copied)."""
    import torch

    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        config = TrainConfig.from_json(json.loads(state["config"]))
        epoch, best_epoch = int(state["epoch"]), int(state["best_epoch"])
        history = json.loads(state["history"])
        best_metrics = json.loads(state["best_metrics"])
        budget_spent = bool(json.loads(state.get("budget") or "{}").get("finished"))
    except Exception as exc:  # corrupt, truncated, foreign or from another SegLab version
        raise TrainingError(f"the checkpoint cannot be read ({exc}); delete it or start a new run", path) from None
    if run_is_over(config, epoch, best_epoch, budget_spent):
        return None
    score = best_metrics.get("mean_iou")
    return InterruptedRun(path, config, epoch, best_epoch, score if score is None or math.isfinite(score) else None,
                          prior_seconds(state, history), tuple(history))


def find_interrupted_runs(dataset_root: str | Path) -> list[InterruptedRun]:
    """Unfinished runs on `dataset_root` whose checkpoints sit beside their models where new models go by
    default (paths.model_folders), newest first. Checkpoints of other datasets, moved ones and unreadable ones
    are left out; nothing is read (and torch is not loaded) when there are no checkpoints."""
    root = Path(dataset_root).resolve()
    folders = [folder for folder in model_folders(root) if folder.is_dir()]
    candidates = sorted({p.resolve() for folder in folders for p in folder.glob(CHECKPOINT_GLOB)},
                        key=lambda p: p.stat().st_mtime, reverse=True)
    runs = []
    for candidate in candidates:
        try:
            run = read_interrupted_run(candidate)
        except TrainingError:
            continue
        if run is not None and _same_folder(run.config.data_dir, root) and \
                checkpoint_path(run.config.output, run.config.checkpoint_dir).resolve() == candidate:
            runs.append(run)
    return runs


def discard_checkpoint(run: InterruptedRun) -> None:
    """Delete the run's checkpoint (and its folder when nothing else is in it); the model file is kept."""
    try:
        run.checkpoint.unlink(missing_ok=True)
        if run.checkpoint.parent.is_dir() and not any(run.checkpoint.parent.iterdir()):
            run.checkpoint.parent.rmdir()
    except OSError as exc:
        raise TrainingError(f"the checkpoint could not be deleted ({exc.strerror or exc}); delete it by hand",
                            run.checkpoint) from None


def _same_folder(a: str | Path, b: Path) -> bool:
    try:
        return Path(a).resolve() == b
    except OSError:
        return False
