"""BioImage.IO in the window: Segment runs a package not written by SegLab (the spec's nuclei U-Net) on BBBC039
after asking once for its class names, refuses what it cannot run with the reason, and Model > Export for
BioImage.IO opens the export dialog on the window's model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from PIL import Image
from PySide6.QtCore import QSettings

from core.classes import ClassTable
from core.io.masks import read_mask
from gui.segment.package_classes_dialog import PackageClassesDialog, proposed_classes
from tests.gui import test_segment_export
from tests.gui.conftest import BBBC_SETTINGS, copy_pairs
from tests.gui.test_segment_export import RUN_TIMEOUT_MS, onnx_cache  # noqa: F401 (a fixture)

model_file = test_segment_export.model_file  # a tiny U-Net model file (a fixture)

EXAMPLE = "formats/bioimageio/unet2d_nuclei_broad"
SIDE = 320  # crops of BBBC039 fields: the package's 512 x 512 input is padded


@pytest.fixture
def example(data_dir):
    return data_dir / EXAMPLE


@pytest.fixture
def bbbc_two(bbbc_dir, tmp_path):
    stems = sorted(p.stem for p in (bbbc_dir / "images").glob("*.tif"))[:2]
    folder = copy_pairs(bbbc_dir, tmp_path / "bbbc", stems, ".tif", ".png")
    for path in [*folder.glob("images/*.tif"), *folder.glob("masks/*.png")]:
        Image.fromarray(np.asarray(Image.open(path))[:SIDE, :SIDE]).save(path)
    (folder / "seglab.json").write_text(json.dumps(BBBC_SETTINGS))
    return folder


def test_a_package_without_class_names_is_asked_once_and_segments_the_nuclei(qtbot, main_window, show_folder,
                                                                             bbbc_two, example, monkeypatch):
    window, state = main_window, main_window.state
    show_folder(window, bbbc_two)
    asked = []

    def answer(question: PackageClassesDialog) -> int:
        asked.append([edit.text() for edit in question.name_edits])
        question.grab().save("/tmp/seglab_package_classes.png")
        question.name_edits[1].setText("nucleus (zoo)")
        question.accept()
        return question.result()

    monkeypatch.setattr(PackageClassesDialog, "exec", answer)
    dialog = window.segmentation.open_dialog()
    dialog.model_field.set_path(str(example / "bioimageio.yaml"))
    assert "package" in dialog.model_field.info.text() and "asked for names" in dialog.model_field.info.text()
    assert dialog.segment_button.isEnabled()
    dialog.accept()
    assert asked == [["background", "nucleus"]]  # the dataset's classes fit the package's two
    qtbot.waitUntil(lambda: not window.segmentation.running, timeout=RUN_TIMEOUT_MS)

    summary = window.segmentation.last_summary
    assert summary.done == 2 and not summary.failures, summary
    overlap = union = 0
    for sample in state.index.samples:
        predicted = read_mask(state.predictions[sample.name])
        assert predicted.shape == (SIDE, SIDE)
        nuclei = state.index.load_mask(sample) == 1
        overlap += np.count_nonzero((predicted == 1) & nuclei)
        union += np.count_nonzero((predicted == 1) | nuclei)
    assert overlap / union > 0.6  # the zoo model finds the nuclei
    np.testing.assert_array_equal(state.document.prediction, read_mask(state.predictions[state.current_name]))
    assert state.model_path is None  # the window's model stays a SegLab model file
    remembered = window.settings.value("segment/package_classes/" + str(example / "bioimageio.yaml"))
    assert ClassTable.from_json(json.loads(remembered)).names == ["background", "nucleus (zoo)"]

    again = window.segmentation.open_dialog()  # the next run takes the answer without asking
    again.model_field.set_path(str(example / "bioimageio.yaml"))
    assert again.form.isRowVisible(again.classes_row)
    assert again.classes_label.text() == "background, nucleus (zoo)"
    assert again.choice().classes is None and len(asked) == 1
    again.accept()
    assert len(asked) == 1 and again.choice().classes.names == ["background", "nucleus (zoo)"]
    qtbot.waitUntil(lambda: not window.segmentation.running, timeout=RUN_TIMEOUT_MS)
    changed = window.segmentation.open_dialog()  # "Change..." asks again, proposing the last answer
    changed.model_field.set_path(str(example / "bioimageio.yaml"))
    changed.change_classes_button.click()
    assert asked[-1] == ["background", "nucleus (zoo)"] and len(asked) == 2
    changed.reject()
    changed.model_field.set_path("")
    assert not changed.form.isRowVisible(changed.classes_row)  # only packages without names have the row


def test_a_package_segmentation_cannot_run_is_refused_with_the_reason(main_window, show_folder, bbbc_two, example,
                                                                      tmp_path):
    rdf = yaml.safe_load((example / "bioimageio.yaml").read_text())
    rdf["inputs"][0]["axes"].insert(2, {"type": "space", "id": "z", "size": 16})
    (tmp_path / "three_d").mkdir()
    (tmp_path / "three_d" / "rdf.yaml").write_text(yaml.safe_dump(rdf))
    show_folder(main_window, bbbc_two)
    dialog = main_window.segmentation.open_dialog()
    dialog.model_field.set_path(str(tmp_path / "three_d"))
    assert "it is a 3D model; SegLab runs 2D models" in dialog.model_field.info.text()
    assert not dialog.segment_button.isEnabled()
    dialog.reject()


def test_the_question_proposes_background_and_foreground_for_one_probability(example, tmp_path):
    from core.bioimageio.package import read_package

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    package = read_package(example / "bioimageio.yaml")
    assert proposed_classes(package, settings, ClassTable.default(2)).names == ["background", "foreground"]
    assert proposed_classes(package, settings, ClassTable.default(3)).names == ["background", "foreground"]


def test_export_action_opens_the_dialog_on_the_windows_model(qtbot, main_window, model_file, isbi_dir):
    window = main_window
    dialog = window.export_bioimageio()
    assert dialog.model_field.path == "" and not dialog.export_button.isEnabled()  # nothing trained or chosen
    dialog.reject()
    window.state.set_model(str(model_file))
    dialog = window.export_bioimageio()
    assert dialog.isVisible() and dialog.model_field.path == str(model_file)
    assert dialog.export_button.isEnabled() and dialog.output_edit.text().endswith("tiny.bioimageio.zip")
    assert window.bioimageio_action in window.model_menu.actions()
    dialog.reject()
