"""The editing tool bar: the tools, the current class, the brush size and "protect other classes"."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QToolBar,
    QWidget,
)

from gui.editor.editor_controller import MAX_BRUSH, MIN_BRUSH

_SLIDER_MAX = 100  # the slider is logarithmic: fine steps for small brushes


def _slider_to_size(position: int) -> int:
    return round(MIN_BRUSH * (MAX_BRUSH / MIN_BRUSH) ** (position / _SLIDER_MAX))


def _size_to_slider(size: int) -> int:
    return round(_SLIDER_MAX * math.log(size / MIN_BRUSH) / math.log(MAX_BRUSH / MIN_BRUSH))


class ToolOptionsWidget(QWidget):
    def __init__(self, controller, parent: QWidget | None = None):
        super().__init__(parent)
        self.controller = controller
        self.class_swatch = QLabel()
        self.class_label = QLabel()
        self.class_label.setToolTip("The class the tools paint: pick it in the Classes panel or press 1-9")
        self.size_slider = QSlider(Qt.Orientation.Horizontal)
        self.size_slider.setRange(0, _SLIDER_MAX)
        self.size_slider.setFixedWidth(110)
        self.size_spin = QSpinBox()
        self.size_spin.setRange(MIN_BRUSH, MAX_BRUSH)
        self.size_spin.setSuffix(" px")
        for widget in (self.size_slider, self.size_spin):
            widget.setToolTip("Brush and eraser size ([ and ], or Ctrl+wheel over the image)")
        self.protect_box = QCheckBox("Protect other classes")
        self.protect_box.setToolTip("On: painting changes only background and unlabeled pixels, erasing only the "
                                    "current class, unlabeling only background")
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 0, 4, 0)
        row.setSpacing(6)
        row.addWidget(self.class_swatch)
        row.addWidget(self.class_label)
        row.addSpacing(12)
        row.addWidget(QLabel("Size"))
        row.addWidget(self.size_slider)
        row.addWidget(self.size_spin)
        row.addSpacing(12)
        row.addWidget(self.protect_box)
        self.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Preferred)
        self.size_slider.valueChanged.connect(lambda v: controller.set_brush_size(_slider_to_size(v)))
        self.size_spin.valueChanged.connect(controller.set_brush_size)
        self.protect_box.toggled.connect(controller.set_protect)
        controller.options_changed.connect(self._sync)
        controller.tool_changed.connect(self._sync)
        controller.state.current_class_changed.connect(self._sync_class)
        controller.state.classes_changed.connect(self._sync_class)
        self._sync()
        self._sync_class()

    def _sync(self, *_) -> None:
        controller = self.controller
        size = controller.brush_size
        if self.size_spin.value() != size:
            self.size_spin.setValue(size)
        if _slider_to_size(self.size_slider.value()) != size:
            self.size_slider.blockSignals(True)
            self.size_slider.setValue(_size_to_slider(size))
            self.size_slider.blockSignals(False)
        self.protect_box.setChecked(controller.protect)
        sized = controller.tool_name in ("brush", "eraser", "unlabel")
        for widget in (self.size_slider, self.size_spin):
            widget.setEnabled(sized)

    def _sync_class(self, *_) -> None:
        classes, index = self.controller.state.classes, self.controller.state.current_class
        if index >= len(classes):
            return
        spec = classes[index]
        size = self.fontMetrics().height()
        pixmap = QPixmap(size, size)
        pixmap.fill(QColor(*spec.colour))
        self.class_swatch.setPixmap(pixmap)
        self.class_label.setText(f"Class {index}: {spec.name}")


class EditorToolBar(QToolBar):
    def __init__(self, actions, controller, parent: QWidget | None = None):
        super().__init__("Editing", parent)
        self.setObjectName("toolbar_editor")
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for action in actions.tools.values():
            self.addAction(action)
        self.addSeparator()
        group = controller.group
        for text, trigger, can, tip_of in (("Undo", group.undo, group.canUndoChanged, group.undoText),
                                           ("Redo", group.redo, group.canRedoChanged, group.redoText)):
            action = self.addAction(text, trigger)  # a fixed text; the menu's action names the step
            action.setEnabled(False)
            can.connect(action.setEnabled)
            can.connect(lambda _=False, a=action, t=text, f=tip_of: a.setToolTip(f"{t} {f()}".strip()))
        self.addAction(actions.save)
        self.addSeparator()
        self.options = ToolOptionsWidget(controller)
        self.addWidget(self.options)
