"""Shared GUI fixtures: offscreen Qt, the real main window with throw-away settings, small copies of the
real datasets, and helpers to open a folder, wait for the image and read what the viewer drew."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


from PySide6.QtCore import QPointF, QSettings, QStandardPaths

QStandardPaths.setTestModeEnabled(True)  # caches and settings go to throw-away test locations

LOAD_TIMEOUT_MS = 20000
BBBC_SETTINGS = {
    "version": 1,
    "classes": [{"index": 0, "name": "background", "colour": "#000000"},
                {"index": 1, "name": "nucleus", "colour": "#E69F00"}],
    "mask_encoding": {"mode": "binary", "channel": 0, "threshold": 0, "value_map": {}},
}


def copy_pairs(source: Path, target: Path, stems: list[str], image_suffix: str, mask_suffix: str) -> Path:
    (target / "images").mkdir(parents=True)
    (target / "masks").mkdir()
    for stem in stems:
        shutil.copy(source / "images" / f"{stem}{image_suffix}", target / "images")
        shutil.copy(source / "masks" / f"{stem}{mask_suffix}", target / "masks")
    return target


@pytest.fixture
def bbbc_copy(bbbc_dir, tmp_path) -> Path:
    """Three BBBC039 images (16-bit TIFF) with their masks, and a seglab.json reading R > 0 as nucleus."""
    stems = sorted(p.stem for p in (bbbc_dir / "images").glob("*.tif"))[:3]
    folder = copy_pairs(bbbc_dir, tmp_path / "bbbc", stems, ".tif", ".png")
    (folder / "seglab.json").write_text(json.dumps(BBBC_SETTINGS, indent=2))
    return folder


@pytest.fixture
def isbi_copy(isbi_dir, tmp_path) -> Path:
    """Three ISBI 2012 slices with masks (safe to edit: class changes are saved beside the data)."""
    return copy_pairs(isbi_dir, tmp_path / "isbi", ["0", "1", "2"], ".png", ".png")


def discard_unsaved_edits(window) -> None:
    """A test's unsaved edits are let go when its window closes, not asked about."""
    for session in window.editor.edited_sessions():
        session.discard()


@pytest.fixture
def main_window(qtbot, tmp_path):
    """The real MainWindow with settings in tmp_path, shown offscreen; closed cleanly afterwards."""
    from gui.main_window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings)
    qtbot.addWidget(window, before_close_func=discard_unsaved_edits)
    window.resize(1400, 900)
    window.show()
    qtbot.waitExposed(window)
    yield window
    discard_unsaved_edits(window)
    window.close()
    assert window.levels.shutdown()
    assert window.browser.shutdown()


@pytest.fixture
def show_folder(qtbot):
    """show_folder(window, folder, name=None): open `folder` in the window and wait until `name` (default:
    the first image) is on screen with its overlay and display levels settled."""

    def show(window, folder: Path, name: str | None = None) -> None:
        window.open_folder(str(folder))
        state = window.state
        qtbot.waitUntil(lambda: state.index is not None and Path(state.index.root) == Path(folder)
                        and state.document is not None, timeout=LOAD_TIMEOUT_MS)
        if name is not None and state.current_name != name:
            state.request_image(name)
            qtbot.waitUntil(lambda: state.current_name == name, timeout=LOAD_TIMEOUT_MS)
        wait_settled(qtbot, window.viewer, window.levels)

    return show


@pytest.fixture
def settle(qtbot):
    """settle(viewer, levels=None): wait for derived overlay views and background display jobs."""
    return lambda viewer, levels=None: wait_settled(qtbot, viewer, levels)


def wait_settled(qtbot, viewer, levels=None) -> None:
    qtbot.waitUntil(lambda: viewer.layers.complete and (levels is None or not levels.busy),
                    timeout=LOAD_TIMEOUT_MS)


@pytest.fixture
def drawn_rgb():
    """drawn_rgb(viewer, x, y): the colour the viewer shows at the centre of image pixel (x, y)."""

    def rgb(viewer, x: int, y: int) -> tuple[int, int, int]:
        canvas = viewer.canvas
        point = canvas.mapFromScene(QPointF(x + 0.5, y + 0.5))
        assert canvas.viewport().rect().contains(point), f"pixel {(x, y)} is not in view"
        colour = canvas.viewport().grab().toImage().pixelColor(point)
        return colour.red(), colour.green(), colour.blue()

    return rgb
