"""The Evaluation panel: headline metrics, the per-class table, and every image sortable by its score;
double-click an image to show it. Buttons open the HTML/PDF report and its folder."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QColor, QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.report import MetricReport
from core.report_html import HTML_REPORT, MAX_CLASS_COLUMNS
from gui.report.pdf_export import PDF_REPORT
from gui.state import AppState

IMAGE_COLUMNS = ("Image", "mIoU", "Mean Dice", "Pixel accuracy")
CLASS_COLUMNS = ("Class", "IoU", "Dice", "Accuracy", "True pixels", "Predicted pixels")
NAME_ROLE = Qt.ItemDataRole.UserRole + 1


class NumberItem(QTableWidgetItem):
    """A table cell showing a formatted number that sorts by value (undefined values sort last)."""

    def __init__(self, value: float | int | None, digits: int = 4):
        text = "n/a" if value is None else (f"{value:,}" if isinstance(value, int) else f"{value:.{digits}f}")
        super().__init__(text)
        self.value = value
        self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def __lt__(self, other) -> bool:
        if isinstance(other, NumberItem):
            mine = float("inf") if self.value is None else self.value
            theirs = float("inf") if other.value is None else other.value
            return mine < theirs
        return super().__lt__(other)


class ReportWidget(QWidget):
    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.report: MetricReport | None = None
        self.folder: Path | None = None
        self.summary_label = QLabel("No evaluation yet: Model > Evaluate Against Ground Truth…")
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.html_button = QPushButton("Open Report")
        self.pdf_button = QPushButton("Open PDF")
        self.folder_button = QPushButton("Open Folder")
        for button in (self.html_button, self.pdf_button, self.folder_button):
            button.setEnabled(False)
        self.html_button.clicked.connect(lambda: self._open(self.folder / HTML_REPORT))
        self.pdf_button.clicked.connect(lambda: self._open(self.folder / PDF_REPORT))
        self.folder_button.clicked.connect(lambda: self._open(self.folder))

        self.class_table = _table(CLASS_COLUMNS)
        self.image_table = _table(IMAGE_COLUMNS)
        self.image_table.setSortingEnabled(True)
        self.image_table.setToolTip("Double-click an image to show it; click a header to sort")
        self.image_table.itemDoubleClicked.connect(self._on_image_double_clicked)

        top = QHBoxLayout()
        top.addWidget(self.summary_label, 1)
        for button in (self.html_button, self.pdf_button, self.folder_button):
            top.addWidget(button)
        splitter = self.splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.class_table)
        splitter.addWidget(self.image_table)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)

    def show_report(self, report: MetricReport, folder: Path, failures: int = 0) -> None:
        self.report, self.folder = report, Path(folder)
        data = report.dataset
        model = Path(str(report.meta.get("model_file", ""))).name
        problems = f"; {failures} image(s) could not be evaluated" if failures else ""
        self.summary_label.setText(
            f"<b>mIoU {_text(data['mean_iou'])}</b>, mean Dice {_text(data['mean_dice'])}, pixel accuracy "
            f"{_text(data['pixel_accuracy'])}, mean pixel accuracy {_text(data['mean_pixel_accuracy'])}, "
            f"frequency-weighted IoU {_text(data['frequency_weighted_iou'])} — {model} on "
            f"{len(report.images)} image(s){problems}")
        self.html_button.setEnabled((self.folder / HTML_REPORT).is_file())
        self.pdf_button.setEnabled((self.folder / PDF_REPORT).is_file())
        self.folder_button.setEnabled(True)
        self._fill_classes(report)
        self._fill_images(report)

    def _fill_classes(self, report: MetricReport) -> None:
        rows = report.dataset["per_class"]
        self.class_table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            name = QTableWidgetItem(row["name"])
            name.setData(Qt.ItemDataRole.DecorationRole, QColor(*report.classes[row["index"]].colour))
            cells = [name, NumberItem(row["iou"]), NumberItem(row["dice"]), NumberItem(row["accuracy"]),
                     NumberItem(row["truth_pixels"]), NumberItem(row["predicted_pixels"])]
            for c, item in enumerate(cells):
                self.class_table.setItem(r, c, item)
        self.class_table.resizeColumnsToContents()

    def _fill_images(self, report: MetricReport) -> None:
        table = self.image_table
        names = report.classes.names[:MAX_CLASS_COLUMNS]
        table.setSortingEnabled(False)
        table.clear()
        table.setColumnCount(len(IMAGE_COLUMNS) + len(names))
        table.setHorizontalHeaderLabels([*IMAGE_COLUMNS, *(f"IoU {n}" for n in names)])
        table.setRowCount(len(report.images))
        for r, summary in enumerate(report.images):
            name = QTableWidgetItem(summary["name"])
            name.setData(NAME_ROLE, summary["name"])
            cells = [name, NumberItem(summary["mean_iou"]), NumberItem(summary["mean_dice"]),
                     NumberItem(summary["pixel_accuracy"])]
            cells += [NumberItem(row["iou"]) for row in summary["per_class"][:MAX_CLASS_COLUMNS]]
            for c, item in enumerate(cells):
                table.setItem(r, c, item)
        table.setSortingEnabled(True)
        table.sortItems(1, Qt.SortOrder.AscendingOrder)  # worst first
        table.resizeColumnsToContents()

    def image_names(self) -> list[str]:
        """Image names in the table's current order."""
        return [self.image_table.item(r, 0).data(NAME_ROLE) for r in range(self.image_table.rowCount())]

    def _on_image_double_clicked(self, item: QTableWidgetItem) -> None:
        name = self.image_table.item(item.row(), 0).data(NAME_ROLE)
        if name:
            self.state.request_image(name)

    @staticmethod
    def _open(path: Path) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


def _table(columns: tuple[str, ...]) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.verticalHeader().hide()
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def _text(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
