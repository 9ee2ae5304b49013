"""Draws a class colour as a framed swatch inside its cell, visible on selected rows too."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QStyledItemDelegate

SWATCH_ROLE = Qt.ItemDataRole.UserRole + 1  # QColor of the class


class ColourSwatchDelegate(QStyledItemDelegate):
    def paint(self, painter: QPainter, option, index) -> None:
        super().paint(painter, option, index)  # background and selection
        colour = index.data(SWATCH_ROLE)
        if not isinstance(colour, QColor):
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(0, 0, 0, 110), 1))
        painter.setBrush(colour)
        painter.drawRoundedRect(QRectF(option.rect).adjusted(8.5, 4.5, -8.5, -4.5), 3, 3)
        painter.restore()
