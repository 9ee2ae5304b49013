"""The Evaluation panel in the real window: it scores only the images the model never trained on unless
asked, says how many it left out, marks trained-on rows, lists warnings, and empties when another folder
opens; a row whose image is gone says so instead of failing."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image
from PySide6.QtGui import QColor

from core.classes import ClassTable
from core.models.spec import ModelSpec
from gui.report.evaluate_dialog import EvaluateChoice
from gui.report.report_widget import EMPTY_TEXT, TRAINED_TIP
from tests.gui.conftest import LOAD_TIMEOUT_MS, copy_pairs

RUN_TIMEOUT_MS = 90_000
TRAINING = {"data_dir": "/lab/isbi", "train_images": ["0", "1"], "val_images": ["2"]}


@pytest.fixture(autouse=True)
def onnx_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGLAB_ONNX_CACHE", str(tmp_path / "onnx"))


@pytest.fixture
def isbi_four(isbi_dir, tmp_path):
    """Four ISBI slices cropped to 128 x 128; slice 3 is a float TIFF with a few NaN pixels."""
    folder = copy_pairs(isbi_dir, tmp_path / "isbi", ["0", "1", "2", "3"], ".png", ".png")
    for path in [*folder.glob("images/*.png"), *folder.glob("masks/*.png")]:
        Image.open(path).crop((128, 128, 256, 256)).save(path)
    image = np.asarray(Image.open(folder / "images" / "3.png"), np.float32)
    image[:4, :4] = np.nan
    tifffile.imwrite(folder / "images" / "3.tif", image)
    (folder / "images" / "3.png").unlink()
    return folder


@pytest.fixture
def trained_model(tmp_path):
    """A tiny U-Net (random weights) whose file says it was trained on slices 0 and 1."""
    import torch

    from core.models.model_file import save_model_file
    from core.models.registry import build_from_spec

    torch.manual_seed(0)
    spec = ModelSpec("unet_classic", 1, ClassTable.default(2), 2, options={"base_channels": 4}, patch_size=128,
                     training=TRAINING)
    return save_model_file(tmp_path / "tiny.safetensors", build_from_spec(spec), spec)


def evaluate(qtbot, window, model, out, include_training=False):
    window.evaluation.outcome = None
    window.evaluation.evaluate(EvaluateChoice(str(model), out, pdf=False, include_training=include_training))
    qtbot.waitUntil(lambda: window.evaluation.outcome is not None, timeout=RUN_TIMEOUT_MS)
    return window.evaluation.widget


def test_the_dialog_offers_the_training_images_with_their_count(main_window, show_folder, isbi_four, trained_model):
    window = main_window
    show_folder(window, isbi_four, "0")
    dialog = window.evaluation.open_dialog()
    dialog.model_field.set_path(str(trained_model))
    assert not dialog.training_check.isChecked() and dialog.training_check.isEnabled()
    assert dialog.training_check.text() == "Include images the model was trained on (2 more, marked in the report)"
    assert "the 2 images with ground truth it never trained on" in dialog.scope_label.text()
    dialog.training_check.setChecked(True)
    assert dialog.choice().include_training and "all 4 images" in dialog.scope_label.text()
    dialog.reject()


def test_the_panel_says_what_it_left_out_and_marks_included_training_images(qtbot, main_window, show_folder,
                                                                            isbi_four, trained_model, tmp_path):
    window = main_window
    show_folder(window, isbi_four, "0")
    panel = evaluate(qtbot, window, trained_model, tmp_path / "held_out")
    assert sorted(panel.image_names()) == ["2", "3"]
    assert panel.image_table.columnCount() == 4 + 2  # no "Trained on" column: none was scored
    text = panel.summary_label.text()
    assert "Scored 2 images the model never trained on; left out 2 it was trained on" in text
    assert "1 scored with a warning" in text and "3.tif: " in panel.summary_label.toolTip()
    html = (tmp_path / "held_out" / "report.html").read_text(encoding="utf-8")
    assert "Scored with a warning (1)" in html and "NaN or infinite" in html

    panel = evaluate(qtbot, window, trained_model, tmp_path / "all", include_training=True)
    report = window.evaluation.outcome.report
    assert sorted(panel.image_names()) == ["0", "1", "2", "3"]
    text = panel.summary_label.text()
    assert (f"mIoU {report.held_out['mean_iou']:.4f}</b> on the 2 images never trained on "
            f"({report.dataset['mean_iou']:.4f} on all 4 scored)") in text
    table = panel.image_table
    column = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())].index("Trained on")
    for row in range(table.rowCount()):
        name, mark = table.item(row, 0), table.item(row, column)
        trained = name.text() in TRAINING["train_images"]
        assert mark.text() == ("yes" if trained else "no")
        assert name.font().italic() == trained and (name.toolTip() == TRAINED_TIP) == trained
        assert (name.foreground().color() == QColor(120, 120, 120)) == trained


def test_another_folder_empties_the_panel_and_a_missing_image_is_named(qtbot, main_window, show_folder, isbi_four,
                                                                      bbbc_copy, trained_model, tmp_path):
    """Issue 11.7: the old results stayed listed and a double-click ended in 'Something went wrong'."""
    window, state = main_window, main_window.state
    show_folder(window, isbi_four, "0")
    panel = evaluate(qtbot, window, trained_model, tmp_path / "report")
    assert panel.image_table.rowCount() == 2

    (isbi_four / "images" / "2.png").unlink()  # the folder changes; reopened, row "2" has no image any more
    scanned = state.index
    window.open_folder(str(isbi_four))
    qtbot.waitUntil(lambda: state.index is not scanned and state.document is not None, timeout=LOAD_TIMEOUT_MS)
    assert panel.image_table.rowCount() == 2  # the same folder: its results stay
    messages = []
    state.message.connect(messages.append)
    row = panel.image_names().index("2")
    panel.image_table.itemDoubleClicked.emit(panel.image_table.item(row, 1))
    assert messages[-1] == f"2 is not in this folder; open {isbi_four.resolve()} to see it."

    show_folder(window, bbbc_copy)
    assert panel.image_table.rowCount() == 0 and panel.class_table.rowCount() == 0
    assert panel.summary_label.text() == EMPTY_TEXT and not panel.html_button.isEnabled()
