"""The question Segment asks once for a BioImage.IO package that does not name its classes: a name and a
colour for each class its outputs give (one probability: background and foreground)."""

from __future__ import annotations

import json

from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QColorDialog,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.classes import ClassSpec, ClassTable, colour_hex
from core.errors import ConfigError

ANSWERS_KEY = "segment/package_classes/"  # + package path: the table the user gave (JSON)


def remembered_classes(package, settings: QSettings) -> ClassTable | None:
    """The answer given before for this package, when it still fits the package's outputs."""
    count = 2 if package.out_channels == 1 else package.out_channels
    saved = settings.value(ANSWERS_KEY + str(package.path))
    if not saved:
        return None
    try:
        table = ClassTable.from_json(json.loads(saved))
    except (ValueError, ConfigError):
        return None
    return table if len(table) == count else None


def proposed_classes(package, settings: QSettings, dataset: ClassTable | None) -> ClassTable:
    """What the question offers first: the answer given before for this package, else the dataset's classes
    when their number fits, else "background"/"foreground" for one probability or the output names."""
    count = 2 if package.out_channels == 1 else package.out_channels
    remembered = remembered_classes(package, settings)
    if remembered is not None:
        return remembered
    if dataset is not None and len(dataset) == count and dataset != ClassTable.default(count):
        return dataset
    return ClassTable.from_names(["background", "foreground"]) if package.out_channels == 1 else package.classes


class PackageClassesDialog(QDialog):
    """Names and colours for a package's classes; `classes()` gives the table, remembered on accept."""

    def __init__(self, package, settings: QSettings, dataset: ClassTable | None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Classes of the model")
        self._settings = settings
        self._key = ANSWERS_KEY + str(package.path)
        proposed = proposed_classes(package, settings, dataset)
        outputs = ("one probability per pixel (above 0.5: class 1)" if package.out_channels == 1
                   else f"{package.out_channels} scores per pixel (the highest wins)")
        intro = QLabel(f"\u201c{package.name}\u201d gives {outputs} but does not name its classes. Name them and "
                       "choose their colours; the masks it writes carry these names.")
        intro.setWordWrap(True)
        grid = QGridLayout()
        grid.addWidget(QLabel("<b>Value</b>"), 0, 0)
        grid.addWidget(QLabel("<b>Name</b>"), 0, 1)
        grid.addWidget(QLabel("<b>Colour</b>"), 0, 2)
        self.name_edits: list[QLineEdit] = []
        self.colour_buttons: list[QPushButton] = []
        self._colours = [spec.colour for spec in proposed]
        for spec in proposed:
            edit = QLineEdit(spec.name)
            button = QPushButton()
            button.setFixedWidth(64)
            button.clicked.connect(lambda _=False, i=spec.index: self._on_colour_clicked(i))
            grid.addWidget(QLabel(str(spec.index)), spec.index + 1, 0)
            grid.addWidget(edit, spec.index + 1, 1)
            grid.addWidget(button, spec.index + 1, 2)
            self.name_edits.append(edit)
            self.colour_buttons.append(button)
            self._show_colour(spec.index)
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #c92a2a")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(grid)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)
        self.resize(460, self.sizeHint().height())

    def classes(self) -> ClassTable:
        return ClassTable(tuple(ClassSpec(i, edit.text().strip(), self._colours[i])
                                for i, edit in enumerate(self.name_edits)))

    def accept(self) -> None:
        names = [edit.text().strip() for edit in self.name_edits]
        if not all(names) or len(set(names)) != len(names):
            self.problem.setText("Every class needs a name of its own.")
            return
        self._settings.setValue(self._key, json.dumps(self.classes().to_json()))
        super().accept()

    def _on_colour_clicked(self, index: int) -> None:
        colour = QColorDialog.getColor(QColor(*self._colours[index]), self, f"Colour of class {index}")
        if colour.isValid():
            self._colours[index] = (colour.red(), colour.green(), colour.blue())
            self._show_colour(index)

    def _show_colour(self, index: int) -> None:
        self.colour_buttons[index].setStyleSheet(f"background-color: {colour_hex(self._colours[index])}")
