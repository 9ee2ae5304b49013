"""Model > Segment Images…: which model (a SegLab model file or a BioImage.IO package), which images, and how
(tile size, test-time augmentation)."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.classes import ClassTable
from gui.chosen_images import chosen_label
from gui.model_field import ModelFileField, preselected_model_path
from gui.segment.package_classes_dialog import PackageClassesDialog, remembered_classes
from gui.state import AppState

SCOPES = ("all", "current", "unlabeled")
TILE_SIZES = (128, 4096)
SETTINGS_PREFIX = "segment/"


@dataclass(frozen=True)
class SegmentChoice:
    model_path: str
    names: list[str] | None  # None: every image
    tile_size: int
    tta: bool
    exact: bool = False  # 32-bit arithmetic only (core.inference PredictOptions.precision "exact")
    classes: ClassTable | None = None  # names and colours given for a package that has none


def scope_names(state: AppState, scope: str) -> list[str] | None:
    """Sample names for a scope (None = every image)."""
    index = state.index
    if scope == "current":
        return state.chosen_names()
    if scope == "unlabeled":
        return [s.name for s in index.unlabeled]
    return None


class SegmentDialog(QDialog):
    def __init__(self, state: AppState, settings: QSettings, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Segment Images")
        self.state = state
        self.settings = settings
        index = state.index
        remembered = str(settings.value(SETTINGS_PREFIX + "model", "") or "")
        self.model_field = ModelFileField(state.classes, preselected_model_path(state.model_path or remembered),
                                          packages=True)
        self.package_classes: ClassTable | None = None

        self.scope_buttons = QButtonGroup(self)
        scope_box = QVBoxLayout()
        labels = {
            "all": f"All images ({len(index.samples)})",
            "current": chosen_label(state),
            "unlabeled": f"Unlabeled images ({len(index.unlabeled)})",
        }
        for number, scope in enumerate(SCOPES):
            button = QRadioButton(labels[scope])
            button.setObjectName(f"scope_{scope}")
            self.scope_buttons.addButton(button, number)
            scope_box.addWidget(button)
        self.scope_button("current").setEnabled(bool(state.chosen_names()))
        self.scope_button("unlabeled").setEnabled(bool(index.unlabeled))
        saved = str(settings.value(SETTINGS_PREFIX + "scope", "all"))
        chosen = self.scope_button(saved if saved in SCOPES else "all")
        (chosen if chosen.isEnabled() else self.scope_button("all")).setChecked(True)

        self.tile_spin = QSpinBox()
        self.tile_spin.setRange(*TILE_SIZES)
        self.tile_spin.setSingleStep(32)
        self.tile_spin.setSuffix(" px")
        self.tile_spin.setValue(int(settings.value(SETTINGS_PREFIX + "tile_size", 512)))
        self.tile_spin.setToolTip("Large images are cut into tiles of this size (blended at the seams); "
                                  "smaller tiles need less memory")
        self.tta_check = QCheckBox("Test-time augmentation (average over flips; 3x slower, a little better)")
        self.tta_check.setChecked(settings.value(SETTINGS_PREFIX + "tta", False, type=bool))
        self.exact_check = QCheckBox("Exact 32-bit arithmetic only (slower; the default differs on at most 0.1% "
                                     "of the pixels)")
        self.exact_check.setToolTip("By default SegLab runs the model the fastest way it measured on this computer, "
                                    "in bfloat16 or 8-bit arithmetic where that is faster and its masks agree with "
                                    "32-bit on at least 99.9% of the pixels of the first images")
        self.exact_check.setChecked(settings.value(SETTINGS_PREFIX + "exact", False, type=bool))

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.segment_button = self.buttons.addButton("Segment", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.model_field.changed.connect(self._update_button)

        self.classes_label = QLabel()
        self.classes_label.setWordWrap(True)
        self.change_classes_button = QPushButton("Change\u2026")
        self.change_classes_button.setToolTip("Name the classes of this package's outputs and choose their colours")
        self.change_classes_button.clicked.connect(self._ask_package_classes)
        self.classes_row = QWidget()
        classes_box = QHBoxLayout(self.classes_row)
        classes_box.setContentsMargins(0, 0, 0, 0)
        classes_box.addWidget(self.classes_label, 1)
        classes_box.addWidget(self.change_classes_button)

        self.form = form = QFormLayout()
        form.addRow("Model:", self.model_field)
        form.addRow("Package classes:", self.classes_row)
        form.addRow("Images:", scope_box)
        form.addRow("Tile size:", self.tile_spin)
        form.addRow("", self.tta_check)
        form.addRow("", self.exact_check)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.resize(640, self.sizeHint().height())
        self._update_button()

    def scope_button(self, scope: str) -> QRadioButton:
        return self.scope_buttons.button(SCOPES.index(scope))

    @property
    def scope(self) -> str:
        return SCOPES[self.scope_buttons.checkedId()]

    def choice(self) -> SegmentChoice:
        return SegmentChoice(self.model_field.path, scope_names(self.state, self.scope), self.tile_spin.value(),
                             self.tta_check.isChecked(), self.exact_check.isChecked(), self.package_classes)

    def accept(self) -> None:
        package = self._package_without_classes()  # asked once per package, before its first run
        self.package_classes = remembered_classes(package, self.settings) if package is not None else None
        if package is not None and self.package_classes is None and not self._ask_package_classes():
            return
        self.settings.setValue(SETTINGS_PREFIX + "model", self.model_field.path)
        self.settings.setValue(SETTINGS_PREFIX + "scope", self.scope)
        self.settings.setValue(SETTINGS_PREFIX + "tile_size", self.tile_spin.value())
        self.settings.setValue(SETTINGS_PREFIX + "tta", self.tta_check.isChecked())
        self.settings.setValue(SETTINGS_PREFIX + "exact", self.exact_check.isChecked())
        super().accept()

    def _package_without_classes(self):
        package = self.model_field.package
        return package if package is not None and package.stored_classes is None else None

    def _ask_package_classes(self) -> bool:
        """The names and colours question for the chosen package; False when the user cancels it."""
        question = PackageClassesDialog(self._package_without_classes(), self.settings, self.state.classes, self)
        if not question.exec():
            return False
        self.package_classes = question.classes()
        self._update_button()
        return True

    def _update_button(self, *_) -> None:
        self.segment_button.setEnabled(self.model_field.spec is not None)
        package = self._package_without_classes()
        remembered = remembered_classes(package, self.settings) if package is not None else None
        self.classes_label.setText(", ".join(remembered.names) if remembered is not None
                                   else "asked when you click Segment")
        self.form.setRowVisible(self.classes_row, package is not None)
