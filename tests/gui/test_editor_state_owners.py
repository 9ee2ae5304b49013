"""Editor state has one owner, on the real window: renaming a class keeps the class being drawn, a polygon
edit overwrites only what the polygon still shows, and after a dialog the keyboard works at once."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QLineEdit, QMessageBox

from core.data.recovery_files import list_recovery, write_recovery
from core.data.workspace import recovery_dir
from gui.classes.class_table_model import NAME
from tests.gui.editor_helpers import (
    CTRL,
    SQUARE,
    block_mask,
    click,
    drag,
    fixtures,
    press_key,
    saved_mask,
    three_class_folder,
)

three_class, dialogs, window = fixtures()


def test_renaming_a_class_keeps_it_current_and_the_next_stroke_paints_it(qtbot, window, qtlog):
    table, state = window.class_panel.table, window.state
    cell = table.visualRect(table.model().index(2, NAME)).center()
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=cell)
    qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=cell)
    editor = table.findChild(QLineEdit)
    assert editor is not None and editor.isVisible()
    editor.selectAll()
    qtbot.keyClicks(editor, "cell wall")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: state.classes[2].name == "cell wall", timeout=2000)
    qtbot.wait(50)
    assert not [record.message for record in qtlog.records if "commitData" in record.message]
    assert state.current_class == 2
    assert window.editor_toolbar.options.class_label.text() == "Class 2: cell wall"
    window.editor.set_tool("brush")
    window.editor.set_brush_size(5)
    drag(qtbot, window.viewer.canvas, [(100, 30), (130, 30)])
    assert (state.document.mask[28:33, 100:131] == 2).all()


def test_a_polygon_edit_does_not_refill_what_was_erased(qtbot, window):
    editor, canvas, state = window.editor, window.viewer.canvas, window.state
    press_key(qtbot, window, Qt.Key.Key_P)
    press_key(qtbot, window, Qt.Key.Key_2)
    for x, y in SQUARE:
        click(qtbot, canvas, x, y)
    press_key(qtbot, window, Qt.Key.Key_Return)
    assert (state.document.mask[12:58, 72:118] == 2).all()
    press_key(qtbot, window, Qt.Key.Key_E)
    editor.set_brush_size(5)
    drag(qtbot, canvas, [(60, 35), (130, 35)])  # a strip through the polygon
    strip = (slice(33, 38), slice(72, 118))
    assert (state.document.mask[strip] == 0).all()
    press_key(qtbot, window, Qt.Key.Key_P)
    drag(qtbot, canvas, [(120, 60), (128, 66), (135, 70)])  # one corner outwards
    assert editor.tools["polygon"].shapes[0].points[2] == (135, 70)
    assert (state.document.mask[strip] == 0).all()  # the erased strip stays erased
    assert state.document.mask[65, 125] == 2  # the area the corner added is painted
    assert (state.document.mask[12:30, 72:118] == 2).all()


def answer_real_box(button_text: str) -> None:
    """Click `button_text` in the next real modal message box once it shows (as the user would)."""

    def click_button() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, click_button)
            return
        (button,) = [b for b in box.buttons() if b.text().replace("&", "") == button_text]
        button.click()

    QTimer.singleShot(0, click_button)


def type_key(key, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    """A key typed by the user: it goes to the window that has the keyboard (none: it is lost)."""
    target = QGuiApplication.focusWindow()
    assert target is not None, "no window takes the keyboard"
    QTest.keyClick(target, key, modifiers)


def test_ctrl_s_works_right_after_the_recovery_question(qtbot, main_window, show_folder, tmp_path):
    folder = three_class_folder(tmp_path)
    recovered = block_mask()
    recovered[100:, :] = 2
    write_recovery(recovery_dir(folder), "a", recovered, None)
    answer_real_box("Restore")
    show_folder(main_window, folder, "a")
    qtbot.waitUntil(lambda: np.array_equal(main_window.state.document.mask, recovered))
    qtbot.waitUntil(lambda: QApplication.activeModalWidget() is None)
    type_key(Qt.Key.Key_S, CTRL)
    assert np.array_equal(saved_mask(folder, "a"), recovered)
    assert list_recovery(recovery_dir(folder)) == []


def test_shortcuts_work_right_after_the_open_folder_dialog(qtbot, main_window, tmp_path, monkeypatch):
    folder = three_class_folder(tmp_path)

    def choose_in_a_real_dialog(parent, *args, **kwargs):
        dialog = QDialog(parent)
        QTimer.singleShot(50, dialog.accept)
        dialog.exec()
        return str(folder)

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", choose_in_a_real_dialog)
    main_window.open_action.trigger()
    state = main_window.state
    qtbot.waitUntil(lambda: state.document is not None and state.current_name == "a", timeout=20000)
    main_window.editor.set_tool("fill")
    state.set_current_class(2)
    click(qtbot, main_window.viewer.canvas, 5, 5)
    type_key(Qt.Key.Key_S, CTRL)
    assert saved_mask(folder, "a")[5, 5] == 2
