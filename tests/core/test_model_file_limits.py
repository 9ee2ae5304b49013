"""Hostile model headers: sizes are checked against the tensors in the file and the free memory before
anything is built or read, and refused with one line naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from core.classes import ClassTable
from core.cli import run_cli
from core.errors import ModelFileError
from core.models import model_file
from core.models.model_file import load_model_file, read_model_spec
from core.models.registry import build_from_spec
from core.models.spec import ModelSpec

SMALL = ModelSpec("unet_classic", 1, ClassTable.default(2), 2, options={"base_channels": 4, "bilinear": True})


def _metadata(spec_json: dict) -> dict:
    return {"format": "seglab-model", "seglab_spec": json.dumps(spec_json)}


def _model_file(path: Path, spec_json: dict, tensors: dict | None = None) -> Path:
    """A SegLab model file holding SMALL's weights, whatever the header's spec says."""
    save_file(tensors or build_from_spec(SMALL).state_dict(), str(path), metadata=_metadata(spec_json))
    return path


@pytest.fixture
def nothing_built_or_read(monkeypatch):
    """Fail the test if a model is built with real weights or tensors are read from the file."""
    def refuse(*args, **kwargs):
        raise AssertionError("a model was built or weights were read before the header was checked")

    monkeypatch.setattr("core.models.registry.build_from_spec", refuse)
    monkeypatch.setattr("safetensors.torch.load_file", refuse)


def test_huge_widths_in_the_header_are_refused_before_anything_is_built(tmp_path, nothing_built_or_read):
    wide = dict(SMALL.to_json(), options={"base_channels": 4096, "bilinear": True})
    path = _model_file(tmp_path / "wide.safetensors", wide)
    with pytest.raises(ModelFileError) as caught:
        load_model_file(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: its weights do not fit the unet_classic (base_channels=4096")
    assert "with another shape (inc.0.weight: file (4, 1, 3, 3) vs model (4096, 1, 3, 3)" in message


@pytest.mark.parametrize("field, value, expected", [
    ("in_channels", 10**9, "in_channels 1000000000 is outside 1..512"),
    ("patch_size", 10**7, "patch_size 10000000 is outside 1..16384"),
    ("out_channels", 70000, "out_channels 70000 must be the class count (2)"),
    ("options", {"base_channels": 10**6, "bilinear": True}, "option base_channels 1000000 is outside 1..16384"),
])
def test_absurd_sizes_in_the_header_are_refused(tmp_path, nothing_built_or_read, field, value, expected):
    path = _model_file(tmp_path / "absurd.safetensors", dict(SMALL.to_json(), **{field: value}))
    for reader in (read_model_spec, load_model_file):
        with pytest.raises(ModelFileError) as caught:
            reader(path)
        assert str(caught.value).startswith(f"{path}: has damaged SegLab metadata")
        assert expected in str(caught.value)


def test_a_huge_extra_tensor_is_refused_without_reading_it(tmp_path, nothing_built_or_read):
    """4 GiB of extra weights (a sparse file: no disk space used) are named, not mapped into memory."""
    path = tmp_path / "extra.safetensors"
    tensors = {name: t.contiguous() for name, t in build_from_spec(SMALL).state_dict().items()}
    header, blobs, offset = {"__metadata__": _metadata(SMALL.to_json())}, [], 0
    for name, tensor in tensors.items():
        data = tensor.numpy().tobytes()
        dtype = "F32" if tensor.dtype == torch.float32 else "I64"
        header[name] = {"dtype": dtype, "shape": list(tensor.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["huge"] = {"dtype": "F32", "shape": [2**30], "data_offsets": [offset, offset + 2**32]}
    encoded = json.dumps(header).encode()
    with open(path, "wb") as handle:
        handle.write(len(encoded).to_bytes(8, "little") + encoded + b"".join(blobs))
        handle.truncate(8 + len(encoded) + offset + 2**32)
    with pytest.raises(ModelFileError, match=r"1 unexpected \(huge\); the file is damaged or was edited") as caught:
        load_model_file(path)
    assert str(caught.value).startswith(str(path))


def test_a_header_whose_sizes_do_not_match_the_bytes_is_refused(tmp_path):
    path = _model_file(tmp_path / "lying.safetensors", SMALL.to_json())
    data = bytearray(path.read_bytes())
    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + length])
    name = next(key for key in header if key.endswith("inc.0.weight"))
    header[name]["shape"] = [4, 1, 3, 4]
    encoded = json.dumps(header, separators=(",", ":")).encode().ljust(length)
    path.write_bytes(bytes(data[:8]) + encoded + bytes(data[8 + length:]))
    with pytest.raises(ModelFileError, match=r"is corrupt: its safetensors header cannot be read \(tensor "
                                             r"'inc\.0\.weight' of shape \[4, 1, 3, 4\] does not fit its 144 bytes"):
        read_model_spec(path)


def test_a_model_larger_than_the_free_memory_is_refused(tmp_path, monkeypatch):
    path = _model_file(tmp_path / "big.safetensors", SMALL.to_json())
    monkeypatch.setattr(model_file, "available_memory", lambda: 2**17)
    with pytest.raises(ModelFileError, match=r"needs 0\.\d MB of memory for the model and the weights read from "
                                             r"it but only 0\.1 MB is free; close other programs") as caught:
        load_model_file(path)
    assert str(caught.value).startswith(str(path))
    monkeypatch.setattr(model_file, "available_memory", lambda: 2**40)
    model, spec = load_model_file(path)
    assert spec == SMALL and sum(p.numel() for p in model.parameters()) > 0


def test_predict_with_a_hostile_model_exits_2_with_one_line(tmp_path, capsys):
    wide = dict(SMALL.to_json(), options={"base_channels": 4096, "bilinear": True})
    path = _model_file(tmp_path / "wide.safetensors", wide)
    (tmp_path / "in").mkdir()
    assert run_cli(["predict", str(path), str(tmp_path / "in"), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(path) in err and "do not fit" in err
