"""SegLab model files: round trip, header-only spec reading, and every kind of bad file refused without unpickling."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from core.classes import ClassTable
from core.errors import ModelFileError
from core.io.images import Normalisation
from core.models.model_file import load_model_file, read_model_spec, save_model_file
from core.models.registry import build_from_spec
from core.models.spec import ModelSpec


def _spec(**changes) -> ModelSpec:
    arguments = dict(
        architecture="u2net",
        in_channels=1,
        out_channels=3,
        classes=ClassTable.from_names(["bg", "nucleus", "edge"]),
        options={"variant": "small"},
        normalisation=Normalisation("dtype_range"),
        patch_size=128,
        training={"epochs": 3, "history": [{"epoch": 1, "loss": 0.5}]},
        metrics={"miou": 0.71},
        versions={"seglab": "0.1.0"},
    )
    arguments.update(changes)
    return ModelSpec(**arguments)


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> tuple[Path, torch.nn.Module, ModelSpec]:
    """A trained-looking U²-Net† saved once: BatchNorm statistics moved away from their initial values."""
    torch.manual_seed(0)
    spec = _spec()
    model = build_from_spec(spec).train()
    with torch.no_grad():
        model(torch.randn(2, 1, 64, 64) * 3 + 1)
    path = save_model_file(tmp_path_factory.mktemp("models") / "nuclei", model, spec)
    return path, model.eval(), spec


class _RunsCodeWhenUnpickled:
    """Unpickling this writes a marker file: proof that a loader executed code from the file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code ran"))


def test_round_trip_gives_identical_outputs_and_spec(saved):
    path, model, spec = saved
    assert path.name == "nuclei.safetensors"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind
    loaded, loaded_spec = load_model_file(path)
    assert loaded_spec == spec
    assert not loaded.training
    x = torch.randn(1, 1, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name]), name


def test_the_spec_is_read_from_the_header_without_the_weights(saved, monkeypatch):
    path, _, spec = saved

    def refuse(*args, **kwargs):
        raise AssertionError("weights were read")

    monkeypatch.setattr("safetensors.torch.load_file", refuse)
    monkeypatch.setattr("safetensors.safe_open", refuse)
    assert read_model_spec(path) == spec
    header = json.loads(path.read_bytes()[8 : 8 + int.from_bytes(path.read_bytes()[:8], "little")])
    assert header["__metadata__"]["format"] == "seglab-model"
    assert json.loads(header["__metadata__"]["seglab_spec"])["classes"][1]["name"] == "nucleus"


def _write_foreign_files(folder: Path, saved_path: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, expected message fragment)."""
    marker = folder / "marker.txt"
    files = {}
    checkpoint = folder / "checkpoint.pth"
    torch.save({"state_dict": {"w": torch.zeros(2)}, "trap": _RunsCodeWhenUnpickled(marker)}, checkpoint)
    files["torch zip"] = (
        checkpoint,
        "is a PyTorch pickle checkpoint; SegLab reads only .safetensors model files "
        "because a pickle can run code when opened",
    )
    legacy = folder / "legacy.pt"
    torch.save({"w": torch.zeros(2)}, legacy, _use_new_zipfile_serialization=False)
    files["torch legacy"] = (legacy, "is a PyTorch pickle checkpoint (legacy format)")
    raw = folder / "model.safetensors"
    raw.write_bytes(pickle.dumps(_RunsCodeWhenUnpickled(marker)))
    files["pickle"] = (raw, "is a Python pickle; SegLab never opens pickles")
    text = folder / "notes.safetensors"
    text.write_text("these are not weights, just a text file\n")
    files["text"] = (text, "is not a model file")
    empty = folder / "empty.safetensors"
    empty.write_bytes(b"")
    files["empty"] = (empty, "is empty or truncated")
    data = saved_path.read_bytes()
    truncated = folder / "truncated.safetensors"
    truncated.write_bytes(data[: len(data) // 2])
    files["truncated weights"] = (truncated, "is truncated or corrupt (expected")
    cut_header = folder / "cut_header.safetensors"
    cut_header.write_bytes(data[:100])
    files["truncated header"] = (cut_header, "is truncated or corrupt (its header claims")
    foreign = folder / "foreign.safetensors"
    save_file({"conv1.weight": torch.zeros(4, 3, 3, 3)}, str(foreign), metadata={"format": "pt"})
    files["foreign"] = (foreign, "a safetensors file but not a SegLab model: it carries no SegLab metadata")
    bare = folder / "bare.safetensors"
    save_file({"conv1.weight": torch.zeros(4, 3, 3, 3)}, str(bare))
    files["no metadata"] = (bare, "it carries no SegLab metadata")
    newer = folder / "newer.safetensors"
    future = dict(_spec().to_json(), version=99)
    save_file(
        {"w": torch.zeros(1)},
        str(newer),
        metadata={"format": "seglab-model", "seglab_spec": json.dumps(future)},
    )
    files["newer"] = (newer, "was written by a newer SegLab (model file version 99")
    damaged = folder / "damaged.safetensors"
    save_file(
        {"w": torch.zeros(1)}, str(damaged), metadata={"format": "seglab-model", "seglab_spec": "{not json"}
    )
    files["damaged metadata"] = (damaged, "has damaged SegLab metadata")
    other = folder / "other_architecture.safetensors"
    classic = _spec(architecture="unet_classic", options={"base_channels": 8})
    small_u2net = build_from_spec(_spec())
    save_file(
        small_u2net.state_dict(),
        str(other),
        metadata={"format": "seglab-model", "seglab_spec": json.dumps(classic.to_json())},
    )
    files["other architecture"] = (
        other,
        "its weights do not fit the unet_classic (base_channels=8) named in the file:",
    )
    files["missing"] = (folder / "absent.safetensors", "file not found")
    return files


def test_bad_model_files_are_refused_with_a_clear_message_and_left_untouched(saved, tmp_path):
    files = _write_foreign_files(tmp_path, saved[0])
    for kind, (path, expected) in files.items():
        before = (path.read_bytes(), path.stat().st_mtime_ns) if path.exists() else None
        # the header of "other architecture" is sound: only loading its weights can find the problem
        for reader in (
            (load_model_file,) if kind == "other architecture" else (read_model_spec, load_model_file)
        ):
            with pytest.raises(ModelFileError) as caught:
                reader(path)
            message = str(caught.value)
            assert message.startswith(str(path)), (kind, message)
            assert expected in message, (kind, message)
        after = (path.read_bytes(), path.stat().st_mtime_ns) if path.exists() else None
        assert before == after, kind
    assert not (tmp_path / "marker.txt").exists(), "a pickle was executed"


def test_mismatched_weights_are_summarised(saved, tmp_path):
    path = _write_foreign_files(tmp_path, saved[0])["other architecture"][0]
    with pytest.raises(
        ModelFileError, match=r"110 missing \(inc\.0\.weight, inc\.1\.weight, .*\); \d+ unexpected \(\w"
    ):
        load_model_file(path)


def test_shape_mismatch_is_named(saved, tmp_path):
    path = tmp_path / "wrong_classes.safetensors"
    four_classes = _spec(out_channels=4, classes=ClassTable.default(4))
    save_file(
        build_from_spec(_spec()).state_dict(),
        str(path),
        metadata={"format": "seglab-model", "seglab_spec": json.dumps(four_classes.to_json())},
    )
    with pytest.raises(
        ModelFileError,
        match=r"with another shape \(sides\.0\.weight: file \(3, 64, 3, 3\) vs model "
        r"\(4, 64, 3, 3\)",
    ):
        load_model_file(path)
