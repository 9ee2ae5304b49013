"""Wizard step 1: which folder, what SegLab found in it, the classes, and which images validate the model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWizardPage,
)

from gui.training.formatting import WrappedLabel, class_swatches_html, muted_html, names_preview, notice_html
from gui.training.wizard_context import WizardContext, opened_index, read_dataset
from gui.workers import BackgroundTask

if TYPE_CHECKING:
    from core.training.recipe import DatasetFacts

USEFUL_LABELED = 10  # fewer labeled images than this give a rough model: say so
PROBLEMS_SHOWN = 3


def _rich_label() -> WrappedLabel:
    label = WrappedLabel()
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class DataPage(QWizardPage):
    def __init__(self, context: WizardContext):
        super().__init__()
        self.context = context
        self.setTitle("Data")
        self.setSubTitle("The labeled images the model learns from, and the ones kept aside to check how well "
                         "it does on images it has not seen.")
        self._scan: BackgroundTask | None = None
        self._initialised = False
        self.split: tuple[list[str], list[str]] | None = None  # (training, validation) names as shown

        self.folder_edit = QLineEdit()
        self.folder_edit.setReadOnly(True)
        self.folder_edit.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.folder_edit.setPlaceholderText("No folder chosen")
        self.choose_button = QPushButton("Choose Folder…")
        self.choose_button.clicked.connect(self._on_choose_clicked)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(self.choose_button)
        self.report_label = _rich_label()
        self.classes_label = _rich_label()

        self.fraction_radio = QRadioButton("Keep a share aside, chosen at random:")
        self.fraction_spin = QDoubleSpinBox()
        self.fraction_spin.setRange(0, 90)
        self.fraction_spin.setDecimals(0)
        self.fraction_spin.setSuffix(" %")
        self.fraction_spin.setValue(20)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 999_999)
        self.seed_spin.setToolTip("The same number always picks the same images, so runs can be compared")
        self.pick_radio = QRadioButton("Choose the validation images:")
        self.fraction_radio.setChecked(True)
        modes = QButtonGroup(self)
        modes.addButton(self.fraction_radio)
        modes.addButton(self.pick_radio)
        self.image_list = QListWidget()
        self.image_list.setMaximumHeight(130)
        self.split_label = _rich_label()
        fraction_row = QHBoxLayout()
        fraction_row.addWidget(self.fraction_radio)
        fraction_row.addWidget(self.fraction_spin)
        fraction_row.addSpacing(12)
        fraction_row.addWidget(QLabel("random seed"))
        fraction_row.addWidget(self.seed_spin)
        fraction_row.addStretch(1)
        split_box = QGroupBox("Validation images")
        split_layout = QVBoxLayout(split_box)
        split_layout.addLayout(fraction_row)
        split_layout.addWidget(self.pick_radio)
        split_layout.addWidget(self.image_list)
        split_layout.addWidget(self.split_label)
        self.notice_label = _rich_label()

        form = QFormLayout()
        form.addRow("Folder:", folder_row)
        form.addRow("Found:", self.report_label)
        form.addRow("Classes:", self.classes_label)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(split_box)
        layout.addWidget(self.notice_label)
        layout.addStretch(1)

        for signal in (self.fraction_spin.valueChanged, self.seed_spin.valueChanged, self.fraction_radio.toggled,
                       self.image_list.itemChanged):
            signal.connect(self._refresh_split)
        context.environment_ready.connect(self._refresh_split)
        self._show_dataset()

    # wizard hooks -------------------------------------------------------------------------------
    def initializePage(self) -> None:
        if not self._initialised:
            self._initialised = True
            index = self.context.state.index
            if index is not None:
                self.set_folder(str(index.root))

    def isComplete(self) -> bool:
        index = self.context.index
        if index is None or not index.labeled or self._scan is not None:
            return False
        return not self.pick_radio.isChecked() or len(self._picked()) < len(index.labeled)

    def config_fields(self) -> dict:
        """The TrainConfig fields this page decides."""
        index = self.context.index
        picking = self.pick_radio.isChecked()
        return {"data_dir": str(index.root), "val_fraction": 0.0 if picking else self.fraction_spin.value() / 100,
                "val_names": tuple(self._picked()) if picking else (), "seed": self.seed_spin.value()}

    # folder -------------------------------------------------------------------------------------
    def set_folder(self, folder: str) -> None:
        """Read `folder` in the background (the window's index when it is the open folder, else a new scan);
        the report fills in when it is done."""
        if self._scan is not None:
            self._scan.cancel()
        self.folder_edit.setText(folder)
        self.context.set_dataset(None)
        self.report_label.setText(muted_html("Reading the folder…"))
        task = self.context.tasks.start(read_dataset, folder, opened_index(self.context.state, folder))
        self._scan = task
        task.signals.finished.connect(self._on_scan_finished)
        task.signals.failed.connect(self._on_scan_failed)
        self.completeChanged.emit()

    def _on_choose_clicked(self) -> None:
        start = self.folder_edit.text() or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Folder with labeled images", start)
        if folder:
            self.set_folder(folder)

    def _is_current_scan(self) -> bool:
        return self._scan is not None and self.sender() is self._scan.signals

    def _on_scan_finished(self, dataset: DatasetFacts) -> None:
        if not self._is_current_scan():
            return
        self._scan = None
        self.context.set_dataset(dataset)
        self._show_dataset()

    def _on_scan_failed(self, message: str, _details: str) -> None:
        if not self._is_current_scan():
            return
        self._scan = None
        self.context.set_dataset(None)
        self._show_dataset()
        self.report_label.setText(notice_html("error", message))

    # report -------------------------------------------------------------------------------------
    def _show_dataset(self) -> None:
        index = self.context.index
        self.image_list.clear()
        if index is None:
            self.report_label.setText(muted_html("Choose the folder with your images and masks."))
            self.classes_label.setText(muted_html("–"))
            self._refresh_split()
            return
        labeled, unlabeled = len(index.labeled), len(index.unlabeled)
        lines = [f"<b>{len(index.samples)}</b> images: <b>{labeled}</b> labeled"
                 + (f", {unlabeled} without a mask yet (not used)" if unlabeled else "")]
        dataset = self.context.dataset
        if dataset.image_info is not None:
            info = dataset.image_info
            lines.append(muted_html(f"{info.width} × {info.height} px, {info.channels} channel"
                                    f"{'s' if info.channels != 1 else ''}, {info.dtype}"))
        problems = [p for p in index.problems if p.kind != "unlabeled"]
        if problems:
            shown = "<br>".join(f"&nbsp;&nbsp;{p}" for p in problems[:PROBLEMS_SHOWN])
            more = f"<br>&nbsp;&nbsp;… and {len(problems) - PROBLEMS_SHOWN} more" if len(problems) > PROBLEMS_SHOWN else ""
            lines.append(notice_html("warning", f"{len(problems)} problem{'s' if len(problems) != 1 else ''} "
                                                "(these files are left out):") + f"<br>{shown}{more}")
        self.report_label.setText("<br>".join(lines))
        self.classes_label.setText(class_swatches_html(index.settings.classes))
        self.image_list.blockSignals(True)
        for sample in index.labeled:
            item = QListWidgetItem(sample.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.image_list.addItem(item)
        self.image_list.blockSignals(False)
        self._refresh_split()

    def _picked(self) -> list[str]:
        return [self.image_list.item(i).text() for i in range(self.image_list.count())
                if self.image_list.item(i).checkState() == Qt.CheckState.Checked]

    def _refresh_split(self) -> None:
        index = self.context.index
        picking = self.pick_radio.isChecked()
        self.image_list.setEnabled(picking)
        self.fraction_spin.setEnabled(not picking)
        self.seed_spin.setEnabled(not picking)
        if index is None or not index.labeled:
            self.split = None
            self.split_label.clear()
        elif picking:
            self._describe_split([n for n in (s.name for s in index.labeled) if n not in set(self._picked())],
                                 self._picked())
        else:
            from core.data.split import split_names

            train, val = split_names([s.name for s in index.labeled], self.fraction_spin.value() / 100,
                                     self.seed_spin.value())
            self._describe_split(train, val)
            self._check_split_in_list(val)
        self.notice_label.setText(self._notices())
        self.completeChanged.emit()

    def _check_split_in_list(self, val: list[str]) -> None:
        """Mirror the random split in the checklist, so choosing by hand starts from it."""
        chosen = set(val)
        self.image_list.blockSignals(True)
        for i in range(self.image_list.count()):
            item = self.image_list.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.text() in chosen else Qt.CheckState.Unchecked)
        self.image_list.blockSignals(False)

    def _describe_split(self, train: list[str], val: list[str]) -> None:
        self.split = (list(train), list(val))
        text = f"<b>{len(train)}</b> image{'s' if len(train) != 1 else ''} for training, <b>{len(val)}</b> for validation"
        self.split_label.setText(text + (f": {names_preview(val, 5)}" if val else ""))

    def _notices(self) -> str:
        index = self.context.index
        if index is None:
            return ""
        labeled = len(index.labeled)
        if labeled == 0:
            return notice_html("error", "No labeled images in this folder. Label some images first (open them and "
                                        "draw masks), or choose a folder with <i>images/</i> and <i>masks/</i> "
                                        "side by side.")
        notes = []
        if labeled < USEFUL_LABELED:
            notes.append(notice_html("warning", f"Only {labeled} labeled image{'s' if labeled != 1 else ''}: label at "
                                                f"least {USEFUL_LABELED} for a useful model. Training works, but "
                                                "expect rough results."))
        if self.pick_radio.isChecked() and len(self._picked()) >= labeled:
            notes.append(notice_html("error", "Every image is chosen for validation: leave at least one for training."))
        elif labeled < 2 or (self.pick_radio.isChecked() and not self._picked()) or \
                (not self.pick_radio.isChecked() and self.fraction_spin.value() == 0):
            notes.append(notice_html("warning", "No validation images: the model cannot be scored (IoU), so the best "
                                                "epoch is the one with the lowest training loss."))
        unsaved = self._unsaved_edits()
        if unsaved:
            notes.append(notice_html("warning", f"{names_preview(unsaved)}: unsaved edits. Training reads the masks as "
                                                "saved; save first (Ctrl+S) to train on your latest labels."))
        return "<br>".join(notes)

    def _unsaved_edits(self) -> list[str]:
        index = self.context.index
        if index is None or opened_index(self.context.state, index.root) is None:
            return []
        return sorted(self.context.state.edited)
