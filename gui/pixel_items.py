"""The graphics items that draw pixels: the micrograph (ImageItem) and one mask layer (MaskLayerItem).

Both wrap numpy arrays as QImages without copying (the arrays are kept referenced here) and draw only the
exposed rectangle. Scene coordinates are image pixels: pixel (x, y) covers [x, x + 1) x [y, y + 1).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from PySide6.QtCore import QRect, QRectF
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem

from core.mask_painting import Region

_SMOOTH = QPainter.RenderHint.SmoothPixmapTransform


def wrap_array(array: np.ndarray) -> QImage:
    """A QImage over the array's own memory: (H, W) uint8 -> Grayscale8, (H, W, 3) uint8 -> RGB888."""
    if array.dtype != np.uint8 or not array.flags.c_contiguous or array.ndim not in (2, 3):
        raise ValueError(f"expected a C-contiguous uint8 (H, W) or (H, W, 3) array, got {array.dtype} {array.shape}")
    height, width = array.shape[:2]
    if array.ndim == 3:
        if array.shape[2] != 3:
            raise ValueError(f"expected 3 colour channels, got {array.shape[2]}")
        return QImage(array.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    return QImage(array.data, width, height, width, QImage.Format.Format_Grayscale8)


def _source_rect(exposed: QRectF, scale_x: float, scale_y: float, size: tuple[int, int]) -> QRect:
    """The whole source pixels covering `exposed` (item coordinates) in an image scaled down by scale."""
    width, height = size
    left = max(0, math.floor(exposed.left() / scale_x))
    top = max(0, math.floor(exposed.top() / scale_y))
    right = min(width, math.ceil(exposed.right() / scale_x))
    bottom = min(height, math.ceil(exposed.bottom() / scale_y))
    return QRect(left, top, max(0, right - left), max(0, bottom - top))


class MaskLayerItem(QGraphicsItem):
    """A uint8 index array drawn through a 256-entry colour table, as a Format_Indexed8 QImage over the
    array's memory: in-place edits of the array show on the next repaint (call refresh(region)), and a
    colour, visibility or opacity change touches the table or the painter only, never the pixels.
    Drawn without smoothing, so every screen pixel shows one mask value."""

    def __init__(self, parent: QGraphicsItem | None = None):
        super().__init__(parent)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)
        self._array: np.ndarray | None = None
        self._image: QImage | None = None
        self._colours: list[int] = [0] * 256
        self._rect = QRectF()

    @property
    def array(self) -> np.ndarray | None:
        return self._array

    @property
    def image(self) -> QImage | None:
        return self._image

    def set_array(self, array: np.ndarray | None) -> None:
        if array is self._array:
            return
        if array is not None and (array.dtype != np.uint8 or array.ndim != 2 or not array.flags.c_contiguous):
            raise ValueError(f"a mask layer needs a C-contiguous (H, W) uint8 array, got {array.dtype} {array.shape}")
        self.prepareGeometryChange()
        self._array = array
        self._image = None
        self._rect = QRectF()
        if array is not None:
            height, width = array.shape
            self._image = QImage(array.data, width, height, width, QImage.Format.Format_Indexed8)
            self._image.setColorTable(self._colours)
            self._rect = QRectF(0, 0, width, height)
        self.update()

    def set_colours(self, table: list[int]) -> None:
        if table == self._colours:
            return
        self._colours = list(table)
        if self._image is not None:
            self._image.setColorTable(self._colours)
        self.update()

    def refresh(self, region: Region) -> None:
        """Repaint the pixels of `region` (top, left, bottom, right) after the array changed there."""
        top, left, bottom, right = region
        self.update(QRectF(left, top, right - left, bottom - top))

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        if self._image is None:
            return
        source = _source_rect(option.exposedRect, 1.0, 1.0, (self._image.width(), self._image.height()))
        if source.isEmpty():
            return
        painter.setRenderHint(_SMOOTH, False)
        painter.drawImage(QRectF(source), self._image, QRectF(source))


class ImageItem(QGraphicsItem):
    """The uint8 display image. Zoomed in (1:1 and closer) it is drawn pixel-sharp; zoomed out it is drawn
    smoothly from a downsampled copy (halved as often as the zoom allows, made on first need and kept
    until the display changes), so huge images stay fast and free of aliasing."""

    def __init__(self, parent: QGraphicsItem | None = None):
        super().__init__(parent)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)
        self._display: np.ndarray | None = None
        self._levels: dict[int, tuple[np.ndarray, QImage]] = {}  # downsampling factor -> (pixels, image)
        self._rect = QRectF()

    @property
    def display(self) -> np.ndarray | None:
        return self._display

    def set_display(self, display: np.ndarray | None) -> None:
        if display is self._display:
            return
        if display is not None:
            display = np.ascontiguousarray(display)
        size_changed = display is None or self._display is None or display.shape[:2] != self._display.shape[:2]
        if size_changed:
            self.prepareGeometryChange()
        self._display = display
        self._levels = {1: (display, wrap_array(display))} if display is not None else {}
        height, width = display.shape[:2] if display is not None else (0, 0)
        self._rect = QRectF(0, 0, width, height)
        self.update()

    def boundingRect(self) -> QRectF:
        return self._rect

    def _level(self, factor: int) -> tuple[np.ndarray, QImage]:
        if factor not in self._levels:
            height, width = self._display.shape[:2]
            size = (max(1, math.ceil(width / factor)), max(1, math.ceil(height / factor)))
            pixels = np.ascontiguousarray(cv2.resize(self._display, size, interpolation=cv2.INTER_AREA))
            self._levels[factor] = (pixels, wrap_array(pixels))
        return self._levels[factor]

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        if self._display is None:
            return
        zoom = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        factor = 1
        longest = max(self._display.shape[:2])
        while zoom * factor * 2 <= 1.0 and longest // (factor * 2) >= 16:
            factor *= 2
        pixels, image = self._level(factor)
        height, width = self._display.shape[:2]
        scale_x, scale_y = width / pixels.shape[1], height / pixels.shape[0]
        exposed = option.exposedRect.adjusted(-scale_x, -scale_y, scale_x, scale_y)  # smoothing reads neighbours
        source = _source_rect(exposed, scale_x, scale_y, (pixels.shape[1], pixels.shape[0]))
        if source.isEmpty():
            return
        target = QRectF(source.x() * scale_x, source.y() * scale_y, source.width() * scale_x,
                        source.height() * scale_y)
        painter.setRenderHint(_SMOOTH, zoom < 1.0)
        painter.drawImage(target, image, QRectF(source))
