"""File > Dataset Settings…: the pixel size in micrometres (prefilled from the files' metadata) and the channel a
1-channel model reads of multi-channel images. Saved in seglab.json beside the data."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
)

NOT_SET = "Not set (ask when needed)"


def format_size(value: float) -> str:
    return f"{value:.6g}"


class DatasetSettingsDialog(QDialog):
    """`pixel_size_um()` and `channel()` give the answers; a pixel size equal to the files' own is not stored
    (None), so files that state their own sizes keep them."""

    def __init__(self, setting_size: float | None, file_size: float | None, channel: str | int | None,
                 channel_names: tuple[str, ...], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Dataset settings")
        self._setting_size, self._file_size = setting_size, file_size
        shown = setting_size if setting_size is not None else file_size
        self.size_edit = QLineEdit(format_size(shown) if shown is not None else "")
        self.size_edit.setPlaceholderText("unknown: areas stay in pixels")
        source = (f"The image files state {format_size(file_size)} µm." if file_size is not None
                  else "The image files do not state a pixel size.")
        self.size_note = QLabel(source + " Used for the scale bar and for areas and lengths in measurements.")
        self.size_note.setWordWrap(True)
        self.channel_box = QComboBox()
        self.channel_box.addItem(NOT_SET, None)
        for name in channel_names:
            self.channel_box.addItem(name, name)
        if isinstance(channel, int) and channel < len(channel_names):
            channel = channel_names[channel]
        if channel is not None and self.channel_box.findData(channel) < 0:
            self.channel_box.addItem(str(channel), channel)  # a setting for channels this dataset lacks
        self.channel_box.setCurrentIndex(max(0, self.channel_box.findData(channel)))
        self.channel_box.setEnabled(self.channel_box.count() > 1)
        channel_note = QLabel("What a model trained on one channel reads of these images (e.g. the nuclear stain)."
                              if channel_names else "The images have no named channels.")
        channel_note.setWordWrap(True)
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #c92a2a")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Pixel size (µm):", self.size_edit)
        form.addRow("", self.size_note)
        form.addRow("Channel for 1-channel models:", self.channel_box)
        form.addRow("", channel_note)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problem, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(buttons)
        self.resize(520, self.sizeHint().height())

    def pixel_size_um(self) -> float | None:
        """The size to store: None when empty or equal to what the files state (and none was stored)."""
        text = self.size_edit.text().strip().replace(",", ".")
        if not text:
            return None
        value = float(text)
        if self._setting_size is None and self._file_size is not None and format_size(value) == format_size(
                self._file_size):
            return None
        return value

    def channel(self) -> str | int | None:
        return self.channel_box.currentData()

    def accept(self) -> None:
        text = self.size_edit.text().strip().replace(",", ".")
        try:
            valid = not text or float(text) > 0
        except ValueError:
            valid = False
        if not valid:
            self.problem.setText("The pixel size must be a positive number of micrometres, e.g. 0.65, or empty.")
            return
        super().accept()
