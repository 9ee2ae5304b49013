"""Scissors: click points around an object and the outline between them follows the image's edges
(OpenCV intelligent scissors on the image as displayed, core/assist/scissors.py); the path from the last
point to the pointer is drawn live. Close with a click on the first point, a double-click or Enter: the
outline is painted with the current class as one undo step. Backspace or a right click takes back the
last point; Esc drops the outline, then goes back to navigating."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QKeyEvent
from PySide6.QtWidgets import QGraphicsPathItem

from core.assist.scissors import IntelligentScissors, polygon_crop
from gui.canvas import TOOL_Z, ToolEvent
from gui.editor.assist_base import AssistTool, outline_pen, polyline_path

CLOSE_PX = 7.0  # a click this close (screen pixels) to the first point closes the outline
_CLOSE_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


class ScissorsTool(AssistTool):
    def __init__(self, controller):
        super().__init__(controller)
        self.scissors: IntelligentScissors | None = None
        self.item = QGraphicsPathItem()
        self.item.setZValue(TOOL_Z)
        self.item.setPen(outline_pen(QColor(255, 255, 0)))
        self._pointer: tuple[int, int] | None = None

    def reset(self) -> None:
        super().reset()
        self.scissors, self._pointer = None, None
        self._show()

    # input --------------------------------------------------------------------------------------
    def press(self, event: ToolEvent) -> bool:
        pixel = self.pixel_in_image(event)
        if event.button == Qt.MouseButton.RightButton and self.scissors is not None:
            self._take_back()
            return True
        if event.button != Qt.MouseButton.LeftButton:
            return False
        if pixel is None:
            return self.session is not None
        if self.scissors is None:
            image8 = self.display
            if image8 is None:
                return True
            self.scissors = IntelligentScissors(image8)
        elif self._near_first(event):
            self.finish()
            return True
        self.scissors.add_anchor(pixel)
        self._show()
        return True

    def move(self, event: ToolEvent) -> bool:
        if self.scissors is None:
            return False
        self._pointer = self.pixel_in_image(event)
        self._show()
        return True

    def double_click(self, event: ToolEvent) -> bool:
        if self.scissors is None:
            return False
        self.finish()
        return True

    def key_press(self, event: QKeyEvent) -> bool:
        key = event.key()
        if self.scissors is not None and key in _CLOSE_KEYS:
            self.finish()
        elif self.scissors is not None and key == Qt.Key.Key_Escape:
            self.reset()
        elif self.scissors is not None and key == Qt.Key.Key_Backspace:
            self._take_back()
        else:
            return super().key_press(event)
        return True

    def leave(self) -> None:
        self._pointer = None
        self._show()

    # work ---------------------------------------------------------------------------------------
    def finish(self) -> None:
        """Close the outline through every point: it is painted with the current class (one undo step)."""
        scissors = self.scissors
        if scissors is None or len(scissors.anchors) < 2:
            self.controller.message("Scissors: click at least two points around the object before closing; "
                                    "Esc cancels")
            return
        outline = scissors.close()
        self.reset()
        self.paint(polygon_crop(outline, self.session.mask.shape), "Scissors")

    def _take_back(self) -> None:
        self.scissors.remove_last_anchor()
        if not self.scissors.anchors:
            self.scissors = None
        self._show()

    def _near_first(self, event: ToolEvent) -> bool:
        x, y = self.scissors.anchors[0]
        zoom = self.canvas.zoom if self.canvas is not None else 1.0
        return len(self.scissors.anchors) >= 2 and \
            math.dist((event.pos.x(), event.pos.y()), (x + 0.5, y + 0.5)) * zoom <= CLOSE_PX

    def _show(self) -> None:
        if self.scissors is None or not self.scissors.anchors:
            self.item.hide()
            return
        self.item.setPath(polyline_path(self.scissors.outline(self._pointer)))
        self.item.show()
