"""SegLab model files: one .safetensors file holding the weights, with the ModelSpec as JSON in its header metadata.

The header metadata is {"format": "seglab-model", "seglab_spec": "<ModelSpec JSON>"}, so the spec can be read
without touching the weights, and any safetensors tool can open the file. Nothing here ever unpickles: a PyTorch
checkpoint or a pickle is recognised by its first bytes and refused with an explanation.
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import ConfigError, ModelFileError
from core.io.atomic import write_atomic
from core.models.spec import SPEC_VERSION, ModelSpec

if TYPE_CHECKING:
    import torch
    from torch import nn

FORMAT = "seglab-model"
SUFFIX = ".safetensors"
_MAX_HEADER_BYTES = 100_000_000  # the limit the safetensors library itself applies
_TORCH_LEGACY_MAGIC = (
    b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19"  # torch.save without zip: a pickled magic number
)
_PICKLE_ADVICE = (
    "SegLab reads only .safetensors model files because a pickle can run code when opened; "
    "if you trust its source, load it as encoder weights in the training wizard, or convert its "
    "state_dict with safetensors.torch.save_file"
)


def model_file_path(path: str | Path) -> Path:
    """The path a model is saved at: '.safetensors' is appended when the name lacks it."""
    path = Path(path)
    return path if path.suffix.lower() == SUFFIX else path.with_name(path.name + SUFFIX)


def save_model_file(path: str | Path, model: nn.Module, spec: ModelSpec) -> Path:
    """Write weights and spec atomically at model_file_path(path), which is returned."""
    from safetensors.torch import save_file

    path = model_file_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors, seen = {}, set()
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().cpu().contiguous()
        if tensor.data_ptr() in seen and tensor.numel():  # safetensors refuses tensors that share memory
            tensor = tensor.clone()
        seen.add(tensor.data_ptr())
        tensors[name] = tensor
    metadata = {"format": FORMAT, "seglab_spec": json.dumps(spec.to_json(), ensure_ascii=False)}
    write_atomic(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))
    return path


def rewrite_model_spec(path: str | Path, spec: ModelSpec) -> None:
    """Replace a model file's metadata, keeping its weights (e.g. the full training history at the end)."""
    from safetensors.torch import save_file

    tensors = load_safetensors(path)
    metadata = {"format": FORMAT, "seglab_spec": json.dumps(spec.to_json(), ensure_ascii=False)}
    write_atomic(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


def read_model_spec(path: str | Path) -> ModelSpec:
    """The ModelSpec of a SegLab model file, read from the header alone (fast, weights untouched)."""
    path = Path(path)
    return _spec_from_header(path, read_safetensors_header(path))


def _spec_from_header(path: Path, header: dict) -> ModelSpec:
    metadata = header.get("__metadata__") or {}
    if metadata.get("format") != FORMAT or "seglab_spec" not in metadata:
        raise ModelFileError(
            "is a safetensors file but not a SegLab model: it carries no SegLab metadata; "
            "to start training from these weights, load them as encoder weights instead",
            path,
        )
    try:
        data = json.loads(metadata["seglab_spec"])
        version = int(data.get("version", 0))
    except (ValueError, TypeError, AttributeError) as exc:
        raise ModelFileError(
            f"has damaged SegLab metadata ({exc}); use another copy of the model file", path
        ) from None
    if version > SPEC_VERSION:
        raise ModelFileError(
            f"was written by a newer SegLab (model file version {version}; this SegLab reads up to "
            f"version {SPEC_VERSION}); update SegLab to open it",
            path,
        )
    try:
        return ModelSpec.from_json(data)
    except (KeyError, TypeError, ValueError, ConfigError) as exc:
        raise ModelFileError(
            f"has damaged SegLab metadata ({exc}); use another copy of the model file", path
        ) from None


def load_model_file(path: str | Path, device: str = "cpu") -> tuple[nn.Module, ModelSpec]:
    """Rebuild the model named in the file, load its weights, move it to `device`; returned in eval mode.

    Before anything is allocated, the tensors listed in the header are compared with the shapes the
    architecture creates (built on the meta device) and their size with the free memory."""
    from core.models.registry import build_from_spec

    path = Path(path)
    header = read_safetensors_header(path)
    spec = _spec_from_header(path, header)
    problems = weight_mismatches(architecture_shapes(spec, path), header_shapes(header))
    if problems:
        raise ModelFileError(
            f"its weights do not fit the {describe_architecture(spec)} named in the file: "
            f"{problems}; the file is damaged or was edited",
            path,
        )
    require_memory(path, 2 * tensor_bytes(header), "the model and the weights read from it")
    model = build_from_spec(spec)
    model.load_state_dict(_read_tensors(path))
    return model.to(device).eval(), spec


def architecture_shapes(spec: ModelSpec, path: Path) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor the spec's model holds, found without allocating its weights."""
    from core.models.registry import create_model

    try:
        with _meta_layers():
            model = create_model(spec.architecture, in_channels=spec.in_channels,
                                 out_channels=spec.out_channels, encoder=spec.encoder, options=spec.options)
    except ConfigError as exc:
        raise ModelFileError(
            f"describes a model this SegLab cannot build ({exc.reason}); update SegLab", path
        ) from None
    return {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}


def _meta_layers():
    """A mode in which layers create their weights on the meta device (shapes without memory); other
    tensors stay real, so builders that compute with small tensors (e.g. drop-path rates) still work."""
    import torch
    from torch.overrides import TorchFunctionMode

    factories = (torch.empty, torch.zeros, torch.ones, torch.full)

    class MetaLayers(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = dict(kwargs or {})
            if func in factories and kwargs.get("device") is None:
                kwargs["device"] = "meta"
            return func(*args, **kwargs)

    return MetaLayers()


def header_shapes(header: dict) -> dict[str, tuple[int, ...]]:
    return {name: tuple(entry["shape"]) for name, entry in header.items() if name != "__metadata__"}


def tensor_bytes(header: dict) -> int:
    return sum(end - start for start, end in _data_spans(header))


def available_memory() -> int:
    """Bytes of memory free for a new allocation (RAM not in use, reclaimable caches included)."""
    import psutil

    return psutil.virtual_memory().available


def require_memory(path: Path, needed: int, what: str) -> None:
    """Refuse a file whose tensors would not fit in the free memory, before reading them."""
    free = available_memory()
    if needed > free:
        raise ModelFileError(
            f"needs {_megabytes(needed)} of memory for {what} but only {_megabytes(free)} is free; "
            "close other programs or use a computer with more memory",
            path,
        )


def _megabytes(count: int) -> str:
    return f"{count / 2**20:,.1f} MB"


def describe_architecture(spec: ModelSpec) -> str:
    """E.g. 'unet (resnet18)' or 'u2net (variant=small)'."""
    details = ([spec.encoder] if spec.encoder else []) + [f"{k}={v}" for k, v in sorted(spec.options.items())]
    return f"{spec.architecture} ({', '.join(details)})" if details else spec.architecture


def read_safetensors_header(path: str | Path) -> dict:
    """The JSON header of a safetensors file, after checking that the file is one and is complete."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError("file not found; check the path or choose another model file", path)
    size = path.stat().st_size
    with open(path, "rb") as handle:
        prefix = handle.read(9)
        refuse_pickles(path, prefix)
        length = int.from_bytes(prefix[:8], "little")
        if len(prefix) < 9:
            raise ModelFileError(
                f"is empty or truncated ({size} bytes); use another copy of the model file", path
            )
        if prefix[8:9] != b"{":
            raise ModelFileError(
                "is not a model file: it is neither safetensors nor a known checkpoint format; "
                "choose a .safetensors file saved by SegLab",
                path,
            )
        if length > _MAX_HEADER_BYTES or 8 + length > size:
            raise ModelFileError(
                f"is truncated or corrupt (its header claims {length} bytes, the file has {size}); "
                "copy the file again or use another copy",
                path,
            )
        handle.seek(8)
        try:
            header = json.loads(handle.read(length))
            data_end = max((end for _, end in _data_spans(header)), default=0)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            raise ModelFileError(
                f"is corrupt: its safetensors header cannot be read ({exc}); use another copy", path
            ) from None
    if 8 + length + data_end != size:
        raise ModelFileError(
            f"is truncated or corrupt (expected {8 + length + data_end} bytes, found {size}); "
            "copy the file again or use another copy",
            path,
        )
    return header


_DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
                "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}


def _data_spans(header: dict) -> list[tuple[int, int]]:
    """(start, end) of every tensor's bytes; ValueError when a span does not match its dtype and shape."""
    spans = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = (int(offset) for offset in entry["data_offsets"])
        shape = [int(size) for size in entry["shape"]]
        if entry["dtype"] not in _DTYPE_BYTES or min(shape, default=0) < 0:
            raise ValueError(f"tensor {name!r} has an unknown type or a negative size")
        if end - start != math.prod(shape) * _DTYPE_BYTES[entry["dtype"]] or start < 0:
            raise ValueError(f"tensor {name!r} of shape {shape} does not fit its {end - start} bytes")
        spans.append((start, end))
    return spans


def refuse_pickles(path: Path, prefix: bytes) -> None:
    """Raise when the first bytes show a PyTorch checkpoint or a Python pickle."""
    if prefix.startswith(b"PK\x03\x04") and is_torch_zip(path):
        raise ModelFileError(f"is a PyTorch pickle checkpoint; {_PICKLE_ADVICE}", path)
    if prefix.startswith(b"PK\x03\x04"):
        raise ModelFileError(
            "is a ZIP archive, not a model file; unpack it and choose the .safetensors file", path
        )
    if prefix.startswith(_TORCH_LEGACY_MAGIC[:9]):
        raise ModelFileError(f"is a PyTorch pickle checkpoint (legacy format); {_PICKLE_ADVICE}", path)
    if len(prefix) >= 2 and prefix[0] == 0x80 and 2 <= prefix[1] <= 5:
        raise ModelFileError(
            "is a Python pickle; SegLab never opens pickles because they can run code when "
            "opened; choose a .safetensors model file saved by SegLab",
            path,
        )


def is_torch_zip(path: Path) -> bool:
    """True for the zip format of torch.save (an archive with a data.pkl)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith("data.pkl") for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def load_safetensors(path: str | Path) -> dict[str, torch.Tensor]:
    """All tensors of a checked safetensors file, on the CPU; refused when they would not fit in memory."""
    path = Path(path)
    require_memory(path, tensor_bytes(read_safetensors_header(path)), "its weights")
    return _read_tensors(path)


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(
            f"is corrupt: its weights cannot be read ({exc}); use another copy", path
        ) from None


def weight_mismatches(
    expected: dict[str, tuple[int, ...]], found: dict[str, tuple[int, ...]], limit: int = 3
) -> str:
    """A one-line summary of missing, unexpected and differently shaped tensors (name -> shape); '' when
    they all fit."""
    missing = [name for name in expected if name not in found]
    unexpected = [name for name in found if name not in expected]
    reshaped = [
        f"{name}: file {found[name]} vs model {shape}"
        for name, shape in expected.items()
        if name in found and found[name] != shape
    ]
    parts = []
    for label, names in (("missing", missing), ("unexpected", unexpected), ("with another shape", reshaped)):
        if names:
            shown = ", ".join(names[:limit]) + (", ..." if len(names) > limit else "")
            parts.append(f"{len(names)} {label} ({shown})")
    return "; ".join(parts)
