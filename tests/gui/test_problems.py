"""A folder with broken files: the problems panel names each file and problem, the browser marks the
images it cannot read, and double-clicking a problem shows its image."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from core.data.index import DatasetIndex
from gui.browser.browser_model import BrowserRole
from gui.browser.browser_widget import DatasetBrowserWidget
from gui.browser.problems_widget import ProblemsWidget, problems_summary
from gui.controllers.dataset_controller import DatasetController
from gui.state import AppState
from gui.workers import TaskRunner

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture
def broken_dir(tmp_path, isbi_dir) -> Path:
    """Three good ISBI pairs, a text file named .png, a truncated PNG and a mask without an image."""
    root = tmp_path / "broken"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for name in ("0", "1", "2"):
        shutil.copy(isbi_dir / "images" / f"{name}.png", root / "images")
        shutil.copy(isbi_dir / "masks" / f"{name}.png", root / "masks")
    (root / "images" / "notes.png").write_text("lab notes, not an image\n")
    data = (isbi_dir / "images" / "3.png").read_bytes()
    (root / "images" / "cut.png").write_bytes(data[: len(data) // 3])
    shutil.copy(isbi_dir / "masks" / "9.png", root / "masks" / "orphan.png")
    return root


@pytest.fixture
def state() -> AppState:
    return AppState()


@pytest.fixture
def panel(qtbot, state) -> ProblemsWidget:
    widget = ProblemsWidget(state)
    qtbot.addWidget(widget)
    widget.resize(700, 300)
    widget.show()
    return widget


def rows(panel: ProblemsWidget) -> list[tuple[str, str, str]]:
    proxy = panel.proxy
    return [tuple(proxy.index(r, c).data() for c in range(3)) for r in range(proxy.rowCount())]


def open_checked(state: AppState, folder: Path) -> None:
    index = DatasetIndex.scan(folder)
    state.set_index(index)
    state.add_problems(index.validate(deep=True))


def test_problems_are_listed_with_kind_file_and_message(panel, state, broken_dir):
    assert "Open a folder" in panel.empty_label.text()
    open_checked(state, broken_dir)
    listed = rows(panel)
    assert ("Unreadable file", "images/notes.png") in [r[:2] for r in listed]
    assert ("Unreadable file", "images/cut.png") in [r[:2] for r in listed]
    assert ("Orphan mask", "masks/orphan.png") in [r[:2] for r in listed]
    assert ("No mask (unlabeled)", "images/cut.png") in [r[:2] for r in listed]
    cut = next(r for r in listed if r[:2] == ("Unreadable file", "images/cut.png"))
    assert "truncated" in cut[2]
    assert listed[0][0] == "Unreadable file"  # errors first
    assert panel.summary.text() == "3 problems: 2 unreadable files, 1 orphan mask; 2 images without a mask"
    assert panel.pages.currentWidget() is panel.table


def test_filter_by_kind(panel, state, broken_dir):
    open_checked(state, broken_dir)
    panel.set_kind_filter("unreadable")
    assert sorted(r[1] for r in rows(panel)) == ["images/cut.png", "images/notes.png"]
    assert panel.kind_filter.currentText() == "Unreadable file (2)"
    panel.set_kind_filter("orphan_mask")
    assert [r[1] for r in rows(panel)] == ["masks/orphan.png"]
    panel.set_kind_filter(None)
    assert len(rows(panel)) == 5


def double_click_row(qtbot, panel: ProblemsWidget, file: str, kind: str) -> None:
    row = next(i for i, r in enumerate(rows(panel)) if r[:2] == (kind, file))
    rect = panel.table.visualRect(panel.proxy.index(row, 1))
    qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_double_click_shows_the_image_of_a_problem(panel, state, broken_dir, qtbot):
    open_checked(state, broken_dir)
    with qtbot.waitSignal(state.image_requested, timeout=2000) as blocker:
        double_click_row(qtbot, panel, "images/cut.png", "Unreadable file")
    assert blocker.args == ["cut"]
    with qtbot.assertNotEmitted(state.image_requested):  # an orphan mask has no image
        double_click_row(qtbot, panel, "masks/orphan.png", "Orphan mask")


def test_no_problems_is_said_plainly(panel, state, isbi_dir):
    state.set_index(DatasetIndex.scan(isbi_dir))  # header checks of 60 files are left to the controller test
    assert panel.pages.currentWidget() is panel.empty_label
    assert "No problems found" in panel.empty_label.text()
    assert problems_summary(()) == "No problems found"


def test_the_controller_adds_validation_problems_later(panel, state, broken_dir, qtbot):
    tasks = TaskRunner(2)
    controller = DatasetController(state, tasks)
    controller.open_folder(broken_dir)
    qtbot.waitUntil(lambda: any(r[0] == "Unreadable file" for r in rows(panel)), timeout=10000)
    assert panel.summary.text().startswith("3 problems")
    assert tasks.shutdown()


def test_the_browser_marks_images_it_cannot_read(qtbot, state, broken_dir, tmp_path):
    state.set_index(DatasetIndex.scan(broken_dir))  # no validation yet: the thumbnail maker finds out
    browser = DatasetBrowserWidget(state, cache_dir=tmp_path / "thumbnails")
    qtbot.addWidget(browser)
    browser.resize(320, 900)
    browser.show()
    model = browser.model
    assert model.names == ["0", "1", "2", "cut", "notes"]
    qtbot.waitUntil(lambda: model.error("notes") is not None and model.error("cut") is not None, timeout=20000)
    notes = browser.proxy.index(model.names.index("notes"), 0)
    assert notes.data(BrowserRole.THUMBNAIL) is None
    assert "Cannot read this image" in notes.data(Qt.ItemDataRole.ToolTipRole)
    assert "not a readable image" in notes.data(Qt.ItemDataRole.ToolTipRole)
    qtbot.waitUntil(lambda: model.thumbnail("2") is not None, timeout=20000)
    tile = browser.view.visualRect(notes)
    picture = browser.view.viewport().grab().toImage()
    assert picture.pixelColor(tile.center().x(), tile.top() + 20).name() == "#f6dcd8"  # the placeholder
    cross = picture.pixelColor(tile.center().x(), tile.top() + 6 + 48)
    assert cross.red() > 150 and cross.green() < 120  # its red cross
    browser.status_filter.setCurrentIndex(browser.status_filter.findData("problems"))
    assert [browser.proxy.index(r, 0).data() for r in range(browser.proxy.rowCount())] == ["cut", "notes"]
    assert browser.shutdown()


def test_validation_problems_reach_the_browser_tooltips(qtbot, state, broken_dir, tmp_path):
    browser = DatasetBrowserWidget(state, cache_dir=tmp_path / "thumbnails")
    qtbot.addWidget(browser)
    open_checked(state, broken_dir)
    cut = browser.proxy.index(browser.model.names.index("cut"), 0)
    assert "truncated" in cut.data(BrowserRole.ERROR)
    assert browser.shutdown()
