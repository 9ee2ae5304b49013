"""A light histogram with black and white level handles (QPainter; no plotting library needed)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QLinearGradient, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

CHANNEL_COLOURS = (QColor(230, 80, 80), QColor(80, 200, 90), QColor(90, 140, 240))
GRAY_COLOUR = QColor(200, 200, 200)
_MARGIN = 6
_RAMP_HEIGHT = 8
_GRAB_DISTANCE = 8


class HistogramView(QWidget):
    """Log-scaled pixel counts over the value axis, the black and white levels as draggable handles, and
    a ramp showing how values map to gray. Dragging emits levels_dragged(black, white)."""

    levels_dragged = Signal(float, float)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumHeight(90)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMouseTracking(True)
        self._counts = np.zeros((0, 0))
        self._counts_range = (0.0, 1.0)
        self._colours: tuple[QColor, ...] = (GRAY_COLOUR,)
        self._axis = (0.0, 1.0)
        self._levels = (0.0, 1.0)
        self._dragging: int | None = None  # 0 black handle, 1 white handle
        self._integer = True

    def sizeHint(self) -> QSize:
        return QSize(240, 110)

    def set_histogram(self, counts: np.ndarray, counts_range: tuple[float, float], axis: tuple[float, float],
                      integer: bool, colours: tuple[QColor, ...]) -> None:
        """counts (n, bins) spread evenly over counts_range, drawn on a value axis (low, high) that may be
        wider (levels outside the data); one curve per row in its colour."""
        self._counts = np.asarray(counts, dtype=np.float64).reshape(len(counts), -1) if len(counts) else np.zeros((0, 0))
        self._counts_range = (float(counts_range[0]), float(counts_range[1]))
        self._axis = (float(axis[0]), float(axis[1]) if axis[1] > axis[0] else float(axis[0]) + 1.0)
        self._integer = integer
        self._colours = colours
        self.update()

    def set_levels(self, black: float, white: float) -> None:
        self._levels = (float(black), float(white))
        self.update()

    @property
    def axis(self) -> tuple[float, float]:
        return self._axis

    # geometry -----------------------------------------------------------------------------------
    def _plot_rect(self) -> QRectF:
        return QRectF(_MARGIN, _MARGIN, self.width() - 2 * _MARGIN, self.height() - 2 * _MARGIN - _RAMP_HEIGHT - 2)

    def x_of(self, value: float) -> float:
        rect = self._plot_rect()
        low, high = self._axis
        return rect.left() + (value - low) / (high - low) * rect.width()

    def value_at(self, x: float) -> float:
        rect = self._plot_rect()
        low, high = self._axis
        value = low + (x - rect.left()) / max(1.0, rect.width()) * (high - low)
        value = min(high, max(low, value))
        return float(round(value)) if self._integer else value

    # painting -----------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = self._plot_rect()
        painter.fillRect(self.rect(), self.palette().base())
        painter.fillRect(rect, QColor(30, 30, 30))
        for row, colour in zip(self._counts, self._colours, strict=False):
            self._paint_curve(painter, rect, row, colour)
        black, white = (self.x_of(v) for v in self._levels)
        shade = QColor(0, 0, 0, 110)
        painter.fillRect(QRectF(rect.left(), rect.top(), max(0.0, black - rect.left()), rect.height()), shade)
        painter.fillRect(QRectF(white, rect.top(), max(0.0, rect.right() - white), rect.height()), shade)
        ramp = QRectF(rect.left(), rect.bottom() + 2, rect.width(), _RAMP_HEIGHT)
        gradient = QLinearGradient(QPointF(black, 0), QPointF(max(white, black + 1e-3), 0))
        gradient.setColorAt(0, Qt.GlobalColor.black)
        gradient.setColorAt(1, Qt.GlobalColor.white)
        painter.fillRect(ramp, gradient)
        for x, colour in ((black, QColor(20, 20, 20)), (white, QColor(250, 250, 250))):
            painter.setPen(QPen(QColor(255, 200, 40), 1.5))
            painter.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))
            triangle = QPolygonF([QPointF(x, rect.bottom() - 8), QPointF(x - 5, rect.bottom()),
                                  QPointF(x + 5, rect.bottom())])
            painter.setBrush(colour)
            painter.drawPolygon(triangle)
        painter.end()

    def _paint_curve(self, painter: QPainter, rect: QRectF, counts: np.ndarray, colour: QColor) -> None:
        heights = np.log1p(counts)
        top = heights.max(initial=0.0)
        if top <= 0:
            return
        left, right = (self.x_of(v) for v in self._counts_range)
        edges = left + np.arange(len(heights) + 1) / len(heights) * (right - left)
        ys = rect.bottom() - heights / top * rect.height()
        steps = zip(np.repeat(edges, 2)[1:-1].tolist(), np.repeat(ys, 2).tolist(), strict=True)
        outline = [QPointF(left, rect.bottom())] + [QPointF(x, y) for x, y in steps] + [QPointF(right, rect.bottom())]
        fill = QColor(colour)
        fill.setAlpha(110 if len(self._counts) > 1 else 170)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawPolygon(QPolygonF(outline))

    # dragging the handles -----------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        x = event.position().x()
        distances = [abs(x - self.x_of(v)) for v in self._levels]
        self._dragging = int(np.argmin(distances))
        self._drag_to(x)

    def mouseMoveEvent(self, event) -> None:
        x = event.position().x()
        if self._dragging is not None:
            self._drag_to(x)
            return
        near = min(abs(x - self.x_of(v)) for v in self._levels) <= _GRAB_DISTANCE
        self.setCursor(Qt.CursorShape.SizeHorCursor if near else Qt.CursorShape.ArrowCursor)

    def mouseReleaseEvent(self, event) -> None:
        self._dragging = None

    def _drag_to(self, x: float) -> None:
        value = self.value_at(x)
        step = 1.0 if self._integer else (self._axis[1] - self._axis[0]) / 1000.0
        black, white = self._levels
        if self._dragging == 0:
            black = min(value, white - step)
        else:
            white = max(value, black + step)
        self.set_levels(black, white)
        self.levels_dragged.emit(black, white)
