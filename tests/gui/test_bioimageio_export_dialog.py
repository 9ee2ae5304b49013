"""The BioImage.IO export dialog writes the package in the background and remembers authors and licence."""

from __future__ import annotations

import zipfile

import pytest
import torch
import yaml
from PySide6.QtCore import QSettings

from core.classes import ClassTable
from core.models.model_file import save_model_file
from core.models.registry import create_model
from core.models.spec import ModelSpec
from gui.bioimageio_export_dialog import AUTHORS_KEY, LICENSE_KEY, BioimageioExportDialog


@pytest.fixture
def model_file(tmp_path, isbi_dir):
    torch.manual_seed(0)
    model = create_model("unet_classic", in_channels=1, out_channels=2, options={"base_channels": 8})
    spec = ModelSpec("unet_classic", 1, ClassTable.from_names(["background", "membrane"]), 2,
                     options={"base_channels": 8}, training={"data_dir": str(isbi_dir), "val_images": ["3"]})
    return save_model_file(tmp_path / "membranes", model.eval(), spec)


def test_dialog_exports_the_package_and_remembers_authors_and_licence(qtbot, model_file, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    dialog = BioimageioExportDialog(model_file, settings)
    qtbot.addWidget(dialog)
    dialog.authors_edit.setText("Ada Lovelace, Alan Turing")
    dialog.license_box.setCurrentText("MIT")
    dialog.output_edit.setText(str(tmp_path / "out.zip"))
    with qtbot.waitSignal(dialog.exported, timeout=120_000) as exported:
        dialog.export_button.click()
    with zipfile.ZipFile(exported.args[0]) as archive:
        rdf = yaml.safe_load(archive.read("rdf.yaml"))
    assert [a["name"] for a in rdf["authors"]] == ["Ada Lovelace", "Alan Turing"] and rdf["license"] == "MIT"
    again = BioimageioExportDialog(model_file, settings)
    qtbot.addWidget(again)
    assert again.authors_edit.text() == "Ada Lovelace, Alan Turing" and again.license_box.currentText() == "MIT"
    assert settings.value(AUTHORS_KEY) and settings.value(LICENSE_KEY) == "MIT"
