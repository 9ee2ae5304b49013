"""Unlabeled pixels drawn hatched: a grey veil with light and dark diagonal stripes over the pixels the
stencil array marks (value STENCIL_VALUE), so they read as "left out" over dark and bright images alike.
The stripes keep their width on screen at any zoom and move with the image when it pans."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QTransform
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem

from gui.pixel_items import MaskLayerItem
from gui.viewer.mask_views import DerivedMask, Region

STENCIL_VALUE = 255  # the 8-bit unlabeled value; 16-bit masks get a derived stencil (unlabeled_stencil)
VEIL = QColor(128, 128, 128, 90)
STRIPE_PERIOD = 14  # screen pixels between stripes of one tone
_OPAQUE = 0xFF000000


def _stripes() -> QImage:
    """One tile of the pattern: a light and a dark diagonal stripe, each 3 pixels wide."""
    image = QImage(STRIPE_PERIOD, STRIPE_PERIOD, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(0)
    painter = QPainter(image)
    for x in range(STRIPE_PERIOD):
        for y in range(STRIPE_PERIOD):
            phase = (x + y) % STRIPE_PERIOD
            if phase < 3:
                painter.fillRect(x, y, 1, 1, QColor(255, 255, 255, 215))
            elif 7 <= phase < 10:
                painter.fillRect(x, y, 1, 1, QColor(0, 0, 0, 175))
    painter.end()
    return image


def unlabeled_stencil(mask: np.ndarray, unlabeled: int) -> DerivedMask:
    """A uint8 stencil (STENCIL_VALUE where `mask` holds `unlabeled`) for masks that are not 8-bit."""
    def fill(out: np.ndarray, region: Region) -> None:
        top, left, bottom, right = region
        out[top:bottom, left:right] = np.where(mask[top:bottom, left:right] == unlabeled, STENCIL_VALUE, 0)

    return DerivedMask(mask.shape, fill)


class UnlabeledHatchItem(MaskLayerItem):
    """Hatches the pixels of its uint8 array that hold STENCIL_VALUE (set_array, refresh as MaskLayerItem)."""

    def __init__(self, parent: QGraphicsItem | None = None):
        super().__init__(parent)
        table = [0] * 256
        table[STENCIL_VALUE] = _OPAQUE
        self.set_colours(table)
        self._stripes = _stripes()

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        image = self.image
        if image is None:
            return
        source = option.exposedRect.toAlignedRect().intersected(QRect(0, 0, image.width(), image.height()))
        transform = painter.worldTransform()
        device = painter.device()
        screen = transform.mapRect(QRectF(source)).toAlignedRect().intersected(
            QRect(0, 0, device.width(), device.height()))
        if source.isEmpty() or screen.isEmpty():
            return
        ratio = device.devicePixelRatioF()
        buffer = QImage(screen.size() * ratio, QImage.Format.Format_ARGB32_Premultiplied)
        buffer.setDevicePixelRatio(ratio)
        buffer.fill(0)
        shift = QTransform.fromTranslate(-screen.x(), -screen.y())
        with_buffer = QPainter(buffer)
        with_buffer.setTransform(transform * shift)  # the stencil, opaque where unlabeled
        with_buffer.drawImage(QRectF(source), image, QRectF(source))
        with_buffer.resetTransform()
        with_buffer.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceIn)
        area = QRectF(0, 0, screen.width(), screen.height())
        with_buffer.fillRect(area, VEIL)
        with_buffer.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceAtop)
        stripes = QBrush(self._stripes)
        origin = transform.map(QPointF(0, 0)) - QPointF(screen.topLeft())  # stripes move with the image
        stripes.setTransform(QTransform.fromTranslate(origin.x(), origin.y()))
        with_buffer.fillRect(area, stripes)
        with_buffer.end()
        painter.save()
        painter.resetTransform()
        painter.drawImage(screen.topLeft(), buffer)
        painter.restore()
