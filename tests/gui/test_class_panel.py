"""The class panel on a copy of ISBI 2012: pixel counts, rename, recolour and add (saved to seglab.json),
visibility, the current class, and the prediction column."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QColorDialog, QLineEdit

from core.data.index import DatasetIndex
from gui.classes.class_panel import ClassPanelWidget
from gui.classes.class_table_model import COLOUR, NAME, PIXELS, PREDICTED, SHOW
from gui.controllers.dataset_controller import DatasetController
from gui.state import AppState, ImageDocument
from gui.workers import TaskRunner

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture
def dataset(tmp_path, isbi_dir) -> Path:
    """Two ISBI pairs in a folder of our own: the panel's edits are saved beside the data."""
    root = tmp_path / "isbi"
    for sub in ("images", "masks"):
        (root / sub).mkdir(parents=True)
        for name in ("0", "1"):
            shutil.copy(isbi_dir / sub / f"{name}.png", root / sub)
    return root


@pytest.fixture
def state(dataset):
    state = AppState()
    tasks = TaskRunner(1)
    controller = DatasetController(state, tasks)  # saves the class table on classes_edited
    index = DatasetIndex.scan(dataset)
    state.set_index(index)
    state.set_document(document(index, "0"))
    yield state
    assert tasks.shutdown()
    del controller


@pytest.fixture
def panel(qtbot, state) -> ClassPanelWidget:
    widget = ClassPanelWidget(state)
    qtbot.addWidget(widget)
    widget.resize(520, 260)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def document(index: DatasetIndex, name: str) -> ImageDocument:
    image = index.load_image(index.sample(name))
    levels = np.array([[0.0, 255.0]])
    return ImageDocument(name, image, levels, levels.copy(), image, index.load_mask(index.sample(name)), True)


def saved_classes(dataset: Path) -> list[dict]:
    return json.loads((dataset / "seglab.json").read_text(encoding="utf-8"))["classes"]


def cell_centre(panel: ClassPanelWidget, row: int, column: int):
    return panel.table.visualRect(panel.model.index(row, column)).center()


def test_pixel_counts_are_those_of_the_mask(panel, state):
    expected = np.bincount(state.document.mask.ravel(), minlength=2)
    assert expected[0] > 0 and expected[1] > 0
    assert [panel.model.count(row) for row in range(2)] == expected.tolist()
    assert panel.model.index(1, PIXELS).data() == f"{expected[1]:,}"
    assert f"({100 * expected[1] / expected.sum():.1f} % of the image)" in panel.model.index(1, PIXELS).data(
        Qt.ItemDataRole.ToolTipRole)
    state.document.mask[:100, :100] = 0  # an edit: counted again once strokes pause
    state.notify_mask_edited((0, 0, 100, 100))
    expected = np.bincount(state.document.mask.ravel(), minlength=2)
    panel._recount_timer.timeout.emit()
    assert [panel.model.count(row) for row in range(2)] == expected.tolist()


def test_counts_follow_the_current_image(panel, state):
    index = state.index
    state.set_document(document(index, "1"))
    expected = np.bincount(index.load_mask(index.sample("1")).ravel(), minlength=2)
    assert [panel.model.count(row) for row in range(2)] == expected.tolist()


def test_rename_by_editing_the_name_is_saved(panel, state, dataset, qtbot):
    index = panel.model.index(1, NAME)
    panel.table.setCurrentIndex(index)
    panel.table.edit(index)
    editor = panel.table.findChild(QLineEdit)
    editor.selectAll()
    qtbot.keyClicks(editor, "cell interior")
    qtbot.keyClick(editor, Qt.Key.Key_Return)  # the delegate commits on the next event loop turn
    qtbot.waitUntil(lambda: state.classes[1].name == "cell interior", timeout=2000)
    assert saved_classes(dataset)[1]["name"] == "cell interior"
    assert DatasetIndex.scan(dataset).settings.classes.names == ["background", "cell interior"]
    assert not panel.model.setData(panel.model.index(1, NAME), "Background")  # names stay distinct
    assert not panel.model.setData(panel.model.index(1, NAME), "   ")


def test_recolour_by_double_clicking_the_swatch_is_saved(panel, state, dataset, qtbot, monkeypatch):
    monkeypatch.setattr(QColorDialog, "getColor", lambda *args, **kwargs: QColor(10, 200, 30))
    qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=cell_centre(panel, 1, COLOUR))
    qtbot.mouseDClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=cell_centre(panel, 1, COLOUR))
    assert state.classes[1].colour == (10, 200, 30)
    assert saved_classes(dataset)[1]["colour"] == "#0AC81E"
    swatch = panel.table.viewport().grab().toImage().pixelColor(cell_centre(panel, 1, COLOUR))
    assert (swatch.red(), swatch.green(), swatch.blue()) == (10, 200, 30)


def test_cancelled_colour_dialog_changes_nothing(panel, state, dataset, monkeypatch):
    monkeypatch.setattr(QColorDialog, "getColor", lambda *args, **kwargs: QColor())
    panel.choose_colour(1)
    assert state.classes[1].colour == (230, 159, 0)
    assert not (dataset / "seglab.json").exists()


def test_add_class_then_name_it(panel, state, dataset, qtbot):
    qtbot.mouseClick(panel.add_button, Qt.MouseButton.LeftButton)
    assert len(state.classes) == 3 and state.current_class == 2
    assert len(saved_classes(dataset)) == 3
    editor = panel.table.findChild(QLineEdit)  # the new class's name is open for editing
    editor.selectAll()
    qtbot.keyClicks(editor, "debris")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: state.classes[2].name == "debris", timeout=2000)
    assert [c["name"] for c in saved_classes(dataset)] == ["background", "class 1", "debris"]
    assert panel.model.count(2) == 0


def test_visibility_checkbox_updates_the_overlay(panel, state, qtbot):
    rect = panel.table.visualRect(panel.model.index(1, SHOW))
    checkbox = rect.topLeft() + (rect.bottomLeft() - rect.topLeft()) / 2
    checkbox.setX(rect.left() + 10)
    qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=checkbox)
    assert state.overlay.hidden == frozenset({1})
    assert panel.model.index(1, SHOW).data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Unchecked
    state.update_overlay(hidden=frozenset())  # changed elsewhere (e.g. the legend): the box follows
    assert panel.model.index(1, SHOW).data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked


def test_selecting_a_row_sets_the_current_class(panel, state, qtbot):
    qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=cell_centre(panel, 0, NAME))
    assert state.current_class == 0
    state.set_current_class(1)
    assert panel.table.currentIndex().row() == 1


def test_background_is_marked(panel):
    index = panel.model.index(0, NAME)
    assert index.data(Qt.ItemDataRole.FontRole).italic()
    assert "background" in index.data(Qt.ItemDataRole.ToolTipRole)


def test_prediction_counts_when_the_prediction_is_shown(panel, state):
    assert panel.table.isColumnHidden(PREDICTED)
    prediction = np.zeros(state.document.shape, np.uint8)
    prediction[:, :200] = 1
    state.set_prediction("0", "unused.png", prediction)
    assert panel.table.isColumnHidden(PREDICTED)  # the truth layer is shown
    state.update_overlay(layer="both")
    assert not panel.table.isColumnHidden(PREDICTED)
    assert [panel.model.count(r, prediction=True) for r in range(2)] == [512 * 312, 512 * 200]
