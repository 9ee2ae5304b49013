"""Stacks in the window: an ImageJ hyperstack (2 time points x 3 z slices x 2 channels, 0.65 µm pixels) opens
as one item per plane, shows a scale bar and positions in µm, segments plane by plane with the dataset's
channel, and File > Dataset Settings… saves the pixel size and the channel."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from core.data.settings import SETTINGS_FILE
from core.inference import PredictOptions, Predictor
from core.io.masks import read_mask
from gui.browser.browser_model import DatasetBrowserModel
from gui.segment.segment_dialog import SegmentChoice
from tests.gui import test_segment_export
from tests.gui.conftest import LOAD_TIMEOUT_MS
from tests.gui.test_segment_export import RUN_TIMEOUT_MS, onnx_cache  # noqa: F401 (a fixture)

model_file = test_segment_export.model_file  # a tiny U-Net model file (a fixture)

STACK = "bbbc039_imagej_hyperstack_TZCYX"
PLANES = [f"{STACK}_t{t}_z{z}" for t in (1, 2) for z in (1, 2, 3)]


@pytest.fixture
def stack_folder(data_dir, tmp_path):
    """The hyperstack alone in a folder whose seglab.json says 1-channel models read "Channel 1"."""
    folder = tmp_path / "stack"
    folder.mkdir()
    shutil.copy(data_dir / "formats" / "tiff" / f"{STACK}.tif", folder)
    settings = {"version": 2, "classes": [{"index": 0, "name": "background", "colour": "#000000"},
                                          {"index": 1, "name": "nucleus", "colour": "#E69F00"}],
                "mask_encoding": {"mode": "auto"}, "channel": "Channel 1", "pixel_size_um": None}
    (folder / SETTINGS_FILE).write_text(json.dumps(settings))
    return folder


def test_planes_are_items_with_their_label_and_a_scale_bar_in_micrometres(qtbot, main_window, show_folder,
                                                                          stack_folder, isbi_copy):
    window, state = main_window, main_window.state
    show_folder(window, isbi_copy)
    assert not window.viewer.scale_bar.isVisible()  # PNG slices state no pixel size
    show_folder(window, stack_folder, PLANES[5])
    assert [s.name for s in state.index.samples] == PLANES
    model = window.browser.findChild(DatasetBrowserModel)
    tooltip = model.data(model.index(5), Qt.ItemDataRole.ToolTipRole)
    assert f"{STACK}.tif · T2 Z3" in tooltip

    bar = window.viewer.scale_bar
    assert bar.isVisible() and bar.label.endswith("µm")
    width = window.viewer.canvas.viewport().width()
    assert bar.bar_pixels == pytest.approx(bar.length_um / 0.65 * window.viewer.canvas.zoom, abs=1)
    assert 0.08 * width <= bar.bar_pixels <= 0.2 * width
    shown = bar.label
    window.viewer.canvas.zoom_to(window.viewer.canvas.zoom * 4)
    assert bar.label != shown and 0.08 * width <= bar.bar_pixels <= 0.2 * width  # shorter length when zoomed in
    window.viewer.fit()
    window.grab().save("/tmp/seglab_scale_bar.png")

    window.viewer._on_canvas_hovered(QPointF(100.5, 20.5))
    assert window.cursor_label.text().startswith("x 100, y 20 (65, 13 µm)")


def test_segmenting_a_stack_predicts_every_plane_with_the_chosen_channel(qtbot, main_window, show_folder,
                                                                         stack_folder, model_file):
    window, state = main_window, main_window.state
    show_folder(window, stack_folder, PLANES[0])
    window.segmentation.segment(SegmentChoice(str(model_file), None, 256, False, exact=True))
    qtbot.waitUntil(lambda: not window.segmentation.running, timeout=RUN_TIMEOUT_MS)
    summary = window.segmentation.last_summary
    assert summary.done == len(PLANES) and not summary.failures, summary
    assert sorted(state.predictions) == sorted(PLANES)
    predictor = Predictor.from_file(model_file, PredictOptions(tile_size=256, overlap=64, precision="exact"))
    masks = {}
    for name in (PLANES[0], PLANES[5]):
        sample = state.index.sample(name)
        image, _ = state.index.model_image(sample, 1)  # "Channel 1" of that plane
        masks[name] = read_mask(state.predictions[name])
        np.testing.assert_array_equal(masks[name], predictor.predict(image))
    assert not np.array_equal(masks[PLANES[0]], masks[PLANES[5]])  # each plane its own prediction
    np.testing.assert_array_equal(state.document.prediction, masks[PLANES[0]])


def test_dataset_settings_save_the_pixel_size_and_the_channel(qtbot, main_window, show_folder, stack_folder):
    window, state = main_window, main_window.state
    show_folder(window, stack_folder)
    dialog = window.edit_dataset_settings()
    assert dialog.size_edit.text() == "0.65" and dialog.channel_box.currentText() == "Channel 1"
    assert [dialog.channel_box.itemText(i) for i in range(1, dialog.channel_box.count())] == ["Channel 1",
                                                                                              "Channel 2"]
    dialog.grab().save("/tmp/seglab_dataset_settings.png")
    dialog.size_edit.setText("abc")
    dialog.accept()
    assert dialog.isVisible() and "positive number" in dialog.problem.text()
    dialog.size_edit.setText("0.5")
    dialog.channel_box.setCurrentText("Channel 2")
    dialog.accept()
    qtbot.waitUntil(lambda: state.index.settings.pixel_size_um == 0.5 and state.document is not None,
                    timeout=LOAD_TIMEOUT_MS)
    saved = json.loads((stack_folder / SETTINGS_FILE).read_text())
    assert (saved["pixel_size_um"], saved["channel"]) == (0.5, "Channel 2")
    assert [c["name"] for c in saved["classes"]] == ["background", "nucleus"]  # the rest of the file is kept
    assert state.index.settings.channel == "Channel 2"
    assert window.viewer.pixel_size_um == (0.5, 0.5)
    bar = window.viewer.scale_bar
    assert bar.bar_pixels == pytest.approx(bar.length_um / 0.5 * window.viewer.canvas.zoom, abs=1)

    dialog = window.edit_dataset_settings()  # the files' own size again: nothing stored over it
    dialog.size_edit.setText("")
    dialog.accept()
    qtbot.waitUntil(lambda: state.index.settings.pixel_size_um is None and state.document is not None,
                    timeout=LOAD_TIMEOUT_MS)
    assert window.viewer.pixel_size_um == pytest.approx((0.65, 0.65))
