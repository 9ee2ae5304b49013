"""The zoomable, pannable view of one image and its mask layers, and the hook for editing tools.

Scene coordinates are image pixels: the image item sits at (0, 0) unscaled, so pixel (x, y) covers
[x, x + 1) x [y, y + 1). Z order: image (IMAGE_Z), mask layers (MASK_Z...), tool items (TOOL_Z and up).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QCursor, QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QFrame, QGraphicsScene, QGraphicsView

from gui.pixel_items import ImageItem

IMAGE_Z = 0.0
MASK_Z = 10.0
TOOL_Z = 100.0
ZOOM_STEP = 1.25
MAX_ZOOM = 64.0
BACKGROUND = QColor(43, 43, 43)


@dataclass(frozen=True)
class ToolEvent:
    """A mouse event for a tool, in image coordinates."""

    pos: QPointF  # image pixels, sub-pixel precise
    button: Qt.MouseButton  # the button that changed (NoButton for moves)
    buttons: Qt.MouseButton  # the buttons held
    modifiers: Qt.KeyboardModifier

    @property
    def pixel(self) -> tuple[int, int]:
        """(x, y) of the pixel under the pointer (may lie outside the image)."""
        return math.floor(self.pos.x()), math.floor(self.pos.y())


class CanvasTool:
    """Base of the editing tools (polygon, brush, eraser, fill...); install one with canvas.set_tool(tool).

    The canvas forwards input to the tool in image coordinates (ToolEvent). Each handler returns True when
    the tool used the event; False lets the canvas do what it does without a tool (a left drag pans).
    - activate(canvas): the tool is installed; add your own items (draft polygon, brush outline) to
      canvas.scene() at z >= TOOL_Z, set canvas.viewport()'s cursor. deactivate(): remove them.
    - press / move / release / double_click(event: ToolEvent). move is also sent while no button is held,
      so a tool can follow the pointer (e.g. the brush outline). Use cosmetic pens (width in screen
      pixels) or canvas.zoom for outlines that keep their on-screen size.
    - key_press(event: QKeyEvent): Enter, Esc, Delete, number keys... leave(): the pointer left the canvas.
    - wheel(steps, modifiers): only while a modifier is held; the plain wheel always zooms.
    Always handled by the canvas, never sent to the tool: the plain wheel (zoom), middle-button drag and
    Space + drag (pan). After changing state.document.mask in place, a tool calls
    state.notify_mask_edited((top, left, bottom, right)) and the overlay repaints just that region.
    """

    def activate(self, canvas: ImageCanvas) -> None:
        pass

    def deactivate(self) -> None:
        pass

    def press(self, event: ToolEvent) -> bool:
        return False

    def move(self, event: ToolEvent) -> bool:
        return False

    def release(self, event: ToolEvent) -> bool:
        return False

    def double_click(self, event: ToolEvent) -> bool:
        return False

    def key_press(self, event: QKeyEvent) -> bool:
        return False

    def wheel(self, steps: float, modifiers: Qt.KeyboardModifier) -> bool:
        """The wheel turned `steps` notches with a modifier held (e.g. Ctrl: brush size); True: used."""
        return False

    def leave(self) -> None:
        pass


class ImageCanvas(QGraphicsView):
    """Wheel zooms around the pointer, a drag pans, fit() shows the whole image (and keeps it fitted
    while the widget resizes, until the user zooms)."""

    zoom_changed = Signal(float, bool)  # zoom (screen pixels per image pixel), fitted
    hovered = Signal(object)  # QPointF under the pointer in image coordinates, or None when it left

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.image_item = ImageItem()
        self.image_item.setZValue(IMAGE_Z)
        self.scene().addItem(self.image_item)
        self.setBackgroundBrush(BACKGROUND)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.viewport().setCursor(Qt.CursorShape.CrossCursor)
        self.tool: CanvasTool | None = None
        self.fitted = True
        self._pan_from: QPoint | None = None
        self._space_held = False
        self._cursor_before: QCursor | None = None  # the tool's (or idle) cursor while a pan shows a hand

    # image and tools ----------------------------------------------------------------------------
    def set_image_size(self, width: int, height: int) -> None:
        """A new image: the scene becomes its rectangle; fitted views are fitted again."""
        rect = QRectF(0, 0, width, height)
        if rect != self.sceneRect():
            self.setSceneRect(rect)
            self.fitted = True
        if self.fitted:
            self.fit()

    def set_tool(self, tool: CanvasTool | None) -> None:
        if self.tool is not None:
            self.tool.deactivate()
        self.tool = tool
        if tool is not None:
            tool.activate(self)
        else:
            self.viewport().setCursor(Qt.CursorShape.CrossCursor)

    # zoom ---------------------------------------------------------------------------------------
    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def _fit_zoom(self) -> float:
        rect = self.sceneRect()
        view = self.viewport().rect()
        if rect.isEmpty() or view.isEmpty():
            return 1.0
        return min(view.width() / rect.width(), view.height() / rect.height())

    def fit(self) -> None:
        self.fitted = True
        self._set_zoom(self._fit_zoom(), None)
        self.centerOn(self.sceneRect().center())
        self.zoom_changed.emit(self.zoom, True)

    def actual_size(self) -> None:
        self.zoom_to(1.0)

    def zoom_in(self) -> None:
        self.zoom_to(self.zoom * ZOOM_STEP)

    def zoom_out(self) -> None:
        self.zoom_to(self.zoom / ZOOM_STEP)

    def zoom_to(self, zoom: float, anchor: QPoint | None = None) -> None:
        """Zoom keeping the image point under `anchor` (viewport position; default the centre) in place."""
        self.fitted = False
        self._set_zoom(zoom, anchor)
        self.zoom_changed.emit(self.zoom, False)

    def _set_zoom(self, zoom: float, anchor: QPoint | None) -> None:
        zoom = max(min(self._fit_zoom(), 1.0) / 4.0, min(MAX_ZOOM, zoom))
        anchor = anchor if anchor is not None else self.viewport().rect().center()
        fixed = self.mapToScene(anchor)
        self.setTransform(self.transform().fromScale(zoom, zoom))
        moved = self.mapFromScene(fixed) - anchor
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + moved.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + moved.y())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.fitted:
            self.fit()

    # input --------------------------------------------------------------------------------------
    def image_pos(self, view_pos: QPointF) -> QPointF:
        return self.viewportTransform().inverted()[0].map(view_pos)

    def _tool_event(self, event: QMouseEvent) -> ToolEvent:
        return ToolEvent(self.image_pos(event.position()), event.button(), event.buttons(), event.modifiers())

    def wheelEvent(self, event) -> None:
        steps = event.angleDelta().y() / 120.0
        modifiers = event.modifiers()
        if steps and modifiers and self.tool is not None and self.tool.wheel(steps, modifiers):
            event.accept()
            return
        if steps:
            self.zoom_to(self.zoom * ZOOM_STEP ** steps, event.position().toPoint())
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        button = event.button()
        forced_pan = button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and self._space_held)
        if not forced_pan and self.tool is not None and self.tool.press(self._tool_event(event)):
            event.accept()
            return
        if forced_pan or button == Qt.MouseButton.LeftButton:
            self._pan_from = event.position().toPoint()
            self._show_hand(Qt.CursorShape.ClosedHandCursor)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            delta = event.position().toPoint() - self._pan_from
            self._pan_from = event.position().toPoint()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
        elif self.tool is not None:
            self.tool.move(self._tool_event(event))
        self.hovered.emit(self.image_pos(event.position()))
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None and not (event.buttons() & (Qt.MouseButton.LeftButton | Qt.MouseButton.MiddleButton)):
            self._pan_from = None
            self._restore_cursor()
        elif self.tool is not None:
            self.tool.release(self._tool_event(event))
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if self.tool is None or not self.tool.double_click(self._tool_event(event)):
            self.mousePressEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space_held = True
                self._show_hand(Qt.CursorShape.OpenHandCursor)
            event.accept()
        elif self.tool is None or not self.tool.key_press(event):
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = False
            self._restore_cursor()
        super().keyReleaseEvent(event)

    def leaveEvent(self, event) -> None:
        self.hovered.emit(None)
        if self.tool is not None:
            self.tool.leave()
        super().leaveEvent(event)

    def _show_hand(self, shape: Qt.CursorShape) -> None:
        if self._cursor_before is None:
            self._cursor_before = self.viewport().cursor()
        self.viewport().setCursor(shape)

    def _restore_cursor(self) -> None:
        if self._space_held:
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        elif self._cursor_before is not None:
            self.viewport().setCursor(self._cursor_before)
            self._cursor_before = None
