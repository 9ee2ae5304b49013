"""`seglab train` starts from the wizard's recommendations: options left out take the recommended values, the
model goes to the same default path as in the window, and augmentation is picked by preset name."""

from __future__ import annotations

import datetime

import pytest

from core.cli import run_cli
from core.models.model_file import read_model_spec
from tests.core.synthetic import write_dataset

TINY = ["--arch", "unet_classic", "--option", "base_channels=8", "--batch-size", "4", "--patches-per-epoch", "16",
        "--device", "cpu", "--epochs", "1"]


def test_train_without_out_or_patch_size_uses_the_recommended_path_and_crop(tmp_path, capsys):
    data = write_dataset(tmp_path / "discs", count=4, size=96)
    (data / "models").mkdir()
    earlier = data / "models" / f"discs_{datetime.date.today().isoformat()}.safetensors"
    earlier.write_bytes(b"an earlier model")
    assert run_cli(["train", str(data), *TINY, "--augment", "geometry"]) == 0
    written = earlier.with_name(earlier.stem + "_2.safetensors")
    assert f"model file: {written}" in capsys.readouterr().out
    assert earlier.read_bytes() == b"an earlier model"
    spec = read_model_spec(written)
    assert spec.patch_size == 96  # the CPU's 256 px, capped to the 96 px images as the wizard does
    config = spec.training["config"]
    assert config["learning_rate"] == 0.001 and config["loss"] == "ce" and config["early_stopping"] == 10
    assert config["augment"]["scale"] == 0.0 and config["augment"]["flips"]  # the "geometry" preset


def test_resume_needs_the_model_file_of_the_run(tmp_path, capsys):
    data = write_dataset(tmp_path / "discs", count=2)
    assert run_cli(["train", str(data), "--resume", *TINY]) == 2
    assert "--resume needs --out MODEL" in capsys.readouterr().err


def test_an_unknown_augmentation_preset_is_refused_with_the_choices(tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        run_cli(["train", str(tmp_path), "--augment", "strong"])
    assert exited.value.code == 2
    assert "choose from 'standard', 'geometry', 'none'" in capsys.readouterr().err
