"""A compact progress line for the status bar: what runs, how far, time left, and a Cancel button."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QSizePolicy, QWidget

from core.durations import format_duration


class JobProgressWidget(QWidget):
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setFixedWidth(140)
        self.bar.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop after the current image; finished results are kept")
        self.cancel_button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        self._title = ""
        self.hide()

    def start(self, title: str, total: int = 0) -> None:
        self._title = title
        self.bar.setRange(0, max(total, 0))
        self.bar.setValue(0)
        self.label.setText(f"{title}…")
        self.cancel_button.setEnabled(True)
        self.cancel_button.setText("Cancel")
        self.show()

    def set_progress(self, done: int, total: int, seconds_left: float) -> None:
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(done)
        left = format_duration(seconds_left) if done < total else ""
        self.label.setText(f"{self._title}: {done}/{total}" + (f", {left} left" if left else ""))

    def finish(self) -> None:
        self.hide()

    def _on_cancel_clicked(self) -> None:
        self.cancel_button.setEnabled(False)
        self.cancel_button.setText("Cancelling…")
        self.cancel_requested.emit()
