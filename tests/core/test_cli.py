"""The headless commands: train, predict and evaluate write what they promise; bad input exits 2 with one line."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from core.cli import run_cli
from core.data.index import DatasetIndex
from core.metrics import ConfusionMatrix
from core.models.model_file import read_model_spec
from tests.conftest import REPO
from tests.core.synthetic import write_dataset

TRAIN_TINY = ["--arch", "unet_classic", "--option", "base_channels=8", "--patch-size", "64", "--batch-size", "4",
              "--patches-per-epoch", "16", "--device", "cpu", "--lr", "0.003"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny model trained by the CLI on synthetic discs (shared by the tests below)."""
    root = tmp_path_factory.mktemp("cli")
    data = write_dataset(root / "data", count=6)
    model = root / "discs.safetensors"
    assert run_cli(["train", str(data), "--out", str(model), "--epochs", "2", *TRAIN_TINY]) == 0
    return data, model


def test_help_lists_every_command():
    result = subprocess.run([sys.executable, "main.py", "--help"], cwd=REPO, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0
    for command in ("train", "predict", "evaluate", "open"):
        assert command in result.stdout


def test_train_prints_one_line_per_epoch(tmp_path, capsys):
    data = write_dataset(tmp_path / "data", count=4)
    code = run_cli(["train", str(data), "--out", str(tmp_path / "m.safetensors"), "--epochs", "2", *TRAIN_TINY])
    out = capsys.readouterr().out
    assert code == 0
    epoch_lines = [line for line in out.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in epoch_lines] == ["1/2", "2/2"]
    assert "val mIoU" in epoch_lines[0] and "model saved to" in out


def test_predict_writes_paletted_index_masks(trained, tmp_path):
    from core.inference import PredictOptions, Predictor
    from core.io.images import read_image

    data, model = trained
    out = tmp_path / "out"
    assert run_cli(["predict", str(model), str(data / "images"), str(out), "--backend", "torch"]) == 0
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(p.name for p in (data / "images").iterdir())
    predictor = Predictor.from_file(model, PredictOptions(backend="torch"))
    for name in written[:2]:
        saved = Image.open(out / name)
        assert saved.mode == "P"
        expected = predictor.predict(read_image(data / "images" / name))
        assert np.array_equal(np.asarray(saved), expected)
        assert set(np.unique(expected)) <= {0, 1}


def test_predict_lists_unreadable_files_and_does_the_rest(trained, tmp_path, capsys):
    data, model = trained
    inputs = tmp_path / "in"
    inputs.mkdir()
    for source in sorted((data / "images").iterdir())[:2]:
        (inputs / source.name).write_bytes(source.read_bytes())
    (inputs / "broken.png").write_text("this is not an image")
    code = run_cli(["predict", str(model), str(inputs), str(tmp_path / "out"), "--backend", "torch"])
    err = capsys.readouterr().err
    assert code == 1
    assert "broken.png" in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["img0.png", "img1.png"]


def test_evaluate_report_matches_core_metrics(trained, tmp_path):
    from core.inference import PredictOptions, Predictor

    data, model = trained
    report = tmp_path / "report"
    assert run_cli(["evaluate", str(model), str(data), "--report", str(report), "--backend", "torch",
                    "--include-training"]) == 0
    metrics = json.loads((report / "metrics.json").read_text())
    predictor = Predictor.from_file(model, PredictOptions(backend="torch"))
    index = DatasetIndex.scan(data)
    total = ConfusionMatrix(2)
    for sample in index.labeled:
        total.update(predictor.predict(index.load_image(sample)), index.load_mask(sample))
    assert metrics["dataset"]["mean_iou"] == pytest.approx(total.mean_iou())
    assert metrics["dataset"]["confusion_matrix"] == total.counts.tolist()
    with open(report / "per_image.csv", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["name"] for r in rows) == sorted(s.name for s in index.labeled)
    trained_on = set(read_model_spec(model).training["train_images"])
    assert {r["name"]: r["trained_on"] for r in rows} == {r["name"]: "yes" if r["name"] in trained_on else "no"
                                                           for r in rows}
    assert (report / "per_class.csv").is_file()


def test_evaluate_scores_only_images_the_model_never_trained_on_and_says_so(trained, tmp_path):
    """Issue 11.3: the images a model was trained on were scored with no word about it."""
    data, model = trained
    training = read_model_spec(model).training
    held_out = sorted(training["val_images"])
    command = [sys.executable, "main.py", "evaluate", str(model), str(data), "--report", str(tmp_path / "report"),
               "--backend", "torch", "--device", "cpu"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert (f"scored {len(held_out)} image{'s' * (len(held_out) != 1)} the model never trained on; left out "
            f"{len(training['train_images'])} it was trained on (use --include-training to score them too)"
            in result.stdout)
    with open(tmp_path / "report" / "per_image.csv", encoding="utf-8-sig") as handle:
        assert sorted(row["name"] for row in csv.DictReader(handle)) == held_out

    result = subprocess.run([*command, "--include-training"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "it was trained on (marked “trained on”)" in result.stdout
    assert "images never trained on: mIoU" in result.stdout and "all 6 images: mIoU" in result.stdout


@pytest.mark.parametrize("argv, expected", [
    (["predict", "missing.safetensors", ".", "out"], "missing.safetensors"),
    (["train", "nowhere_dir", "--out", "m.safetensors"], "nowhere_dir"),
    (["train", ".", "--out", "m.safetensors", "--arch", "nonet"], "unet"),
    (["train", ".", "--out", "m.safetensors", "--patch-size", "100"], "multiple of 32"),
    (["evaluate"], "the following arguments are required"),
])
def test_bad_arguments_exit_2_with_one_line(argv, expected, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) if argv == ["evaluate"] else _no_exit():
        code = run_cli(argv)
        assert code == 2
    err = capsys.readouterr().err.strip()
    assert expected in err
    assert len(err.splitlines()) <= 3


def test_pickled_model_is_refused(tmp_path, capsys):
    import torch

    fake = tmp_path / "model.pth"
    torch.save({"weights": torch.zeros(2)}, fake)
    (tmp_path / "in").mkdir()
    assert run_cli(["predict", str(fake), str(tmp_path / "in"), str(tmp_path / "out")]) == 2
    assert "pickle" in capsys.readouterr().err


def test_empty_folder_is_explained(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code = run_cli(["train", str(tmp_path / "empty"), "--out", str(tmp_path / "m.safetensors"), *TRAIN_TINY])
    assert code == 2
    assert "no images found" in capsys.readouterr().err


class _no_exit:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.slow
def test_training_killed_mid_run_resumes_from_checkpoint(tmp_path):
    data = write_dataset(tmp_path / "data", count=6)
    model = tmp_path / "m.safetensors"
    argv = [sys.executable, "main.py", "train", str(data), "--out", str(model), "--epochs", "30", *TRAIN_TINY]
    checkpoint = tmp_path / "m_training" / "last.pt"
    process = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    assert checkpoint.exists(), "no checkpoint was written before the deadline"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    resumed = subprocess.run(argv[:8] + ["--epochs", "3", *TRAIN_TINY, "--resume"], cwd=REPO,
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    epochs = [line.split()[1] for line in resumed.stdout.splitlines() if line.startswith("epoch ")]
    assert epochs and epochs[0] != "1/3" and epochs[-1] == "3/3"
    assert model.is_file()
