"""A compact progress line for the status bar: what runs, how far, time left, and a Cancel button."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QSizePolicy, QWidget

from core.durations import format_duration

STEPS_PER_ITEM = 100  # bar resolution within one item (a large image predicted tile by tile)


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
        """Show the line for a job of `total` items (0: unknown); the bar is a busy indicator until the
        first progress arrives (loading a model can take a while)."""
        self._title = title
        self.bar.setRange(0, 0)
        self.label.setText(f"{title}: 0/{total}…" if total > 0 else f"{title}…")
        self.cancel_button.setEnabled(True)
        self.cancel_button.setText("Cancel")
        self.show()

    def set_progress(self, done: float, total: int, seconds_left: float) -> None:
        """`done` of `total` items; a fraction (2.5) shows how far the item being worked on is."""
        self.bar.setRange(0, max(total, 1) * STEPS_PER_ITEM)
        self.bar.setValue(round(done * STEPS_PER_ITEM))
        whole = int(done)
        text = f"{self._title}: {whole}/{total}"
        if done != whole:
            text += f" ({done / max(total, 1):.0%})"
        left = format_duration(seconds_left) if done < total else ""
        self.label.setText(text + (f", {left} left" if left else ""))

    def finish(self) -> None:
        self.hide()

    def _on_cancel_clicked(self) -> None:
        self.cancel_button.setEnabled(False)
        self.cancel_button.setText("Cancelling…")
        self.cancel_requested.emit()
