"""The problems panel: what the scan and the validation found wrong with the dataset's files, in words.

A table of kind, file (relative to the dataset root) and message, filtered by kind, with a summary line.
Double-clicking a problem about a sample's file shows that image.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    QStyle,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from gui.browser.browser_model import sample_paths
from gui.state import AppState

# kind -> (column text, singular, plural, severity)
KIND_WORDS = {
    "unreadable": ("Unreadable file", "unreadable file", "unreadable files", "error"),
    "size_mismatch": ("Size mismatch", "size mismatch", "size mismatches", "error"),
    "bad_values": ("Values outside classes", "mask with values outside the classes",
                   "masks with values outside the classes", "error"),
    "labelme": ("Labelme file", "labelme problem", "labelme problems", "error"),
    "settings": ("Settings file", "settings problem", "settings problems", "error"),
    "orphan_mask": ("Orphan mask", "orphan mask", "orphan masks", "warning"),
    "unlabeled": ("No mask (unlabeled)", "image without a mask", "images without a mask", "note"),
}
_ICONS = {"error": QStyle.StandardPixmap.SP_MessageBoxCritical, "warning": QStyle.StandardPixmap.SP_MessageBoxWarning,
          "note": QStyle.StandardPixmap.SP_MessageBoxInformation}
COLUMNS = ("Kind", "File", "Message")
KIND_ROLE = Qt.ItemDataRole.UserRole + 1


def kind_words(kind: str) -> tuple[str, str, str, str]:
    fallback = kind.replace("_", " ")
    return KIND_WORDS.get(kind, (fallback.capitalize(), fallback, fallback + "s", "error"))


def problems_summary(problems) -> str:
    """'3 problems: 1 unreadable file, 2 orphan masks' (images without a mask are counted apart)."""
    counts: dict[str, int] = {}
    for problem in problems:
        counts[problem.kind] = counts.get(problem.kind, 0) + 1
    unlabeled = counts.pop("unlabeled", 0)
    ordered = sorted(counts.items(), key=lambda item: list(KIND_WORDS).index(item[0]) if item[0] in KIND_WORDS else 99)
    parts = [f"{n} {kind_words(kind)[1 if n == 1 else 2]}" for kind, n in ordered]
    total = sum(counts.values())
    text = f"{total} problem{'s' if total != 1 else ''}: {', '.join(parts)}" if total else "No problems found"
    if unlabeled:
        text += f"; {unlabeled} {kind_words('unlabeled')[1 if unlabeled == 1 else 2]}"
    return text


def _severity_order(problem) -> tuple:
    """Errors first, then warnings, then notes; by kind, then by file, within each."""
    kind = problem.kind
    severity = ("error", "warning", "note").index(kind_words(kind)[3])
    return severity, list(KIND_WORDS).index(kind) if kind in KIND_WORDS else 99, str(problem.path)


class ProblemsTableModel(QAbstractTableModel):
    def __init__(self, state: AppState, icons: dict, parent=None):
        super().__init__(parent)
        self.state = state
        self.problems: tuple = ()
        self._icons = icons

    def rowCount(self, parent: QModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self.problems)

    def columnCount(self, parent: QModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        problem = self.problems[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (kind_words(problem.kind)[0], self.relative(problem.path), problem.message)[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{problem.path}\n{problem.message}"
        if role == Qt.ItemDataRole.DecorationRole and column == 0:
            return self._icons[kind_words(problem.kind)[3]]
        if role == KIND_ROLE:
            return problem.kind
        return None

    def relative(self, path: Path) -> str:
        root = self.state.index.root if self.state.index is not None else None
        try:
            return str(path.relative_to(root)) if root is not None else str(path)
        except ValueError:
            return str(path)

    def reload(self) -> None:
        self.beginResetModel()
        self.problems = tuple(sorted(self.state.problems, key=_severity_order))
        self.endResetModel()


class KindFilterModel(QSortFilterProxyModel):
    def __init__(self, source: ProblemsTableModel, parent=None):
        super().__init__(parent)
        self.setSourceModel(source)
        self.kind: str | None = None

    def set_kind(self, kind: str | None) -> None:
        self.beginFilterChange()
        self.kind = kind
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex) -> bool:
        return self.kind is None or self.sourceModel().problems[source_row].kind == self.kind


class ProblemsWidget(QWidget):
    encoding_requested = Signal()  # the user wants to change how masks are read

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        icons = {severity: self.style().standardIcon(pixmap) for severity, pixmap in _ICONS.items()}
        self.model = ProblemsTableModel(state, icons, self)
        self.proxy = KindFilterModel(self.model, self)
        self.summary = QLabel()
        self.summary.setObjectName("problems_summary")
        self.kind_filter = QComboBox()
        self.kind_filter.setToolTip("Show one kind of problem")
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # scan order until a header is clicked
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.empty_label = QLabel()
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.table)
        self.pages.addWidget(self.empty_label)

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.summary, 1)
        self.encoding_button = QPushButton("How Masks Are Read…")
        self.encoding_button.setToolTip("Masks hold values that are not classes: tell SegLab how they store classes")
        self.encoding_button.clicked.connect(self.encoding_requested)
        bar.addWidget(self.encoding_button)
        bar.addWidget(self.kind_filter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.pages, 1)

        self.kind_filter.currentIndexChanged.connect(self._on_kind_filter_changed)
        self.table.doubleClicked.connect(self._on_table_double_clicked)
        state.problems_changed.connect(self._on_state_problems_changed)
        state.dataset_changed.connect(self._on_state_problems_changed)
        self._on_state_problems_changed()

    def _on_state_problems_changed(self) -> None:
        self.model.reload()
        self.table.resizeColumnToContents(1)
        self.table.setColumnWidth(1, min(self.table.columnWidth(1), 320))
        self.summary.setText(problems_summary(self.model.problems) if self.model.problems else "")
        self._fill_kind_filter()
        if self.state.index is None:
            self.empty_label.setText("Open a folder to check its images and masks for problems.")
        else:
            self.empty_label.setText("✔ No problems found: every image has a readable mask of the right size.")
        self.pages.setCurrentWidget(self.table if self.model.problems else self.empty_label)
        self.encoding_button.setVisible(any(p.kind == "bad_values" for p in self.model.problems))

    def _fill_kind_filter(self) -> None:
        """'All kinds (n)' then each kind present with its count; the chosen kind stays chosen."""
        chosen = self.kind_filter.currentData()
        counts: dict[str, int] = {}
        for problem in self.model.problems:
            counts[problem.kind] = counts.get(problem.kind, 0) + 1
        self.kind_filter.blockSignals(True)
        self.kind_filter.clear()
        self.kind_filter.addItem(f"All kinds ({len(self.model.problems)})", None)
        for kind in sorted(counts, key=lambda k: list(KIND_WORDS).index(k) if k in KIND_WORDS else 99):
            self.kind_filter.addItem(f"{kind_words(kind)[0]} ({counts[kind]})", kind)
        position = self.kind_filter.findData(chosen) if chosen is not None else 0
        self.kind_filter.setCurrentIndex(max(0, position))
        self.kind_filter.blockSignals(False)
        self.kind_filter.setVisible(len(counts) > 1)
        self._on_kind_filter_changed()

    def _on_kind_filter_changed(self) -> None:
        self.proxy.set_kind(self.kind_filter.currentData())

    def set_kind_filter(self, kind: str | None) -> None:
        """Show only problems of this kind (None: all)."""
        self.kind_filter.setCurrentIndex(max(0, self.kind_filter.findData(kind)) if kind is not None else 0)

    def _on_table_double_clicked(self, index: QModelIndex) -> None:
        name = self.sample_of(self.model.problems[self.proxy.mapToSource(index).row()].path)
        if name is not None:
            self.state.request_image(name)

    def sample_of(self, path: Path) -> str | None:
        """The name of the sample one of whose files is `path`, or None (orphan masks, settings)."""
        if self.state.index is None:
            return None
        for sample in self.state.index.samples:
            if path in sample_paths(sample):
                return sample.name
        return None
