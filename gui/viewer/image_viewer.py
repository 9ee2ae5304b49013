"""ImageViewerWidget: the current image with its mask overlay, zoom and pan, and what is under the cursor.

It only listens to AppState (document, levels, masks, overlay, classes) and never changes it; editing
tools plug into `viewer.canvas` (see canvas.CanvasTool).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from core.classes import IGNORE_INDEX, ClassTable
from gui.canvas import ImageCanvas
from gui.state import AppState, ImageDocument
from gui.viewer.layers import OverlayLayers
from gui.viewer.scale_bar import ScaleBarOverlay


def format_value(value) -> str:
    """Raw pixel value(s) as stored: integers exactly, floats to 6 significant digits."""
    values = np.atleast_1d(value)
    if values.dtype.kind == "f":
        return ", ".join(f"{v:.6g}" for v in values)
    return ", ".join(str(int(v)) for v in values)


def class_label(value: int, classes: ClassTable) -> str:
    """'1 nucleus'; just '1' for a default name ('class 1'); 'unlabeled' for the ignore value."""
    if value == IGNORE_INDEX or value == 65535:
        return "unlabeled"
    if value >= len(classes):
        return f"{value} (not in the class table)"
    name = classes[value].name
    return str(value) if name == f"class {value}" else f"{value} {name}"


def describe_pixel(document: ImageDocument, classes: ClassTable, x: int, y: int,
                   pixel_size_um: tuple[float, float] | None = None) -> str:
    """'x 120, y 45 (78, 29.25 µm)   value 1530   class 1 nucleus   predicted 0 background' for one pixel
    ('' outside); the position in µm only with a pixel size (y, x)."""
    height, width = document.shape
    if not (0 <= x < width and 0 <= y < height):
        return ""
    where = f"x {x}, y {y}"
    if pixel_size_um is not None:
        where += f" ({x * pixel_size_um[1]:.4g}, {y * pixel_size_um[0]:.4g} µm)"
    parts = [where, f"value {format_value(document.image[y, x])}"]
    if document.has_mask:
        parts.append(f"class {class_label(int(document.mask[y, x]), classes)}")
    prediction = document.prediction
    if prediction is not None and prediction.shape == document.shape:
        parts.append(f"predicted {class_label(int(prediction[y, x]), classes)}")
    return "   ".join(parts)


def describe_image(document: ImageDocument) -> str:
    height, width = document.shape
    channels = f", {document.channels} channels" if document.channels > 1 else ""
    return f"{document.name}   {width} × {height}   {document.image.dtype}{channels}"


class ImageViewerWidget(QWidget):
    cursor_info = Signal(str)  # "x 120, y 45   value 1530   class 1 nucleus", or "" off the image

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.canvas = ImageCanvas()
        self.canvas.setMinimumSize(320, 240)  # panels opening around it never shrink the image to a stamp
        self.layers = OverlayLayers(self.canvas.scene(), self)
        self.scale_bar = ScaleBarOverlay(self.canvas)
        self.pixel_size_um: tuple[float, float] | None = None  # (y, x) of the image on screen, when known
        self.image_label = QLabel()
        self.image_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.zoom_label = QLabel()
        self.zoom_label.setToolTip("Zoom: wheel, Ctrl++ / Ctrl+- ; fit Ctrl+0 ; 1:1 Ctrl+1. Drag to pan.")
        self.zoom_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        bar = QHBoxLayout()
        bar.setContentsMargins(6, 2, 6, 2)
        bar.addWidget(self.image_label, 1)
        bar.addWidget(self.zoom_label)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.canvas, 1)
        column.addLayout(bar)
        self._connect()
        self._on_state_current_changed()

    def _connect(self) -> None:
        state = self.state
        state.current_changed.connect(self._on_state_current_changed)
        state.levels_changed.connect(self._on_state_levels_changed)
        state.mask_changed.connect(self.layers.mask_edited)
        state.prediction_changed.connect(self._on_state_prediction_changed)
        state.overlay_changed.connect(self._on_state_overlay_changed)
        state.classes_changed.connect(self._on_state_overlay_changed)
        self.canvas.zoom_changed.connect(self._on_canvas_zoom_changed)
        self.canvas.hovered.connect(self._on_canvas_hovered)

    # view slots (main window actions) -----------------------------------------------------------
    def zoom_in(self) -> None:
        self.canvas.zoom_in()

    def zoom_out(self) -> None:
        self.canvas.zoom_out()

    def fit(self) -> None:
        self.canvas.fit()

    def actual_size(self) -> None:
        self.canvas.actual_size()

    # state -> view ------------------------------------------------------------------------------
    def _on_state_current_changed(self) -> None:
        document = self.state.document
        self.canvas.image_item.set_display(document.display if document is not None else None)
        self.layers.set_document(document, self.state.overlay, self.state.classes)
        if document is not None:
            height, width = document.shape
            self.canvas.set_image_size(width, height)
        self.image_label.setText(describe_image(document) if document is not None else "")
        self.pixel_size_um = self._pixel_size(document)
        self.scale_bar.set_pixel_size(self.pixel_size_um[1] if self.pixel_size_um else None)
        self.cursor_info.emit("")

    def _pixel_size(self, document: ImageDocument | None) -> tuple[float, float] | None:
        index = self.state.index
        if document is None or index is None:
            return None
        return index.pixel_size_um(index.sample(document.name))

    def _on_state_levels_changed(self) -> None:
        document = self.state.document
        self.canvas.image_item.set_display(document.display if document is not None else None)

    def _on_state_prediction_changed(self, name: str) -> None:
        if name == self.state.current_name:
            self.layers.prediction_changed()

    def _on_state_overlay_changed(self) -> None:
        self.layers.set_settings(self.state.overlay, self.state.classes)

    def _on_canvas_zoom_changed(self, zoom: float, fitted: bool) -> None:
        self.scale_bar.set_zoom(zoom)
        percent = f"{zoom * 100:.0f}%" if zoom >= 0.1 else f"{zoom * 100:.1f}%"
        self.zoom_label.setText(f"Fit · {percent}" if fitted else percent)

    def _on_canvas_hovered(self, pos: QPointF | None) -> None:
        document = self.state.document
        if pos is None or document is None:
            self.cursor_info.emit("")
            return
        self.cursor_info.emit(describe_pixel(document, self.state.classes, int(np.floor(pos.x())),
                                             int(np.floor(pos.y())), self.pixel_size_um))
