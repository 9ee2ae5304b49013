"""What a new user meets first, in the real window: the sample segmented by the starter model without asking,
progress and time left within one large image, a report that cannot be opened, a folder that fails to open,
and the hint for a Linux desktop without libxcb-cursor."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QMessageBox

from core.classes import ClassTable
from core.io.masks import read_mask
from core.models.spec import ModelSpec
from gui.open_file import OPEN_FAILED_DIALOG
from gui.segment.segment_controller import PROGRESS_INTERVAL_S
from tests.gui.conftest import LOAD_TIMEOUT_MS

RUN_TIMEOUT_MS = 240_000  # the starter model on 8 images: about 20 s on an idle 2-core CPU


@pytest.fixture(autouse=True)
def onnx_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGLAB_ONNX_CACHE", str(tmp_path / "onnx"))


def nucleus_iou(predicted: np.ndarray, truth: np.ndarray) -> float:
    return np.logical_and(predicted == 1, truth == 1).sum() / np.logical_or(predicted == 1, truth == 1).sum()


def test_the_starter_model_segments_the_sample_when_it_opens(qtbot, main_window, tmp_path, monkeypatch):
    monkeypatch.setenv("SEGLAB_DATA_HOME", str(tmp_path / "data-home"))
    window, state = main_window, main_window.state
    arrivals = []  # (image, whether the progress line showed) as each mask arrives
    state.prediction_changed.connect(
        lambda name: arrivals.append((name, window.segmentation.progress_widget.isVisible())))
    window.open_sample()
    qtbot.waitUntil(lambda: state.index is not None and state.document is not None, timeout=LOAD_TIMEOUT_MS)
    qtbot.waitUntil(lambda: not window.segmentation.running and len(arrivals) == 8, timeout=RUN_TIMEOUT_MS)

    names = sorted(s.name for s in state.index.samples)
    assert sorted(name for name, _ in arrivals) == names and all(shown for _, shown in arrivals)
    assert sorted(state.predictions) == names and window.segmentation.last_summary.done == 8
    scores = [nucleus_iou(read_mask(state.predictions[s.name]), state.index.load_mask(s)) for s in state.index.labeled]
    assert len(scores) == 6 and min(scores) > 0.8  # the starter model finds the nuclei (0.87-0.94 measured)
    state.update_overlay(layer="prediction")
    np.testing.assert_array_equal(state.document.prediction, read_mask(state.predictions[state.current_name]))
    assert not window.overlay_controls.note_label.isVisible()  # no "No prediction for this image yet."

    state.set_index(None)  # opening it again shows the stored masks and runs nothing
    window.open_sample()
    qtbot.waitUntil(lambda: state.index is not None and state.document is not None, timeout=LOAD_TIMEOUT_MS)
    assert sorted(state.predictions) == names and not window.segmentation.running


@pytest.fixture
def tiny_model_file(tmp_path):
    import torch

    from core.models.model_file import save_model_file
    from core.models.registry import build_from_spec

    torch.manual_seed(0)
    spec = ModelSpec("unet_classic", 1, ClassTable.default(2), 2, options={"base_channels": 4}, patch_size=256)
    return save_model_file(tmp_path / "tiny.safetensors", build_from_spec(spec).eval(), spec)


def test_closing_the_window_while_the_sample_is_segmented_leaves_nothing_to_report(qtbot, tmp_path,
                                                                                  monkeypatch):
    """The starter model's run is cancelled when the window closes; what the job still sends on its way out
    reaches no deleted widget (pytest-qt fails the test on an exception in the event loop)."""
    import shiboken6
    from PySide6.QtCore import QSettings

    from gui.main_window import MainWindow

    monkeypatch.setenv("SEGLAB_DATA_HOME", str(tmp_path / "data-home"))
    window = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    window.show()
    window.open_sample()
    qtbot.waitUntil(lambda: window.segmentation.running, timeout=LOAD_TIMEOUT_MS)
    task = window.segmentation.task
    window.close()
    shiboken6.delete(window)  # its widgets are gone before the job's last signals are delivered
    qtbot.wait(300)
    assert task.is_cancelled and task.closed


def test_one_large_image_shows_progress_and_time_left_while_its_tiles_run(qtbot, main_window, show_folder,
                                                                          tmp_path, tiny_model_file):
    folder = tmp_path / "large"
    folder.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(np.kron(rng.random((750, 750)) * 255, np.ones((4, 4))).astype(np.uint8)).save(folder / "big.png")
    window, state = main_window, main_window.state
    show_folder(window, folder)
    widget = window.segmentation.progress_widget

    dialog = window.segmentation.open_dialog()
    dialog.model_field.set_path(str(tiny_model_file))
    dialog.tile_spin.setValue(256)  # 3000 x 3000 in 256 tiles: 64 batches of 4
    started = time.monotonic()
    dialog.accept()
    seen = []
    window.segmentation.task.signals.progress.connect(
        lambda done, total, left: seen.append((done, total, left, widget.label.text(), widget.bar.value(),
                                               widget.bar.maximum(), "big" in state.predictions)))
    qtbot.waitUntil(lambda: not window.segmentation.running, timeout=RUN_TIMEOUT_MS)
    seconds = time.monotonic() - started

    assert state.predictions.get("big") and read_mask(state.predictions["big"]).shape == (3000, 3000)
    within = [s for s in seen if 0 < s[0] < 1]
    assert len(within) >= 2, seen
    for done, total, left, label, value, maximum, finished in within:
        assert total == 1 and left > 0 and not finished
        assert " left" in label and f"({done:.0%})" in label, label
        assert 0 < value < maximum
    assert [s[0] for s in within] == sorted(s[0] for s in within)
    assert seen[-1][:3] == (1, 1, 0.0)
    assert len(seen) <= seconds / PROGRESS_INTERVAL_S + 2  # a few updates a second, not one per tile batch


def test_a_report_that_cannot_be_opened_says_where_it_is(qtbot, main_window, show_folder, bbbc_copy, tmp_path,
                                                          monkeypatch):
    from gui.model_field import starter_model_path
    from gui.report.evaluate_dialog import EvaluateChoice

    window = main_window
    show_folder(window, bbbc_copy)
    out = tmp_path / "report"
    window.evaluation.evaluate(EvaluateChoice(starter_model_path(), out, pdf=False))
    qtbot.waitUntil(lambda: window.evaluation.outcome is not None, timeout=RUN_TIMEOUT_MS)
    asked = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: asked.append(url.toLocalFile()) or False)
    panel = window.evaluation.widget

    panel.html_button.click()
    assert asked == [str(out / "report.html")]
    box = panel.findChild(QMessageBox, OPEN_FAILED_DIALOG)
    assert box is not None and box.isVisible()
    assert "report.html" in box.text() and f"It is in: {out}" in box.text() and "no program" in box.text()
    QGuiApplication.clipboard().clear()
    next(b for b in box.buttons() if b.text() == "Copy Path").click()
    assert QGuiApplication.clipboard().text() == str(out / "report.html")
    qtbot.waitUntil(lambda: panel.findChild(QMessageBox, OPEN_FAILED_DIALOG) is None)

    panel.folder_button.click()
    box = panel.findChild(QMessageBox, OPEN_FAILED_DIALOG)
    assert f"folder {out.name}" in box.text() and f"It is in: {out.parent}" in box.text()
    box.close()


def test_a_folder_that_fails_to_open_is_not_added_to_open_recent(qtbot, main_window, show_folder, bbbc_copy,
                                                                 tmp_path, monkeypatch):
    window = main_window
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _parent, title, text, *_a: warnings.append((title, text)))
    empty = tmp_path / "empty"
    empty.mkdir()
    window.open_folder(str(empty))
    qtbot.waitUntil(lambda: bool(warnings), timeout=LOAD_TIMEOUT_MS)
    assert str(empty) in warnings[0][1] and "no images found" in warnings[0][1]
    assert [a.text() for a in window.recent_menu.actions()] == [] and not window.recent_menu.isEnabled()

    show_folder(window, bbbc_copy)
    assert [a.text() for a in window.recent_menu.actions()] == [str(bbbc_copy.resolve())]


@pytest.mark.parametrize(("environ", "loads", "hint"), [
    ({"DISPLAY": ":0"}, False, True),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}, False, True),
    ({"DISPLAY": ":0"}, True, False),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, False, False),
    ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, False, False),
])
def test_linux_without_libxcb_cursor_is_told_what_to_install(monkeypatch, environ, loads, hint):
    import ctypes

    from gui.app import missing_platform_library

    def load(name):
        if not loads:
            raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(ctypes, "CDLL", load)
    monkeypatch.setattr("sys.platform", "linux")
    message = missing_platform_library(environ)
    if hint:
        assert "sudo apt-get install libxcb-cursor0" in message
    else:
        assert message is None
