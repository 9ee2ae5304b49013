"""Never losing work: a SegLab process killed after a save and mid-edit keeps every version of the mask and leaves recovery files (for the image on screen and for
images it left with unsaved edits), and opening the folder again offers to restore them (each restored mask
shows, unsaved and undoable, with the exact pixels, when its image is shown)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from PySide6.QtCore import Qt

from core.data.mask_history import list_versions, read_version
from core.data.recovery_files import list_recovery, write_recovery
from core.data.workspace import recovery_dir
from tests.conftest import REPO
from tests.gui.editor_helpers import CTRL, block_mask, click, fixtures, history, press_key, saved_mask

three_class, dialogs, _ = fixtures()
START_TIMEOUT_S = 90

EDITING_SESSION = textwrap.dedent("""
    import os, sys, time
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    sys.path.insert(0, sys.argv[1])
    from PySide6.QtCore import QSettings, QStandardPaths, Qt
    QStandardPaths.setTestModeEnabled(True)
    from PySide6.QtWidgets import QApplication
    import numpy as np
    app = QApplication([])
    from gui.main_window import MainWindow
    from tests.gui.editor_helpers import drag

    class Bot:  # what qtbot offers, for the helpers
        from PySide6.QtTest import QTest
        mousePress, mouseMove, mouseRelease = QTest.mousePress, QTest.mouseMove, QTest.mouseRelease

    def wait(condition, seconds=60):
        end = time.time() + seconds
        while not condition():
            app.processEvents()
            time.sleep(0.01)
            if time.time() > end:
                sys.exit("timed out")

    folder, expected_file, settings_file = sys.argv[2:5]
    settings = QSettings(settings_file, QSettings.Format.IniFormat)
    settings.setValue("editor/autosave_seconds", 0.2)
    window = MainWindow(settings)
    window.resize(1200, 800)
    window.show()
    window.open_folder(folder)
    wait(lambda: window.state.document is not None and window.state.current_name == "a")
    editor = window.editor
    editor.set_tool("brush")
    editor.set_brush_size(9)
    window.state.set_current_class(2)
    drag(Bot, window.viewer.canvas, [(20, 100), (60, 100)])
    assert editor.save()  # a saved edit: the mask it replaced is kept as a version
    saved_a = window.state.document.mask.copy()
    drag(Bot, window.viewer.canvas, [(70, 20), (150, 60), (100, 110)])
    edited_a = window.state.document.mask.copy()
    window.state.request_image("b")  # leaving a keeps its edits unsaved
    wait(lambda: window.state.current_name == "b" and editor.session.name == "b")
    drag(Bot, window.viewer.canvas, [(10, 10), (40, 100)])
    sessions = editor.sessions
    wait(lambda: all(editor.recovery._written.get(n) == sessions[n].revision for n in ("a", "b")))
    np.savez(expected_file, a=edited_a, b=window.state.document.mask, saved_a=saved_a)
    print("READY", flush=True)
    time.sleep(120)  # killed here, edits unsaved
""")


def test_edits_survive_a_killed_process(qtbot, main_window, show_folder, three_class, dialogs, tmp_path):
    script = tmp_path / "editing_session.py"
    script.write_text(EDITING_SESSION)
    expected_file = tmp_path / "expected.npz"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", SEGLAB_DATA_HOME=str(tmp_path / "data_home"))
    process = subprocess.Popen([sys.executable, str(script), str(REPO), str(three_class), str(expected_file),
                                str(tmp_path / "child.ini")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env)
    try:
        deadline = time.time() + START_TIMEOUT_S
        line = ""
        while "READY" not in line and time.time() < deadline and process.poll() is None:
            line = process.stdout.readline()
        assert "READY" in line, f"the editing session did not get ready: {process.stderr.read() if process.poll() is not None else ''}"
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    assert process.returncode == -signal.SIGKILL
    expected = np.load(expected_file)
    saved_a = expected["saved_a"]
    assert not np.array_equal(saved_a, block_mask()) and not np.array_equal(expected["a"], saved_a)
    assert expected["b"].any()
    assert np.array_equal(saved_mask(three_class, "a"), saved_a)  # the save, not the later edits
    assert not (three_class / "masks" / "b.png").exists()
    entries = list_recovery(recovery_dir(three_class))
    assert sorted(entry.name for entry in entries) == ["a", "b"]

    dialogs.answer("ask_restore", "restore")
    show_folder(main_window, three_class, "a")
    state = main_window.state
    qtbot.waitUntil(lambda: history(main_window) == ["Restore unsaved edits"])
    (lines,) = [args[0] for name, args in dialogs.asked if name == "ask_restore"]
    assert sorted(line.split(":")[0] for line in lines) == ["a", "b"]
    assert np.array_equal(state.document.mask, expected["a"])
    assert state.sample_status("a").edited and state.sample_status("b").edited  # b: before it is shown
    press_key(qtbot, main_window, Qt.Key.Key_Z, CTRL)  # undoable: the saved mask is one step back
    assert np.array_equal(state.document.mask, saved_a)
    (version,) = list_versions(three_class, "a")  # the mask the save replaced, kept through the kill
    assert np.array_equal(read_version(version, state.index), block_mask())
    press_key(qtbot, main_window, Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)
    press_key(qtbot, main_window, Qt.Key.Key_S, CTRL)
    assert np.array_equal(saved_mask(three_class, "a"), expected["a"])
    assert [np.array_equal(read_version(v, state.index), m) for v, m in
            zip(list_versions(three_class, "a"), (saved_a, block_mask()), strict=True)] == [True, True]
    assert [entry.name for entry in list_recovery(recovery_dir(three_class))] == ["b"]  # a's file went
    state.request_image("b")
    qtbot.waitUntil(lambda: state.current_name == "b" and history(main_window) == ["Restore unsaved edits"])
    assert np.array_equal(state.document.mask, expected["b"])
    dialogs.answer("ask_unsaved_images", "save")  # closing asks about b, and Save All writes it
    assert main_window.close()
    assert dialogs.texts("ask_unsaved_images") == ["['b'] SegLab closes"]
    assert np.array_equal(saved_mask(three_class, "b"), expected["b"])
    assert list_recovery(recovery_dir(three_class)) == []


@pytest.mark.parametrize("answer", ["discard", "later"])
def test_recovery_files_can_be_discarded_or_kept_for_later(qtbot, main_window, show_folder, three_class, dialogs,
                                                           answer):
    mask = block_mask()
    mask[:5] = 2
    write_recovery(recovery_dir(three_class), "b", np.where(mask == 1, 0, mask).astype(np.uint8), None)
    dialogs.answer("ask_restore", answer)
    show_folder(main_window, three_class, "a")
    qtbot.waitUntil(lambda: bool(dialogs.asked))
    assert [e.name for e in list_recovery(recovery_dir(three_class))] == ([] if answer == "discard" else ["b"])
    assert not main_window.state.edited and main_window.state.current_name == "a"


def test_the_autosave_writes_only_changes_and_undoing_to_the_saved_mask_removes_the_file(
        qtbot, main_window, show_folder, three_class, dialogs):
    show_folder(main_window, three_class, "a")
    editor, recovery = main_window.editor, main_window.editor.recovery
    recovery.timer.setInterval(50)
    assert list_recovery(recovery_dir(three_class)) == []
    editor.set_tool("fill")
    press_key(qtbot, main_window, Qt.Key.Key_2)
    click(qtbot, main_window.viewer.canvas, 30, 30)
    qtbot.waitUntil(lambda: len(list_recovery(recovery_dir(three_class))) == 1)
    (entry,) = list_recovery(recovery_dir(three_class))
    qtbot.wait(200)
    assert list_recovery(recovery_dir(three_class))[0].saved_at == entry.saved_at  # unchanged: not rewritten
    press_key(qtbot, main_window, Qt.Key.Key_Z, CTRL)
    assert list_recovery(recovery_dir(three_class)) == []
    qtbot.wait(200)
    assert list_recovery(recovery_dir(three_class)) == []
