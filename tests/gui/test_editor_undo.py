"""Undo and redo on the real window: exact pixels back at every step, the history panel, steps that store
only their region, per-image histories, and predictions accepted (wholly, per class, as polygons)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QUndoView

from core.io.polygons import mask_to_polygons, rasterise
from gui.editor.prediction_actions import MIN_REGION_PX, SIMPLIFY_PX
from tests.gui.editor_helpers import (
    CTRL,
    SIZE,
    block_mask,
    click,
    drag,
    fixtures,
    history,
    press_key,
    saved_mask,
)

three_class, dialogs, window = fixtures()


def edit_four_times(qtbot, window) -> list[np.ndarray]:
    """Polygon, brush stroke, fill, eraser stroke; the mask after each step (first: before any)."""
    canvas, editor, state = window.viewer.canvas, window.editor, window.state
    masks = [state.document.mask.copy()]
    editor.set_tool("polygon")
    press_key(qtbot, window, Qt.Key.Key_2)
    for x, y in ((70, 10), (150, 15), (140, 70), (80, 60)):
        click(qtbot, canvas, x, y)
    press_key(qtbot, window, Qt.Key.Key_Return)
    masks.append(state.document.mask.copy())
    editor.set_tool("brush")
    editor.set_brush_size(11)
    press_key(qtbot, window, Qt.Key.Key_1)
    drag(qtbot, canvas, [(10, 100), (60, 110), (120, 100)])
    masks.append(state.document.mask.copy())
    editor.set_tool("fill")
    click(qtbot, canvas, 5, 5)
    masks.append(state.document.mask.copy())
    editor.set_tool("eraser")
    drag(qtbot, canvas, [(30, 0), (30, 119)])
    masks.append(state.document.mask.copy())
    return masks


def test_undo_and_redo_restore_the_exact_pixels(qtbot, window):
    state = window.state
    masks = edit_four_times(qtbot, window)
    assert all(not np.array_equal(a, b) for a, b in zip(masks, masks[1:], strict=False))
    assert history(window) == ["Polygon (class membrane)", "Brush stroke (class nucleus)", "Fill (class nucleus)",
                               "Erase stroke"]
    view = window.docks["history"].widget()
    assert isinstance(view, QUndoView) and view.model().rowCount() == 5  # "Opened (saved)" + 4 steps
    assert view.model().index(1, 0).data() == "Polygon (class membrane)"
    for expected in reversed(masks[:-1]):
        press_key(qtbot, window, Qt.Key.Key_Z, CTRL)
        assert np.array_equal(state.document.mask, expected)
    assert not state.sample_status("a").edited  # back at the saved mask
    assert window.editor_actions.undo.isEnabled() is False
    for number, expected in enumerate(masks[1:]):
        key, modifiers = (Qt.Key.Key_Y, CTRL) if number % 2 else (Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)
        press_key(qtbot, window, key, modifiers)
        assert np.array_equal(state.document.mask, expected)
    assert state.sample_status("a").edited
    view.setCurrentIndex(view.model().index(2, 0))  # clicking a step in the history goes back to it
    assert np.array_equal(state.document.mask, masks[2])


def test_a_step_stores_only_the_pixels_it_changed(qtbot, window):
    canvas, editor = window.viewer.canvas, window.editor
    editor.set_tool("brush")
    editor.set_brush_size(5)
    drag(qtbot, canvas, [(100, 30), (110, 32)])
    command = editor.session.stack.command(0)
    patch = command.patch
    assert patch.region == (28, 98, 35, 113)  # the stroke's disks, nothing more
    assert patch.rows is None and patch.before.shape == (7, 15) and command.size_bytes == 2 * 7 * 15
    assert np.array_equal(patch.before, block_mask()[28:35, 98:113])
    press_key(qtbot, window, Qt.Key.Key_Z, CTRL)
    drag(qtbot, canvas, [(0, 5), (159, 115)])  # a thin diagonal: only its pixels are kept
    patch = editor.session.stack.command(0).patch
    assert patch.region == (3, 0, 118, 160) and patch.rows is not None
    changed = int(np.count_nonzero(window.state.document.mask != block_mask()))
    assert len(patch.rows) == changed and patch.nbytes == changed * 6 < 2 * 115 * 160


def test_each_image_keeps_its_history(qtbot, window, three_class):
    canvas, editor, state = window.viewer.canvas, window.editor, window.state
    editor.set_tool("fill")
    press_key(qtbot, window, Qt.Key.Key_2)
    click(qtbot, canvas, 30, 30)
    filled = state.document.mask.copy()
    press_key(qtbot, window, Qt.Key.Key_S, CTRL)
    state.request_image("b")
    qtbot.waitUntil(lambda: state.current_name == "b")
    assert np.array_equal(saved_mask(three_class, "a"), filled) and not state.sample_status("a").edited
    assert history(window) == []
    click(qtbot, canvas, 30, 30)  # b was unlabeled: the fill covers it
    assert (state.document.mask == 2).all()
    press_key(qtbot, window, Qt.Key.Key_S, CTRL)  # a new mask file
    state.request_image("a")  # a's history is there: the image read again is the mask saved
    qtbot.waitUntil(lambda: state.current_name == "a")
    assert state.index.sample("b").labeled and (three_class / "masks" / "b.png").is_file()
    assert history(window) == ["Fill (class membrane)"] and not state.sample_status("a").edited
    press_key(qtbot, window, Qt.Key.Key_Z, CTRL)
    assert np.array_equal(state.document.mask, block_mask()) and state.sample_status("a").edited


def show_prediction(window, prediction: np.ndarray) -> None:
    window.state.set_prediction(window.state.current_name, "predicted.png", prediction)


def predicted_mask() -> np.ndarray:
    prediction = np.zeros(SIZE, np.uint8)
    prediction[25:55, 30:70] = 1  # the nucleus block, shifted
    prediction[95:110, 100:140] = 2
    return prediction


def test_accepting_a_prediction_asks_before_replacing_a_hand_made_mask(qtbot, window, dialogs):
    state, actions = window.state, window.editor_actions
    show_prediction(window, predicted_mask())
    assert actions.accept_prediction.isEnabled()
    dialogs.answer("confirm", False)
    actions.accept_prediction.trigger()
    assert np.array_equal(state.document.mask, block_mask()) and history(window) == []
    assert "already has a mask" in dialogs.texts("confirm")[0]
    dialogs.answer("confirm", True)
    actions.accept_prediction.trigger()
    assert np.array_equal(state.document.mask, predicted_mask()) and history(window) == ["Accept prediction"]
    press_key(qtbot, window, Qt.Key.Key_Z, CTRL)
    assert np.array_equal(state.document.mask, block_mask())


def test_accepting_one_predicted_class(qtbot, window, dialogs):
    state, actions = window.state, window.editor_actions
    show_prediction(window, predicted_mask())
    press_key(qtbot, window, Qt.Key.Key_2)
    actions.accept_class.trigger()  # membrane pixels land on background only: nothing hand-made changes
    expected = block_mask()
    expected[95:110, 100:140] = 2
    assert np.array_equal(state.document.mask, expected) and history(window) == ["Accept prediction (class membrane)"]
    assert dialogs.asked == []
    press_key(qtbot, window, Qt.Key.Key_1)
    window.editor.set_protect(True)
    actions.accept_class.trigger()  # protected: the nucleus grows over background only
    expected[(predicted_mask() == 1) & (expected == 0)] = 1
    assert np.array_equal(state.document.mask, expected)


def test_a_prediction_becomes_editable_polygons(qtbot, main_window, show_folder, three_class, dialogs):
    window, state = main_window, main_window.state
    show_folder(window, three_class, "b")  # unlabeled: nothing to overwrite, no question
    show_prediction(window, predicted_mask())
    window.editor_actions.prediction_polygons.trigger()
    polygons = mask_to_polygons(predicted_mask(), epsilon=SIMPLIFY_PX, min_area=MIN_REGION_PX)
    shapes = window.editor.session.shapes
    assert len(shapes) == len(polygons) == 2 and window.editor.tool_name == "polygon"
    assert np.array_equal(state.document.mask, rasterise(polygons, SIZE)) and dialogs.asked == []
    assert history(window) == ["Polygons from prediction (2)"]
    canvas = window.viewer.canvas
    click(qtbot, canvas, 100, 95)  # select the membrane polygon on its top edge, drag a corner down
    drag(qtbot, canvas, [(100, 95), (100, 90), (100, 85)])
    assert state.document.mask[86, 101] == 2 and window.editor.session.shapes[1].points[0] == (100, 85)
