"""Build what a run needs: the model (fresh, fine-tuned or with encoder weights), optimiser and schedule."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from core.classes import ClassTable
from core.errors import ConfigError
from core.models.spec import ModelSpec
from core.training.config import TrainConfig


@dataclass
class ModelSetup:
    model: torch.nn.Module
    spec: ModelSpec
    weights_note: str


def out_channels_for(loss: str, class_count: int) -> int:
    """A binary BCE model has one output channel; everything else one per class."""
    return 1 if loss == "bce" else class_count


def init_model_spec(config: TrainConfig) -> ModelSpec | None:
    """The spec of the model being fine-tuned, if any (header only)."""
    if not config.init_model:
        return None
    from core.models.model_file import read_model_spec

    return read_model_spec(config.init_model)


def check_model_choice(config: TrainConfig, base: ModelSpec | None) -> None:
    """Fail before any data is read: unknown architecture, encoder or option, or a batch or patch too small."""
    from core.errors import unknown_name_error
    from core.models.registry import list_encoders, model_info, resolve_options

    info = model_info(base.architecture if base else config.architecture)
    if base is None:
        resolve_options(info.name, dict(config.model_options))
        if info.needs_encoder and config.encoder and config.encoder not in list_encoders(info.name):
            raise unknown_name_error(f"encoder for {info.title}", config.encoder, list_encoders(info.name))
    if config.batch_size < info.min_train_batch:
        raise ConfigError(f"{info.title} needs a batch size of at least {info.min_train_batch}")
    if config.patch_size < info.smallest_input:
        raise ConfigError(f"{info.title} needs patches of at least {info.smallest_input} pixels")


def build_model(config: TrainConfig, classes: ClassTable, in_channels: int) -> ModelSetup:
    """The network to train and its spec. Fine-tuning keeps the file's architecture and every weight whose
    shape still fits (a different class count re-initialises only the output layer)."""
    from core.models.registry import create_model, model_info, resolve_options

    base = init_model_spec(config)
    architecture = base.architecture if base else config.architecture
    encoder = base.encoder if base else config.encoder
    if not model_info(architecture).needs_encoder:
        encoder = None  # SegLab's own networks have their encoder built in
    options = resolve_options(architecture, dict(base.options) if base else dict(config.model_options))
    out_channels = out_channels_for(config.loss, len(classes))
    model = create_model(architecture, in_channels=in_channels, out_channels=out_channels,
                         encoder=encoder, options=options)
    spec = ModelSpec(architecture=architecture, encoder=encoder, in_channels=in_channels, classes=classes,
                     out_channels=out_channels, options=options, normalisation=config.normalisation,
                     patch_size=config.patch_size)
    if base is not None:
        from core.models.encoder_weights import load_weights_from_model_file

        report = load_weights_from_model_file(model, config.init_model, spec)
        note = f"fine-tuning {config.init_model}: {_describe(report)}"
    elif config.encoder_weights:
        from core.models.encoder_weights import load_encoder_weights

        report = load_encoder_weights(model, config.encoder_weights, spec)
        note = f"encoder weights from {config.encoder_weights}: {_describe(report)}"
    else:
        note = "random initialisation (training from scratch)"
    return ModelSetup(model, spec, note)


def _describe(report) -> str:
    text = f"{report.loaded} weight tensors loaded"
    if report.missing:
        text += f", {report.missing} start fresh (e.g. an output layer for another class count)"
    if report.adapted:
        text += f", input channels adapted in {', '.join(report.adapted)}"
    return text


def build_optimizer(config: TrainConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.learning_rate, momentum=0.9, nesterov=True,
                               weight_decay=config.weight_decay)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=config.learning_rate, momentum=0.9, weight_decay=config.weight_decay)
    raise ConfigError(f"unknown optimizer {config.optimizer!r}")


def build_schedule(config: TrainConfig, optimizer: torch.optim.Optimizer):
    """Stepped once per epoch: plateau on validation mIoU (halves the rate after 3 flat epochs), or cosine."""
    if config.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=0.5, patience=3)
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs, eta_min=config.learning_rate / 100)
    return None
