"""The per-epoch preview: a validation crop, its ground truth and the model's prediction as class-coloured overlays."""

from __future__ import annotations

from html import escape

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from core.classes import ClassTable
from gui.overlay_colours import class_colour_table

OVERLAY_OPACITY = 0.55


def gray_or_rgb_image(pixels: np.ndarray) -> QImage:
    """uint8 (H, W) or (H, W, 3) -> an owned QImage."""
    pixels = np.ascontiguousarray(pixels)
    height, width = pixels.shape[:2]
    if pixels.ndim == 2:
        return QImage(pixels.data, width, height, width, QImage.Format.Format_Grayscale8).copy()
    return QImage(pixels.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


def index_image(mask: np.ndarray, classes: ClassTable) -> QImage:
    """Class indices -> an indexed QImage drawn through the class colours (background and unlabeled clear)."""
    mask = np.ascontiguousarray(np.minimum(mask, 255).astype(np.uint8))
    height, width = mask.shape
    image = QImage(mask.data, width, height, width, QImage.Format.Format_Indexed8).copy()
    image.setColorTable(class_colour_table(classes))
    return image


class OverlayImageView(QWidget):
    """An image scaled to fit (aspect kept), with an optional overlay drawn over it."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(96, 96)
        self._base: QImage | None = None
        self._overlay: QImage | None = None

    def sizeHint(self) -> QSize:
        return QSize(200, 200)

    def set_images(self, base: QImage | None, overlay: QImage | None = None) -> None:
        self._base, self._overlay = base, overlay
        self.update()

    def composed(self) -> QImage | None:
        """What is drawn, at the image's own size (for tests and export)."""
        if self._base is None:
            return None
        image = QImage(self._base.size(), QImage.Format.Format_RGB32)
        painter = QPainter(image)
        self._paint(painter, QRectF(0, 0, image.width(), image.height()))
        painter.end()
        return image

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().window())
        if self._base is not None:
            size = self._base.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRectF((self.width() - size.width()) / 2, (self.height() - size.height()) / 2,
                            size.width(), size.height())
            self._paint(painter, target)
        painter.end()

    def _paint(self, painter: QPainter, target: QRectF) -> None:
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.fillRect(target, QColor("black"))
        painter.drawImage(target, self._base)
        if self._overlay is not None:
            painter.setOpacity(OVERLAY_OPACITY)
            painter.drawImage(target, self._overlay)
            painter.setOpacity(1.0)


class TrainingPreviewWidget(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.caption = QLabel("The model's prediction on a validation image appears here after each epoch.")
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.TextFormat.RichText)
        self.views = {name: OverlayImageView() for name in ("image", "truth", "prediction")}
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        for column, (name, title) in enumerate((("image", "Image"), ("truth", "Ground truth"),
                                                ("prediction", "Prediction"))):
            grid.addWidget(self.views[name], 0, column)
            label = QLabel(title)
            label.setAlignment(Qt.AlignmentFlag.AlignHCenter)
            grid.addWidget(label, 1, column)
        layout = QVBoxLayout(self)
        layout.addWidget(self.caption)
        layout.addLayout(grid, 1)

    def show_preview(self, preview, epoch: int, classes: ClassTable) -> None:
        """preview: core.training.reports.Preview of this epoch."""
        base = gray_or_rgb_image(preview.image)
        self.views["image"].set_images(base)
        self.views["truth"].set_images(base, index_image(preview.truth, classes))
        self.views["prediction"].set_images(base, index_image(preview.prediction, classes))
        self.caption.setText(f"Validation image <b>{escape(preview.name)}</b> (centre crop), after epoch {epoch}")

    def clear(self) -> None:
        for view in self.views.values():
            view.set_images(None)
        self.caption.setText("The model's prediction on a validation image appears here after each epoch.")
