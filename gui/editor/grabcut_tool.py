"""GrabCut box: drag a box around an object and it becomes a mask of the current class (OpenCV GrabCut on
the image as displayed, core/assist/grabcut.py). Then a left click marks a missed part of the object, a
right click something wrongly taken: the cut is redone with every click so far and replaces the last
result. Each result is one undo step. GrabCut runs on a worker thread (a busy cursor meanwhile); Esc ends
the refining, then goes back to navigating."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QKeyEvent
from PySide6.QtWidgets import QGraphicsRectItem

from core.assist.grabcut import grabcut_crop
from gui.canvas import TOOL_Z, ToolEvent
from gui.editor.assist_base import AssistTool, outline_pen
from gui.workers import TaskRunner

MIN_BOX = 3  # pixels: a smaller drag is a click


def run_grabcut(_ctx, image8, box, fg, bg):
    return grabcut_crop(image8, box, fg, bg)


class GrabCutTool(AssistTool):
    def __init__(self, controller, tasks: TaskRunner):
        super().__init__(controller)
        self.tasks = tasks
        self.item = QGraphicsRectItem()
        self.item.setZValue(TOOL_Z)
        self.item.setPen(outline_pen(QColor(255, 255, 255)))
        self.item.hide()
        self.box: tuple[int, int, int, int] | None = None  # top, left, bottom, right of the last cut
        self.fg: list[tuple[int, int]] = []
        self.bg: list[tuple[int, int]] = []
        self._anchor: tuple[int, int] | None = None  # where the drag started
        self._job = None  # the running task and what it was asked

    @property
    def busy(self) -> bool:
        return self._job is not None

    def reset(self) -> None:
        super().reset()
        if self._job is not None:
            self._job[0].cancel()
            self._done()
        self.box, self.fg, self.bg, self._anchor = None, [], [], None
        self.item.hide()

    # input --------------------------------------------------------------------------------------
    def press(self, event: ToolEvent) -> bool:
        if event.button not in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            return False
        pixel = self.pixel_in_image(event)
        if pixel is None or self.busy:
            return self.session is not None
        if event.button == Qt.MouseButton.RightButton:
            self._refine(pixel, foreground=False)
        else:
            self._anchor = pixel
            self._show_box(pixel, pixel)
        return True

    def move(self, event: ToolEvent) -> bool:
        if self._anchor is None:
            return False
        self._show_box(self._anchor, self._clamped(event.pixel))
        return True

    def release(self, event: ToolEvent) -> bool:
        if self._anchor is None or event.button != Qt.MouseButton.LeftButton:
            return False
        (x0, y0), (x1, y1) = self._anchor, self._clamped(event.pixel)
        self._anchor = None
        if abs(x1 - x0) < MIN_BOX and abs(y1 - y0) < MIN_BOX:
            self._show_box_of_last()
            self._refine((x0, y0), foreground=True)
            return True
        self.box = (min(y0, y1), min(x0, x1), max(y0, y1) + 1, max(x0, x1) + 1)
        self.fg, self.bg = [], []
        self._start(correct=False)
        return True

    def key_press(self, event: QKeyEvent) -> bool:
        if event.key() == Qt.Key.Key_Escape and self.box is not None:
            self.reset()
            return True
        return super().key_press(event)

    # work ---------------------------------------------------------------------------------------
    def _refine(self, pixel: tuple[int, int], foreground: bool) -> None:
        if self.box is None or not self.can_correct:
            self.controller.message("GrabCut: first drag a box around the object; then click a missed part "
                                    "(left) or a wrongly taken one (right)")
            return
        (self.fg if foreground else self.bg).append(pixel)
        self._start(correct=True)

    def _start(self, correct: bool) -> None:
        image8 = self.display
        if image8 is None:
            return
        task = self.tasks.start(run_grabcut, image8, self.box, tuple(self.fg), tuple(self.bg))
        self._job = (task, self.session, correct)
        task.signals.finished.connect(lambda crop, t=task: self._on_finished(t, crop))
        task.signals.failed.connect(lambda message, _details, t=task: self._on_failed(t, message))
        task.signals.cancelled.connect(lambda t=task: self._on_cancelled(t))
        if self.canvas is not None:
            self.canvas.viewport().setCursor(Qt.CursorShape.BusyCursor)

    def _on_finished(self, task, crop) -> None:
        if self._job is None or self._job[0] is not task:
            return
        _, session, correct = self._job
        self._done()
        if session is self.session:  # still the image it cut
            self.paint(crop, "GrabCut", correct=correct)

    def _on_failed(self, task, message: str) -> None:
        if self._job is not None and self._job[0] is task:
            self._done()
            self.controller.message(f"GrabCut failed: {message}")

    def _on_cancelled(self, task) -> None:
        if self._job is not None and self._job[0] is task:
            self._done()

    def _done(self) -> None:
        self._job = None
        if self.canvas is not None:
            self.canvas.viewport().setCursor(self.cursor_shape)

    # preview ------------------------------------------------------------------------------------
    def _clamped(self, pixel: tuple[int, int]) -> tuple[int, int]:
        height, width = self.session.mask.shape
        return min(max(pixel[0], 0), width - 1), min(max(pixel[1], 0), height - 1)

    def _show_box(self, a: tuple[int, int], b: tuple[int, int]) -> None:
        left, top = min(a[0], b[0]), min(a[1], b[1])
        self.item.setRect(QRectF(left, top, abs(a[0] - b[0]) + 1, abs(a[1] - b[1]) + 1))
        self.item.show()

    def _show_box_of_last(self) -> None:
        if self.box is None:
            self.item.hide()
        else:
            top, left, bottom, right = self.box
            self.item.setRect(QRectF(left, top, right - left, bottom - top))
