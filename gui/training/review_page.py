"""Wizard step 4: a readable summary of the run, where the model will be saved, and resuming an earlier run."""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWizardPage,
)

from core.errors import SegLabError
from core.training.choices import OPTIMIZER_TITLES, SCHEDULE_TITLES
from core.training.config import TrainConfig
from core.training.paths import checkpoint_path, folder_problem, new_model_path
from gui.training.formatting import WrappedLabel, class_swatches_html, muted_html, names_preview, notice_html
from gui.training.wizard_context import WizardContext


class ReviewPage(QWizardPage):
    def __init__(self, context: WizardContext):
        super().__init__()
        self.context = context
        self.setTitle("Review and start")
        self.setSubTitle("Training runs in the Training panel of the main window: you can keep browsing and "
                         "labeling, and stop it at any time.")
        self.setFinalPage(True)
        self.config: TrainConfig | None = None  # set when Finish is accepted
        self._output_chosen = False
        self.summary = WrappedLabel()
        self.summary.setFrameShape(QFrame.Shape.StyledPanel)
        self.summary.setAutoFillBackground(True)
        self.summary.setBackgroundRole(QPalette.ColorRole.Base)
        self.summary.setMargin(8)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.output_edit = QLineEdit()
        self.output_edit.textEdited.connect(self._on_output_edited)
        self.output_button = QPushButton("Change…")
        self.output_button.clicked.connect(self._on_output_clicked)
        self.output_note = WrappedLabel()
        self.resume_check = QCheckBox("Continue the earlier run saved there (resume from its last epoch)")
        self.resume_check.toggled.connect(self._refresh)
        self.error_label = WrappedLabel()
        row = QHBoxLayout()
        row.addWidget(self.output_edit, 1)
        row.addWidget(self.output_button)
        form = QFormLayout()
        self._form = form
        form.addRow("Save the model as:", row)
        form.addRow("", self.output_note)
        form.addRow("", self.resume_check)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addSpacing(8)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addStretch(1)

    # wizard hooks -------------------------------------------------------------------------------
    def initializePage(self) -> None:
        index = self.context.index
        if not self._output_chosen and index is not None:
            self.output_edit.setText(str(new_model_path(index.root)))
        self._refresh()

    def validatePage(self) -> bool:
        problem = folder_problem(self.output_path)
        if problem:
            self.error_label.setText(notice_html("error", escape(problem)))
            return False
        try:
            self.config = self.wizard().build_config(output=self.output_path, resume=self.resume_check.isChecked())
        except SegLabError as exc:
            self.error_label.setText(notice_html("error", escape(str(exc))))
            return False
        return True

    @property
    def output_path(self) -> str:
        return self.output_edit.text().strip()

    def set_output(self, path: str) -> None:
        self.output_edit.setText(path)
        self._on_output_edited()

    # output -------------------------------------------------------------------------------------
    def _on_output_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save the model as", self.output_path, "SegLab models (*.safetensors)",
            options=QFileDialog.Option.DontConfirmOverwrite)  # an existing model may be resumed: asked below
        if path:
            self.set_output(path if path.endswith(".safetensors") else path + ".safetensors")

    def _on_output_edited(self, *_) -> None:
        self._output_chosen = True
        self._refresh()

    def _refresh(self) -> None:
        self.error_label.clear()
        output = self.output_path
        checkpoint = checkpoint_path(output) if output else None
        resumable = checkpoint is not None and checkpoint.is_file()
        self._form.setRowVisible(self.resume_check, resumable)
        if not resumable:
            self.resume_check.setChecked(False)
        notes = [muted_html(f"A checkpoint for resuming is kept in {escape(str(checkpoint.parent))}.")] \
            if checkpoint else []
        if resumable and not self.resume_check.isChecked():
            notes.append(notice_html("warning", "An earlier run was saved here: starting anew replaces its model and "
                                                "checkpoint. Tick the box below to continue it instead."))
        elif Path(output).exists() and not resumable:
            notes.append(notice_html("warning", "A model file of this name exists and will be replaced."))
        self.output_note.setText("<br>".join(notes))
        self.summary.setText(self._summary_html())

    def _summary_html(self) -> str:
        wizard = self.wizard()
        try:
            config = wizard.build_config(output=self.output_path or "model.safetensors")
        except SegLabError as exc:
            return notice_html("error", escape(str(exc)))
        index = self.context.index
        split = wizard.data_page.split
        if split is not None:
            data = (f"{len(split[0])} images for training, {len(split[1])} for validation"
                    + (f" ({names_preview(split[1])})" if split[1] else ""))
        else:
            data = "the labeled images"
        device = wizard.settings_page.widgets["device"].currentText() or config.device
        augment = config.augment
        augment_text = ", ".join(name for name, on in (("flips and rotations", augment.flips),
                                                       ("scale", augment.scale > 0),
                                                       ("brightness and contrast", augment.brightness > 0)) if on)
        estimate = wizard.settings_page.estimate_summary()
        rows = [
            ("Data", f"{escape(str(index.root))}<br>{escape(data)}"),
            ("Classes", class_swatches_html(index.settings.classes)),
            ("Model", wizard.model_page.describe()),
            ("Training", _length_text(config)),
            ("Crops", f"{config.patch_size} × {config.patch_size} px, {config.batch_size} per step, "
                      + (f"{config.patches_per_epoch} per epoch" if config.patches_per_epoch else
                         "enough per epoch to cover the images once")),
            ("Learning", f"{OPTIMIZER_TITLES[config.optimizer]}, rate {config.learning_rate:g}, "
                         f"{SCHEDULE_TITLES[config.schedule].lower()}, loss: "
                         f"{escape(wizard.settings_page.widgets['loss'].currentText() or config.loss)}"),
            ("Augmentation", escape(augment_text or "none")),
            ("Device", escape(device)),
            ("Time", escape(estimate) if estimate else muted_html("not estimated (see Settings)")),
        ]
        if self.resume_check.isChecked():
            rows.insert(0, ("Resume", "continues the earlier run from its checkpoint; its stored settings are used, "
                                      "except the number of epochs and the device"))
        body = "".join(f"<tr><td style='padding:2px 12px 2px 0'><b>{name}</b></td><td>{value}</td></tr>"
                       for name, value in rows)
        return f"<table>{body}</table>"


def _length_text(config) -> str:
    """How long the run trains, in the review's words."""
    if config.minutes is not None:
        return f"for {config.minutes:g} minutes, planned for the time; the best model is kept when time is up"
    if config.early_stopping:
        return f"{config.epochs} epochs (stops early after {config.early_stopping} without improvement)"
    return f"{config.epochs} epochs"
