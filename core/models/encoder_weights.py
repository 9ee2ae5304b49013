"""Start training from weights the user supplies as a local file: pretrained encoder weights, or a SegLab model.

A weights file may be safetensors, or a PyTorch file read with torch.load(weights_only=True), which restores
tensors and plain containers only and never runs code. Names from timm, torchvision and smp are accepted: prefixes
such as "module.", "encoder.", "backbone." and wrappers such as {"state_dict": ...} are looked through. When the
file's first convolution takes RGB and the model takes another number of channels, its weights are adapted the way
smp does it (summed for one channel, cycled and rescaled for N).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import ModelFileError
from core.models.model_file import describe_architecture, load_safetensors, read_model_spec
from core.models.registry import model_info, resolve_options

if TYPE_CHECKING:
    import torch
    from torch import nn

    from core.models.spec import ModelSpec

_PREFIXES = (
    "",
    "module.",
    "model.",
    "encoder.",
    "backbone.",
    "module.encoder.",
    "model.encoder.",
    "module.model.",
    "model.backbone.",
    "module.backbone.",
)
_WRAPPERS = ("state_dict", "model_state_dict", "model", "net", "network", "weights")


@dataclass(frozen=True)
class LoadReport:
    """loaded: tensors copied into the model; skipped: tensors of the file left unused (other names or shapes);
    missing: tensors of the model that kept their initial values; adapted: convolutions whose input channels were
    converted."""

    loaded: int
    skipped: int
    missing: int
    adapted: tuple[str, ...] = ()


def load_encoder_weights(model: nn.Module, path: str | Path, spec: ModelSpec) -> LoadReport:
    """Copy matching weights from `path` into the encoder of an smp model, or into a SegLab network as a whole."""
    path = Path(path)
    info = model_info(spec.architecture)
    if info.family == "smp":
        target, what = model.encoder, f"the {spec.encoder or info.default_encoder} encoder of {info.title}"
    else:
        target, what = model, info.title
    tensors = read_weight_file(path)
    report = _copy_matching(target, tensors)
    if report.loaded == 0:
        expected, found = _examples(target.state_dict()), _examples(tensors) or "no tensors at all"
        raise ModelFileError(
            f"none of its {len(tensors)} tensors fit {what}: the file has names like {found}; "
            f"{what} expects names like {expected}; choose weights made for this encoder "
            "(timm, torchvision or smp naming)",
            path,
        )
    return report


def load_weights_from_model_file(model: nn.Module, path: str | Path, spec: ModelSpec) -> LoadReport:
    """Fine-tune start: all weights of a SegLab model file of the same architecture and encoder.

    The class count may differ: output layers whose shape no longer fits keep their initial values (see `missing`).
    """
    path = Path(path)
    source = read_model_spec(path)
    if _architecture_key(source) != _architecture_key(spec):
        raise ModelFileError(
            f"was trained as {describe_architecture(source)} but the new model is "
            f"{describe_architecture(spec)}; choose a model file of the same architecture, "
            "or start from scratch",
            path,
        )
    return _copy_matching(model, load_safetensors(path))


def _examples(names, count: int = 3) -> str:
    """A few names, weights first: they say more about a network than BatchNorm counters do."""
    weights = [name for name in names if name.endswith("weight")]
    return ", ".join((weights or list(names))[:count])


def _architecture_key(spec: ModelSpec) -> tuple:
    info = model_info(spec.architecture)
    return info.name, spec.encoder or info.default_encoder, resolve_options(info.name, spec.options)


def read_weight_file(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a safetensors or PyTorch weights file, with wrappers such as {"state_dict": ...} removed."""
    if not path.is_file():
        raise ModelFileError("file not found; check the path or choose another weights file", path)
    with open(path, "rb") as handle:
        prefix = handle.read(9)
    if prefix[8:9] == b"{":
        return load_safetensors(path)
    if not (prefix.startswith(b"PK\x03\x04") or prefix[:1] == b"\x80"):
        raise ModelFileError(
            "is neither a safetensors nor a PyTorch weights file; choose a .safetensors, .pth or .pt file",
            path,
        )
    import torch

    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise ModelFileError(
            "holds Python objects besides tensors, which SegLab refuses to unpickle because they "
            "can run code; save only the state_dict (torch.save(model.state_dict(), ...)) or use "
            "safetensors",
            path,
        ) from None
    except (RuntimeError, EOFError, ValueError, OSError) as exc:
        raise ModelFileError(
            f"cannot be read as PyTorch weights (truncated or corrupt?): {exc}", path
        ) from None
    return _unwrapped(content)


def _unwrapped(content) -> dict[str, torch.Tensor]:
    import torch

    while isinstance(content, dict) and not any(isinstance(v, torch.Tensor) for v in content.values()):
        inner = next((content[key] for key in _WRAPPERS if isinstance(content.get(key), dict)), None)
        if inner is None:
            break
        content = inner
    if not isinstance(content, dict):
        return {}
    return {str(name): tensor for name, tensor in content.items() if isinstance(tensor, torch.Tensor)}


def _copy_matching(target: nn.Module, tensors: dict[str, torch.Tensor]) -> LoadReport:
    """Copy tensors whose name (after the best prefix) and shape fit; adapt the first convolution's channels."""
    import torch

    state = target.state_dict()
    first_conv = next((name for name, tensor in state.items() if tensor.ndim == 4), None)
    names = _best_renaming(tensors, state)
    loaded, adapted = 0, []
    with torch.no_grad():
        for name, source_name in names.items():
            value, wanted = tensors[source_name], state[name]
            if value.shape != wanted.shape and name == first_conv and _adaptable(value, wanted):
                value = _adapt_input_channels(value, wanted.shape[1])
                adapted.append(name)
            if value.shape == wanted.shape:
                wanted.copy_(value.to(wanted.dtype))
                loaded += 1
    return LoadReport(
        loaded=loaded, skipped=len(tensors) - loaded, missing=len(state) - loaded, adapted=tuple(adapted)
    )


def _best_renaming(tensors: dict, state: dict) -> dict[str, str]:
    """model name -> file name, for the prefix that matches the most names."""
    best: dict[str, str] = {}
    for prefix in _PREFIXES:
        names = {
            key[len(prefix) :]: key
            for key in tensors
            if key.startswith(prefix) and key[len(prefix) :] in state
        }
        if len(names) > len(best):
            best = names
    return best


def _adaptable(value: torch.Tensor, wanted: torch.Tensor) -> bool:
    return value.ndim == 4 and value.shape[0] == wanted.shape[0] and value.shape[2:] == wanted.shape[2:]


def _adapt_input_channels(weight: torch.Tensor, channels: int) -> torch.Tensor:
    """Like smp's patch_first_conv: sum the input channels for one channel; else cycle them, rescaled to keep the
    response of a uniform image."""
    import torch

    if channels == 1:
        return weight.sum(dim=1, keepdim=True)
    cycle = torch.arange(channels) % weight.shape[1]
    return weight[:, cycle] * (weight.shape[1] / channels)
