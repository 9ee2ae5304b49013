"""Choose a model file and see what it is: architecture, its classes, and whether they match the dataset's."""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from core.classes import ClassTable, colour_hex
from core.errors import SegLabError
from core.resources import resource_path

STARTER_MODEL = "starter_model.safetensors"
MODEL_FILTER = "SegLab models (*.safetensors);;All files (*)"
PACKAGE_FILTER = ("SegLab models and BioImage.IO packages (*.safetensors *.zip rdf.yaml bioimageio.yaml "
                  "*.bioimageio.yaml);;All files (*)")


def starter_model_path() -> str | None:
    """The bundled starter model (nuclei, trained on the sample), if this installation has it."""
    path = resource_path(STARTER_MODEL)
    return str(path) if path.is_file() else None


def preselected_model_path(state_model: str | None) -> str:
    """The model a dialog offers first: the window's model, else the starter model, else nothing."""
    if state_model and Path(state_model).exists():  # a file, or a BioImage.IO package folder
        return state_model
    return starter_model_path() or ""


def chosen_model_file(*candidates: str | None) -> str:
    """The first candidate that is a SegLab model file (.safetensors), or "" (no starter model fallback)."""
    return next((c for c in candidates if c and c.endswith(".safetensors") and Path(c).is_file()), "")


def classes_match(model: ClassTable, dataset: ClassTable) -> bool:
    return model.names == dataset.names


class ModelFileField(QWidget):
    """A model path with Browse…, and a description of the chosen file (or why it cannot be used).
    With `packages`, BioImage.IO packages (a .zip, an rdf.yaml / bioimageio.yaml, or their folder) are
    accepted too; `package` is then the package read, else None."""

    changed = Signal(str)

    def __init__(self, dataset_classes: ClassTable | None, path: str = "", parent: QWidget | None = None,
                 packages: bool = False):
        super().__init__(parent)
        self.dataset_classes = dataset_classes
        self.packages = packages
        self.spec = None  # ModelSpec of a readable model file
        self.package = None  # core.bioimageio.package.Package, when the path is one
        self.edit = QLineEdit(path)
        self.edit.setPlaceholderText("a SegLab model file (.safetensors)" + (
            " or a BioImage.IO package (.zip, rdf.yaml)" if packages else ""))
        self.browse_button = QPushButton("Browse…")
        self.info = QLabel()
        self.info.setWordWrap(True)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        row.addWidget(self.browse_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.info)
        self.browse_button.clicked.connect(self._on_browse_clicked)
        self.edit.editingFinished.connect(self._refresh)
        self._refresh()

    @property
    def path(self) -> str:
        return self.edit.text().strip()

    def set_path(self, path: str) -> None:
        self.edit.setText(path)
        self._refresh()

    def _on_browse_clicked(self) -> None:
        start = self.path or str(resource_path())
        path, _ = QFileDialog.getOpenFileName(self, "Choose a model file", start,
                                              PACKAGE_FILTER if self.packages else MODEL_FILTER)
        if path:
            self.set_path(path)

    def _refresh(self) -> None:
        from core.bioimageio.package import is_package
        from core.models.model_file import describe_architecture, read_model_spec

        self.spec = self.package = None
        if not self.path:
            self.info.setText("Choose a model file.")
        elif is_package(self.path) and not self.packages:
            self.info.setText('<span style="color:#c92a2a">A BioImage.IO package cannot be used here; choose a '
                              "SegLab model file (.safetensors).</span>")
        else:
            try:
                if is_package(self.path):
                    described = self._read_package()
                else:
                    self.spec = read_model_spec(self.path)
                    described = escape(describe_architecture(self.spec))
            except SegLabError as exc:
                self.info.setText(f'<span style="color:#c92a2a">{escape(exc.reason)}</span>')
            else:
                self.info.setText(f"{described}, classes: {_class_list(self.spec.classes)}<br>{self._match_text()}")
        self.changed.emit(self.path)

    def _read_package(self) -> str:
        """Read the package at `path` (refusals raise with the reason) and describe it."""
        from core.bioimageio.importing import package_spec
        from core.bioimageio.package import read_package

        self.package = read_package(self.path)
        self.spec = package_spec(self.package)
        return (f"BioImage.IO package “{escape(self.package.name)}” ({', '.join(self.package.formats)} "
                "weights)")

    def _match_text(self) -> str:
        if self.dataset_classes is None or self.spec is None:
            return ""
        if self.package is not None and self.package.stored_classes is None:
            return "The package does not name its classes; you are asked for names and colours when you start."
        if classes_match(self.spec.classes, self.dataset_classes):
            return "The model's classes match this dataset's."
        return ('<span style="color:#b35c00">The model\'s classes differ from this dataset\'s '
                f"({escape(', '.join(self.dataset_classes.names))}); its masks use the model's classes.</span>")


def _class_list(classes: ClassTable) -> str:
    return ", ".join(f'<span style="color:{colour_hex(c.colour)}">&#9632;</span> {escape(c.name)}' for c in classes)
