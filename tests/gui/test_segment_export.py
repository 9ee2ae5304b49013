"""Batch segmentation, export and evaluation driven from the real window on a copy of ISBI 2012; every file
written is read back and checked, the report's numbers are core's, and the PDF renders."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image
from PySide6.QtWidgets import QMessageBox

from core.classes import ClassTable
from core.data.workspace import predictions_dir
from core.io.images import read_image
from core.io.masks import read_mask
from core.models.spec import ModelSpec
from gui.dialogs import FAILURE_DIALOG
from tests.core.export_checks import check_coco, check_measurements, check_rois
from tests.gui.conftest import copy_pairs

RUN_TIMEOUT_MS = 90_000
CLASSES = ClassTable.default(2)  # what SegLab proposes for ISBI: background, class 1


@pytest.fixture(autouse=True)
def onnx_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGLAB_ONNX_CACHE", str(tmp_path / "onnx"))


@pytest.fixture
def model_file(tmp_path, isbi_dir):
    """A small U-Net (random weights, output bias set so both classes occur on ISBI) saved as a model file."""
    import torch

    from core.models.model_file import save_model_file
    from core.models.registry import build_from_spec

    torch.manual_seed(0)
    spec = ModelSpec("unet_classic", 1, CLASSES, 2, options={"base_channels": 4}, patch_size=256)
    model = build_from_spec(spec).eval()
    image = read_image(isbi_dir / "images" / "0.png")[:256, :256]
    with torch.no_grad():
        logits = model(torch.from_numpy(spec.normalisation.apply(image))[None])
        margin = (logits[:, 1] - logits[:, 0]).median()
        model.outc.bias[1] -= margin
    return save_model_file(tmp_path / "tiny.safetensors", model, spec)


@pytest.fixture
def isbi_four(isbi_dir, tmp_path):
    """Four ISBI slices with masks, cropped to 256 x 256 (one tile each) to keep the tests fast."""
    folder = copy_pairs(isbi_dir, tmp_path / "isbi", ["0", "1", "2", "3"], ".png", ".png")
    for path in [*folder.glob("images/*.png"), *folder.glob("masks/*.png")]:
        Image.open(path).crop((128, 128, 384, 384)).save(path)
    return folder


def segment(qtbot, window, model_file, scope="all", exact=False):
    dialog = window.segmentation.open_dialog()
    dialog.model_field.set_path(str(model_file))
    dialog.scope_button(scope).setChecked(True)
    dialog.tile_spin.setValue(256)
    dialog.exact_check.setChecked(exact)
    assert dialog.segment_button.isEnabled()
    dialog.accept()
    assert window.segmentation.running and window.segmentation.progress_widget.isVisible()
    qtbot.waitUntil(lambda: not window.segmentation.running, timeout=RUN_TIMEOUT_MS)


def expected_prediction(model_file, image_path):
    from core.inference import PredictOptions, Predictor

    predictor = Predictor.from_file(model_file, PredictOptions(tile_size=256, overlap=64, device="auto"))
    return predictor.predict(read_image(image_path))


def test_segment_dialog_fills_predictions_as_they_finish(qtbot, main_window, show_folder, isbi_four, model_file):
    window, state = main_window, main_window.state
    show_folder(window, isbi_four, "0")
    arrivals = []
    state.prediction_changed.connect(lambda name: arrivals.append((name, window.segmentation.running)))
    segment(qtbot, window, model_file)

    names = [s.name for s in state.index.samples]
    assert sorted(name for name, _ in arrivals) == sorted(names) and arrivals[0][1]  # first one mid-run
    assert sorted(state.predictions) == sorted(names) and state.model_path == str(model_file)
    folder = predictions_dir(isbi_four)
    for name in names:
        assert state.predictions[name] == str(folder / f"{name}.png")
        predicted = read_mask(state.predictions[name])
        np.testing.assert_array_equal(predicted, expected_prediction(model_file, isbi_four / "images" / f"{name}.png"))
        assert 0.05 < predicted.mean() < 0.95  # both classes occur
        assert state.sample_status(name).predicted
    np.testing.assert_array_equal(state.document.prediction, read_mask(folder / "0.png"))
    assert not window.segmentation.progress_widget.isVisible()
    assert window.segmentation.last_summary.done == 4 and not window.segmentation.last_summary.failures

    state.set_index(None)  # reopening the folder brings the stored predictions back
    show_folder(window, isbi_four, "0")
    assert sorted(state.predictions) == sorted(names) and state.sample_status("1").predicted
    np.testing.assert_array_equal(state.document.prediction, read_mask(folder / "0.png"))


def test_exact_arithmetic_reaches_the_predictor_and_says_what_it_used(qtbot, main_window, show_folder, isbi_four,
                                                                     model_file):
    window, state = main_window, main_window.state
    show_folder(window, isbi_four, "0")
    segment(qtbot, window, model_file, exact=True)
    summary = window.segmentation.last_summary
    assert summary.done == 4 and len(state.predictions) == 4
    assert "32-bit on" in summary.backend and "agree" not in summary.backend, summary.backend
    assert window.settings.value("segment/exact", type=bool)


def test_a_broken_image_is_listed_and_the_others_are_segmented(qtbot, main_window, show_folder, isbi_four,
                                                               model_file):
    (isbi_four / "images" / "2.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    window, state = main_window, main_window.state
    show_folder(window, isbi_four, "0")
    segment(qtbot, window, model_file)
    assert sorted(state.predictions) == ["0", "1", "3"]
    box = window.findChild(QMessageBox, FAILURE_DIALOG)
    assert box is not None and "1 of 4" in box.text() and "2.png" in box.text()
    box.close()


def test_images_with_nan_pixels_are_segmented_and_listed_with_their_warning(qtbot, main_window, show_folder,
                                                                           isbi_four, model_file):
    import tifffile

    image = read_image(isbi_four / "images" / "1.png").astype(np.float32)
    image[:8, :8] = np.nan
    tifffile.imwrite(isbi_four / "images" / "1.tif", image)
    (isbi_four / "images" / "1.png").unlink()
    window, state = main_window, main_window.state
    show_folder(window, isbi_four, "0")
    segment(qtbot, window, model_file)
    assert sorted(state.predictions) == ["0", "1", "2", "3"]
    box = window.findChild(QMessageBox, FAILURE_DIALOG)
    assert box is not None and box.windowTitle() == "Some images need a look"
    assert "1 image(s) were segmented with a warning" in box.text() and "1.tif: 64 pixels are NaN" in box.text()
    box.close()


def test_cancel_and_closing_the_window_stop_the_run(qtbot, main_window, show_folder, isbi_four, model_file,
                                                   monkeypatch):
    import time

    import core.inference.folder as folder_run

    for index in range(4, 8):  # two groups of four one-tile images: cancel lands between their network calls
        for kind in ("images", "masks"):
            shutil.copy(isbi_four / kind / "0.png", isbi_four / kind / f"{index}.png")
    window, state = main_window, main_window.state
    show_folder(window, isbi_four, "0")
    slow_read = folder_run.read_image
    monkeypatch.setattr(folder_run, "read_image", lambda path: (time.sleep(0.4), slow_read(path))[1])
    state.prediction_changed.connect(lambda _name: window.segmentation.progress_widget.cancel_button.click())
    segment(qtbot, window, model_file)
    assert 1 <= len(state.predictions) < 8 and window.segmentation.last_summary.cancelled

    state.prediction_changed.disconnect()
    state.predictions.clear()
    window.segmentation.segment(window.segmentation.options)
    assert window.segmentation.running
    window.close()  # cancels and waits for the run
    assert window.segmentation.runner.pool.activeThreadCount() == 0


def test_export_dialog_writes_every_format_and_asks_before_replacing(qtbot, main_window, show_folder, isbi_four,
                                                                     model_file, tmp_path, monkeypatch):
    window, state = main_window, main_window.state
    show_folder(window, isbi_four, "0")
    segment(qtbot, window, model_file)
    out = tmp_path / "export"

    dialog = window.exports.open_dialog()
    dialog.scope_combo.setCurrentIndex(dialog.scope_combo.findData("predicted"))
    dialog.source_buttons.button(0).setChecked(True)  # predictions
    for check in dialog.format_checks.values():
        check.setChecked(True)
    dialog.folder_edit.setText(str(out))
    assert dialog.count_label.text().startswith("4 image(s)")
    dialog.start_export()
    qtbot.waitUntil(lambda: dialog.result is not None, timeout=RUN_TIMEOUT_MS)
    assert not dialog.result.failures and "Wrote" in dialog.status_label.text()
    for name in state.predictions:
        prediction = read_mask(state.predictions[name])
        np.testing.assert_array_equal(read_mask(out / "masks" / f"{name}.png"), prediction)
        np.testing.assert_array_equal(read_mask(out / "label_tiff" / f"{name}.tif"), prediction)
        check_coco(out / "coco.json", prediction, state.classes, f"images/{name}.png")
        check_rois(out / "imagej_rois" / f"{name}.zip", prediction, state.classes)
        check_measurements(out / "measurements.csv", prediction, state.classes, name)
        colours = np.asarray(read_image(out / "colour_masks" / f"{name}.png"))[:, :, :3]
        np.testing.assert_array_equal(colours, state.classes.colours_array()[prediction])
        assert read_image(out / "overlays" / f"{name}.png").shape == (256, 256, 3)
        assert json.loads((out / "labelme" / f"{name}.json").read_text())["imagePath"].endswith(f"{name}.png")

    # again: the dialog asks first; "No" leaves every file as it was, "Yes" replaces them
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.No)
    assert dialog.start_export() is None
    assert "would be replaced" in asked[0] and asked[0].startswith(f"{len(before)} file(s)")
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    dialog.source_buttons.button(1).setChecked(True)  # ground truth this time
    dialog.start_export()
    qtbot.waitUntil(lambda: not window.exports.running, timeout=RUN_TIMEOUT_MS)
    truth = state.index.load_mask(state.index.sample("1"))
    np.testing.assert_array_equal(read_mask(out / "masks" / "1.png"), truth)
    dialog.reject()

    remembered = window.exports.open_dialog()  # choices come back
    assert remembered.formats == tuple(dialog.format_checks) and remembered.folder_edit.text() == str(out)
    assert remembered.source == "truth" and remembered.scope == "predicted"
    remembered.reject()


def test_an_export_is_cancelled_from_its_dialog_and_stopped_when_the_dialog_or_window_closes(
        qtbot, main_window, show_folder, isbi_four, tmp_path, monkeypatch):
    import time

    import core.export.exporter as exporter

    window = main_window
    show_folder(window, isbi_four, "0")
    slow_export = exporter._ExportRun.export
    monkeypatch.setattr(exporter._ExportRun, "export", lambda run, item: (time.sleep(0.3), slow_export(run, item)))
    out = tmp_path / "export"

    def start_export(dialog):
        dialog.source_buttons.button(1).setChecked(True)  # ground truth: all four images have it
        dialog.folder_edit.setText(str(out))
        assert dialog.start_export() is not None and window.exports.running
        progress = window.exports.progress_widget
        assert progress.parent() is dialog and progress.isVisible() and not dialog.export_button.isEnabled()
        qtbot.waitUntil(lambda: (out / "masks" / "0.png").exists(), timeout=RUN_TIMEOUT_MS)
        return progress

    dialog = window.exports.open_dialog()
    start_export(dialog).cancel_button.click()
    qtbot.waitUntil(lambda: not window.exports.running, timeout=RUN_TIMEOUT_MS)
    assert "Export cancelled" in dialog.status_label.text() and dialog.export_button.isEnabled()
    written = sorted(p.name for p in (out / "masks").iterdir())
    assert 1 <= len(written) < 4 and "0.png" in written  # the files written so far stay

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    start_export(dialog)
    dialog.reject()  # closing the dialog cancels its export
    qtbot.waitUntil(lambda: not window.exports.running, timeout=RUN_TIMEOUT_MS)

    again = window.exports.open_dialog()  # the progress line moves into the new dialog
    start_export(again)
    window.close()  # cancels and waits, like every other job
    assert window.exports.task.is_cancelled and window.exports.runner.pool.activeThreadCount() == 0


def test_evaluation_report_matches_core_and_its_pdf_renders(qtbot, main_window, show_folder, isbi_four, model_file,
                                                            tmp_path):
    from core.evaluation import evaluate_model
    from core.inference import PredictOptions, Predictor
    from gui.report.evaluate_dialog import EvaluateChoice

    window, state = main_window, main_window.state
    show_folder(window, isbi_four, "0")
    out = tmp_path / "report"
    window.evaluation.evaluate(EvaluateChoice(str(model_file), out, pdf=True))
    qtbot.waitUntil(lambda: window.evaluation.outcome is not None, timeout=RUN_TIMEOUT_MS)

    core = evaluate_model(Predictor.from_file(model_file, PredictOptions(device="auto")), model_file, isbi_four)
    written = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert written["dataset"] == core.dataset_summary()
    assert {i["name"]: i["mean_iou"] for i in written["images"]} == \
        {r.name: r.matrix.mean_iou() for r in core.results}
    html = (out / "report.html").read_text(encoding="utf-8")
    assert f"{core.dataset_matrix().mean_iou():.4f}" in html and html.count("data:image/png;base64,") >= 5
    assert sorted(state.predictions) == ["0", "1", "2", "3"]  # its predictions are shown too

    table = window.evaluation.widget.image_table
    worst = min(core.results, key=lambda r: r.matrix.mean_iou()).name
    assert window.docks["evaluation"].isVisible() and table.rowCount() == 4
    assert window.evaluation.widget.image_names()[0] == worst
    table.itemDoubleClicked.emit(table.item(0, 1))
    qtbot.waitUntil(lambda: state.current_name == worst, timeout=RUN_TIMEOUT_MS)

    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed: the PDF cannot be rendered to check it")
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(out / "report.pdf"),
                    str(tmp_path / "page")], check=True, timeout=60)
    page = read_image(next(tmp_path.glob("page*.png")))
    assert page.shape[0] > page.shape[1] > 300  # an A4 portrait page
    assert (page < 128).mean() > 0.005  # with text and pictures on it
