"""Edit > Revert Mask… on the real window: every save keeps the mask it replaces; the dialog lists the kept
versions and restores one as a single undoable edit that the user then saves."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
from PySide6.QtCore import Qt

from core.data.index import DatasetIndex
from core.data.mask_history import list_versions, read_version
from core.io.polygons import Polygon, rasterise
from gui.editor.revert_dialog import EMPTY_TEXT, RevertMaskDialog, when_text
from tests.gui.editor_helpers import CTRL, SIZE, block_mask, click, fixtures, history, press_key, saved_mask

three_class, dialogs, window = fixtures()
SHIFT = Qt.KeyboardModifier.ShiftModifier
FIRST = [(70, 10), (140, 10), (140, 60), (70, 60)]
SECOND = [(10, 95), (60, 95), (35, 115)]


def draw_and_save(qtbot, window, points, class_key) -> np.ndarray:
    window.editor.set_tool("polygon")
    press_key(qtbot, window, class_key)
    for x, y in points:
        click(qtbot, window.viewer.canvas, x, y)
    press_key(qtbot, window, Qt.Key.Key_Return)
    press_key(qtbot, window, Qt.Key.Key_S, CTRL)
    assert not window.state.sample_status("a").edited
    return window.state.document.mask.copy()


def open_dialog(qtbot, window) -> RevertMaskDialog:
    window.editor_actions.revert_mask.trigger()
    dialog = window.findChild(RevertMaskDialog)
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: not dialog.status.text().startswith("Reading"), timeout=10000)
    return dialog


def test_restoring_the_first_version_is_one_undo_step_and_saving_keeps_a_version_more(qtbot, window,
                                                                                        three_class):
    first = draw_and_save(qtbot, window, FIRST, Qt.Key.Key_2)
    second = draw_and_save(qtbot, window, SECOND, Qt.Key.Key_1)
    assert np.array_equal(first, rasterise([Polygon(tuple(FIRST), 2)], SIZE, base=block_mask()))
    dialog = open_dialog(qtbot, window)
    assert dialog.versions.count() == 2
    texts = [dialog.versions.item(row).text() for row in range(2)]
    assert texts[0].startswith("Today ") and f"{np.count_nonzero(first):,} labeled pixels" in texts[0]
    assert f"{np.count_nonzero(block_mask()):,} labeled pixels" in texts[1]
    assert not dialog.versions.item(1).icon().isNull()

    dialog.versions.setCurrentRow(1)  # the oldest: the mask the dataset came with
    qtbot.mouseClick(dialog.restore_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.findChild(RevertMaskDialog) is None, timeout=10000)  # closed and deleted
    assert np.array_equal(window.state.document.mask, block_mask())
    assert window.state.sample_status("a").edited and history(window)[-1].startswith("Revert mask to Today")
    assert np.array_equal(saved_mask(three_class, "a"), second)  # nothing written until the user saves

    window.activateWindow()  # a window manager does this when a dialog closes; the offscreen platform does not
    qtbot.waitUntil(window.isActiveWindow)
    press_key(qtbot, window, Qt.Key.Key_Z, CTRL)
    assert np.array_equal(window.state.document.mask, second)
    press_key(qtbot, window, Qt.Key.Key_Z, CTRL | SHIFT)
    assert np.array_equal(window.state.document.mask, block_mask())
    press_key(qtbot, window, Qt.Key.Key_S, CTRL)
    assert np.array_equal(saved_mask(three_class, "a"), block_mask())
    versions = list_versions(three_class, "a")
    assert len(versions) == 3
    assert np.array_equal(read_version(versions[0], DatasetIndex.scan(three_class)), second)


def test_an_image_never_saved_says_how_versions_come_about(qtbot, window):
    window.state.request_image("b")
    qtbot.waitUntil(lambda: window.state.current_name == "b", timeout=10000)
    dialog = open_dialog(qtbot, window)
    assert dialog.status.text() == EMPTY_TEXT
    assert not dialog.versions.isVisible() and not dialog.restore_button.isEnabled()
    dialog.reject()
    assert history(window) == []


def test_times_read_as_today_yesterday_or_a_date():
    today = date(2025, 3, 14)
    assert when_text(datetime(2025, 3, 14, 14, 2).timestamp(), today) == "Today 14:02"
    assert when_text(datetime(2025, 3, 13, 9, 5).timestamp(), today) == "Yesterday 09:05"
    assert when_text(datetime(2024, 12, 3, 18, 30).timestamp(), today) == "3 Dec 2024 18:30"
