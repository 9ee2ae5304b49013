"""The end of a run: what happened, the best epoch's metrics per class, and one click to use the model."""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.classes import ClassTable
from core.durations import format_duration
from gui.training.formatting import number

COLUMNS = ("Class", "IoU", "Dice", "Accuracy", "Pixels")


class TrainingSummaryWidget(QWidget):
    segment_requested = Signal(str)  # the model file to run on the open folder

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.text = QLabel("The results appear here when training ends.")
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.table.setVisible(False)
        self.segment_button = QPushButton("Segment the Open Folder with This Model")
        self.segment_button.setToolTip("Run the new model on every image of the open folder")
        self.segment_button.setVisible(False)
        self.segment_button.clicked.connect(self._on_segment_clicked)
        self._model_path: str | None = None
        buttons = QHBoxLayout()
        buttons.addWidget(self.segment_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

    def show_result(self, finished, classes: ClassTable, can_segment: bool) -> None:
        """finished: core.training.reports.TrainingFinished."""
        self._model_path = finished.model_path
        facts = []
        if finished.best_epoch:
            facts.append(f"best epoch {finished.best_epoch} of {finished.epochs_done}")
        if finished.best_mean_iou is not None:
            facts.append(f"mean IoU <b>{finished.best_mean_iou:.3f}</b>")
        facts.append(format_duration(finished.seconds))
        saved = f"Saved as <b>{escape(Path(finished.model_path).name)}</b>" if finished.model_path else \
            "No model was saved: no epoch finished."
        line = " · ".join(facts)
        self.text.setText(line[0].upper() + line[1:] + "<br>" + saved)
        self.text.setToolTip(finished.model_path or "")
        rows = finished.metrics.get("per_class", []) if finished.metrics else []
        self.table.setVisible(bool(rows))
        self.table.setRowCount(len(rows) + (1 if rows else 0))
        for row, entry in enumerate(rows):
            colour = classes[entry["index"]].colour if entry["index"] < len(classes) else (128, 128, 128)
            self._fill(row, entry["name"], entry.get("iou"), entry.get("dice"), entry.get("accuracy"),
                       f"{entry.get('truth_pixels', 0):,}", QColor(*colour))
        if rows:
            metrics = finished.metrics
            self._fill(len(rows), "mean", metrics.get("mean_iou"), metrics.get("mean_dice"),
                       metrics.get("mean_pixel_accuracy"), "", None, bold=True)
        self.segment_button.setVisible(finished.model_path is not None)
        self.segment_button.setEnabled(can_segment)
        self.segment_button.setToolTip("" if can_segment else "Open a folder first")

    def set_can_segment(self, can_segment: bool) -> None:
        self.segment_button.setEnabled(can_segment and self._model_path is not None)
        self.segment_button.setToolTip("" if can_segment else "Open a folder first")

    def clear(self) -> None:
        self._model_path = None
        self.text.setText("The results appear here when training ends.")
        self.table.setRowCount(0)
        self.table.setVisible(False)
        self.segment_button.setVisible(False)

    def _fill(self, row: int, name: str, iou, dice, accuracy, pixels: str, colour: QColor | None,
              bold: bool = False) -> None:
        values = (name, number(iou), number(dice), number(accuracy), pixels)
        for column, value in enumerate(values):
            item = QTableWidgetItem(value)
            if column:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if bold:
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            self.table.setItem(row, column, item)
        if colour is not None:
            swatch = QPixmap(12, 12)
            swatch.fill(colour)
            self.table.item(row, 0).setIcon(QIcon(swatch))

    def _on_segment_clicked(self) -> None:
        if self._model_path:
            self.segment_requested.emit(self._model_path)
