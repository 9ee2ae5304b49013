"""Table model of the class table: visibility, index, colour swatch, name, pixel counts.

Edits never change the table in place: they build a new ClassTable and hand it to AppState, which
signals the change (and the controller saves it with the dataset).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor, QFont

from core.io.images import value_counts
from gui.classes.swatch_delegate import SWATCH_ROLE
from gui.state import AppState

SHOW, NUMBER, COLOUR, NAME, PIXELS, PREDICTED = range(6)
HEADERS = ("Show", "#", "Colour", "Name", "Pixels", "Predicted")
TIPS = ("Draw this class in the overlay", "Class number (the value in the mask)",
        "Double-click to choose another colour", "Double-click to rename",
        "Pixels of this class in the current image's mask", "Pixels of this class in the prediction")
_CENTRED = Qt.AlignmentFlag.AlignCenter
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def class_pixel_counts(mask: np.ndarray | None, class_count: int) -> np.ndarray | None:
    """Pixels per value (at least class_count entries); None without a mask."""
    if mask is None:
        return None
    return value_counts(mask, minlength=class_count)


def describe_count(count: int, total: int, where: str) -> str:
    share = 100.0 * count / total if total else 0.0
    return f"{count:,} pixels in the {where} ({share:.1f} % of the image)"


class ClassTableModel(QAbstractTableModel):
    def __init__(self, state: AppState, parent=None):
        super().__init__(parent)
        self.state = state
        self.mask_counts: np.ndarray | None = None
        self.prediction_counts: np.ndarray | None = None
        self._pixels = 0
        self._rows = len(state.classes)  # the rows the views know of

    # counts -------------------------------------------------------------------------------------
    def recount(self) -> None:
        """Count the current image's mask and prediction pixels per class."""
        document = self.state.document
        classes = len(self.state.classes)
        mask = document.mask if document is not None and document.has_mask else None
        prediction = document.prediction if document is not None else None
        self.mask_counts = class_pixel_counts(mask, classes)
        self.prediction_counts = class_pixel_counts(prediction, classes)
        self._pixels = int(np.prod(document.shape)) if document is not None else 0
        if self.rowCount():
            self.dataChanged.emit(self.index(0, PIXELS), self.index(self.rowCount() - 1, PREDICTED))

    def count(self, row: int, prediction: bool = False) -> int | None:
        counts = self.prediction_counts if prediction else self.mask_counts
        return int(counts[row]) if counts is not None and row < len(counts) else None

    def reload(self) -> None:
        """The class table changed. A rename or recolour updates the cells in place, so the view keeps its
        current row (the class being drawn) and an open name editor; added or removed classes remake the rows."""
        if self._rows == len(self.state.classes):
            if self._rows:
                self.dataChanged.emit(self.index(0, 0), self.index(self._rows - 1, len(HEADERS) - 1))
            return
        self.beginResetModel()
        self._rows = len(self.state.classes)
        self.endResetModel()

    # Qt model -----------------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else self._rows

    def columnCount(self, parent: QModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return TIPS[section]
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() == SHOW:
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        if index.column() == NAME:
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self.state.classes):
            return None
        row, column = index.row(), index.column()
        spec = self.state.classes[row]
        background = row == 0
        if role == Qt.ItemDataRole.CheckStateRole and column == SHOW:
            hidden = row in self.state.overlay.hidden
            return Qt.CheckState.Unchecked if hidden else Qt.CheckState.Checked
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return self._text(row, column, spec, role == Qt.ItemDataRole.EditRole)
        if role == SWATCH_ROLE and column == COLOUR:
            return QColor(*spec.colour)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _RIGHT if column in (PIXELS, PREDICTED) else (_CENTRED if column == NUMBER else None)
        if role == Qt.ItemDataRole.FontRole and background and column == NAME:
            font = QFont()
            font.setItalic(True)
            return font
        if role == Qt.ItemDataRole.ForegroundRole and background and column in (NUMBER, NAME):
            return QColor("#6B7280")
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, column)
        return None

    def _text(self, row: int, column: int, spec, editing: bool):
        if column == NUMBER:
            return str(row)
        if column == NAME:
            marked = row == 0 and not editing and spec.name.casefold() != "background"
            return f"{spec.name}  (background)" if marked else spec.name
        if column in (PIXELS, PREDICTED):
            count = self.count(row, prediction=column == PREDICTED)
            return "—" if count is None else f"{count:,}"
        return None

    def _tooltip(self, row: int, column: int) -> str:
        if column in (PIXELS, PREDICTED):
            count = self.count(row, prediction=column == PREDICTED)
            if count is not None:
                return describe_count(count, self._pixels, "prediction" if column == PREDICTED else "mask")
        if row == 0:
            return "Class 0 is the background: it is not drawn over the image"
        return TIPS[column]

    def setData(self, index: QModelIndex, value, role: int = Qt.ItemDataRole.EditRole) -> bool:
        row, column = index.row(), index.column()
        if column == SHOW and role == Qt.ItemDataRole.CheckStateRole:
            visible = Qt.CheckState(value) == Qt.CheckState.Checked
            hidden = set(self.state.overlay.hidden)
            (hidden.discard if visible else hidden.add)(row)
            self.state.update_overlay(hidden=frozenset(hidden))
            return True
        if column == NAME and role == Qt.ItemDataRole.EditRole:
            name = str(value).strip()
            if not name or name == self.state.classes[row].name:
                return False
            if name.casefold() in (n.casefold() for n in self.state.classes.names):
                self.state.message.emit(f"There is already a class named {name!r}; choose another name")
                return False
            self.state.set_classes(self.state.classes.renamed(row, name))
            return True
        return False
