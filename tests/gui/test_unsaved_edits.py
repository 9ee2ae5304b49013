"""Nothing is saved behind the user's back: leaving an image keeps its edits unsaved (in memory, undoable,
in the recovery file, marked "edited"); closing the window or opening another folder asks once, naming the
images, Save All / Discard / Cancel; automatic saving is a choice the status bar shows."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from core.data.recovery_files import list_recovery
from core.data.workspace import recovery_dir
from gui.editor.editor_dialogs import unsaved_images_box
from tests.gui.editor_helpers import (
    CTRL,
    block_mask,
    drag,
    fixtures,
    history,
    make_three_class_dataset,
    press_key,
    saved_mask,
)

three_class, dialogs, window = fixtures()


def paint(qtbot, window, class_key=Qt.Key.Key_2) -> np.ndarray:
    """A brush stroke of the class under `class_key`; the mask after it."""
    window.editor.set_tool("brush")
    window.editor.set_brush_size(9)
    press_key(qtbot, window, class_key)
    drag(qtbot, window.viewer.canvas, [(70, 20), (150, 60)])
    return window.state.document.mask.copy()


def go_to(qtbot, window, name: str, key) -> None:
    press_key(qtbot, window, key)
    qtbot.waitUntil(lambda: window.state.current_name == name and window.editor.session.name == name)


def test_leaving_an_image_writes_nothing_and_keeps_the_edits(qtbot, window, three_class):
    mask_file = three_class / "masks" / "a.png"
    before = mask_file.read_bytes()
    edited = paint(qtbot, window)
    go_to(qtbot, window, "b", Qt.Key.Key_D)
    assert mask_file.read_bytes() == before  # not a byte written
    assert not (three_class / "masks" / "b.png").exists()
    assert window.state.sample_status("a").edited
    qtbot.waitUntil(lambda: [e.name for e in list_recovery(recovery_dir(three_class))] == ["a"], timeout=10000)
    go_to(qtbot, window, "a", Qt.Key.Key_A)  # back: the edits are on screen, with their history
    assert np.array_equal(window.state.document.mask, edited)
    assert history(window) == ["Brush stroke (class membrane)"]
    press_key(qtbot, window, Qt.Key.Key_Z, CTRL)
    assert np.array_equal(window.state.document.mask, block_mask())
    assert not window.state.sample_status("a").edited
    qtbot.waitUntil(lambda: list_recovery(recovery_dir(three_class)) == [], timeout=10000)


def test_closing_asks_once_naming_the_images_and_save_all_writes_them(qtbot, window, three_class, dialogs):
    edited_a = paint(qtbot, window)
    go_to(qtbot, window, "b", Qt.Key.Key_D)
    edited_b = paint(qtbot, window, Qt.Key.Key_1)
    dialogs.answer("ask_unsaved_images", "cancel")
    assert not window.close() and window.isVisible()
    (asked,) = dialogs.texts("ask_unsaved_images")
    assert asked == "['a', 'b'] SegLab closes"
    assert saved_mask(three_class, "a").tolist() == block_mask().tolist()
    dialogs.answer("ask_unsaved_images", "save")
    assert window.close()
    assert np.array_equal(saved_mask(three_class, "a"), edited_a)
    assert np.array_equal(saved_mask(three_class, "b"), edited_b)
    assert list_recovery(recovery_dir(three_class)) == []


def test_discard_leaves_the_files_byte_identical(qtbot, window, three_class, dialogs):
    mask_file = three_class / "masks" / "a.png"
    before = mask_file.read_bytes()
    paint(qtbot, window)
    window.editor.recovery.write_now(window.editor.session)
    dialogs.answer("ask_unsaved_images", "discard")
    assert window.close()
    assert mask_file.read_bytes() == before
    assert list_recovery(recovery_dir(three_class)) == []  # discarded edits are not offered back


def test_opening_another_folder_asks_too(qtbot, window, three_class, dialogs, tmp_path):
    edited = paint(qtbot, window)
    other = make_three_class_dataset(tmp_path / "other")
    dialogs.answer("ask_unsaved_images", "cancel")
    window.open_folder(str(other))
    qtbot.wait(100)
    assert window.state.index.root == three_class and np.array_equal(window.state.document.mask, edited)
    assert dialogs.texts("ask_unsaved_images") == ["['a'] another folder opens"]
    dialogs.answer("ask_unsaved_images", "save")
    window.open_folder(str(other))
    qtbot.waitUntil(lambda: window.state.index.root == other)
    assert np.array_equal(saved_mask(three_class, "a"), edited)


def test_automatic_saving_is_a_visible_choice(qtbot, window, three_class):
    label = window.autosave_label
    assert not window.editor.save_on_leave and not label.isVisible()
    window.editor_actions.save_on_leave.trigger()
    assert window.settings.value("editor/autosave_masks") in (True, "true")
    assert label.isVisible() and label.text() == "Masks save automatically"
    edited = paint(qtbot, window)
    go_to(qtbot, window, "b", Qt.Key.Key_D)
    assert np.array_equal(saved_mask(three_class, "a"), edited) and not window.state.sample_status("a").edited
    paint(qtbot, window)
    assert window.close()  # saved without asking
    assert (three_class / "masks" / "b.png").is_file()


def test_the_question_lists_ten_images_then_how_many_more(qtbot, main_window):
    names = [f"slice_{n:03d}" for n in range(14)]
    box = unsaved_images_box(main_window, names, "SegLab closes")
    text = box.text() + box.informativeText()
    assert "14 images have unsaved edits" in text and "Save them before SegLab closes?" in text
    assert "slice_009" in text and "slice_010" not in text and "and 4 more" in text
    assert {b.text().replace("&", "") for b in box.buttons()} == {"Save All", "Discard", "Cancel"}
