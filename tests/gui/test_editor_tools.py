"""The editing tools on the real window: polygons, brush, eraser, fill, pick class, protect other classes,
polygon editing, class and size keys. Input is real mouse and key events on the canvas; the saved mask is
read back through DatasetIndex and compared with the expected rasterisation."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt

from core.io.polygons import Polygon, rasterise
from tests.gui.editor_helpers import (
    CTRL,
    RIGHT,
    SIZE,
    SQUARE,
    block_mask,
    click,
    double_click,
    drag,
    fixtures,
    history,
    move,
    press_key,
    saved_mask,
)

three_class, dialogs, window = fixtures()


def draw_polygon(qtbot, window, points, close: str = "first vertex") -> None:
    canvas = window.viewer.canvas
    for x, y in points:
        click(qtbot, canvas, x, y)
    if close == "first vertex":
        click(qtbot, canvas, *points[0])
    elif close == "enter":
        press_key(qtbot, window, Qt.Key.Key_Return)
    else:
        double_click(qtbot, canvas, *points[-1])


@pytest.mark.parametrize("close", ["first vertex", "enter", "double-click"])
def test_a_polygon_drawn_with_clicks_is_saved_as_its_rasterisation(qtbot, window, three_class, close):
    points = [(70, 15), (140, 25), (130, 100), (100, 70), (75, 95)]
    press_key(qtbot, window, Qt.Key.Key_P)
    press_key(qtbot, window, Qt.Key.Key_2)
    assert window.editor.tool_name == "polygon" and window.state.current_class == 2
    draw_polygon(qtbot, window, points, close)
    assert history(window) == ["Polygon (class membrane)"]
    assert window.state.sample_status("a").edited
    press_key(qtbot, window, Qt.Key.Key_S, CTRL)
    expected = rasterise([Polygon(tuple(points), 2)], SIZE, base=block_mask())
    assert np.array_equal(saved_mask(three_class, "a"), expected)
    assert not window.state.sample_status("a").edited


def test_the_draft_grows_with_a_rubber_band_and_esc_cancels_it(qtbot, window):
    canvas, tool = window.viewer.canvas, window.editor.tools["polygon"]
    window.editor.set_tool("polygon")
    click(qtbot, canvas, 70, 15)
    click(qtbot, canvas, 140, 25)
    move(qtbot, canvas, 120, 90)
    assert tool.item.draft == ((70, 15), (140, 25)) and tool.item.hover == (120, 90)
    press_key(qtbot, window, Qt.Key.Key_Backspace)
    assert tool.draft == [(70, 15)]
    press_key(qtbot, window, Qt.Key.Key_Escape)
    assert tool.draft == [] and window.editor.tool_name == "polygon"
    press_key(qtbot, window, Qt.Key.Key_Escape)  # nothing left to cancel: back to navigating
    assert window.editor.tool_name == "navigate"
    assert window.editor.session.stack.count() == 0 and np.array_equal(window.state.document.mask, block_mask())


def test_brush_and_eraser_strokes_are_interpolated_disks(qtbot, window, three_class):
    canvas, editor = window.viewer.canvas, window.editor
    press_key(qtbot, window, Qt.Key.Key_B)
    press_key(qtbot, window, Qt.Key.Key_2)
    editor.set_brush_size(7)  # radius 3
    stroke = [(70, 30), (100, 35), (130, 60), (150, 110)]
    drag(qtbot, canvas, stroke)
    expected = block_mask()
    cv2.circle(expected, stroke[0], 3, 2, -1)
    for p0, p1 in zip(stroke, stroke[1:], strict=False):
        cv2.line(expected, p0, p1, 2, 6)  # thickness 2r: round ends of radius r, no gaps
    assert np.array_equal(window.state.document.mask, expected)
    press_key(qtbot, window, Qt.Key.Key_E)
    editor.set_brush_size(5)
    erased = [(10, 35), (70, 35)]
    drag(qtbot, canvas, erased)
    cv2.line(expected, erased[0], erased[1], 0, 4)
    cv2.circle(expected, erased[0], 2, 0, -1)
    assert history(window) == ["Brush stroke (class membrane)", "Erase stroke"]
    assert window.editor.save()
    assert np.array_equal(saved_mask(three_class, "a"), expected)


def test_fill_and_pick_class(qtbot, window):
    canvas, state = window.viewer.canvas, window.state
    press_key(qtbot, window, Qt.Key.Key_F)
    press_key(qtbot, window, Qt.Key.Key_2)
    click(qtbot, canvas, 30, 30)  # inside the nucleus block
    expected = block_mask()
    expected[20:50, 20:60] = 2
    assert np.array_equal(state.document.mask, expected) and history(window) == ["Fill (class membrane)"]
    press_key(qtbot, window, Qt.Key.Key_1)
    click(qtbot, canvas, 5, 5)  # the background around (the membrane band splits it in two)
    expected[:80][expected[:80] == 0] = 1
    assert np.array_equal(state.document.mask, expected)
    press_key(qtbot, window, Qt.Key.Key_I)
    click(qtbot, canvas, 30, 100)  # below the band: still background
    assert state.current_class == 0 and window.editor.tool_name == "fill"  # picking returns to the tool


def test_protect_other_classes(qtbot, window):
    canvas, editor, state = window.viewer.canvas, window.editor, window.state
    editor.set_protect(True)
    press_key(qtbot, window, Qt.Key.Key_B)
    press_key(qtbot, window, Qt.Key.Key_2)
    editor.set_brush_size(9)
    drag(qtbot, canvas, [(5, 35), (100, 35)])  # across the nucleus block
    painted = np.zeros(SIZE, np.uint8)
    cv2.line(painted, (5, 35), (100, 35), 1, 8)
    cv2.circle(painted, (5, 35), 4, 1, -1)
    expected = block_mask()
    expected[(painted > 0) & (expected == 0)] = 2
    assert np.array_equal(state.document.mask, expected)
    press_key(qtbot, window, Qt.Key.Key_E)
    press_key(qtbot, window, Qt.Key.Key_1)  # erase only nucleus pixels
    drag(qtbot, canvas, [(5, 45), (100, 45)])
    painted[:] = 0
    cv2.line(painted, (5, 45), (100, 45), 1, 8)
    cv2.circle(painted, (5, 45), 4, 1, -1)
    expected[(painted > 0) & (expected == 1)] = 0
    assert np.array_equal(state.document.mask, expected)
    press_key(qtbot, window, Qt.Key.Key_F)
    click(qtbot, canvas, 30, 100)  # background: fine
    click(qtbot, canvas, 30, 84)  # the membrane band is another class: protected
    assert (state.document.mask[80:90] == 2).all() and (state.document.mask[90:] == 1).all()


def test_polygon_editing(qtbot, window):
    canvas, state, tool = window.viewer.canvas, window.state, window.editor.tools["polygon"]
    press_key(qtbot, window, Qt.Key.Key_P)
    press_key(qtbot, window, Qt.Key.Key_1)
    draw_polygon(qtbot, window, SQUARE, "enter")

    def expected(points, value=1):
        return rasterise([Polygon(tuple(points), value)], SIZE, base=block_mask())

    click(qtbot, canvas, 95, 10)  # on the top edge: selects the polygon
    assert tool.selected == 0
    drag(qtbot, canvas, [(120, 60), (130, 70), (140, 75)])  # a vertex
    moved = [(70, 10), (120, 10), (140, 75), (70, 60)]
    assert np.array_equal(state.document.mask, expected(moved))
    click(qtbot, canvas, 70, 35, modifiers=CTRL)  # on the left edge: a new vertex
    assert tool.shapes[0].points == ((70, 10), (120, 10), (140, 75), (70, 60), (70, 35))
    click(qtbot, canvas, 70, 35, button=RIGHT)  # right-click on it: removed again
    assert tool.shapes[0].points == tuple(moved)
    drag(qtbot, canvas, [(100, 40), (95, 42), (90, 45)])  # inside the selected polygon: moves it
    shifted = [(x - 10, y + 5) for x, y in moved]
    assert np.array_equal(state.document.mask, expected(shifted))
    press_key(qtbot, window, Qt.Key.Key_2)  # the selected polygon takes the class
    assert np.array_equal(state.document.mask, expected(shifted, 2))
    press_key(qtbot, window, Qt.Key.Key_Delete)
    assert tool.shapes == () and np.array_equal(state.document.mask, block_mask())
    assert history(window) == ["Polygon (class nucleus)", "Move vertex", "Insert vertex", "Delete vertex",
                               "Move polygon", "Polygon → class membrane", "Delete polygon"]


def test_a_polygon_reshaped_over_a_class_gives_its_pixels_back(qtbot, window):
    """The pixels under a polygon come back when it moves away; later brush strokes stay."""
    canvas, state, editor = window.viewer.canvas, window.state, window.editor
    editor.set_tool("polygon")
    press_key(qtbot, window, Qt.Key.Key_2)
    cover = [(10, 10), (50, 10), (50, 40), (10, 40)]  # over part of the nucleus block
    draw_polygon(qtbot, window, cover)
    editor.set_tool("brush")
    editor.set_brush_size(3)
    press_key(qtbot, window, Qt.Key.Key_1)
    drag(qtbot, canvas, [(15, 15), (25, 15)])
    editor.set_tool("polygon")
    click(qtbot, canvas, 30, 10)  # select
    assert state.current_class == 2
    drag(qtbot, canvas, [(30, 25), (110, 25)])  # move it right, off the block
    expected = block_mask()
    cv2.line(expected, (15, 15), (25, 15), 1, 2)
    cv2.circle(expected, (15, 15), 1, 1, -1)
    expected = rasterise([Polygon(tuple((x + 80, y) for x, y in cover), 2)], SIZE, base=expected)
    assert np.array_equal(state.document.mask, expected)


def test_class_and_size_keys_and_the_brush_outline(qtbot, window):
    canvas, editor, state = window.viewer.canvas, window.editor, window.state
    for key, value in ((Qt.Key.Key_2, 2), (Qt.Key.Key_1, 1)):
        press_key(qtbot, window, key)
        assert state.current_class == value
    press_key(qtbot, window, Qt.Key.Key_9)
    assert state.current_class == 1
    press_key(qtbot, window, Qt.Key.Key_B)
    editor.set_brush_size(15)
    press_key(qtbot, window, Qt.Key.Key_BracketRight)
    assert editor.brush_size == 19
    press_key(qtbot, window, Qt.Key.Key_BracketLeft)
    press_key(qtbot, window, Qt.Key.Key_BracketLeft)
    assert editor.brush_size == 12
    assert window.editor_toolbar.options.size_spin.value() == 12
    move(qtbot, canvas, 100, 70)
    cursor = editor.tools["brush"].cursor_item
    assert cursor.isVisible() and (cursor.pos().x(), cursor.pos().y()) == (100.5, 70.5)
    assert cursor.boundingRect().width() == pytest.approx(2 * (5 + 0.5 + 2))
    press_key(qtbot, window, Qt.Key.Key_Escape)
    assert editor.tool_name == "navigate" and cursor.scene() is None
