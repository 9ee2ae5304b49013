"""Model > Export for BioImage.IO...: asks what SegLab cannot know (name, authors, licence), remembers authors
and licence, and writes the package in the background with progress (core.bioimageio.export)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.bioimageio.export import ExportDetails, export_package
from core.errors import SegLabError
from gui.dialogs import show_failure
from gui.model_field import ModelFileField
from gui.workers import TaskRunner

LICENSES = ("CC-BY-4.0", "CC0-1.0", "MIT", "BSD-3-Clause", "Apache-2.0", "GPL-3.0-only")
AUTHORS_KEY, LICENSE_KEY = "bioimageio/authors", "bioimageio/license"


def _export(ctx, model_path: str, output: str, details: ExportDetails) -> Path:
    return export_package(model_path, output, details, progress=lambda step, steps, what: ctx.progress(step, steps))


class BioimageioExportDialog(QDialog):
    """Export one SegLab model file as a BioImage.IO package (.zip); with no model given (""), the user
    chooses one."""

    exported = Signal(Path)

    def __init__(self, model_path: str | Path, settings: QSettings, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Export for BioImage.IO")
        self._settings = settings
        self._runner = TaskRunner(1, self)
        self.model_field = ModelFileField(None, str(model_path or ""))
        self.name_edit = QLineEdit()
        self.authors_edit = QLineEdit(str(settings.value(AUTHORS_KEY, "")))
        self.authors_edit.setPlaceholderText("Your name, a colleague's name")
        self.license_box = QComboBox()
        self.license_box.setEditable(True)
        self.license_box.addItems(LICENSES)
        self.license_box.setCurrentText(str(settings.value(LICENSE_KEY, LICENSES[0])))
        self.output_edit = QLineEdit()
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._on_browse_clicked)
        output_row = QHBoxLayout()
        output_row.addWidget(self.output_edit)
        output_row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Model", self.model_field)
        form.addRow("Name", self.name_edit)
        form.addRow("Authors (comma-separated)", self.authors_edit)
        form.addRow("Licence (SPDX id)", self.license_box)
        form.addRow("Package", output_row)
        self.progress_bar = QProgressBar()
        self.progress_bar.setVisible(False)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self._on_export_clicked)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.buttons)
        self.model_field.changed.connect(self._on_model_changed)
        self._on_model_changed(self.model_field.path)
        self.resize(640, self.sizeHint().height())

    def _on_model_changed(self, path: str) -> None:
        """A model chosen: its name and a package path beside it are proposed; Export needs a readable model."""
        if path:
            model = Path(path)
            self.name_edit.setText(model.stem)
            self.output_edit.setText(str(model.with_name(model.stem + ".bioimageio.zip")))
        self.export_button.setEnabled(self.model_field.spec is not None)

    def _on_browse_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save BioImage.IO package", self.output_edit.text(),
                                              "BioImage.IO package (*.zip)")
        if path:
            self.output_edit.setText(path)

    def _on_export_clicked(self) -> None:
        authors = tuple(a.strip() for a in self.authors_edit.text().split(",") if a.strip())
        try:
            details = ExportDetails(self.name_edit.text().strip(), authors, self.license_box.currentText().strip())
        except SegLabError as exc:
            show_failure(self, "Export for BioImage.IO", str(exc))
            return
        self._settings.setValue(AUTHORS_KEY, ", ".join(authors))
        self._settings.setValue(LICENSE_KEY, details.license)
        self.export_button.setEnabled(False)
        self.progress_bar.setVisible(True)
        task = self._runner.start(_export, self.model_field.path, self.output_edit.text(), details)
        task.signals.progress.connect(self._on_task_progress)
        task.signals.finished.connect(self._on_task_finished)
        task.signals.failed.connect(self._on_task_failed)

    def _on_task_progress(self, done: float, total: int, _seconds_left: float) -> None:
        self.progress_bar.setRange(0, total)
        self.progress_bar.setValue(int(done))

    def _on_task_finished(self, path: Path) -> None:
        self.exported.emit(path)
        self.accept()

    def _on_task_failed(self, message: str, details: str) -> None:
        self.export_button.setEnabled(True)
        self.progress_bar.setVisible(False)
        show_failure(self, "Export for BioImage.IO", message, details)

    def done(self, result: int) -> None:
        self._runner.cancel_all()  # an export under way finishes its file but is no longer reported
        super().done(result)
