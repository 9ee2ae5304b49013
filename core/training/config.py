"""TrainConfig: every choice of a training run, frozen, JSON round-trippable (stored in checkpoints)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from core.data.augment import AugmentConfig
from core.errors import ConfigError
from core.io.images import Normalisation
from core.training.paths import checkpoint_path

OPTIMIZERS = ("adamw", "sgd", "rmsprop")
SCHEDULES = ("plateau", "cosine", "none")


@dataclass(frozen=True)
class TrainConfig:
    data_dir: str
    output: str  # the model file to write (best epoch)
    architecture: str = "unet"
    encoder: str | None = "resnet18"
    model_options: dict = field(default_factory=dict)
    init_model: str | None = None  # fine-tune: start from this SegLab model file
    encoder_weights: str | None = None  # a local weights file for the encoder
    epochs: int = 50
    minutes: float | None = None  # a time budget: train this long (epochs and early stopping then do not apply)
    batch_size: int = 8
    patch_size: int = 256
    patches_per_epoch: int | None = None  # None: enough to cover the training images once
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    optimizer: str = "adamw"
    schedule: str = "plateau"
    loss: str = "ce"
    class_weights: tuple[float, ...] | None = None
    val_fraction: float = 0.2
    val_names: tuple[str, ...] = ()
    seed: int = 0
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    normalisation: Normalisation = field(default_factory=Normalisation)
    device: str = "auto"
    amp: bool = True
    early_stopping: int = 10  # epochs without improvement before stopping; 0 = never
    checkpoint_dir: str | None = None  # default: <model stem>_training beside the model file
    resume: bool = False

    def __post_init__(self):
        checks = [
            (self.epochs >= 1, "epochs must be at least 1"),
            (self.minutes is None or self.minutes > 0, "the time budget must be more than 0 minutes"),
            (self.batch_size >= 1, "the batch size must be at least 1"),
            (self.patch_size >= 32 and self.patch_size % 32 == 0, "the patch size must be a multiple of 32, at least 32"),
            (self.learning_rate > 0, "the learning rate must be positive"),
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}"),
            (self.schedule in SCHEDULES, f"schedule must be one of {', '.join(SCHEDULES)}"),
            (0 <= self.val_fraction < 1, "the validation fraction must be at least 0 and below 1"),
            (self.early_stopping >= 0, "early stopping patience cannot be negative"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    @property
    def checkpoint_path(self) -> Path:
        return checkpoint_path(self.output, self.checkpoint_dir)

    def with_changes(self, **changes) -> TrainConfig:
        return replace(self, **changes)

    def to_json(self) -> dict:
        data = asdict(self)
        data["augment"] = self.augment.to_json()
        data["normalisation"] = self.normalisation.to_json()
        data["val_names"] = list(self.val_names)
        data["class_weights"] = list(self.class_weights) if self.class_weights else None
        return data

    @classmethod
    def from_json(cls, data: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["augment"] = AugmentConfig.from_json(data.get("augment"))
        values["normalisation"] = Normalisation.from_json(data.get("normalisation") or {})
        values["val_names"] = tuple(data.get("val_names") or ())
        values["class_weights"] = tuple(data["class_weights"]) if data.get("class_weights") else None
        return cls(**values)
