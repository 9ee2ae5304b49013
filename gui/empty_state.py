"""What the window shows before a folder is open: what to do first, and one-click starts."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

MAX_ROWS_SHOWN = 6


class EmptyStateWidget(QWidget):
    open_requested = Signal()
    sample_requested = Signal()
    recent_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        title = QLabel("Welcome to SegLab")
        font = QFont(title.font())
        font.setPointSizeF(font.pointSizeF() * 1.8)
        font.setBold(True)
        title.setFont(font)
        intro = QLabel(
            "Open a folder of micrographs to start. SegLab pairs images with their masks "
            "(for example <i>images/</i> and <i>masks/</i> with the same file names) and shows them as coloured "
            "overlays.<br><br>"
            "Then you can <b>label</b> images by hand, <b>train</b> a model on your labeled images, "
            "<b>segment</b> the whole folder, and <b>export</b> masks and metric reports. "
            "Everything runs on this computer, offline.<br><br>"
            "You can also drag a folder onto this window.")
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.RichText)
        open_button = QPushButton("Open Folder…")
        open_button.setDefault(True)
        open_button.clicked.connect(self.open_requested)
        sample_button = QPushButton("Open Sample Dataset")
        sample_button.setToolTip("8 fluorescence images of cell nuclei (BBBC039, public domain), 6 with masks")
        sample_button.clicked.connect(self.sample_requested)
        buttons = QHBoxLayout()
        buttons.addWidget(open_button)
        buttons.addWidget(sample_button)
        buttons.addStretch()
        self.recent_label = QLabel("Recent folders")
        self.recent_list = QListWidget()
        self.recent_list.itemActivated.connect(lambda item: self.recent_chosen.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.recent_list.itemClicked.connect(lambda item: self.recent_chosen.emit(item.data(Qt.ItemDataRole.UserRole)))

        column = QVBoxLayout()
        column.addStretch(2)
        column.addWidget(title)
        column.addSpacing(12)
        column.addWidget(intro)
        column.addSpacing(16)
        column.addLayout(buttons)
        column.addSpacing(24)
        column.addWidget(self.recent_label)
        column.addWidget(self.recent_list)
        column.addStretch(3)
        centred = QHBoxLayout(self)
        centred.addStretch(1)
        holder = QWidget()
        holder.setLayout(column)
        holder.setMaximumWidth(620)
        centred.addWidget(holder, 3)
        centred.addStretch(1)
        self.set_recent([])

    def set_recent(self, folders: list[str]) -> None:
        self.recent_list.clear()
        for folder in folders:
            item = QListWidgetItem(f"{Path(folder).name}    —    {folder}")
            item.setData(Qt.ItemDataRole.UserRole, folder)
            self.recent_list.addItem(item)
        self.recent_label.setVisible(bool(folders))
        self.recent_list.setVisible(bool(folders))
        rows = max(1, min(len(folders), MAX_ROWS_SHOWN))
        self.recent_list.setFixedHeight(rows * self.recent_list.sizeHintForRow(0) + 2 * self.recent_list.frameWidth() + 4
                                        if folders else 0)
