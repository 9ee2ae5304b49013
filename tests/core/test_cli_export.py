"""The command line: `export` writes what the window's export writes, mistyped commands and unusable outputs
end in one line and exit code 2, and nothing opens a window by mistake."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tifffile
from PIL import Image

from core.classes import ClassTable
from core.cli import run_cli
from core.data.index import DatasetIndex
from core.data.workspace import predictions_dir
from core.io.masks import read_mask, write_mask
from tests.conftest import REPO
from tests.core.synthetic import write_dataset


def _main(*argv: str) -> subprocess.CompletedProcess:
    """`python main.py ARGV` as on a server: no display, no Qt platform chosen."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    return subprocess.run([sys.executable, "main.py", *argv], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("argv, expected", [
    (["exprot", "A", "B"], "'exprot' is neither a command nor a folder; did you mean 'export'?"),
    (["trian", "data"], "did you mean 'train'?"),
    (["zzz"], "commands: open, train, predict, evaluate, export"),
    (["tests", "predict"], "unexpected arguments after the folder tests: predict; to run a command, put it first"),
    (["README.md"], "'README.md' is a file, not a folder or a command"),
])
def test_a_mistyped_command_is_a_one_line_usage_error(argv, expected):
    result = _main(*argv)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("seglab: error: ") and expected in line


def test_export_writes_masks_and_label_tiffs_equal_to_the_dataset(isbi_dir, tmp_path, capsys):
    out = tmp_path / "out"
    assert run_cli(["export", str(isbi_dir), str(out), "--format", "masks", "--format", "label-tiff"]) == 0
    captured = capsys.readouterr()
    assert "30/30 images exported" in captured.err and f"wrote 61 files to {out}" in captured.out
    index = DatasetIndex.scan(isbi_dir)
    assert sorted(p.stem for p in (out / "masks").iterdir()) == sorted(s.name for s in index.labeled)
    for sample in index.labeled[:5]:
        truth = index.load_mask(sample)
        assert np.array_equal(read_mask(out / "masks" / f"{sample.name}.png"), truth)
        assert np.array_equal(tifffile.imread(out / "label_tiff" / f"{sample.name}.tif"), truth)
    table = json.loads((out / "classes.json").read_text(encoding="utf-8"))
    assert table["version"] == 1 and ClassTable.from_json(table["classes"]) == index.settings.classes


def test_export_of_stored_predictions_as_colour_masks(tmp_path):
    data = write_dataset(tmp_path / "data", count=3)
    classes = DatasetIndex.scan(data).settings.classes
    predicted = np.zeros((64, 64), np.uint8)
    predicted[10:30, 20:50] = 1
    write_mask(predictions_dir(data) / "img2.png", predicted, classes)
    out = tmp_path / "out"
    assert run_cli(["export", str(data), str(out), "--predictions", "--format", "colour"]) == 0
    assert [p.name for p in (out / "colour_masks").iterdir()] == ["img2.png"]
    with Image.open(out / "colour_masks" / "img2.png") as written:
        colours = np.asarray(written.convert("RGB"))
    assert np.array_equal(colours, classes.colourise(predicted)[..., :3])


def test_export_lists_unreadable_masks_exits_1_and_writes_the_rest(tmp_path, capsys):
    data = write_dataset(tmp_path / "data", count=3)
    (data / "masks" / "img1.png").write_text("not a mask")
    out = tmp_path / "out"
    assert run_cli(["export", str(data), str(out)]) == 1
    err = capsys.readouterr().err
    assert "could not export img1: " in err and "img1.png" in err
    assert sorted(p.name for p in (out / "masks").iterdir()) == ["img0.png", "img2.png"]


def test_export_without_masks_or_into_a_file_exits_2_naming_the_path(tmp_path, capsys):
    data = write_dataset(tmp_path / "data", count=2)
    assert run_cli(["export", str(data), str(tmp_path / "out"), "--predictions"]) == 2
    assert f"{data}: has no stored predictions" in capsys.readouterr().err
    blocker = tmp_path / "taken.txt"
    blocker.write_text("a file")
    assert run_cli(["export", str(data), str(blocker)]) == 2
    assert capsys.readouterr().err.strip() == f"seglab: error: {blocker}: is a file, not a folder; choose a " \
                                              "folder for the output"


def test_predict_into_a_file_exits_2_with_one_line(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    blocker = tmp_path / "out.png"
    blocker.write_bytes(b"")
    assert run_cli(["predict", "model.safetensors", str(tmp_path / "in"), str(blocker)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"seglab: error: {blocker}: is a file, not a folder; choose a folder for the output"


def test_predict_and_evaluate_into_a_read_only_folder_exit_2_with_one_line(tmp_path, capsys, monkeypatch):
    (tmp_path / "in").mkdir()
    locked = tmp_path / "locked"
    locked.mkdir()
    access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: False if path == locked else access(path, mode, **kw))
    for argv in (["predict", "m.safetensors", str(tmp_path / "in"), str(locked)],
                 ["evaluate", "m.safetensors", str(tmp_path / "in"), "--report", str(locked)]):
        assert run_cli(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err == (f"seglab: error: {locked}: cannot be written: the folder is read-only or you lack "
                       "permission (Permission denied); choose a folder you can write to")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores folder permissions")
def test_predict_into_a_really_read_only_folder_exits_2(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    try:
        assert run_cli(["predict", "m.safetensors", str(tmp_path / "in"), str(locked / "masks")]) == 2
    finally:
        locked.chmod(0o755)
    assert "read-only or you lack permission" in capsys.readouterr().err
