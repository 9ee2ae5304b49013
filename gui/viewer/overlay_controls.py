"""OverlayControlsWidget: which masks are drawn (layer), how strongly (opacity), filled or outlined, and a
legend of the colours in use. Writes AppState.update_overlay; per-class visibility is the class panel's."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from core.classes import RGB, colour_hex
from core.difference_colours import DIFFERENCE_KINDS
from gui.overlay_colours import OUTLINE_TINT, uncertainty_colour_table
from gui.state import LAYERS, AppState

LAYER_TITLES = {
    "truth": "Ground truth",
    "prediction": "Prediction",
    "both": "Both (prediction outlined)",
    "difference": "Difference (errors)",
    "uncertainty": "Uncertainty (prediction)",
    "none": "None",
}


def _tinted(colour: RGB, tint: float) -> RGB:
    return tuple(round(c + (255 - c) * tint) for c in colour)


def uncertainty_legend_html() -> str:
    """The uncertainty colours from certain to most uncertain, as a row of swatches with words at the ends."""
    table = uncertainty_colour_table()
    steps = "".join(_swatch(((table[v] >> 16) & 255, (table[v] >> 8) & 255, table[v] & 255))
                    for v in range(64, 256, 32))
    return (f"certain (clear) {steps} most uncertain<br>"
            '<span style="color:gray">Where the model hesitates between classes; label these parts first '
            "(Edit ▸ Label Next).</span>")


def _swatch(colour: RGB, outline: bool = False) -> str:
    hex_colour = colour_hex(colour)
    if outline:
        return f'<span style="color:{hex_colour}; font-weight:bold">&#9634;</span>'
    return f'<span style="background-color:{hex_colour}; color:{hex_colour}">&#9632;&#9632;</span>'


class OverlayControlsWidget(QWidget):
    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.layer_box = QComboBox()
        for layer in LAYERS:
            self.layer_box.addItem(LAYER_TITLES[layer], layer)
        self.layer_box.setToolTip("Which masks are drawn over the image")
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setToolTip("How strongly the mask colours cover the image")
        self.opacity_label = QLabel()
        self.opacity_label.setMinimumWidth(self.opacity_label.fontMetrics().horizontalAdvance("100 %"))
        self.outline_box = QCheckBox("Outline only")
        self.outline_box.setToolTip("Draw the boundaries of the classes instead of filling them")
        self.note_label = QLabel()
        self.note_label.setWordWrap(True)
        self.note_label.setStyleSheet("color: palette(mid); font-style: italic")
        self.legend_label = QLabel()
        self.legend_label.setWordWrap(True)
        self.legend_label.setTextFormat(Qt.TextFormat.RichText)
        self.legend_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)

        opacity_row = QHBoxLayout()
        opacity_row.addWidget(self.opacity_slider, 1)
        opacity_row.addWidget(self.opacity_label)
        form = QFormLayout()
        form.addRow("Show", self.layer_box)
        form.addRow("Opacity", opacity_row)
        form.addRow("", self.outline_box)
        column = QVBoxLayout(self)
        column.addLayout(form)
        column.addWidget(self.note_label)
        column.addWidget(self.legend_label)
        column.addStretch(1)

        self.layer_box.activated.connect(lambda _: state.update_overlay(layer=self.layer_box.currentData()))
        self.opacity_slider.valueChanged.connect(lambda value: state.update_overlay(opacity=value / 100.0))
        self.outline_box.toggled.connect(lambda checked: state.update_overlay(outline=checked))
        state.overlay_changed.connect(self._on_state_changed)
        state.classes_changed.connect(self._on_state_changed)
        state.current_changed.connect(self._on_state_changed)
        state.prediction_changed.connect(lambda _name: self._on_state_changed())
        state.mask_changed.connect(lambda _region: self._update_note())
        self._on_state_changed()

    def _on_state_changed(self) -> None:
        overlay = self.state.overlay
        for widget, setter, value in ((self.layer_box, self.layer_box.setCurrentIndex, LAYERS.index(overlay.layer)),
                                      (self.opacity_slider, self.opacity_slider.setValue, round(overlay.opacity * 100)),
                                      (self.outline_box, self.outline_box.setChecked, overlay.outline)):
            widget.blockSignals(True)
            setter(value)
            widget.blockSignals(False)
        self.opacity_label.setText(f"{round(overlay.opacity * 100)} %")
        self.outline_box.setEnabled(overlay.layer not in ("difference", "uncertainty", "none"))
        self.legend_label.setText(self.legend_html())
        self.legend_label.setToolTip(self._legend_tip())
        self._update_note()

    def _update_note(self) -> None:
        document, layer = self.state.document, self.state.overlay.layer
        note = ""
        if document is not None:
            has_prediction = document.prediction is not None and document.prediction.shape == document.shape
            if layer in ("prediction", "both", "difference") and not has_prediction:
                note = "No prediction for this image yet."
            elif layer == "uncertainty" and document.uncertainty is None:
                note = "No uncertainty map for this image yet: segment it (Model ▸ Segment Images…)."
            elif layer in ("truth", "difference") and not document.has_mask:
                note = "This image has no mask yet."
        self.note_label.setText(note)
        self.note_label.setVisible(bool(note))

    def _legend_tip(self) -> str:
        if self.state.overlay.layer != "difference":
            return "Class colours; change them in the class panel"
        meanings = "\n".join(f"{kind.name}: {kind.meaning}" for kind in DIFFERENCE_KINDS)
        return f"{meanings}\nPixels where the truth and the prediction agree, or the truth is unlabeled, are not coloured."

    def legend_html(self) -> str:
        """The colours in use, as rich text: classes, or the kinds of error in the difference layer."""
        overlay = self.state.overlay
        if overlay.layer == "none":
            return ""
        if overlay.layer == "uncertainty":
            return uncertainty_legend_html()
        if overlay.layer == "difference":
            return "<br>".join(f"{_swatch(kind.colour)} <b>{escape(kind.name)}</b>: {escape(kind.short)}"
                               for kind in DIFFERENCE_KINDS)
        rows = []
        for spec in list(self.state.classes)[1:]:
            hidden = spec.index in overlay.hidden
            name = escape(spec.name) + (" (hidden)" if hidden else "")
            swatches = _swatch(spec.colour, overlay.outline)
            if overlay.layer == "both":
                swatches += " " + _swatch(_tinted(spec.colour, OUTLINE_TINT), outline=True)
            rows.append(f'<span style="color:gray">{name}</span>' if hidden else f"{swatches} {name}")
        background = escape(self.state.classes[0].name)
        rows.append(f'<span style="color:gray">{background}: not coloured</span>')
        if overlay.layer == "both":
            rows.append("Colour: ground truth; light outline: prediction.")
        return "<br>".join(rows)
