"""Model > Evaluate Against Ground Truth…: which model, and where the report goes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.evaluation_scope import NO_RECORD, EvaluationScope, image_count
from core.report import METRICS_JSON
from gui.model_field import ModelFileField, preselected_model_path
from gui.state import AppState

SETTINGS_PREFIX = "evaluate/"


@dataclass(frozen=True)
class EvaluateChoice:
    model_path: str
    out_dir: Path
    pdf: bool
    include_training: bool = False


def default_report_folder(dataset_root: Path, model_path: str) -> Path:
    return Path(dataset_root) / f"evaluation_{Path(model_path).stem or 'model'}"


class EvaluateDialog(QDialog):
    def __init__(self, state: AppState, settings: QSettings, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Evaluate Against Ground Truth")
        self.state = state
        self.settings = settings
        remembered = str(settings.value(SETTINGS_PREFIX + "model", "") or "")
        self.model_field = ModelFileField(state.classes, preselected_model_path(state.model_path or remembered))
        self.folder_edit = QLineEdit(str(default_report_folder(state.index.root, self.model_field.path)))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._on_browse_clicked)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)
        self.pdf_check = QCheckBox("Also print the report to PDF")
        self.pdf_check.setChecked(settings.value(SETTINGS_PREFIX + "pdf", True, type=bool))
        self.training_check = QCheckBox("Include images the model was trained on")
        self.training_check.setToolTip("Scores on images a model was trained on flatter it; when included, the "
                                       "report marks them and gives the score without them too")
        self.training_check.toggled.connect(self._update_scope)
        self.scope_label = QLabel()
        self.scope_label.setWordWrap(True)
        note = QLabel("The report folder gets CSV tables, metrics.json and report.html (one file to share); the "
                      "predictions also appear in the browser.")
        note.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.run_button = self.buttons.addButton("Evaluate", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.model_field.changed.connect(self._on_model_changed)
        form = QFormLayout()
        form.addRow("Model:", self.model_field)
        form.addRow("Report folder:", folder_row)
        form.addRow("", self.training_check)
        form.addRow("", self.pdf_check)
        layout = QVBoxLayout(self)
        layout.addWidget(self.scope_label)
        layout.addWidget(note)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self._on_model_changed(self.model_field.path)
        self.resize(680, layout.heightForWidth(680) if layout.hasHeightForWidth() else self.sizeHint().height())

    def choice(self) -> EvaluateChoice:
        return EvaluateChoice(self.model_field.path, Path(self.folder_edit.text().strip()), self.pdf_check.isChecked(),
                              self.training_check.isChecked())

    def accept(self) -> None:
        folder = Path(self.folder_edit.text().strip())
        if (folder / METRICS_JSON).exists():
            answer = QMessageBox.question(self, "Replace the report?",
                                          f"{folder} already holds a report. Replace it?",
                                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                          QMessageBox.StandardButton.No)
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.settings.setValue(SETTINGS_PREFIX + "model", self.model_field.path)
        self.settings.setValue(SETTINGS_PREFIX + "pdf", self.pdf_check.isChecked())
        super().accept()

    def _on_model_changed(self, path: str) -> None:
        if path and self.folder_edit.text().startswith(str(self.state.index.root)):
            self.folder_edit.setText(str(default_report_folder(self.state.index.root, path)))
        self._update_scope()

    def _update_scope(self) -> None:
        """Say which images will be scored, and how many the checkbox would add."""
        spec, labeled = self.model_field.spec, [s.name for s in self.state.index.labeled]
        scope = EvaluationScope.of(spec.training if spec else {}, labeled, self.training_check.isChecked())
        trained = len(scope.trained_on)
        self.training_check.setEnabled(trained > 0)
        self.training_check.setText("Include images the model was trained on"
                                    + (f" ({trained} more, marked in the report)" if trained else ""))
        scored = len(labeled) - len(scope.left_out)
        if spec is None:
            text = f"This folder has {image_count(len(labeled))} with ground truth; choose a model to score."
        elif not scope.recorded:
            text = f"The model predicts all {image_count(len(labeled))} with ground truth: {NO_RECORD}."
        elif scope.left_out:
            text = (f"The model predicts the {image_count(scored)} with ground truth it never trained on; the "
                    f"{trained} it was trained on are left out, as their scores would flatter it.")
        elif trained:
            text = (f"The model predicts all {image_count(len(labeled))} with ground truth, {trained} of them "
                    "images it was trained on (marked in the report, which also scores the others alone).")
        else:
            text = (f"The model predicts the {image_count(len(labeled))} with ground truth; it was trained on "
                    "none of them.")
        self.scope_label.setText(text + (" Tick the box below to score them anyway." if spec and not scored else ""))
        self.run_button.setEnabled(spec is not None and scored > 0 and bool(self.folder_edit.text().strip()))

    def _on_browse_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Write the report into this folder", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)
