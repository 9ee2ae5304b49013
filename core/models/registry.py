"""Model registry: every architecture SegLab can train, by name, with what the wizard needs to know about it.

Two families: "smp" wraps segmentation_models_pytorch (an encoder such as resnet18 plus a decoder; always built
with encoder_weights=None, so nothing is ever downloaded) and "seglab" holds the seed articles' own networks
(classic U-Net, U²-Net, FCN-8s) written in core/models. Listing and describing models imports no torch; only
create_model does, so the GUI can fill its menus at start-up cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.errors import ConfigError, unknown_name_error

if TYPE_CHECKING:
    from torch import nn

    from core.models.spec import ModelSpec


@dataclass(frozen=True)
class ModelOption:
    """One architecture argument of a SegLab network; the type of `default` is the accepted type."""

    name: str
    default: bool | int | str
    description: str
    choices: tuple = ()


@dataclass(frozen=True)
class ModelInfo:
    """What the wizard shows and checks before building a model.

    size_multiple: input height and width must be multiples of this. min_size: smallest usable height/width.
    min_train_batch: some decoders normalise a 1x1 pooled feature and cannot train on a batch of one image.
    """

    name: str
    title: str
    description: str
    family: str
    needs_encoder: bool
    default_encoder: str | None
    deep_supervision: bool
    size_multiple: int
    cpu_friendly: bool
    min_size: int = 0
    min_train_batch: int = 1
    options: tuple[ModelOption, ...] = ()

    @property
    def smallest_input(self) -> int:
        """The smallest height/width this model accepts: a multiple of size_multiple, at least min_size."""
        size = max(self.min_size, self.size_multiple)
        return -(-size // self.size_multiple) * self.size_multiple


_CNN_ENCODERS = (
    "resnet18",
    "resnet34",
    "resnet50",
    "efficientnet-b0",
    "efficientnet-b2",
    "efficientnet-b4",
    "mobilenet_v2",
)
_MIT_ENCODERS = ("mit_b0", "mit_b1", "mit_b2")
# Every pair below was built with in_channels=1 and run forward (smp 0.6.0); Unet++ and LinkNet reject mit_*.
_ENCODERS: dict[str, tuple[str, ...]] = {
    "unet": _CNN_ENCODERS + _MIT_ENCODERS,
    "unetplusplus": _CNN_ENCODERS,
    "deeplabv3plus": _CNN_ENCODERS + _MIT_ENCODERS,
    "fpn": _CNN_ENCODERS + _MIT_ENCODERS,
    "linknet": _CNN_ENCODERS,
    "manet": _CNN_ENCODERS + _MIT_ENCODERS,
    "pspnet": _CNN_ENCODERS + _MIT_ENCODERS,
    "pan": _CNN_ENCODERS + _MIT_ENCODERS,
    "upernet": _CNN_ENCODERS + _MIT_ENCODERS,
    "segformer": _MIT_ENCODERS + _CNN_ENCODERS,
}


def _smp(
    name, title, description, *, size_multiple=32, cpu_friendly=True, default_encoder="resnet34", **extra
):
    return ModelInfo(
        name,
        title,
        description,
        "smp",
        needs_encoder=True,
        default_encoder=default_encoder,
        deep_supervision=False,
        size_multiple=size_multiple,
        cpu_friendly=cpu_friendly,
        **extra,
    )


_MODELS: dict[str, ModelInfo] = {
    info.name: info
    for info in (
        _smp(
            "unet",
            "U-Net",
            "The standard choice: an encoder shrinks the image, a decoder rebuilds full-size "
            "outlines using shortcuts from every level.",
        ),
        _smp(
            "unetplusplus",
            "U-Net++",
            "U-Net with densely nested shortcuts; a little more precise on fine "
            "boundaries, slower and heavier.",
            cpu_friendly=False,
        ),
        _smp(
            "deeplabv3plus",
            "DeepLabV3+",
            "Looks at several context sizes at once (atrous pyramid); good for "
            "objects of very different sizes.",
            size_multiple=16,
            min_train_batch=2,
        ),
        _smp(
            "fpn",
            "FPN",
            "Feature pyramid: merges predictions from several scales; fast, with slightly softer outlines.",
        ),
        _smp(
            "linknet",
            "LinkNet",
            "A very light U-Net-like network that adds instead of stacking shortcuts; the fastest option.",
        ),
        _smp(
            "manet",
            "MA-Net",
            "U-Net with attention blocks that weigh where and which features matter; heavier.",
            cpu_friendly=False,
        ),
        _smp(
            "pspnet",
            "PSPNet",
            "Pools the image at four scales for global context; coarse outlines, good for large regions.",
            size_multiple=8,
        ),
        _smp(
            "pan",
            "PAN",
            "Pyramid attention network: global context with attention; needs patches of at least 128 pixels.",
            min_size=128,
            min_train_batch=2,
        ),
        _smp(
            "upernet",
            "UPerNet",
            "Pyramid pooling plus a feature pyramid, as used with transformer backbones; heavier decoder.",
            cpu_friendly=False,
            min_train_batch=2,
        ),
        _smp(
            "segformer",
            "SegFormer",
            "A transformer encoder (Mix Transformer) with a light all-MLP decoder; good global context.",
            default_encoder="mit_b0",
        ),
        ModelInfo(
            "unet_classic",
            "U-Net (classic, Ronneberger 2015)",
            "The original U-Net built from plain 3x3 convolutions, trained from scratch; no encoder to choose.",
            "seglab",
            needs_encoder=False,
            default_encoder=None,
            deep_supervision=False,
            size_multiple=16,
            cpu_friendly=False,
            options=(
                ModelOption("base_channels", 64, "channels of the first level; doubles at each of 4 levels"),
                ModelOption(
                    "bilinear",
                    True,
                    "upsample bilinearly (lighter) instead of with learned transposed convolutions",
                ),
            ),
        ),
        ModelInfo(
            "u2net",
            "U²-Net (Qin 2020)",
            "Nested U-Nets with six side predictions fused into one; sharp outlines, trained from scratch.",
            "seglab",
            needs_encoder=False,
            default_encoder=None,
            deep_supervision=True,
            size_multiple=32,
            cpu_friendly=False,
            options=(
                ModelOption(
                    "variant",
                    "full",
                    "full: U²-Net (44 M weights); small: U²-Net† (1.1 M weights)",
                    choices=("full", "small"),
                ),
            ),
        ),
        ModelInfo(
            "fcn8s",
            "FCN-8s (Long 2015)",
            "Fully convolutional VGG16 that fuses coarse and finer predictions; accepts any image size.",
            "seglab",
            needs_encoder=False,
            default_encoder=None,
            deep_supervision=False,
            size_multiple=1,
            cpu_friendly=False,
            options=(
                ModelOption(
                    "fc_channels",
                    4096,
                    "channels of the convolutionised fully connected layers "
                    "fc6/fc7 (4096 in the article; 1024 is much lighter)",
                ),
            ),
        ),
    )
}


def list_models() -> list[str]:
    return list(_MODELS)


def model_info(name: str) -> ModelInfo:
    key = name.lower()
    if key not in _MODELS:
        raise unknown_name_error("architecture", name, list_models())
    return _MODELS[key]


def list_encoders(name: str) -> list[str]:
    """Encoders that work with this architecture from scratch and with any input channel count; [] for own nets."""
    return list(_ENCODERS.get(model_info(name).name, ()))


def recommended(device_type: str) -> tuple[str, str | None]:
    """(architecture, encoder) to propose by default: light on a CPU, larger on a GPU ("cuda", "mps"). On a CPU
    LinkNet (resnet18) gave the best held-out scores for the minutes spent on ISBI and BBBC039 (README: how the
    automatic recipe was chosen)."""
    return ("linknet", "resnet18") if device_type == "cpu" else ("unet", "resnet34")


def create_model(
    name: str, *, in_channels: int, out_channels: int, encoder: str | None = None, options: dict | None = None
) -> nn.Module:
    """Build an untrained model (random weights) that maps (N, in_channels, H, W) to (N, out_channels, H, W)."""
    info = model_info(name)
    if in_channels < 1 or out_channels < 1:
        raise ConfigError(
            f"in_channels and out_channels must be at least 1, got {in_channels} and {out_channels}"
        )
    arguments = resolve_options(info.name, options)
    if info.family == "smp":
        return _create_smp(info, in_channels, out_channels, encoder or info.default_encoder)
    if encoder is not None:
        raise ConfigError(f"{info.title} has no encoder to choose; leave the encoder empty (got {encoder!r})")
    if info.name == "unet_classic":
        from core.models.unet import UNetClassic

        return UNetClassic(in_channels, out_channels, **arguments)
    if info.name == "u2net":
        from core.models.u2net import U2Net

        return U2Net(in_channels, out_channels, **arguments)
    from core.models.fcn8s import FCN8s

    return FCN8s(in_channels, out_channels, **arguments)


def build_from_spec(spec: ModelSpec) -> nn.Module:
    return create_model(
        spec.architecture,
        in_channels=spec.in_channels,
        out_channels=spec.out_channels,
        encoder=spec.encoder,
        options=spec.options,
    )


def resolve_options(name: str, options: dict | None = None) -> dict:
    """All options of an architecture: defaults completed with `options`; an unknown name, a wrong type or a
    value outside the choices raises ConfigError."""
    info = model_info(name)
    known = {option.name: option for option in info.options}
    for key, value in (options or {}).items():
        if key not in known:
            if not known:
                raise ConfigError(f"{info.title} takes no options, got {key!r}")
            raise unknown_name_error(f"option of {info.title}", key, list(known))
        option = known[key]
        if type(value) is not type(option.default):
            raise ConfigError(
                f"option {key!r} of {info.title} must be a {type(option.default).__name__}, got {value!r}"
            )
        if option.choices and value not in option.choices:
            raise ConfigError(
                f"option {key!r} of {info.title} must be one of {', '.join(option.choices)}; got {value!r}"
            )
        if isinstance(value, int) and not isinstance(value, bool) and value < 1:
            raise ConfigError(f"option {key!r} of {info.title} must be at least 1, got {value}")
    return {key: (options or {}).get(key, option.default) for key, option in known.items()}


def _create_smp(info: ModelInfo, in_channels: int, out_channels: int, encoder: str) -> nn.Module:
    if encoder not in _ENCODERS[info.name]:
        raise unknown_name_error(f"encoder for {info.title}", encoder, list(_ENCODERS[info.name]))
    import segmentation_models_pytorch as smp

    return smp.create_model(
        info.name, encoder_name=encoder, encoder_weights=None, in_channels=in_channels, classes=out_channels
    )
