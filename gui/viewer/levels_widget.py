"""LevelsWidget: black/white display levels with a histogram, automatic (percentile) contrast, a reset to
the full data range, and the channel shown. Only the display image changes; the data never does.

The uint8 display is computed on a worker thread (newest request wins) and handed to
AppState.set_display, so dragging a handle on an 8000 x 8000 image never blocks the window.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.io.images import display_view
from gui.state import AppState, ImageDocument
from gui.viewer.histogram_view import CHANNEL_COLOURS, GRAY_COLOUR, HistogramView
from gui.viewer.image_statistics import ImageStatistics, image_statistics
from gui.viewer.latest_runner import LatestOnlyRunner
from gui.workers import TaskContext


def shown_channels(channel_count: int, channel: int | None) -> list[int]:
    """The channels on screen: the picked one, else RGB (first three) or the first channel."""
    if channel is not None:
        return [channel]
    return [0, 1, 2] if channel_count >= 3 else [0]


def compute_display(ctx: TaskContext, document: ImageDocument, levels: np.ndarray, channel: int | None):
    return document, levels, channel, display_view(document.image, levels, channel)


def compute_statistics(ctx: TaskContext, document: ImageDocument):
    return document, image_statistics(document.image, ctx.cancelled)


class LevelsWidget(QWidget):
    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.statistics: ImageStatistics | None = None
        self.channel_box = QComboBox()
        self.channel_box.setToolTip("Show all colour channels together, or one channel in gray")
        self.channel_label = QLabel("Show")
        self.histogram = HistogramView()
        self.histogram.setToolTip("Drag the handles to set the values shown as black and white")
        self.black_box = self._level_box("Values at or below this are shown black")
        self.white_box = self._level_box("Values at or above this are shown white")
        self.auto_button = QPushButton("Auto")
        self.auto_button.setToolTip("Automatic contrast: black and white at the 0.5th and 99.5th percentiles")
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Full range: black at the smallest value, white at the largest")
        self.range_label = QLabel()
        self.range_label.setWordWrap(True)
        self._display_jobs = LatestOnlyRunner(self)
        self._statistics_jobs = LatestOnlyRunner(self)
        self._layout()
        self._connect()
        self._on_state_current_changed()

    def _level_box(self, tip: str) -> QDoubleSpinBox:
        box = QDoubleSpinBox()
        box.setToolTip(tip)
        box.setKeyboardTracking(False)
        return box

    def _layout(self) -> None:
        channel_row = QHBoxLayout()
        channel_row.addWidget(self.channel_label)
        channel_row.addWidget(self.channel_box, 1)
        levels = QFormLayout()
        levels.addRow("Black", self.black_box)
        levels.addRow("White", self.white_box)
        buttons = QHBoxLayout()
        buttons.addWidget(self.auto_button)
        buttons.addWidget(self.reset_button)
        column = QVBoxLayout(self)
        column.addLayout(channel_row)
        column.addWidget(self.histogram, 1)
        column.addLayout(levels)
        column.addLayout(buttons)
        column.addWidget(self.range_label)

    def _connect(self) -> None:
        self.state.current_changed.connect(self._on_state_current_changed)
        self.state.levels_changed.connect(self._on_state_levels_changed)
        self.histogram.levels_dragged.connect(self._set_shown_levels)
        self.black_box.valueChanged.connect(lambda _: self._on_boxes_changed())
        self.white_box.valueChanged.connect(lambda _: self._on_boxes_changed())
        self.auto_button.clicked.connect(self.auto_levels)
        self.reset_button.clicked.connect(self.reset_levels)
        self.channel_box.activated.connect(lambda _: self._request(self._levels, self.channel_box.currentData()))
        self._display_jobs.finished.connect(self._on_display_ready)
        self._display_jobs.failed.connect(self.state.message)
        self._statistics_jobs.finished.connect(self._on_statistics_ready)
        self._statistics_jobs.failed.connect(self.state.message)

    # actions ------------------------------------------------------------------------------------
    def auto_levels(self) -> None:
        if self.state.document is not None:
            self._request(self.state.document.auto_levels.copy(), self._channel)

    def reset_levels(self) -> None:
        if self.statistics is not None:
            self._request(self.statistics.min_max_levels(), self._channel)

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel and wait for the background jobs (call when the window closes)."""
        return all([self._display_jobs.shutdown(timeout_ms), self._statistics_jobs.shutdown(timeout_ms)])

    @property
    def busy(self) -> bool:
        """A display or statistics computation is running or waiting."""
        return self._display_jobs.busy or self._statistics_jobs.busy

    # requests -----------------------------------------------------------------------------------
    def _set_shown_levels(self, black: float, white: float) -> None:
        levels = self._levels.copy()
        levels[shown_channels(len(levels), self._channel)] = (black, white)
        self._request(levels, self._channel)

    def _on_boxes_changed(self) -> None:
        black, white = self.black_box.value(), self.white_box.value()
        if white <= black:
            white = black + (1.0 if self._integer else 1e-6)
        self._set_shown_levels(black, white)

    def _request(self, levels: np.ndarray, channel: int | None) -> None:
        document = self.state.document
        if document is None:
            return
        self._levels, self._channel = np.asarray(levels, dtype=np.float64), channel
        self._show_levels()
        self._display_jobs.submit(compute_display, document, self._levels.copy(), channel)

    def _on_display_ready(self, result) -> None:
        document, levels, channel, display = result
        if document is self.state.document:
            self.state.set_display(levels, channel, display)

    # state -> widgets ---------------------------------------------------------------------------
    def _on_state_current_changed(self) -> None:
        document = self.state.document
        self._display_jobs.discard()
        self._statistics_jobs.discard()
        self.statistics = None
        self.setEnabled(document is not None)
        self._levels = document.levels.copy() if document is not None else np.array([[0.0, 255.0]])
        self._channel = document.channel if document is not None else None
        self._integer = document is None or document.image.dtype.kind in "iub"
        self._fill_channel_box(document)
        self._configure_boxes(document)
        self.range_label.setText("")
        self._show_levels()
        if document is not None:
            self._statistics_jobs.submit(compute_statistics, document)

    def _on_state_levels_changed(self) -> None:
        document = self.state.document
        if document is None or self._display_jobs.busy:
            return  # a newer request is on its way; keep showing what the user asked for
        self._levels, self._channel = document.levels.copy(), document.channel
        self._show_levels()

    def _on_statistics_ready(self, result) -> None:
        document, statistics = result
        if document is not self.state.document:
            return
        self.statistics = statistics
        ranges = ", ".join(f"{lo:g}–{hi:g}" for lo, hi in zip(statistics.minimum, statistics.maximum, strict=True))
        self.range_label.setText(f"{document.image.dtype} · values {ranges}")
        self.range_label.setToolTip("Smallest and largest value of each channel in this image")
        self._show_levels()

    def _fill_channel_box(self, document: ImageDocument | None) -> None:
        self.channel_box.clear()
        channels = document.channels if document is not None else 1
        if channels >= 3:
            self.channel_box.addItem("RGB composite", None)
        for c in range(channels if channels > 1 else 0):
            self.channel_box.addItem(f"Channel {c + 1}", c)
        index = self.channel_box.findData(self._channel)
        self.channel_box.setCurrentIndex(max(0, index))
        self.channel_box.setVisible(channels > 1)
        self.channel_label.setVisible(channels > 1)

    def _configure_boxes(self, document: ImageDocument | None) -> None:
        if document is not None and document.image.dtype.kind in "iu":
            info = np.iinfo(document.image.dtype)
            bounds, decimals = (float(info.min), float(info.max)), 0
        else:
            bounds, decimals = (-1e12, 1e12), 4
        for box in (self.black_box, self.white_box):
            box.blockSignals(True)
            box.setDecimals(decimals)
            box.setRange(*bounds)
            box.blockSignals(False)

    def _show_levels(self) -> None:
        """Spin boxes, handles and histogram curves for the levels and channel(s) now shown."""
        shown = [c for c in shown_channels(len(self._levels), self._channel) if c < len(self._levels)]
        black, white = float(self._levels[shown, 0].min()), float(self._levels[shown, 1].max())
        for box, value in ((self.black_box, black), (self.white_box, white)):
            box.blockSignals(True)
            box.setValue(value)
            box.setSingleStep(max(1.0, round((white - black) / 100)) if self._integer else (white - black) / 100)
            box.blockSignals(False)
        statistics = self.statistics
        if statistics is not None:
            counts = statistics.counts[shown]
            axis = (min(statistics.low, black), max(statistics.high, white))
            colours = CHANNEL_COLOURS if len(shown) > 1 else (GRAY_COLOUR,)
            self.histogram.set_histogram(counts, (statistics.low, statistics.high), axis, statistics.integer, colours)
        else:
            self.histogram.set_histogram(np.zeros((0, 0)), (black, white), (black, white), self._integer,
                                         (GRAY_COLOUR,))
        self.histogram.set_levels(black, white)
