"""The Evaluation panel: headline metrics, which images were scored (those the model trained on are left
out or marked), the per-class table, and every image sortable by its score; double-click an image to show
it. Buttons open the HTML/PDF report and its folder. Another folder opened empties the panel."""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
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

from core.errors import DatasetError
from core.evaluation_scope import image_count
from core.report import MetricReport
from core.report_html import HTML_REPORT, MAX_CLASS_COLUMNS
from gui.open_file import open_with_system
from gui.report.pdf_export import PDF_REPORT
from gui.state import AppState

IMAGE_COLUMNS = ("Image", "mIoU", "Mean Dice", "Pixel accuracy")
TRAINED_COLUMN = "Trained on"  # after IMAGE_COLUMNS when images the model was trained on were scored
CLASS_COLUMNS = ("Class", "IoU", "Dice", "Accuracy", "True pixels", "Predicted pixels")
NAME_ROLE = Qt.ItemDataRole.UserRole + 1
EMPTY_TEXT = "No evaluation of this folder yet: Model > Evaluate Against Ground Truth…"
INCLUDE_HINT = "tick “Include images the model was trained on” in the Evaluate dialog to score them too"
TRAINED_TIP = "The model was trained on this image: its score says little about how it does on new images"


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
        self.summary_label = QLabel(EMPTY_TEXT)
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.html_button = QPushButton("Open Report")
        self.pdf_button = QPushButton("Open PDF")
        self.folder_button = QPushButton("Open Folder")
        for button in (self.html_button, self.pdf_button, self.folder_button):
            button.setEnabled(False)
        self.html_button.clicked.connect(lambda: open_with_system(self, self.folder / HTML_REPORT))
        self.pdf_button.clicked.connect(lambda: open_with_system(self, self.folder / PDF_REPORT))
        self.folder_button.clicked.connect(lambda: open_with_system(self, self.folder))

        self.class_table = _table(CLASS_COLUMNS)
        self.class_table.setToolTip("Per class over all scored images, their pixels counted together")
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
        state.dataset_changed.connect(self._on_state_dataset_changed)

    def show_report(self, report: MetricReport, folder: Path, failures: int = 0,
                    warnings: tuple[tuple[str, str], ...] = ()) -> None:
        self.report, self.folder = report, Path(folder)
        self.summary_label.setText(_summary_html(report, failures, len(warnings)))
        self.summary_label.setToolTip("\n".join(f"{Path(path).name}: {note}" for path, note in warnings))
        self.html_button.setEnabled((self.folder / HTML_REPORT).is_file())
        self.pdf_button.setEnabled((self.folder / PDF_REPORT).is_file())
        self.folder_button.setEnabled(True)
        self._fill_classes(report)
        self._fill_images(report)

    def clear(self) -> None:
        """Back to the empty panel (another folder is open)."""
        self.report = self.folder = None
        self.summary_label.setText(EMPTY_TEXT)
        self.summary_label.setToolTip("")
        for button in (self.html_button, self.pdf_button, self.folder_button):
            button.setEnabled(False)
        self.class_table.setRowCount(0)
        self.image_table.setRowCount(0)

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
        marked = any(entry.get("trained_on") for entry in report.images)
        columns = [*IMAGE_COLUMNS, *([TRAINED_COLUMN] if marked else []), *(f"IoU {n}" for n in names)]
        table.setSortingEnabled(False)
        table.clear()
        table.setColumnCount(len(columns))
        table.setHorizontalHeaderLabels(columns)
        table.setRowCount(len(report.images))
        for r, summary in enumerate(report.images):
            name = QTableWidgetItem(summary["name"])
            name.setData(NAME_ROLE, summary["name"])
            cells = [name, NumberItem(summary["mean_iou"]), NumberItem(summary["mean_dice"]),
                     NumberItem(summary["pixel_accuracy"])]
            trained = bool(summary.get("trained_on"))
            if marked:
                cells.append(QTableWidgetItem("yes" if trained else "no"))
            cells += [NumberItem(row["iou"]) for row in summary["per_class"][:MAX_CLASS_COLUMNS]]
            for c, item in enumerate(cells):
                if trained:
                    _mark_trained(item)
                table.setItem(r, c, item)
        table.setSortingEnabled(True)
        table.sortItems(1, Qt.SortOrder.AscendingOrder)  # worst first
        table.resizeColumnsToContents()

    def image_names(self) -> list[str]:
        """Image names in the table's current order."""
        return [self.image_table.item(r, 0).data(NAME_ROLE) for r in range(self.image_table.rowCount())]

    def _on_image_double_clicked(self, item: QTableWidgetItem) -> None:
        name = self.image_table.item(item.row(), 0).data(NAME_ROLE)
        if not name:
            return
        if not self._in_open_folder(name):
            evaluated = self.report.meta.get("data_dir", "the evaluated folder")  # rows exist with a report
            self.state.message.emit(f"{name} is not in this folder; open {evaluated} to see it.")
            return
        self.state.request_image(name)

    def _in_open_folder(self, name: str) -> bool:
        index = self.state.index
        if index is None:
            return False
        try:
            index.sample(name)
        except DatasetError:
            return False
        return True

    def _on_state_dataset_changed(self) -> None:
        """Results of another folder are not shown beside this one (they would name images it lacks)."""
        if self.report is None:
            return
        index, evaluated = self.state.index, Path(str(self.report.meta.get("data_dir", "")))
        if index is None or Path(index.root).resolve() != evaluated:
            self.clear()


def _table(columns: tuple[str, ...]) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.verticalHeader().hide()
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def _summary_html(report: MetricReport, failures: int, warnings: int) -> str:
    """Headline figures (on the images never trained on first, when training images were scored too),
    then which images were scored and what went wrong."""
    data, held_out = report.dataset, report.held_out
    trained = sum(bool(entry.get("trained_on")) for entry in report.images)
    model = Path(str(report.meta.get("model_file", ""))).name
    if held_out is not None and trained:
        figures = (f"<b>mIoU {_text(held_out['mean_iou'])}</b> on the {image_count(len(report.images) - trained)} "
                   f"never trained on ({_text(data['mean_iou'])} on all {len(report.images)} scored), mean Dice "
                   f"{_text(held_out['mean_dice'])}, pixel accuracy {_text(held_out['pixel_accuracy'])}")
    else:
        figures = (f"<b>mIoU {_text(data['mean_iou'])}</b>, mean Dice {_text(data['mean_dice'])}, pixel accuracy "
                   f"{_text(data['pixel_accuracy'])}, mean pixel accuracy {_text(data['mean_pixel_accuracy'])}, "
                   f"frequency-weighted IoU {_text(data['frequency_weighted_iou'])}")
    scope = report.describe_scope(INCLUDE_HINT) or f"scored {len(report.images)} image(s)"
    problems = ([f"{failures} image(s) could not be evaluated"] if failures else []) \
        + ([f"{warnings} scored with a warning (hover for details)"] if warnings else [])
    return (f"{figures} — {escape(model)}<br>{escape(scope[:1].upper() + scope[1:])}."
            + (f"<br>{'; '.join(problems)}." if problems else ""))


def _mark_trained(item: QTableWidgetItem) -> None:
    font = item.font()
    font.setItalic(True)
    item.setFont(font)
    item.setForeground(QColor(120, 120, 120))
    item.setToolTip(TRAINED_TIP)


def _text(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
