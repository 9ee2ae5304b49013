"""Arguments of the headless commands. Training options left out take the values recommended for the device, the
data and the model (core.training.recipe), the same the window's wizard recommends."""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import TYPE_CHECKING

from core.device import DEVICE_CHOICES
from core.errors import ConfigError
from core.training.choices import AUGMENT_PRESETS, SETTING_HELP, augment_preset
from core.training.config import OPTIMIZERS, SCHEDULES, TrainConfig

if TYPE_CHECKING:
    from core.data.index import DatasetIndex

_DEFAULTS = TrainConfig(data_dir="", output="")
RECOMMENDED_OPTIONS = ("epochs", "batch_size", "patch_size", "learning_rate", "optimizer", "schedule", "loss",
                       "augment", "early_stopping")  # options whose default is the recommended value


def _channel(parser: argparse.ArgumentParser, default_text: str) -> None:
    parser.add_argument("--channel", metavar="NAME_OR_INDEX",
                        help="the channel a 1-channel model reads of multi-channel images: its name in the file's "
                             f"metadata (e.g. DAPI) or its number from 0. {default_text}")


def _device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES,
                        help="where to compute (default: auto = CUDA GPU, then Apple GPU, then CPU)")


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Train or fine-tune a model. Settings marked 'Default: recommended' take the values the "
                          "window's training wizard recommends for this device, data and model.")
    parser.add_argument("data_dir", metavar="DATA_DIR", help="folder of images with masks")
    parser.add_argument("--out", metavar="MODEL", help="model file to write (default: DATA_DIR/models/"
                                                       "<folder>_<date>.safetensors, never over an earlier one)")
    parser.add_argument("--arch", help="architecture (see the registry). Default: recommended for the device "
                                       "(the automatic recipe, as in the window's wizard)")
    parser.add_argument("--encoder", help="encoder of smp architectures (default: the recommended one with the "
                                          "recommended architecture, else resnet18)")
    parser.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                        help="architecture option, e.g. base_channels=32 for unet_classic (repeatable)")
    parser.add_argument("--init-model", metavar="MODEL", help="fine-tune: start from this SegLab model file")
    parser.add_argument("--encoder-weights", metavar="FILE", help="local weights file for the encoder")
    parser.add_argument("--epochs", type=int, help=_recommended("epochs"))
    parser.add_argument("--minutes", type=float, metavar="N",
                        help="train for N minutes instead of a number of epochs: the run is planned for the time, "
                             "the learning rate falls over it and the best model is kept. With --resume: a "
                             "stopped run keeps the budget it had left; a finished run trains N minutes more")
    parser.add_argument("--batch-size", type=int, help=_recommended("batch_size"))
    parser.add_argument("--patch-size", type=int, help=_recommended("patch_size") + " Multiple of 32.")
    parser.add_argument("--patches-per-epoch", type=int, default=None,
                        help="default: enough to cover the training images once")
    parser.add_argument("--lr", type=float, help=_recommended("learning_rate"))
    parser.add_argument("--optimizer", choices=OPTIMIZERS, help=_recommended("optimizer"))
    parser.add_argument("--schedule", choices=SCHEDULES, help=_recommended("schedule"))
    parser.add_argument("--loss", help=_recommended("loss") + " One of ce, bce, dice, ce_dice, u2net.")
    parser.add_argument("--augment", choices=AUGMENT_PRESETS, help=_recommended("augment") + " Presets: " + ", ".join(
        f"{name} ({title.lower()})" for name, (title, _) in AUGMENT_PRESETS.items()) + ".")
    parser.add_argument("--val-fraction", type=float, default=_DEFAULTS.val_fraction)
    parser.add_argument("--val-images", nargs="*", default=(), metavar="NAME", help="explicit validation images")
    parser.add_argument("--seed", type=int, default=_DEFAULTS.seed)
    parser.add_argument("--early-stopping", type=int, help=_recommended("early_stopping") + " 0: never.")
    parser.add_argument("--no-amp", action="store_true",
                        help="no mixed precision (float16/bfloat16 autocast on a GPU or a CPU with bfloat16)")
    parser.add_argument("--resume", action="store_true", help="continue the interrupted run that writes MODEL")
    _channel(parser, "Given, a 1-channel model is trained on it (default: the dataset's channel setting, else "
                     "every channel)")
    _device(parser)


def _recommended(setting: str) -> str:
    return f"{SETTING_HELP[setting]} Default: recommended.".replace("%", "%%")  # argparse formats help with %


def _prediction(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tile", type=int, default=512, help="tile size in pixels (default 512)")
    parser.add_argument("--overlap", type=int, default=64, help="tile overlap in pixels (default 64)")
    parser.add_argument("--batch-size", type=int, default=4, help="tiles per forward pass")
    parser.add_argument("--tta", action="store_true", help="average over flips (slower, a little better)")
    parser.add_argument("--backend", default="auto", choices=("auto", "torch", "onnx", "openvino"),
                        help="auto (default): the fastest measured on this machine, measured once and remembered")
    parser.add_argument("--precision", default="auto", choices=("auto", "exact"),
                        help="auto (default): also bfloat16, float16 or 8-bit arithmetic where faster, used only "
                             "when its masks agree with 32-bit on 99.9%% of the pixels of the first images; "
                             "exact: 32-bit only")
    _device(parser)


def add_predict_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="SegLab model file, or a BioImage.IO package (its rdf.yaml "
                                                       "or bioimageio.yaml, its folder, or its .zip)")
    parser.add_argument("input_dir", metavar="INPUT_DIR", help="folder of images (PNG, JPEG, BMP, TIFF, OME-TIFF, "
                                                               "CZI, ND2, LIF, OME-Zarr)")
    parser.add_argument("output_dir", metavar="OUTPUT_DIR",
                        help="where masks go: <stem>.png, and one <stem>_<plane>.png per plane of a stack "
                             "(e.g. cells_t2_z3.png)")
    _channel(parser, "Without it, such images fail (8-bit colour photos are read as gray, with a warning)")
    _prediction(parser)
    parser.add_argument("--uncertainty", action="store_true",
                        help="also write OUTPUT_DIR/uncertainty/<stem>.tif (float32: 0 certain, 1 most uncertain) "
                             "and OUTPUT_DIR/uncertainty.csv (image, score; most uncertain first)")
    cluster = parser.add_mutually_exclusive_group()
    cluster.add_argument("--dask", metavar="tcp://HOST:PORT",
                         help="predict on the workers of this Dask scheduler (they must see the model and the "
                              "folders at the same paths; needs pip install -e \".[cluster]\")")
    cluster.add_argument("--workers", type=int, metavar="N",
                         help="predict on a local Dask cluster of N worker processes with one thread each")


def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="SegLab model file")
    parser.add_argument("data_dir", metavar="DATA_DIR", help="folder of images with ground-truth masks")
    parser.add_argument("--report", required=True, metavar="OUT_DIR", help="folder for the CSV and JSON report")
    parser.add_argument("--html", action="store_true",
                        help="also write report.html: one self-contained page with tables, pictures and curves")
    parser.add_argument("--include-training", action="store_true",
                        help="also score the images the model was trained on (marked in the report); by default "
                             "only images it never trained on are scored")
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


def _given_settings(args: argparse.Namespace) -> dict:
    """The TrainConfig fields whose options were given; recommended values fill in the others."""
    values = {"epochs": args.epochs, "batch_size": args.batch_size, "patch_size": args.patch_size,
              "learning_rate": args.lr, "optimizer": args.optimizer, "schedule": args.schedule, "loss": args.loss,
              "augment": augment_preset(args.augment) if args.augment else None,
              "early_stopping": args.early_stopping}
    return {name: value for name, value in values.items() if value is not None}


def train_config(args: argparse.Namespace) -> tuple[TrainConfig, DatasetIndex]:
    """The run the arguments describe and DATA_DIR scanned once (the run reuses the scan). Options not given take
    the values core.training.recipe recommends for this device, data and model, as the window's wizard does.
    The values given are checked before any file is read."""
    from core.data.index import DatasetIndex
    from core.device import select_device
    from core.models.registry import model_info, recommended
    from core.training.paths import new_model_path
    from core.training.recipe import DatasetFacts, recommend
    from core.training.setup import check_model_choice, init_model_spec

    if args.resume and not args.out:
        raise ConfigError("--resume needs --out MODEL: the model file of the run to continue")
    given = _given_settings(args)
    device = select_device(args.device)
    architecture, encoder = args.arch, args.encoder or _DEFAULTS.encoder
    if architecture is None:
        architecture, suggested = recommended(device.kind)
        encoder = args.encoder or suggested
    config = TrainConfig(
        data_dir=args.data_dir, output=args.out or "", architecture=architecture, encoder=encoder,
        model_options=parse_options(args.option), init_model=args.init_model, encoder_weights=args.encoder_weights,
        patches_per_epoch=args.patches_per_epoch, val_fraction=args.val_fraction, val_names=tuple(args.val_images),
        seed=args.seed, device=args.device, amp=not args.no_amp, resume=args.resume, minutes=args.minutes, **given)
    base = init_model_spec(config)
    check_model_choice(config, base)
    index = DatasetIndex.scan(args.data_dir)
    if args.channel is not None:
        index = replace(index, settings=replace(index.settings, channel=args.channel))
    recommendation = recommend(DatasetFacts.read(index), device,
                               model_info(base.architecture if base else config.architecture), base, args.minutes)
    recommended = {name: value for name, value in recommendation.config_fields().items()
                   if name in RECOMMENDED_OPTIONS and name not in given}
    return config.with_changes(output=args.out or str(new_model_path(index.root)), **recommended), index
