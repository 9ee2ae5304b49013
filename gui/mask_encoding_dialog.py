"""Tell SegLab how the dataset's masks store classes (e.g. BBBC039: 'binary, red channel > 0'), with a live
preview of what the current image's mask decodes to. Saved in seglab.json beside the data."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
)

from core.errors import ConfigError, SegLabError
from core.io.masks import MaskEncoding, decode_mask, read_raw_mask

MODES = (("auto", "Detect for each file"),
         ("index", "Class numbers (pixel value = class)"),
         ("binary", "Black and white (value above a threshold = class 1)"),
         ("colour", "Colours of the class table"))
CHANNELS = ((None, "All channels"), (0, "Red"), (1, "Green"), (2, "Blue"), (3, "Alpha"))


def parse_value_map(text: str) -> tuple[tuple[int, int], ...]:
    """'0:1, 255:0' -> ((0, 1), (255, 0)); raises ConfigError naming the bad part."""
    pairs = []
    for part in filter(None, (p.strip() for p in text.replace(";", ",").split(","))):
        raw, sep, target = part.partition(":")
        if not sep or not raw.strip().isdigit() or not target.strip().isdigit():
            raise ConfigError(f"'{part}' should look like stored:class, e.g. 255:1")
        pairs.append((int(raw), int(target)))
    return tuple(sorted(pairs))


class MaskEncodingDialog(QDialog):
    def __init__(self, encoding: MaskEncoding, classes, sample_mask_path=None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("How masks are read")
        self.classes = classes
        self._raw = None
        self._raw_error = None
        if sample_mask_path is not None:
            try:
                self._raw = read_raw_mask(sample_mask_path)
            except SegLabError as exc:
                self._raw_error = str(exc)
        self.mode = QComboBox()
        for key, text in MODES:
            self.mode.addItem(text, key)
        self.mode.setCurrentIndex([k for k, _ in MODES].index(encoding.mode))
        self.channel = QComboBox()
        for key, text in CHANNELS:
            self.channel.addItem(text, key)
        self.channel.setCurrentIndex([k for k, _ in CHANNELS].index(encoding.channel)
                                     if encoding.channel in (None, 0, 1, 2, 3) else 0)
        self.threshold = QSpinBox()
        self.threshold.setRange(0, 65534)
        self.threshold.setValue(encoding.threshold)
        self.value_map = QLineEdit(", ".join(f"{a}:{b}" for a, b in encoding.value_map))
        self.value_map.setPlaceholderText("optional, e.g. 0:1, 255:0 to swap black and white")
        self.preview = QLabel()
        self.preview.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Masks store", self.mode)
        form.addRow("Channel", self.channel)
        form.addRow("Threshold", self.threshold)
        form.addRow("Value mapping", self.value_map)
        hint = QLabel("Example: BBBC039 masks are RGBA images whose red channel numbers touching nuclei 1-3; "
                      "read them as <b>black and white</b> on the <b>red</b> channel with threshold 0 to get "
                      "one 'nucleus' class.")
        hint.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(hint)
        layout.addLayout(form)
        layout.addWidget(self.preview)
        layout.addWidget(self.buttons)
        for widget in (self.mode, self.channel):
            widget.currentIndexChanged.connect(self._update)
        self.threshold.valueChanged.connect(self._update)
        self.value_map.textChanged.connect(self._update)
        self._update()

    def encoding(self) -> MaskEncoding:
        """The encoding as set; raises ConfigError for a malformed value mapping."""
        return MaskEncoding(mode=self.mode.currentData(), channel=self.channel.currentData(),
                            threshold=self.threshold.value(), value_map=parse_value_map(self.value_map.text()))

    def _update(self) -> None:
        mode = self.mode.currentData()
        self.threshold.setEnabled(mode == "binary")
        self.value_map.setEnabled(mode == "index")
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        try:
            encoding = self.encoding()
        except ConfigError as exc:
            self.preview.setText(f"<span style='color:#b00020'>{exc}</span>")
            ok.setEnabled(False)
            return
        ok.setEnabled(True)
        self.preview.setText(self._preview_text(encoding))

    def _preview_text(self, encoding: MaskEncoding) -> str:
        if self._raw is None:
            return self._raw_error or "Open an image with a mask to preview the result."
        try:
            mask = decode_mask(self._raw, encoding, self.classes)
        except SegLabError as exc:
            return f"<span style='color:#b00020'>The current mask cannot be read this way: {exc.reason}</span>"
        counts = np.bincount(mask.ravel())
        parts = []
        for value in np.flatnonzero(counts):
            name = self.classes[int(value)].name if value < len(self.classes) else "not a class!"
            parts.append(f"{value} ({name}): {counts[value]:,} px")
        return "The current image's mask reads as: " + "; ".join(parts)
