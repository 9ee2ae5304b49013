"""The scale bar drawn over the bottom-left corner of the image view: a bar of a round physical length
(1, 2 or 5 times a power of ten: 10 µm, 50 µm, 200 nm) about a tenth to a fifth of the view's width, with its
label; hidden while the pixel size is unknown. It sits on the view, not in the scene, so it keeps its place
and size while the image pans and zooms."""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QObject, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import QGraphicsView, QWidget

MAX_SHARE = 0.2  # of the view's width
MARGIN = 12  # pixels from the view's edges
BAR_HEIGHT = 5
PADDING = 6


def round_length(max_um: float) -> float:
    """The longest 1, 2 or 5 x 10^k micrometres not above `max_um`."""
    power = 10.0 ** math.floor(math.log10(max_um))
    return max(step * power for step in (1, 2, 5) if step * power <= max_um * (1 + 1e-9))


def format_length(um: float) -> str:
    """'500 nm', '10 µm', '2 mm'."""
    if um < 1:
        return f"{um * 1000:g} nm"
    if um >= 1000:
        return f"{um / 1000:g} mm"
    return f"{um:g} µm"


class ScaleBarOverlay(QWidget):
    """Child of the view (above its viewport); follow it with set_pixel_size(µm or None) and set_zoom."""

    def __init__(self, view: QGraphicsView):
        super().__init__(view)
        self._view = view
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        font = QFont(self.font())
        font.setBold(True)
        self.setFont(font)
        self.pixel_size_um: float | None = None
        self.zoom = 1.0
        self.length_um = 0.0
        self.bar_pixels = 0
        view.installEventFilter(self)
        self.hide()

    @property
    def label(self) -> str:
        return format_length(self.length_um) if self.bar_pixels else ""

    def set_pixel_size(self, size_um: float | None) -> None:
        self.pixel_size_um = size_um
        self._update_bar()

    def set_zoom(self, zoom: float) -> None:
        self.zoom = zoom
        self._update_bar()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._view and event.type() == QEvent.Type.Resize:
            self._update_bar()
        return False

    def _update_bar(self) -> None:
        """Choose the length for the view's width and zoom, and place the bar bottom-left."""
        width = self._view.viewport().width()
        if not self.pixel_size_um or self.zoom <= 0 or width <= 0:
            self.bar_pixels = 0
            self.hide()
            return
        um_per_screen_pixel = self.pixel_size_um / self.zoom
        self.length_um = round_length(MAX_SHARE * width * um_per_screen_pixel)
        self.bar_pixels = max(1, round(self.length_um / um_per_screen_pixel))
        text_width = self.fontMetrics().horizontalAdvance(self.label)
        size_w = max(self.bar_pixels, text_width) + 2 * PADDING
        size_h = self.fontMetrics().height() + BAR_HEIGHT + 3 * PADDING // 2 + 2
        viewport = self._view.viewport().geometry()
        self.setGeometry(QRect(viewport.left() + MARGIN, viewport.bottom() - MARGIN - size_h, size_w, size_h))
        self.show()
        self.raise_()
        self.update()

    def paintEvent(self, event) -> None:
        if not self.bar_pixels:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 150))
        painter.drawRoundedRect(QRectF(self.rect()), 4, 4)
        metrics = self.fontMetrics()
        bar_top = self.height() - PADDING - BAR_HEIGHT
        painter.setBrush(QColor(255, 255, 255))
        painter.drawRect(QRectF(PADDING, bar_top, self.bar_pixels, BAR_HEIGHT))
        painter.setPen(QColor(255, 255, 255))
        text_rect = QRect(PADDING, PADDING // 2, self.width() - 2 * PADDING, metrics.height())
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, self.label)
        painter.end()
