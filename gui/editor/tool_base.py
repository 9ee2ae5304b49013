"""What every editing tool shares: the controller it works for, the session (image) it edits, and Esc
going back to navigating."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent

from gui.canvas import CanvasTool, ImageCanvas, ToolEvent

if TYPE_CHECKING:
    from gui.editor.editor_controller import EditorController


class EditorTool(CanvasTool):
    cursor_shape = Qt.CursorShape.CrossCursor

    def __init__(self, controller: EditorController):
        self.controller = controller
        self.canvas: ImageCanvas | None = None

    @property
    def session(self):
        return self.controller.session

    def activate(self, canvas: ImageCanvas) -> None:
        self.canvas = canvas
        canvas.viewport().setCursor(self.cursor_shape)

    def deactivate(self) -> None:
        self.reset()
        self.canvas = None

    def reset(self) -> None:
        """Drop work in progress (the image changed or the tool is put away)."""

    def key_press(self, event: QKeyEvent) -> bool:
        if event.key() == Qt.Key.Key_Escape:
            self.controller.navigate()
            return True
        return False

    def press(self, event: ToolEvent) -> bool:
        """A left click on an image pixel goes to click(x, y); clicks beside the image are taken and ignored."""
        if event.button != Qt.MouseButton.LeftButton:
            return False
        pixel = self.pixel_in_image(event)
        if pixel is None:
            return self.session is not None
        self.click(*pixel)
        return True

    def click(self, x: int, y: int) -> None:
        """One-click tools (fill, pick class) act here."""

    def pixel_in_image(self, event: ToolEvent) -> tuple[int, int] | None:
        """(x, y) of the pixel under the pointer, or None outside the image or without one."""
        session = self.session
        if session is None:
            return None
        x, y = event.pixel
        height, width = session.mask.shape
        return (x, y) if 0 <= x < width and 0 <= y < height else None
