"""Helpers for the editor tests: a small 3-class dataset, mouse input at image pixels on the real canvas,
keys through the window's shortcuts, the saved mask read back, and dialogs that fail unless expected."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, Qt

from core.classes import ClassTable
from core.data.index import DatasetIndex
from core.data.settings import DatasetSettings
from core.io.masks import write_mask
from gui.editor import editor_dialogs

CLASSES = ClassTable.from_names(["background", "nucleus", "membrane"])
LEFT, RIGHT = Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton
NONE, CTRL = Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ControlModifier
SIZE = (120, 160)  # height, width of the synthetic images
SQUARE = [(70, 10), (120, 10), (120, 60), (70, 60)]  # a polygon on the synthetic images


def block_mask() -> np.ndarray:
    """Image a's mask: a nucleus block (rows 20-49, columns 20-59) and a membrane band (rows 80-89)."""
    mask = np.zeros(SIZE, np.uint8)
    mask[20:50, 20:60] = 1
    mask[80:90, :] = 2
    return mask


def make_three_class_dataset(root: Path) -> Path:
    """images/a.png (labeled: block_mask, a paletted PNG) and images/b.png (unlabeled); 3 classes."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        Image.fromarray(rng.integers(60, 200, SIZE, dtype=np.uint8)).save(root / "images" / f"{name}.png")
    write_mask(root / "masks" / "a.png", block_mask(), CLASSES)
    DatasetSettings(CLASSES).save(root)
    return root


def three_class_folder(tmp_path) -> Path:
    """Fixture body (a test module says `three_class = pytest.fixture(name="three_class")(three_class_folder)`)."""
    return make_three_class_dataset(tmp_path / "three")


def view_point(canvas, x: int, y: int) -> QPoint:
    """The viewport position of the centre of image pixel (x, y)."""
    point = canvas.mapFromScene(QPointF(x + 0.5, y + 0.5))
    assert canvas.viewport().rect().contains(point), f"pixel {(x, y)} is not in view"
    return point


def click(qtbot, canvas, x: int, y: int, button=LEFT, modifiers=NONE) -> None:
    qtbot.mouseClick(canvas.viewport(), button, modifiers, view_point(canvas, x, y))


def double_click(qtbot, canvas, x: int, y: int) -> None:
    qtbot.mouseDClick(canvas.viewport(), LEFT, NONE, view_point(canvas, x, y))


def move(qtbot, canvas, x: int, y: int) -> None:
    qtbot.mouseMove(canvas.viewport(), view_point(canvas, x, y))


def drag(qtbot, canvas, points, button=LEFT) -> None:
    """Press at the first pixel, move through the others, release at the last."""
    qtbot.mousePress(canvas.viewport(), button, NONE, view_point(canvas, *points[0]))
    for point in points[1:]:
        qtbot.mouseMove(canvas.viewport(), view_point(canvas, *point))
    qtbot.mouseRelease(canvas.viewport(), button, NONE, view_point(canvas, *points[-1]))


def press_key(qtbot, window, key, modifiers=NONE) -> None:
    """A key as the user types it with the image in focus: window shortcuts first, then the canvas."""
    canvas = window.viewer.canvas
    canvas.setFocus()
    qtbot.keyClick(canvas, key, modifiers)


def saved_mask(folder: Path, name: str) -> np.ndarray:
    index = DatasetIndex.scan(folder)
    return index.load_mask(index.sample(name))


def history(window) -> list[str]:
    stack = window.editor.session.stack
    return [stack.text(i) for i in range(stack.count())]


class DialogRecorder:
    """Stands in for gui.editor.editor_dialogs: answers set per test; an unexpected dialog fails."""

    def __init__(self, monkeypatch):
        self.asked: list[tuple[str, tuple]] = []
        self.answers: dict[str, list] = {}
        for name in ("ask_unsaved_images", "confirm", "show_error", "ask_restore"):
            monkeypatch.setattr(editor_dialogs, name, self._stand_in(name))

    def answer(self, name: str, *values) -> None:
        self.answers.setdefault(name, []).extend(values)

    def _stand_in(self, name: str):
        def reply(parent, *args):
            self.asked.append((name, args))
            if name == "show_error":
                return None
            queued = self.answers.get(name)
            if not queued:
                raise AssertionError(f"unexpected dialog {name}: {args}")
            return queued.pop(0)

        return reply

    def texts(self, name: str) -> list[str]:
        return [" ".join(str(a) for a in args) for asked, args in self.asked if asked == name]


def dialog_recorder(monkeypatch) -> DialogRecorder:
    """Fixture body, as three_class_folder."""
    return DialogRecorder(monkeypatch)


def window_on_image_a(main_window, show_folder, three_class, dialogs):
    """Fixture body: the main window showing image "a" of the three-class folder, dialogs recorded."""
    show_folder(main_window, three_class, "a")
    return main_window


def fixtures():
    """(three_class, dialogs, window) fixtures for a test module: `three_class, dialogs, window = fixtures()`."""
    return (pytest.fixture(name="three_class")(three_class_folder),
            pytest.fixture(name="dialogs")(dialog_recorder),
            pytest.fixture(name="window")(window_on_image_a))
