"""Arguments of the headless commands, with defaults from the engine's own settings."""

from __future__ import annotations

import argparse

from core.data.augment import AugmentConfig
from core.device import DEVICE_CHOICES
from core.errors import ConfigError
from core.training.config import OPTIMIZERS, SCHEDULES, TrainConfig

_DEFAULTS = TrainConfig(data_dir="", output="")


def _device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES,
                        help="where to compute (default: auto = CUDA GPU, then Apple GPU, then CPU)")


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data_dir", metavar="DATA_DIR", help="folder of images with masks")
    parser.add_argument("--out", required=True, metavar="MODEL", help="model file to write (e.g. cells.safetensors)")
    parser.add_argument("--arch", default=_DEFAULTS.architecture, help="architecture (see the registry; default unet)")
    parser.add_argument("--encoder", default=_DEFAULTS.encoder, help="encoder of smp architectures (default resnet18)")
    parser.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                        help="architecture option, e.g. base_channels=32 for unet_classic (repeatable)")
    parser.add_argument("--init-model", metavar="MODEL", help="fine-tune: start from this SegLab model file")
    parser.add_argument("--encoder-weights", metavar="FILE", help="local weights file for the encoder")
    parser.add_argument("--epochs", type=int, default=_DEFAULTS.epochs)
    parser.add_argument("--batch-size", type=int, default=_DEFAULTS.batch_size)
    parser.add_argument("--patch-size", type=int, default=_DEFAULTS.patch_size, help="multiple of 32")
    parser.add_argument("--patches-per-epoch", type=int, default=None,
                        help="default: enough to cover the training images once")
    parser.add_argument("--lr", type=float, default=_DEFAULTS.learning_rate, help="learning rate")
    parser.add_argument("--optimizer", default=_DEFAULTS.optimizer, choices=OPTIMIZERS)
    parser.add_argument("--schedule", default=_DEFAULTS.schedule, choices=SCHEDULES)
    parser.add_argument("--loss", default=_DEFAULTS.loss, help="ce, bce, dice, ce_dice or u2net")
    parser.add_argument("--val-fraction", type=float, default=_DEFAULTS.val_fraction)
    parser.add_argument("--val-images", nargs="*", default=(), metavar="NAME", help="explicit validation images")
    parser.add_argument("--seed", type=int, default=_DEFAULTS.seed)
    parser.add_argument("--early-stopping", type=int, default=_DEFAULTS.early_stopping,
                        help="stop after this many epochs without improvement (0: never)")
    parser.add_argument("--no-augment", action="store_true", help="train without augmentation")
    parser.add_argument("--no-amp", action="store_true", help="no mixed precision on CUDA")
    parser.add_argument("--resume", action="store_true", help="continue the interrupted run that writes MODEL")
    _device(parser)


def _prediction(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tile", type=int, default=512, help="tile size in pixels (default 512)")
    parser.add_argument("--overlap", type=int, default=64, help="tile overlap in pixels (default 64)")
    parser.add_argument("--batch-size", type=int, default=4, help="tiles per forward pass")
    parser.add_argument("--tta", action="store_true", help="average over flips (slower, a little better)")
    parser.add_argument("--backend", default="auto", choices=("auto", "torch", "onnx"))
    parser.add_argument("--precision", default="exact", choices=("exact", "fast"),
                        help="fast: 8-bit arithmetic on the CPU, about 1.5x faster; masks may differ on a few "
                             "edge pixels (checked against exact on the first images)")
    _device(parser)


def add_predict_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="SegLab model file")
    parser.add_argument("input_dir", metavar="INPUT_DIR", help="folder of images")
    parser.add_argument("output_dir", metavar="OUTPUT_DIR", help="where masks go (same stem, .png)")
    _prediction(parser)


def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="SegLab model file")
    parser.add_argument("data_dir", metavar="DATA_DIR", help="folder of images with ground-truth masks")
    parser.add_argument("--report", required=True, metavar="OUT_DIR", help="folder for the CSV and JSON report")
    parser.add_argument("--html", action="store_true",
                        help="also write report.html: one self-contained page with tables, pictures and curves")
    _prediction(parser)


def parse_options(pairs: list[str]) -> dict:
    """['base_channels=32', 'bilinear=false'] -> {'base_channels': 32, 'bilinear': False}."""
    options = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise ConfigError(f"--option {pair!r} must look like NAME=VALUE")
        lowered = text.strip().lower()
        value = {"true": True, "false": False}.get(lowered, text)
        if isinstance(value, str) and lowered.lstrip("-").isdigit():
            value = int(lowered)
        options[name.strip()] = value
    return options


def train_config(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        data_dir=args.data_dir, output=args.out, architecture=args.arch, encoder=args.encoder or None,
        model_options=parse_options(args.option),
        init_model=args.init_model, encoder_weights=args.encoder_weights, epochs=args.epochs,
        batch_size=args.batch_size, patch_size=args.patch_size, patches_per_epoch=args.patches_per_epoch,
        learning_rate=args.lr, optimizer=args.optimizer, schedule=args.schedule, loss=args.loss,
        val_fraction=args.val_fraction, val_names=tuple(args.val_images), seed=args.seed,
        early_stopping=args.early_stopping, augment=AugmentConfig.none() if args.no_augment else AugmentConfig(),
        device=args.device, amp=not args.no_amp, resume=args.resume)
