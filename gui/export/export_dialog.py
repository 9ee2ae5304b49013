"""File > Export…: which images, which masks (predictions or ground truth), which formats, where to.

Choices are remembered (QSettings). Before writing, the dialog lists how many files would be replaced and asks;
then it asks for the export (export_requested), shows its controller's progress line with Cancel, and says
what was written."""

from __future__ import annotations

from collections import Counter
from html import escape
from pathlib import Path

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from core.durations import format_duration
from core.errors import ConfigError, SegLabError
from core.export.exporter import (
    DEFAULT_FORMATS,
    FORMATS,
    ExportRequest,
    ExportResult,
    existing_files,
    prediction_items,
    truth_items,
)
from gui.chosen_images import chosen_label
from gui.job_progress import JobProgressWidget
from gui.state import AppState

SCOPES = {"all": "All images", "current": "Current image", "predicted": "Images with a prediction",
          "labeled": "Images with ground truth"}
SOURCES = ("prediction", "truth")
SETTINGS_PREFIX = "export/"


class ExportDialog(QDialog):
    export_requested = Signal(object)  # ExportRequest

    def __init__(self, state: AppState, settings: QSettings, progress: JobProgressWidget,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Export Masks")
        self.state = state
        self.settings = settings
        self.exporting = False
        self.result: ExportResult | None = None

        self.scope_combo = QComboBox()
        for key, label in SCOPES.items():
            self.scope_combo.addItem(chosen_label(state) if key == "current" else label, key)
        self.source_buttons = QButtonGroup(self)
        source_row = QHBoxLayout()
        for number, (key, label) in enumerate(zip(SOURCES, ("Predictions", "Ground-truth masks"), strict=True)):
            button = QRadioButton(label)
            button.setObjectName(f"source_{key}")
            self.source_buttons.addButton(button, number)
            source_row.addWidget(button)
        source_row.addStretch(1)
        self.format_checks: dict[str, QCheckBox] = {}
        formats_grid = QGridLayout()
        for number, spec in enumerate(FORMATS):
            check = QCheckBox(spec.label)
            check.setToolTip(f"written to {spec.target}{'/' if spec.per_image else ''}")
            self.format_checks[spec.key] = check
            formats_grid.addWidget(check, number % 4, number // 4)
        self.folder_edit = QLineEdit()
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._on_browse_clicked)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)
        self.count_label = QLabel()
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.ActionRole)
        self.export_button.clicked.connect(self.start_export)
        self.buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.addRow("Images:", self.scope_combo)
        form.addRow("Masks:", source_row)
        form.addRow("Formats:", formats_grid)
        form.addRow("Folder:", folder_row)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.count_label)
        layout.addWidget(progress)
        layout.addWidget(self.status_label)
        layout.addWidget(self.buttons)

        self._restore_choices()
        self.scope_combo.currentIndexChanged.connect(self._update_count)
        self.source_buttons.idToggled.connect(self._update_count)
        for check in self.format_checks.values():
            check.toggled.connect(self._update_count)
        self.folder_edit.textChanged.connect(self._update_count)
        self._update_count()
        self.resize(720, self.sizeHint().height())

    # choices ------------------------------------------------------------------------------------
    @property
    def scope(self) -> str:
        return self.scope_combo.currentData()

    @property
    def source(self) -> str:
        return SOURCES[max(self.source_buttons.checkedId(), 0)]

    @property
    def formats(self) -> tuple[str, ...]:
        return tuple(key for key, check in self.format_checks.items() if check.isChecked())

    def scope_names(self) -> list[str]:
        index = self.state.index
        if index is None:
            return []
        if self.scope == "current":
            return self.state.chosen_names()
        if self.scope == "predicted":
            return [s.name for s in index.samples if s.name in self.state.predictions]
        if self.scope == "labeled":
            return [s.name for s in index.labeled]
        return [s.name for s in index.samples]

    def request(self, overwrite: bool = False) -> ExportRequest:
        index, names = self.state.index, self.scope_names()
        items = prediction_items(index, self.state.predictions, names) if self.source == "prediction" \
            else truth_items(index, [n for n in names if index.sample(n).labeled])
        return ExportRequest(tuple(items), Path(self.folder_edit.text().strip()), self.state.classes, self.formats,
                             image_root=index.root, overwrite=overwrite)

    # running ------------------------------------------------------------------------------------
    def start_export(self) -> ExportRequest | None:
        """Check the choices, ask before replacing files, then ask for the export; the request, or None."""
        try:
            request = self._checked_request()
        except SegLabError as exc:
            QMessageBox.warning(self, "Cannot export", str(exc))
            return None
        existing = existing_files(request)
        if existing:
            answer = QMessageBox.question(
                self, "Replace files?",
                f"{len(existing)} file(s) in {request.out_dir} already exist and would be replaced, e.g. "
                f"{existing[0].name}.\n\nReplace them?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
            if answer != QMessageBox.StandardButton.Yes:
                return None
            request = ExportRequest(request.items, request.out_dir, request.classes, request.formats,
                                    request.image_root, overwrite=True)
        self._save_choices()
        self.result = None
        self._set_exporting(True)
        self.export_requested.emit(request)
        return request

    def show_result(self, result: ExportResult) -> None:
        self.result = result
        self._set_exporting(False)
        self.status_label.setText(describe_result(result, Path(self.folder_edit.text().strip())))

    def show_error(self, message: str) -> None:
        self._set_exporting(False)
        self.status_label.setText(f'<span style="color:#c92a2a">{escape(message)}</span>')

    def show_cancelled(self) -> None:
        self._set_exporting(False)
        self.status_label.setText("Export cancelled; the files written so far stay.")

    def _checked_request(self) -> ExportRequest:
        if not self.folder_edit.text().strip():
            raise ConfigError("choose a folder to export into")
        request = self.request()
        if not request.items:
            raise ConfigError("none of the chosen images has a mask of this kind; pick other images or masks")
        return request

    def _set_exporting(self, exporting: bool) -> None:
        self.exporting = exporting
        self.status_label.clear()
        self._update_count()

    def _update_count(self, *_) -> None:
        names = self.scope_names()
        try:
            count = len(self.request().items) if self.formats else 0
        except SegLabError:
            count = 0
        missing = len(names) - count if self.formats else 0
        kind = "prediction" if self.source == "prediction" else "ground-truth mask"
        note = f" ({missing} of the chosen images have no {kind})" if missing > 0 else ""
        self.count_label.setText(f"{count} image(s) will be exported{note}.")
        self.export_button.setEnabled(count > 0 and bool(self.folder_edit.text().strip()) and not self.exporting)

    def _on_browse_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export into this folder", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)

    # settings -----------------------------------------------------------------------------------
    def _restore_choices(self) -> None:
        value = self.settings.value
        scope_index = self.scope_combo.findData(value(SETTINGS_PREFIX + "scope", "all"))
        self.scope_combo.setCurrentIndex(max(scope_index, 0))
        source = str(value(SETTINGS_PREFIX + "source", "prediction"))
        if source == "prediction" and not self.state.predictions:
            source = "truth"
        self.source_buttons.button(SOURCES.index(source if source in SOURCES else "prediction")).setChecked(True)
        saved = value(SETTINGS_PREFIX + "formats", list(DEFAULT_FORMATS))
        saved = [saved] if isinstance(saved, str) else list(saved or DEFAULT_FORMATS)
        for key, check in self.format_checks.items():
            check.setChecked(key in saved)
        default_folder = str(Path(self.state.index.root) / "export") if self.state.index is not None else ""
        self.folder_edit.setText(str(value(SETTINGS_PREFIX + "folder", default_folder) or default_folder))

    def _save_choices(self) -> None:
        self.settings.setValue(SETTINGS_PREFIX + "scope", self.scope)
        self.settings.setValue(SETTINGS_PREFIX + "source", self.source)
        self.settings.setValue(SETTINGS_PREFIX + "formats", list(self.formats))
        self.settings.setValue(SETTINGS_PREFIX + "folder", self.folder_edit.text().strip())


def describe_result(result: ExportResult, folder: Path) -> str:
    """What was written, by folder or file, and what failed (rich text)."""
    groups = Counter(path.parent.name if path.parent != folder else path.name for path in result.written)
    listed = ", ".join(f"{name} ({count})" if count > 1 else name for name, count in sorted(groups.items()))
    text = (f"Wrote {len(result.written)} file(s) into {escape(str(folder))} in {format_duration(result.seconds)}: "
            f"{escape(listed)}.")
    if result.cancelled:
        text += " Cancelled before the end."
    if result.failures:
        failed = "".join(f"<li>{escape(name)}: {escape(problem)}</li>" for name, problem in result.failures[:10])
        text += f"<p>{len(result.failures)} image(s) could not be exported:</p><ul>{failed}</ul>"
    return text
