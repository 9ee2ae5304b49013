"""The image viewer: what it draws (image gray, class colours at the set opacity, hidden classes, outlines,
prediction, difference), in-place mask edits repainting their region only, cursor info, zoom/pan and
the tool hook; then the real main window on ISBI 2012 and BBBC039."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QWheelEvent
from PySide6.QtWidgets import QColorDialog, QGraphicsScene

from core.classes import ClassTable
from core.difference_colours import DIFFERENCE_KINDS
from core.io.images import display_view, percentile_levels
from gui.canvas import CanvasTool
from gui.overlay_colours import OUTLINE_TINT
from gui.pixel_items import MaskLayerItem
from gui.state import AppState, ImageDocument
from gui.viewer.image_viewer import ImageViewerWidget

NUCLEUS, MEMBRANE = (230, 159, 0), (86, 180, 233)  # the default colours of classes 1 and 2
CLASSES = ClassTable.from_names(["background", "nucleus", "membrane"])


def make_document(prediction: bool = False) -> ImageDocument:
    """80 x 60 16-bit gradient; truth: nucleus block at rows 10-29, cols 10-29, membrane block at
    rows 40-49, cols 50-69. Prediction: the nucleus block shifted 5 px right, the membrane block as nucleus."""
    image = (np.arange(60)[:, None] * 40 + np.arange(80)[None, :] * 10 + 1000).astype(np.uint16)
    levels = percentile_levels(image)
    mask = np.zeros((60, 80), np.uint8)
    mask[10:30, 10:30] = 1
    mask[40:50, 50:70] = 2
    predicted = None
    if prediction:
        predicted = np.zeros_like(mask)
        predicted[10:30, 15:35] = 1
        predicted[40:50, 50:70] = 1
    return ImageDocument("synthetic", image, levels, levels.copy(), display_view(image, levels), mask, True,
                         prediction=predicted)


@pytest.fixture
def viewer(qtbot):
    state = AppState()
    state.set_classes(CLASSES, edited=False)
    widget = ImageViewerWidget(state)
    qtbot.addWidget(widget)
    widget.resize(520, 420)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def show(viewer, document: ImageDocument, settle) -> ImageDocument:
    viewer.state.set_document(document)
    settle(viewer)
    return document


def blend(colour, gray: int, opacity: float) -> tuple[float, ...]:
    return tuple(c * opacity + gray * (1 - opacity) for c in colour)


def assert_close(actual, expected, tolerance: float = 3.0) -> None:
    assert all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True)), f"{actual} != {expected}"


# drawing ----------------------------------------------------------------------------------------
def test_image_is_fitted_and_background_pixels_show_the_display_gray(viewer, settle, drawn_rgb):
    document = show(viewer, make_document(), settle)
    assert viewer.canvas.fitted and viewer.canvas.zoom > 4
    assert viewer.zoom_label.text().startswith("Fit")
    assert "synthetic" in viewer.image_label.text() and "80 × 60" in viewer.image_label.text()
    for x, y in ((2, 2), (75, 55), (40, 35)):
        gray = int(document.display[y, x])
        assert drawn_rgb(viewer, x, y) == (gray, gray, gray)


def test_class_colours_are_blended_at_the_set_opacity(viewer, settle, drawn_rgb):
    document = show(viewer, make_document(), settle)
    for opacity in (0.45, 0.8):
        viewer.state.update_overlay(opacity=opacity)
        assert_close(drawn_rgb(viewer, 20, 20), blend(NUCLEUS, document.display[20, 20], opacity))
        assert_close(drawn_rgb(viewer, 60, 45), blend(MEMBRANE, document.display[45, 60], opacity))


def test_a_colour_change_touches_the_colour_table_not_the_pixels(viewer, settle, drawn_rgb):
    document = show(viewer, make_document(), settle)
    before = document.mask.copy()
    viewer.state.set_classes(CLASSES.recoloured(1, (0, 0, 255)), edited=False)
    assert viewer.layers.items[0].array is document.mask  # drawn straight from the mask's memory
    np.testing.assert_array_equal(document.mask, before)
    assert_close(drawn_rgb(viewer, 20, 20), blend((0, 0, 255), document.display[20, 20], 0.45))


def test_hidden_classes_are_not_drawn(viewer, settle, drawn_rgb):
    document = show(viewer, make_document(), settle)
    viewer.state.update_overlay(hidden=frozenset({1}))
    gray = int(document.display[20, 20])
    assert drawn_rgb(viewer, 20, 20) == (gray, gray, gray)
    assert_close(drawn_rgb(viewer, 60, 45), blend(MEMBRANE, document.display[45, 60], 0.45))


def test_the_mask_layer_wraps_the_array_memory_so_in_place_edits_show(qtbot):
    mask = np.zeros((8, 8), np.uint8)
    item = MaskLayerItem()
    item.set_colours([0, 0xFFFF0000] + [0] * 254)
    item.set_array(mask)
    scene = QGraphicsScene()
    scene.addItem(item)

    def render() -> QImage:
        target = QImage(8, 8, QImage.Format.Format_ARGB32)
        target.fill(0)
        painter = QPainter(target)
        scene.render(painter, QRectF(0, 0, 8, 8), QRectF(0, 0, 8, 8))
        painter.end()
        return target

    assert render().pixel(3, 2) == 0
    mask[2, 3] = 1  # in place, after the QImage was made
    item.set_colours([0, 0xFF00FF00] + [0] * 254)  # a new colour table must not detach the pixels
    assert np.frombuffer(item.image.constBits(), np.uint8).ctypes.data == mask.ctypes.data
    assert render().pixel(3, 2) == 0xFF00FF00
    assert render().pixel(2, 3) == 0


def test_an_in_place_edit_repaints_only_its_region(viewer, settle, drawn_rgb, monkeypatch):
    document = show(viewer, make_document(), settle)
    item = viewer.layers.items[0]
    repainted = []
    original_update = item.update
    monkeypatch.setattr(item, "update", lambda *args: (repainted.append(args), original_update(*args)))
    document.mask[50:55, 5:9] = 2
    viewer.state.notify_mask_edited((50, 5, 55, 9))
    assert repainted == [(QRectF(5, 50, 4, 5),)]
    assert viewer.layers.items[0].array is document.mask
    assert_close(drawn_rgb(viewer, 6, 52), blend(MEMBRANE, document.display[52, 6], 0.45))


def test_outline_mode_draws_class_boundaries_and_follows_edits(viewer, settle, drawn_rgb):
    document = show(viewer, make_document(), settle)
    viewer.state.update_overlay(outline=True, opacity=1.0)
    settle(viewer)
    assert drawn_rgb(viewer, 10, 20) == NUCLEUS  # on the block's edge
    inside = int(document.display[20, 20])
    assert drawn_rgb(viewer, 20, 20) == (inside, inside, inside)
    document.mask[14:26, 14:26] = 0  # hollow out the block: new inner boundary
    viewer.state.notify_mask_edited((14, 14, 26, 26))
    assert drawn_rgb(viewer, 13, 20) == NUCLEUS
    hole = int(document.display[20, 20])
    assert drawn_rgb(viewer, 20, 20) == (hole, hole, hole)


def test_prediction_and_both_layers(viewer, settle, drawn_rgb):
    document = show(viewer, make_document(prediction=True), settle)
    viewer.state.update_overlay(layer="prediction", opacity=1.0)
    settle(viewer)
    assert drawn_rgb(viewer, 32, 20) == NUCLEUS  # predicted only
    assert drawn_rgb(viewer, 60, 45) == NUCLEUS  # membrane predicted as nucleus
    viewer.state.update_overlay(layer="both")
    settle(viewer)
    light = tuple(round(c + (255 - c) * OUTLINE_TINT) for c in NUCLEUS)
    assert drawn_rgb(viewer, 34, 20) == light  # prediction outline
    assert drawn_rgb(viewer, 20, 20) == NUCLEUS  # truth fill
    gray = int(document.display[20, 32])
    assert drawn_rgb(viewer, 32, 20) == (gray, gray, gray)  # inside the prediction only: not filled


def test_difference_layer_shows_missed_extra_and_wrong_class(viewer, settle, drawn_rgb):
    document = show(viewer, make_document(prediction=True), settle)
    viewer.state.update_overlay(layer="difference", opacity=1.0)
    settle(viewer)
    missed, extra, wrong = (kind.colour for kind in DIFFERENCE_KINDS)
    assert drawn_rgb(viewer, 12, 20) == missed
    assert drawn_rgb(viewer, 32, 20) == extra
    assert drawn_rgb(viewer, 60, 45) == wrong
    agree = int(document.display[20, 20])
    assert drawn_rgb(viewer, 20, 20) == (agree, agree, agree)
    document.mask[10:30, 30:35] = 1  # the truth grows over the extra region
    viewer.state.notify_mask_edited((10, 30, 30, 35))
    assert drawn_rgb(viewer, 32, 20) == (int(document.display[20, 32]),) * 3


def test_the_report_and_the_window_colour_and_name_differences_alike(viewer, settle, drawn_rgb, tmp_path):
    """Issue 11.4: a missed object was cyan in the report's difference picture and magenta in the window."""
    import re

    from core.metrics import ConfusionMatrix
    from core.report import ImageResult, read_metric_report, write_metric_report
    from core.report_figures import difference_picture
    from core.report_html import html_report, image_panels
    from gui.viewer.overlay_controls import OverlayControlsWidget

    document = show(viewer, make_document(prediction=True), settle)
    viewer.state.update_overlay(layer="difference", opacity=1.0)
    settle(viewer)
    picture = difference_picture(document.image, document.mask, document.prediction, len(CLASSES))
    for x, y in ((12, 20), (32, 20), (60, 45)):  # missed, extra, wrong class
        assert drawn_rgb(viewer, x, y) == tuple(int(v) for v in picture[y, x])

    controls = OverlayControlsWidget(viewer.state)
    window_legend, window_tip = controls.legend_label.text(), controls.legend_label.toolTip()
    write_metric_report(tmp_path, [ImageResult("synthetic", "synthetic.tif", ConfusionMatrix(3).update(
        document.prediction, document.mask))], CLASSES, {})
    report = read_metric_report(tmp_path)
    page = html_report(report, image_panels(report, lambda _: (document.image, document.mask, document.prediction)))
    report_legend = re.search(r"right: differences:(.*?)</p>", page).group(1)
    swatched_names = r"background-color:(#[0-9A-F]{6}).*?<b>([^<]+)</b>"
    assert re.findall(swatched_names, report_legend) == re.findall(swatched_names, window_legend) == \
        [("#FF00FF", "missed"), ("#00E5FF", "extra"), ("#FFEB3B", "wrong class")]
    for kind in DIFFERENCE_KINDS:
        assert f"<b>{kind.name}</b>: {kind.meaning}" in report_legend and f"{kind.name}: {kind.meaning}" in window_tip


def test_a_16_bit_mask_is_drawn_through_an_8_bit_view(viewer, settle, drawn_rgb):
    document = make_document()
    document.mask = document.mask.astype(np.uint16)
    show(viewer, document, settle)
    viewer.state.update_overlay(opacity=1.0)
    assert drawn_rgb(viewer, 20, 20) == NUCLEUS
    document.mask[0:5, 0:5] = 2
    viewer.state.notify_mask_edited((0, 0, 5, 5))
    assert drawn_rgb(viewer, 2, 2) == MEMBRANE


# cursor, zoom, pan, tools -----------------------------------------------------------------------
def test_cursor_info_names_the_raw_value_and_the_classes(viewer, settle, qtbot):
    document = show(viewer, make_document(prediction=True), settle)
    texts = []
    viewer.cursor_info.connect(texts.append)
    qtbot.mouseMove(viewer.canvas.viewport(), viewer.canvas.mapFromScene(QPointF(32.5, 20.5)))
    value = int(document.image[20, 32])
    assert texts[-1] == f"x 32, y 20   value {value}   class 0 background   predicted 1 nucleus"
    viewer.canvas.hovered.emit(QPointF(-3, 5))
    assert texts[-1] == ""
    viewer.state.set_classes(ClassTable.default(3), edited=False)  # default names are not repeated
    viewer.canvas.hovered.emit(QPointF(60.5, 45.5))
    assert texts[-1].endswith("class 2   predicted 1")


def test_the_wheel_zooms_around_the_pointer_and_a_drag_pans(viewer, settle, qtbot):
    show(viewer, make_document(), settle)
    canvas = viewer.canvas
    canvas.zoom_to(10.0)
    point = QPoint(150, 120)
    under = canvas.mapToScene(point)
    wheel = QWheelEvent(QPointF(point), QPointF(canvas.mapToGlobal(point)), QPoint(), QPoint(0, 240),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    canvas.wheelEvent(wheel)
    assert canvas.zoom == pytest.approx(10.0 * 1.25 ** 2)
    assert (canvas.mapToScene(point) - under).manhattanLength() < 1.0
    assert not canvas.fitted and viewer.zoom_label.text() == "1562%"
    start = canvas.mapToScene(point)
    qtbot.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, pos=point)
    qtbot.mouseMove(canvas.viewport(), point + QPoint(60, 0))
    qtbot.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, pos=point + QPoint(60, 0))
    assert canvas.mapToScene(point).x() == pytest.approx(start.x() - 60 / canvas.zoom, abs=0.2)
    viewer.fit()
    assert canvas.fitted


class RecordingTool(CanvasTool):
    def __init__(self):
        self.events = []

    def press(self, event):
        self.events.append(("press", event.pixel))
        return True

    def release(self, event):
        self.events.append(("release", event.pixel))
        return True


def test_a_tool_gets_presses_in_image_pixels_and_middle_drag_still_pans(viewer, settle, qtbot):
    show(viewer, make_document(), settle)
    canvas, tool = viewer.canvas, RecordingTool()
    canvas.set_tool(tool)
    canvas.zoom_to(10.0)
    where = canvas.mapFromScene(QPointF(30.5, 25.5))
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=where)
    assert tool.events == [("press", (30, 25)), ("release", (30, 25))]
    before = canvas.mapToScene(where)
    qtbot.mousePress(canvas.viewport(), Qt.MouseButton.MiddleButton, pos=where)
    qtbot.mouseMove(canvas.viewport(), where + QPoint(0, 40))
    qtbot.mouseRelease(canvas.viewport(), Qt.MouseButton.MiddleButton, pos=where + QPoint(0, 40))
    assert canvas.mapToScene(where).y() == pytest.approx(before.y() - 4.0, abs=0.2)
    assert len(tool.events) == 2


def test_a_huge_image_zoomed_out_is_drawn_from_a_downsampled_copy(viewer, settle, drawn_rgb):
    image = np.full((4096, 4096), 100, np.uint8)
    image[:2048] = 200
    levels = np.array([[0.0, 255.0]])
    mask = np.zeros(image.shape, np.uint8)
    show(viewer, ImageDocument("huge", image, levels, levels.copy(), image, mask, False), settle)
    viewer.canvas.viewport().grab()
    assert max(viewer.canvas.image_item._levels) >= 8
    assert drawn_rgb(viewer, 1000, 1000) == (200, 200, 200)
    assert drawn_rgb(viewer, 1000, 3000) == (100, 100, 100)


# the real window ------------------------------------------------------------------------------
def look_at(viewer, x: int, y: int, zoom: float = 3.0) -> None:
    viewer.canvas.zoom_to(zoom)
    viewer.canvas.centerOn(QPointF(x + 0.5, y + 0.5))


def interior_pixel(mask: np.ndarray, value: int) -> tuple[int, int]:
    """(x, y) of a pixel whose 5 x 5 neighbourhood all has `value`, near the image centre."""
    height, width = mask.shape
    for radius in range(0, min(height, width) // 2 - 3):
        for y in (height // 2 - radius, height // 2 + radius):
            for x in range(width // 2 - radius, width // 2 + radius + 1):
                if np.all(mask[y - 2:y + 3, x - 2:x + 3] == value):
                    return x, y
    raise AssertionError(f"no interior pixel of value {value}")


def test_isbi_opens_in_the_window_and_slices_can_be_flipped(main_window, show_folder, isbi_dir, settle,
                                                           drawn_rgb, qtbot):
    show_folder(main_window, isbi_dir)
    state, viewer = main_window.state, main_window.viewer
    assert state.current_name == "0" and main_window.central.currentWidget() is viewer
    document = state.document
    x, y = interior_pixel(document.mask, 1)  # ISBI: white (255) = cell interior = class 1
    look_at(viewer, x, y)
    assert_close(drawn_rgb(viewer, x, y), blend(state.classes[1].colour, document.display[y, x], 0.45))
    x, y = interior_pixel(document.mask, 0)  # membrane = class 0, not coloured
    look_at(viewer, x, y)
    assert drawn_rgb(viewer, x, y) == (int(document.display[y, x]),) * 3

    main_window.browser.select_next()
    qtbot.waitUntil(lambda: state.current_name == "1", timeout=20000)
    settle(viewer, main_window.levels)
    assert viewer.canvas.image_item.display is state.document.display
    x, y = interior_pixel(state.document.mask, 0)
    look_at(viewer, x, y)
    assert drawn_rgb(viewer, x, y) == (int(state.document.display[y, x]),) * 3


def test_opacity_slider_and_class_colour_change_what_the_window_draws(main_window, show_folder, isbi_copy,
                                                                      drawn_rgb, monkeypatch):
    show_folder(main_window, isbi_copy)
    state, viewer = main_window.state, main_window.viewer
    document = state.document
    x, y = interior_pixel(document.mask, 1)
    look_at(viewer, x, y)
    main_window.overlay_controls.opacity_slider.setValue(80)
    assert state.overlay.opacity == pytest.approx(0.8)
    assert_close(drawn_rgb(viewer, x, y), blend(state.classes[1].colour, document.display[y, x], 0.8))

    monkeypatch.setattr(QColorDialog, "getColor", staticmethod(lambda *args, **kwargs: QColor(0, 0, 255)))
    main_window.class_panel.choose_colour(1)
    assert state.classes[1].colour == (0, 0, 255)
    assert_close(drawn_rgb(viewer, x, y), blend((0, 0, 255), document.display[y, x], 0.8))
    assert '"#0000FF"' in (isbi_copy / "seglab.json").read_text()  # saved with the dataset, not the shared data


def test_bbbc039_16_bit_images_get_percentile_contrast_and_nuclei_are_coloured(main_window, show_folder,
                                                                                bbbc_copy, drawn_rgb):
    show_folder(main_window, bbbc_copy)
    state, viewer = main_window.state, main_window.viewer
    document = state.document
    assert document.image.dtype == np.uint16 and document.image.max() <= 4095
    assert state.classes.names == ["background", "nucleus"] and document.mask.max() == 1
    x, y = interior_pixel(document.mask, 1)
    look_at(viewer, x, y)
    state.update_overlay(layer="none")
    nucleus_gray = drawn_rgb(viewer, x, y)[0]
    assert nucleus_gray > 100  # 12-bit data in 16 bits would be near black without percentile levels
    assert nucleus_gray == int(display_view(document.image, document.auto_levels)[y, x])
    state.update_overlay(layer="truth")
    assert_close(drawn_rgb(viewer, x, y), blend((230, 159, 0), nucleus_gray, 0.45))
