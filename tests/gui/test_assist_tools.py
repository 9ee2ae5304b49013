"""The assisted tools (GrabCut box, scissors, magic wand) on the real window's canvas, wired as the editor
controller wires its tools: real mouse events on a 16-bit image (drawn through the display levels), the
mask's pixels checked, one undo step per result, corrections that replace the last result, and "protect
other classes" respected."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import tifffile
from PySide6.QtCore import Qt

from core.data.settings import DatasetSettings
from core.io.masks import write_mask
from gui.editor.grabcut_tool import GrabCutTool
from gui.editor.scissors_tool import ScissorsTool
from gui.editor.wand_tool import WandTool
from tests.gui.editor_helpers import CLASSES, RIGHT, SIZE, click, drag, history

A, B, C = ((40, 50), 18), ((76, 50), 18), ((125, 85), 15)  # (centre x, y), radius: A and B touch
BAND = (slice(108, 116), slice(0, 160))  # class 2 (membrane) in the saved mask


def disk(spec) -> np.ndarray:
    (x, y), radius = spec
    mask = np.zeros(SIZE, np.uint8)
    cv2.circle(mask, (x, y), radius, 1, -1)
    return mask.astype(bool)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


@pytest.fixture
def window(main_window, show_folder, tmp_path):
    """A 12-bit image in a uint16 TIFF: bright disks A, B (touching) and C on noise; the mask has a
    membrane band."""
    folder = tmp_path / "disks"
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    rng = np.random.default_rng(3)
    image = rng.normal(400, 40, SIZE) + 2000 * (disk(A) | disk(B) | disk(C))
    tifffile.imwrite(folder / "images" / "disks.tif", np.clip(image, 0, 4095).astype(np.uint16))
    mask = np.zeros(SIZE, np.uint8)
    mask[BAND] = 2
    write_mask(folder / "masks" / "disks.png", mask, CLASSES)
    DatasetSettings(CLASSES).save(folder)
    show_folder(main_window, folder)
    main_window.state.set_current_class(1)
    return main_window


def use(window, tool):
    window.editor.canvas.set_tool(tool)  # as EditorController.set_tool does
    return tool


def nucleus(window) -> np.ndarray:
    return window.state.document.mask == 1


def test_a_grabcut_box_becomes_the_disk_and_one_undo_removes_it(qtbot, window):
    tool = use(window, GrabCutTool(window.editor, window.tasks))
    (x, y), r = C
    drag(qtbot, window.viewer.canvas, [(x - r - 4, y - r - 4), (x, y), (x + r + 4, y + r + 4)])
    qtbot.waitUntil(lambda: window.editor.session.stack.count() == 1 and not tool.busy)
    assert iou(nucleus(window), disk(C)) >= 0.9
    assert history(window) == ["GrabCut (class nucleus)"]
    window.editor.session.stack.undo()
    assert not nucleus(window).any() and (window.state.document.mask[BAND] == 2).all()


def test_a_right_click_takes_a_wrongly_cut_part_out_as_a_second_step(qtbot, window):
    tool = use(window, GrabCutTool(window.editor, window.tasks))
    canvas, stack = window.viewer.canvas, window.editor.session.stack
    drag(qtbot, canvas, [(18, 28), (50, 50), (85, 72)])  # A and most of B: both are cut
    qtbot.waitUntil(lambda: stack.count() == 1 and not tool.busy)
    first = nucleus(window).copy()
    assert (first & disk(B)).sum() > disk(B).sum() / 2
    click(qtbot, canvas, 78, 50, RIGHT)  # in B: not the object
    qtbot.waitUntil(lambda: stack.count() == 2 and not tool.busy)
    assert (nucleus(window) & disk(B)).sum() < 0.05 * disk(B).sum()
    assert iou(nucleus(window), disk(A)) >= 0.9 and history(window)[-1] == "GrabCut (class nucleus)"
    stack.undo()
    assert np.array_equal(nucleus(window), first)


def test_scissors_clicked_around_a_disk_paint_it(qtbot, window):
    use(window, ScissorsTool(window.editor))
    canvas = window.viewer.canvas
    (x, y), r = C
    rim = [(round(x + r * math.cos(a)), round(y + r * math.sin(a))) for a in (0, math.pi / 2, math.pi, 1.5 * math.pi)]
    for point in rim:
        click(qtbot, canvas, *point)
    click(qtbot, canvas, *rim[0])  # closes
    assert iou(nucleus(window), disk(C)) >= 0.9
    assert history(window) == ["Scissors (class nucleus)"]
    window.editor.session.stack.undo()
    assert not nucleus(window).any()


def test_a_wand_click_takes_the_disk_and_a_drag_widens_it_within_protected_classes(qtbot, window):
    tool = use(window, WandTool(window.editor))
    canvas, stack = window.viewer.canvas, window.editor.session.stack
    click(qtbot, canvas, *C[0])  # tolerance from the image around the click
    assert iou(nucleus(window), disk(C)) >= 0.9 and history(window) == ["Magic wand (class nucleus)"]
    stack.undo()
    assert not nucleus(window).any()
    window.editor.set_protect(True)
    drag(qtbot, canvas, [C[0], (C[0][0] - 100, C[0][1] + 30)])  # a long drag: a high tolerance
    assert tool.tolerance >= 100
    mask = window.state.document.mask
    assert (mask[BAND] == 2).all()  # protected
    assert not (disk(A) | disk(B) | disk(C))[mask != 1].any()  # every disk and...
    assert (mask == 1).sum() > 0.95 * (mask.size - mask[BAND].size)  # ...nearly all the background too


def test_a_shift_click_outside_the_wand_region_widens_its_tolerance_as_a_replacing_step(qtbot, window):
    tool = use(window, WandTool(window.editor))
    canvas, stack = window.viewer.canvas, window.editor.session.stack
    click(qtbot, canvas, *C[0])
    first = nucleus(window).copy()
    click(qtbot, canvas, 5, 5, modifiers=Qt.KeyboardModifier.ShiftModifier)  # background: wanted too
    assert nucleus(window)[5, 5] and tool.tolerance > 100 and stack.count() == 2
    stack.undo()
    assert np.array_equal(nucleus(window), first)
