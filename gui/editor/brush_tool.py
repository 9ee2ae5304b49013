"""Brush, eraser and unlabel eraser: paint disks of the brush size along the pointer's path (segments between mouse
events, so fast strokes have no gaps) of the current class, background or the unlabeled value,
repainting only the region each segment touched. A stroke, from press to release, is one undo step. The cursor outline shows the brush's footprint."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem

from core.mask_painting import PatchRecorder, apply_coverage, region_empty, segment_coverage, segment_region
from gui.canvas import TOOL_Z, ImageCanvas, ToolEvent
from gui.editor.commands import class_text
from gui.editor.tool_base import EditorTool


class BrushCursorItem(QGraphicsItem):
    """A circle of the brush's footprint around the pixel under the pointer: dark and light rings with
    cosmetic (screen-pixel) pens, visible on any image."""

    def __init__(self):
        super().__init__()
        self.setZValue(TOOL_Z + 1)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self._radius = 0.5

    def set_radius(self, radius: float) -> None:
        if radius != self._radius:
            self.prepareGeometryChange()
            self._radius = radius

    def boundingRect(self) -> QRectF:
        r = self._radius + 2
        return QRectF(-r, -r, 2 * r, 2 * r)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(-self._radius, -self._radius, 2 * self._radius, 2 * self._radius)
        for colour, width in ((QColor(0, 0, 0, 200), 3.0), (QColor(255, 255, 255), 1.2)):
            pen = QPen(colour, width)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.drawEllipse(rect)


STROKE_TEXT = {"eraser": "Erase stroke", "unlabel": "Unlabel stroke"}


class BrushTool(EditorTool):
    """kind: brush (the current class), eraser (background) or unlabel (unlabeled: left out of training)."""

    def __init__(self, controller, kind: str = "brush"):
        super().__init__(controller)
        self.kind = kind
        self.cursor_item = BrushCursorItem()
        self._recorder: PatchRecorder | None = None
        self._last: tuple[int, int] | None = None

    @property
    def stroking(self) -> bool:
        return self._recorder is not None

    def activate(self, canvas: ImageCanvas) -> None:
        super().activate(canvas)
        canvas.scene().addItem(self.cursor_item)
        self.cursor_item.hide()
        self.update_cursor()

    def deactivate(self) -> None:
        self.finish_stroke()
        if self.cursor_item.scene() is not None:
            self.cursor_item.scene().removeItem(self.cursor_item)
        super().deactivate()

    def reset(self) -> None:
        self._recorder, self._last = None, None

    def update_cursor(self) -> None:
        self.cursor_item.set_radius(self.controller.brush_radius + 0.5)

    # input --------------------------------------------------------------------------------------
    def press(self, event: ToolEvent) -> bool:
        if event.button != Qt.MouseButton.LeftButton or self.session is None:
            return False
        self._recorder = PatchRecorder(self.session.mask)
        self._last = event.pixel
        self._paint(event.pixel, event.pixel)
        return True

    def move(self, event: ToolEvent) -> bool:
        x, y = event.pixel
        self.cursor_item.setPos(x + 0.5, y + 0.5)
        self.cursor_item.setVisible(self.session is not None)
        if not self.stroking:
            return False
        self._paint(self._last, event.pixel)
        self._last = event.pixel
        return True

    def release(self, event: ToolEvent) -> bool:
        if event.button != Qt.MouseButton.LeftButton or not self.stroking:
            return False
        self.finish_stroke()
        return True

    def leave(self) -> None:
        self.cursor_item.hide()

    def wheel(self, steps: float, modifiers) -> bool:
        if modifiers & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier):
            self.controller.step_brush_size(1 if steps > 0 else -1)
            return True
        return False

    # painting -----------------------------------------------------------------------------------
    def _paint(self, start: tuple[int, int], end: tuple[int, int]) -> None:
        session = self.session
        if session is None:
            return
        radius = self.controller.brush_radius
        region = segment_region(start, end, radius, session.mask.shape)
        if region_empty(region):
            return
        self._recorder.save(region)
        value, replace = self.controller.paint_rule(erase=self.kind == "eraser", unlabel=self.kind == "unlabel")
        if apply_coverage(session.mask, region, segment_coverage(start, end, radius, region), value, replace):
            self.controller.state.notify_mask_edited(region)

    def finish_stroke(self) -> None:
        """End the stroke in progress: what it changed becomes one undo step."""
        if self._recorder is None:
            return
        patch = self._recorder.finish()
        self.reset()
        if patch is not None:
            text = STROKE_TEXT.get(self.kind) or \
                f"Brush stroke ({class_text(self.controller.state.classes, self.controller.current_class)})"
            self.controller.push(text, patch)
