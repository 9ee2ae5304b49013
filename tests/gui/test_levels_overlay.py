"""Display levels (histogram, black/white, auto, reset, channels; computed off the GUI thread, data never
changed), the overlay controls and legend, and the derived mask views (outlines, differences)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from core.classes import ClassTable
from core.io.images import display_view, percentile_levels
from gui.state import AppState, ImageDocument
from gui.viewer.image_statistics import image_statistics
from gui.viewer.latest_runner import LatestOnlyRunner
from gui.viewer.levels_widget import LevelsWidget
from gui.viewer.mask_views import DerivedMask, difference_into, outline_into, outline_view
from gui.viewer.overlay_controls import OverlayControlsWidget


def make_document(image: np.ndarray) -> ImageDocument:
    levels = percentile_levels(image)
    mask = np.zeros(image.shape[:2], np.uint8)
    return ImageDocument("doc", image, levels, levels.copy(), display_view(image, levels), mask, False)


def gray16() -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.integers(100, 4000, size=(64, 96)).astype(np.uint16)


@pytest.fixture
def levels_widget(qtbot):
    state = AppState()
    widget = LevelsWidget(state)
    qtbot.addWidget(widget)
    widget.resize(300, 320)
    widget.show()
    yield widget
    assert widget.shutdown()


def show(qtbot, widget: LevelsWidget, image: np.ndarray) -> ImageDocument:
    document = make_document(image)
    widget.state.set_document(document)
    qtbot.waitUntil(lambda: widget.statistics is not None and not widget.busy)
    return document


# levels -------------------------------------------------------------------------------------------
def test_image_statistics_are_exact_ranges_and_full_histograms():
    image = gray16()
    stats = image_statistics(image)
    assert stats.minimum.tolist() == [image.min()] and stats.maximum.tolist() == [image.max()]
    assert stats.counts.sum() == image.size and stats.integer
    np.testing.assert_array_equal(stats.min_max_levels(), [[image.min(), image.max()]])


def test_latest_only_runner_computes_the_first_and_the_newest_request(qtbot):
    runner = LatestOnlyRunner()
    release, results = threading.Event(), []
    runner.finished.connect(results.append)
    runner.submit(lambda ctx, value: release.wait(5) and value, "first")
    for value in ("second", "third", "newest"):
        runner.submit(lambda ctx, value: value, value)
    release.set()
    qtbot.waitUntil(lambda: not runner.busy)
    assert results == ["first", "newest"]
    assert runner.shutdown()


def test_black_and_white_levels_change_the_display_only(qtbot, levels_widget):
    image = gray16()
    document = show(qtbot, levels_widget, image)
    original = image.copy()
    assert "uint16" in levels_widget.range_label.text()
    levels_widget.black_box.setValue(500)
    levels_widget.white_box.setValue(1500)
    qtbot.waitUntil(lambda: not levels_widget.busy and document.levels[0, 1] == 1500)
    np.testing.assert_array_equal(document.levels, [[500, 1500]])
    np.testing.assert_array_equal(document.display, display_view(image, np.array([[500.0, 1500.0]])))
    np.testing.assert_array_equal(document.image, original)

    levels_widget.reset_levels()
    qtbot.waitUntil(lambda: not levels_widget.busy and document.levels[0, 0] == image.min())
    np.testing.assert_array_equal(document.levels, [[image.min(), image.max()]])
    levels_widget.auto_levels()
    qtbot.waitUntil(lambda: not levels_widget.busy and document.levels[0, 0] == document.auto_levels[0, 0])
    np.testing.assert_array_equal(document.levels, document.auto_levels)
    np.testing.assert_array_equal(document.image, original)


def test_dragging_the_white_handle_sets_the_white_level(qtbot, levels_widget):
    document = show(qtbot, levels_widget, gray16())
    histogram = levels_widget.histogram
    white_x = histogram.x_of(document.levels[0, 1])
    target_x = histogram.x_of(3000)
    y = histogram.height() / 2
    qtbot.mousePress(histogram, Qt.MouseButton.LeftButton, pos=QPointF(white_x, y).toPoint())
    qtbot.mouseMove(histogram, QPointF(target_x, y).toPoint())
    qtbot.mouseRelease(histogram, Qt.MouseButton.LeftButton, pos=QPointF(target_x, y).toPoint())
    qtbot.waitUntil(lambda: not levels_widget.busy)
    assert document.levels[0, 1] == pytest.approx(3000, abs=(histogram.axis[1] - histogram.axis[0]) / 100)
    assert levels_widget.white_box.value() == document.levels[0, 1]


def test_the_channel_picker_shows_one_channel_or_the_rgb_composite(qtbot, levels_widget):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, size=(32, 40, 4)).astype(np.uint8)
    document = show(qtbot, levels_widget, image)
    box = levels_widget.channel_box
    assert box.isVisibleTo(levels_widget)
    assert [box.itemText(i) for i in range(box.count())] == ["RGB composite"] + [f"Channel {c}" for c in range(1, 5)]
    assert document.display.shape == (32, 40, 3)
    box.setCurrentIndex(box.findData(3))
    box.activated.emit(box.currentIndex())
    qtbot.waitUntil(lambda: not levels_widget.busy and document.channel == 3)
    np.testing.assert_array_equal(document.display, display_view(image, document.levels, 3))
    assert document.display.ndim == 2


def test_a_gray_image_has_no_channel_picker_and_float_levels_have_decimals(qtbot, levels_widget):
    image = np.linspace(-0.5, 2.0, 40 * 30, dtype=np.float32).reshape(30, 40)
    show(qtbot, levels_widget, image)
    assert not levels_widget.channel_box.isVisibleTo(levels_widget)
    assert levels_widget.black_box.decimals() == 4
    assert levels_widget.statistics.minimum[0] == pytest.approx(-0.5)


def test_levels_change_the_gray_the_window_draws_but_not_the_data(main_window, show_folder, bbbc_copy,
                                                                   drawn_rgb, qtbot):
    show_folder(main_window, bbbc_copy)
    state, viewer, levels = main_window.state, main_window.viewer, main_window.levels
    document = state.document
    original = document.image.copy()
    state.update_overlay(layer="none")
    y, x = np.unravel_index(np.argmax(document.image), document.image.shape)
    viewer.canvas.zoom_to(3.0)
    viewer.canvas.centerOn(QPointF(x + 0.5, y + 0.5))
    white = float(document.image[y, x]) * 2
    levels.white_box.setValue(white)
    qtbot.waitUntil(lambda: not levels.busy and document.levels[0, 1] == white)
    expected = int(display_view(document.image, document.levels)[y, x])
    assert 100 < expected < 140  # half of white
    assert drawn_rgb(viewer, int(x), int(y)) == (expected,) * 3
    np.testing.assert_array_equal(document.image, original)


# overlay controls -----------------------------------------------------------------------------------
@pytest.fixture
def controls(qtbot):
    state = AppState()
    state.set_classes(ClassTable.from_names(["background", "nucleus", "membrane"]), edited=False)
    widget = OverlayControlsWidget(state)
    qtbot.addWidget(widget)
    return widget


def test_controls_write_the_overlay_settings_and_follow_them(controls):
    state = controls.state
    controls.opacity_slider.setValue(70)
    assert state.overlay.opacity == pytest.approx(0.7) and controls.opacity_label.text() == "70 %"
    controls.layer_box.setCurrentIndex(controls.layer_box.findData("difference"))
    controls.layer_box.activated.emit(controls.layer_box.currentIndex())
    assert state.overlay.layer == "difference" and not controls.outline_box.isEnabled()
    state.update_overlay(layer="truth", opacity=0.25)
    assert controls.opacity_slider.value() == 25 and controls.layer_box.currentData() == "truth"
    controls.outline_box.setChecked(True)
    assert state.overlay.outline


def test_the_legend_shows_class_colours_and_the_difference_kinds(controls):
    state = controls.state
    legend = controls.legend_label.text()
    assert "#E69F00" in legend and "nucleus" in legend and "#56B4E9" in legend and "membrane" in legend
    assert "background: not coloured" in legend
    state.update_overlay(hidden=frozenset({2}))
    assert "membrane (hidden)" in controls.legend_label.text()
    state.update_overlay(layer="difference")
    legend = controls.legend_label.text()
    assert "missed" in legend and "extra" in legend and "wrong class" in legend and "#FF00FF" in legend


def test_the_note_says_when_the_chosen_layer_has_nothing_to_show(controls):
    state = controls.state
    state.set_document(make_document(gray16()))
    state.update_overlay(layer="prediction")
    assert controls.note_label.text() == "No prediction for this image yet."
    state.update_overlay(layer="truth")
    assert controls.note_label.text() == "This image has no mask yet."
    state.notify_mask_edited((0, 0, 1, 1))
    assert controls.note_label.isHidden()


# derived mask views ---------------------------------------------------------------------------------
def naive_outline(mask: np.ndarray) -> np.ndarray:
    padded = np.pad(mask, 1, mode="edge")
    height, width = mask.shape
    differs = np.zeros(mask.shape, bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            differs |= padded[1 + dy:1 + dy + height, 1 + dx:1 + dx + width] != mask
    return np.where(differs, mask, 0)


def test_outlines_match_a_neighbour_comparison_and_refresh_only_where_edited():
    rng = np.random.default_rng(1)
    mask = np.kron(rng.integers(0, 3, size=(12, 15)), np.ones((5, 5), int)).astype(np.uint8)
    view = outline_view(mask)
    bands = 0
    while view.compute_band() is not None:
        bands += 1
    np.testing.assert_array_equal(view.array, naive_outline(mask))
    mask[20:31, 20:33] = 2
    assert view.refresh((20, 20, 31, 33)) == (19, 19, 32, 34)
    np.testing.assert_array_equal(view.array, naive_outline(mask))


def test_bands_cover_a_large_mask_in_steps():
    mask = np.zeros((1200, 2000), np.uint8)
    mask[100:1100, 100:1900] = 1
    view = DerivedMask(mask.shape, lambda out, region: outline_into(mask, out, region), reach=1)
    regions = []
    while (region := view.compute_band()) is not None:
        regions.append(region)
    assert len(regions) > 1 and regions[0][0] == 0 and regions[-1][2] == 1200
    np.testing.assert_array_equal(view.array, naive_outline(mask))


def test_difference_codes_missed_extra_wrong_class_and_ignore_unlabeled():
    truth = np.array([[0, 1, 1, 2, 255, 0]], np.uint8)
    predicted = np.array([[0, 0, 1, 1, 1, 2]], np.uint8)
    out = np.zeros_like(truth)
    difference_into(truth, predicted, out, (0, 0, 1, 6))
    assert out.tolist() == [[0, 1, 0, 3, 0, 2]]


def test_the_viewers_difference_codes_are_cores_for_any_masks():
    from core.difference_colours import difference_codes

    rng = np.random.default_rng(5)
    truth = rng.choice(np.array([0, 1, 2, 255], np.uint8), size=(40, 50))
    predicted = rng.choice(np.array([0, 1, 2, 255], np.uint8), size=(40, 50))
    out = np.zeros_like(truth)
    difference_into(truth, predicted, out, (0, 0, 40, 50))
    np.testing.assert_array_equal(out, difference_codes(truth, predicted, 255))
