"""What the training loop yields: plain frozen dataclasses, safe to send across threads."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class TrainingStarted:
    device: str  # the device in words, e.g. "CPU: AMD EPYC, 2 cores"
    device_note: str | None  # why a present GPU is not used, if so
    epochs: int
    start_epoch: int  # 1, or the epoch a resumed run continues with
    batches_per_epoch: int
    train_images: tuple[str, ...]
    val_images: tuple[str, ...]
    skipped: tuple[str, ...]  # "file: problem" for images left out
    class_names: tuple[str, ...]
    parameters: int
    weights_note: str  # where the starting weights came from
    history: tuple[dict, ...] = ()  # epochs already done (resume)
    precision: str = ""  # how steps run, e.g. "bfloat16, channels-last (fastest of 4 measured on this CPU ...)"
    minutes: float | None = None  # the time budget (every part of a resumed run), None: trained by epochs


@dataclass(frozen=True)
class BatchReport:
    epoch: int
    epochs: int
    batch: int
    batches: int
    loss: float
    learning_rate: float
    images_per_s: float
    elapsed_s: float  # in this epoch
    eta_s: float
    run_elapsed_s: float = 0.0  # training time of the run so far, earlier parts of a resumed run included


@dataclass(frozen=True)
class Preview:
    """A fixed validation crop: display image (uint8), truth and prediction (class indices)."""

    name: str
    image: np.ndarray
    truth: np.ndarray
    prediction: np.ndarray


@dataclass(frozen=True)
class EpochReport:
    epoch: int
    epochs: int
    train_loss: float
    val_loss: float | None
    mean_iou: float | None
    metrics: dict  # ConfusionMatrix.summary(): per-class IoU/Dice, accuracies (None for undefined)
    learning_rate: float
    images_per_s: float
    seconds: float
    eta_s: float
    is_best: bool
    best_epoch: int
    preview: Preview | None = None
    elapsed_s: float | None = None  # training time of the run at the end of this epoch (plots' time axis)

    def history_entry(self) -> dict:
        """The JSON-safe record kept in checkpoints and model files (curves in reports)."""
        per_class = self.metrics.get("per_class", [])
        return {
            "epoch": self.epoch, "train_loss": self.train_loss, "val_loss": self.val_loss,
            "mean_iou": self.mean_iou, "learning_rate": self.learning_rate, "seconds": self.seconds,
            "elapsed": self.elapsed_s,
            "iou": [c.get("iou") for c in per_class], "dice": [c.get("dice") for c in per_class],
        }


@dataclass(frozen=True)
class TrainingFinished:
    reason: str  # "completed" | "stopped" | "early_stopping" | "budget"
    epochs_done: int
    best_epoch: int
    best_mean_iou: float | None
    model_path: str | None  # None when no epoch finished
    checkpoint_path: str
    seconds: float
    metrics: dict = field(default_factory=dict)  # the best epoch's validation summary

    def describe(self) -> str:
        why = {"completed": "finished all epochs", "stopped": "stopped on request",
               "early_stopping": "stopped early: validation IoU stopped improving",
               "budget": "used its time budget"}[self.reason]
        score = f", best mIoU {self.best_mean_iou:.3f} at epoch {self.best_epoch}" if self.best_mean_iou is not None else ""
        saved = f"; model saved to {self.model_path}" if self.model_path else "; no model saved (no epoch finished)"
        return f"Training {why} after {self.epochs_done} epochs in {self.seconds:.0f} s{score}{saved}"


TrainingReport = TrainingStarted | BatchReport | EpochReport | TrainingFinished
