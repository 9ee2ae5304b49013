"""The class panel: the class table with colours, names, visibility and pixel counts of the current image.

Rename by editing the name, recolour by double-clicking the swatch, add a class with the button; every
edit becomes a new ClassTable in AppState (saved with the dataset). Selecting a row picks the current class.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QItemSelectionModel, QModelIndex, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QColorDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core.io.masks import ignore_index_for
from gui.classes.class_table_model import COLOUR, NAME, NUMBER, PIXELS, PREDICTED, SHOW, ClassTableModel
from gui.classes.swatch_delegate import ColourSwatchDelegate
from gui.state import AppState

_RECOUNT_DELAY_MS = 120  # mask edits arrive stroke by stroke: count once they pause
_PREDICTION_LAYERS = ("prediction", "both", "difference")


class ClassPanelWidget(QWidget):
    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.model = ClassTableModel(state, self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setItemDelegateForColumn(COLOUR, ColourSwatchDelegate(self.table))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                   | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        header = self.table.horizontalHeader()
        for column in (SHOW, NUMBER, COLOUR, PIXELS, PREDICTED):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(NAME, QHeaderView.ResizeMode.Stretch)
        self.table.setMinimumWidth(self.fontMetrics().horizontalAdvance("Show # Colour Name of a class 000,000,000") + 40)
        self.add_button = QPushButton("Add Class")
        self.add_button.setToolTip("Add a class with the next number and a new colour")
        self.extra_label = QLabel()
        self.extra_label.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.add_button)
        buttons.addStretch()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.extra_label)
        layout.addLayout(buttons)

        self._recount_timer = QTimer(self)
        self._recount_timer.setSingleShot(True)
        self._recount_timer.setInterval(_RECOUNT_DELAY_MS)
        self._recount_timer.timeout.connect(self.recount)
        self.add_button.clicked.connect(self.add_class)
        self.table.doubleClicked.connect(self._on_table_double_clicked)
        self.table.selectionModel().currentRowChanged.connect(self._on_table_row_changed)
        state.classes_changed.connect(self._on_state_classes_changed)
        state.current_changed.connect(self.recount)
        state.mask_changed.connect(self._on_state_mask_changed)
        state.prediction_changed.connect(self._on_state_prediction_changed)
        state.overlay_changed.connect(self._on_state_overlay_changed)
        state.current_class_changed.connect(self._select_current_class)
        state.dataset_changed.connect(self._on_state_dataset_changed)
        self._on_state_classes_changed()
        self._on_state_dataset_changed()

    # actions ------------------------------------------------------------------------------------
    def add_class(self) -> None:
        self.state.set_classes(self.state.classes.with_added())
        row = len(self.state.classes) - 1
        self.state.set_current_class(row)
        self.table.edit(self.model.index(row, NAME))  # the user names it at once

    def choose_colour(self, row: int) -> None:
        spec = self.state.classes[row]
        colour = QColorDialog.getColor(QColor(*spec.colour), self, f"Colour of class {row}: {spec.name}")
        if colour.isValid() and (colour.red(), colour.green(), colour.blue()) != spec.colour:
            self.state.set_classes(self.state.classes.recoloured(row, (colour.red(), colour.green(), colour.blue())))

    def recount(self) -> None:
        """Pixel counts of the current image per class (np.bincount: a few ms even for large masks)."""
        self._recount_timer.stop()
        self.model.recount()
        self._update_prediction_column()
        self._update_extra_label()

    # state --------------------------------------------------------------------------------------
    def _on_state_classes_changed(self) -> None:
        self.model.reload()
        self.recount()
        self._select_current_class()

    def _on_state_dataset_changed(self) -> None:
        self.add_button.setEnabled(self.state.index is not None)

    def _on_state_mask_changed(self, _region) -> None:
        self._recount_timer.start()

    def _on_state_prediction_changed(self, _name: str) -> None:
        self.recount()

    def _on_state_overlay_changed(self) -> None:
        self.model.dataChanged.emit(self.model.index(0, SHOW), self.model.index(self.model.rowCount() - 1, SHOW))
        self._update_prediction_column()

    def _select_current_class(self, *_) -> None:
        index = self.model.index(self.state.current_class, NAME)
        if index.row() != self.table.currentIndex().row():
            self.table.selectionModel().setCurrentIndex(
                index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)

    def _on_table_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.state.set_current_class(current.row())

    def _on_table_double_clicked(self, index: QModelIndex) -> None:
        if index.column() == COLOUR:
            self.choose_colour(index.row())

    def _update_prediction_column(self) -> None:
        document = self.state.document
        shown = document is not None and document.prediction is not None \
            and self.state.overlay.layer in _PREDICTION_LAYERS
        self.table.setColumnHidden(PREDICTED, not shown)
        self.table.setColumnHidden(PIXELS, document is None)

    def _update_extra_label(self) -> None:
        """Pixels whose value is no class: unlabeled (the ignore value) or outside the table."""
        counts = self.model.mask_counts
        classes = len(self.state.classes)
        if counts is None or len(counts) <= classes:
            self.extra_label.hide()
            return
        ignore = ignore_index_for(classes)
        unlabeled = int(counts[ignore]) if ignore < len(counts) else 0
        outside = int(np.sum(counts[classes:])) - unlabeled
        lines = [f"Unlabeled pixels ({ignore}): {unlabeled:,}"] if unlabeled else []
        if outside:
            lines.append(f"⚠ {outside:,} pixels have values outside the {classes} classes: add classes")
        self.extra_label.setText("\n".join(lines))
        self.extra_label.setVisible(bool(lines))
