"""Uncertainty in the window: segmenting keeps a map and a score per image (the window stays responsive),
the Uncertainty overlay draws the map, the browser lists the most uncertain images first, and Label Next
steps to the suggested unlabeled images with their unsure region framed."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QRectF, QTimer

from core.data.workspace import predictions_dir
from core.inference.uncertainty import display_levels, image_score
from core.inference.uncertainty_files import map_path, read_map, read_scores
from core.label_next import maps_reader, suggest_next
from gui.overlay_colours import uncertainty_colour_table
from gui.segment.segment_dialog import SegmentChoice
from tests.gui.conftest import copy_pairs
from tests.gui.test_segment_export import CLASSES, RUN_TIMEOUT_MS, onnx_cache  # noqa: F401 (a fixture)

LABELED = ["0", "1"]
STALL_LIMIT_S = 0.2


@pytest.fixture
def model_file(tmp_path, isbi_dir):
    """A small U-Net with random weights, its output scaled up so that it is sure of most pixels and unsure
    near its class boundaries (both classes occur on ISBI), saved as a model file."""
    import torch

    from core.io.images import read_image
    from core.models.model_file import save_model_file
    from core.models.registry import build_from_spec
    from core.models.spec import ModelSpec

    torch.manual_seed(0)
    spec = ModelSpec("unet_classic", 1, CLASSES, 2, options={"base_channels": 4}, patch_size=256)
    model = build_from_spec(spec).eval()
    image = read_image(isbi_dir / "images" / "0.png")[:256, :256]
    with torch.no_grad():
        model.outc.weight *= 10_000  # random features, decisive weights
        model.outc.bias *= 10_000
        logits = model(torch.from_numpy(spec.normalisation.apply(image))[None])
        model.outc.bias[1] -= (logits[:, 1] - logits[:, 0]).median()
    return save_model_file(tmp_path / "tiny.safetensors", model, spec)


@pytest.fixture
def isbi_six(isbi_dir, tmp_path):
    """Six ISBI slices cropped to 256 x 256; only 0 and 1 keep their masks (the others are to be labeled)."""
    names = [str(i) for i in range(6)]
    folder = copy_pairs(isbi_dir, tmp_path / "isbi", names, ".png", ".png")
    for path in folder.glob("images/*.png"):
        Image.open(path).crop((128, 128, 384, 384)).save(path)
    for path in folder.glob("masks/*.png"):
        if path.stem in LABELED:
            Image.open(path).crop((128, 128, 384, 384)).save(path)
        else:
            path.unlink()
    return folder


class StallWatch:
    """The longest gap between turns of the event loop while it runs (a 5 ms timer)."""

    def __init__(self):
        self.longest = 0.0
        self._last = time.perf_counter()
        self._timer = QTimer()
        self._timer.setInterval(5)
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.longest = max(self.longest, now - self._last)
        self._last = now

    def stop(self) -> float:
        self._timer.stop()
        return self.longest


@pytest.fixture
def segmented(qtbot, main_window, show_folder, isbi_six, model_file):
    """The window with isbi_six open and segmented (image 2 on screen), and the longest stall of the event loop
    from the first map's arrival to the end of the run: while maps are made and shown (not while the model
    is prepared, which is the runner choice's work)."""
    window = main_window
    show_folder(window, isbi_six, "2")
    watches = []
    window.state.prediction_changed.connect(lambda _name: watches.append(StallWatch()) if not watches else None)
    window.segmentation.segment(SegmentChoice(str(model_file), None, 256, False))
    qtbot.waitUntil(lambda: not window.segmentation.running, timeout=RUN_TIMEOUT_MS)
    return window, watches[0].stop()


def test_segmenting_keeps_maps_and_scores_and_the_window_stays_responsive(qtbot, segmented, isbi_six,
                                                                          show_folder):
    window, longest_stall = segmented
    state = window.state
    assert longest_stall < STALL_LIMIT_S, f"the event loop stalled {longest_stall * 1000:.0f} ms"
    folder = predictions_dir(isbi_six)
    names = [str(i) for i in range(6)]
    for name in names:
        uncertainty = read_map(map_path(folder, name))
        assert uncertainty.shape == (256, 256) and uncertainty.dtype == np.float32
        assert state.uncertainty[name] == pytest.approx(image_score(uncertainty), abs=1e-6)
    np.testing.assert_array_equal(state.document.uncertainty, display_levels(read_map(map_path(folder, "2"))))

    state.set_index(None)  # reopened, the scores and the map come back from the workspace
    show_folder(window, isbi_six, "2")
    assert sorted(state.uncertainty) == names
    np.testing.assert_array_equal(state.document.uncertainty, display_levels(read_map(map_path(folder, "2"))))


def test_evaluating_drops_the_replaced_maps_and_scores_also_after_reopening(qtbot, segmented, isbi_six,
                                                                              model_file, show_folder, tmp_path):
    """Evaluate rewrites the predictions of the labeled images without maps: their old maps and scores go,
    on disk too, so reopening the folder does not bring them back; the others keep theirs."""
    from gui.report.evaluate_dialog import EvaluateChoice

    window, _ = segmented
    folder = predictions_dir(isbi_six)
    window.evaluation.evaluate(EvaluateChoice(str(model_file), tmp_path / "report", pdf=False))
    qtbot.waitUntil(lambda: not window.evaluation.running, timeout=RUN_TIMEOUT_MS)
    assert window.evaluation.outcome is not None
    others = [str(i) for i in range(6) if str(i) not in LABELED]
    assert sorted(read_scores(folder)) == others
    assert not any(map_path(folder, name).exists() for name in LABELED)
    window.state.set_index(None)
    show_folder(window, isbi_six, LABELED[0])
    assert sorted(window.state.uncertainty) == others and window.state.document.uncertainty is None
    assert window.state.document.prediction is not None


def test_uncertainty_overlay_draws_the_map_in_its_colours(qtbot, segmented, settle, drawn_rgb):
    window, _ = segmented
    controls, document = window.overlay_controls, window.state.document
    controls.layer_box.setCurrentIndex(controls.layer_box.findData("uncertainty"))
    controls.layer_box.activated.emit(controls.layer_box.currentIndex())
    assert window.state.overlay.layer == "uncertainty"
    window.state.update_overlay(opacity=1.0)
    settle(window.viewer)
    item = window.viewer.layers.items[0]
    assert item.array is document.uncertainty and item.isVisible()
    assert item.image.colorTable() == uncertainty_colour_table()
    assert "most uncertain" in controls.legend_label.text() and not controls.note_label.isVisible()
    y, x = np.unravel_index(int(np.argmax(document.uncertainty)), document.uncertainty.shape)
    expected = uncertainty_colour_table()[int(document.uncertainty[y, x])]
    assert drawn_rgb(window.viewer, x, y) == ((expected >> 16) & 255, (expected >> 8) & 255, expected & 255)
    y, x = np.unravel_index(int(np.argmin(document.uncertainty)), document.uncertainty.shape)
    gray = int(document.display[y, x])
    assert document.uncertainty[y, x] < 40 and max(abs(c - gray) for c in drawn_rgb(window.viewer, x, y)) < 40


def test_browser_lists_the_most_uncertain_images_first(qtbot, segmented):
    window, _ = segmented
    browser, scores = window.browser, window.state.uncertainty
    window.state.uncertainty.pop("4")  # an image without a score is not listed
    browser.status_filter.setCurrentIndex(browser.status_filter.findData("uncertain"))
    shown = [browser.proxy.index(row, 0).data() for row in range(browser.proxy.rowCount())]
    assert shown == sorted((n for n in scores), key=lambda n: -scores[n]) and "4" not in shown
    browser.status_filter.setCurrentIndex(browser.status_filter.findData("all"))
    assert [browser.proxy.index(row, 0).data() for row in range(6)] == [s.name for s in window.state.index.samples]


def test_label_next_steps_through_the_suggested_unlabeled_images(qtbot, segmented, isbi_six):
    window, _ = segmented
    state, canvas = window.state, window.viewer.canvas
    expected = suggest_next(state.index, state.uncertainty, maps_reader(predictions_dir(isbi_six)))
    assert [s.name for s in expected][:4] and not {s.name for s in expected} & set(LABELED)
    fitted_zoom = canvas.zoom
    for suggestion in expected[:2]:
        window.label_next.action.trigger()
        qtbot.waitUntil(lambda s=suggestion: state.current_name == s.name and window.label_next.marker.isVisible(),
                        timeout=RUN_TIMEOUT_MS)
        top, left, bottom, right = suggestion.region
        region = QRectF(left, top, right - left, bottom - top)
        assert window.label_next.marker.rect() == region
        shown = canvas.mapToScene(canvas.viewport().rect()).boundingRect()
        assert shown.contains(region) and shown.width() < 256 and canvas.zoom > 2 * fitted_zoom
        assert suggestion.name in window.statusBar().currentMessage()


def test_label_next_without_predictions_says_to_segment_first(qtbot, main_window, show_folder, isbi_six):
    show_folder(main_window, isbi_six, "0")
    main_window.label_next.action.trigger()
    assert "Segment the unlabeled images first" in main_window.statusBar().currentMessage()
    assert main_window.state.current_name == "0"
