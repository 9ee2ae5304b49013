"""The dataset browser on ISBI 2012: natural order, statuses, filters, selection both ways, keyboard
navigation, and thumbnails that arrive from the thread pool with the mask drawn in the class colours."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt

from core.data.index import DatasetIndex
from gui.browser.browser_model import BrowserRole
from gui.browser.browser_widget import DatasetBrowserWidget
from gui.state import AppState, ImageDocument

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
THUMBNAIL_WAIT_MS = 20000


@pytest.fixture(scope="module")
def isbi_index(isbi_dir) -> DatasetIndex:
    return DatasetIndex.scan(isbi_dir)


@pytest.fixture
def state(isbi_index) -> AppState:
    state = AppState()
    state.set_index(isbi_index)
    return state


@pytest.fixture
def browser(qtbot, state, tmp_path):
    widget = DatasetBrowserWidget(state, cache_dir=tmp_path / "thumbnails")
    qtbot.addWidget(widget)
    widget.resize(320, 600)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    assert widget.shutdown()


def shown_names(browser: DatasetBrowserWidget) -> list[str]:
    proxy = browser.proxy
    return [proxy.index(row, 0).data() for row in range(proxy.rowCount())]


def current_name(browser: DatasetBrowserWidget) -> str | None:
    selected = browser.view.selectionModel().selectedIndexes()
    return selected[0].data() if selected else None


def document(index: DatasetIndex, name: str) -> ImageDocument:
    """What the loader would hand over, without the loader (display and levels are not looked at here)."""
    image = index.load_image(index.sample(name))
    levels = np.array([[0.0, 255.0]])
    return ImageDocument(name, image, levels, levels.copy(), image, index.load_mask(index.sample(name)), True)


def test_every_image_is_listed_in_natural_order_as_labeled(browser, state):
    assert shown_names(browser) == [str(i) for i in range(30)]
    statuses = [browser.proxy.index(row, 0).data(BrowserRole.STATUS) for row in range(30)]
    assert all(s.labeled and not s.edited and not s.predicted for s in statuses)
    assert statuses[0].label == "labeled"
    assert browser.count_label.text() == "30 images · 30 labeled"
    assert "labeled" in browser.proxy.index(4, 0).data(Qt.ItemDataRole.ToolTipRole)


def test_filters_by_name_and_by_status(browser, state):
    browser.name_filter.setText("2")
    assert shown_names(browser) == ["2", "12", "20", "21", "22", "23", "24", "25", "26", "27", "28", "29"]
    assert browser.count_label.text().startswith("12 of 30 images shown")
    browser.name_filter.setText("")
    browser.status_filter.setCurrentIndex(browser.status_filter.findData("unlabeled"))
    assert shown_names(browser) == []
    assert "No image matches" in browser.view.empty_text
    browser.status_filter.setCurrentIndex(browser.status_filter.findData("edited"))
    state.mark_edited("7", True)  # status_changed: the row joins the filtered list
    assert shown_names(browser) == ["7"]
    state.mark_edited("7", False)
    assert shown_names(browser) == []
    browser.status_filter.setCurrentIndex(browser.status_filter.findData("labeled"))
    assert len(shown_names(browser)) == 30


def test_edited_status_is_shown_and_counted(browser, state):
    state.mark_edited("3", True)
    status = browser.proxy.index(3, 0).data(BrowserRole.STATUS)
    assert status.edited and status.label == "edited"
    assert browser.count_label.text().endswith("1 edited")


def test_clicking_a_row_requests_that_image(browser, state, qtbot):
    rect = browser.view.visualRect(browser.proxy.index(3, 0))
    with qtbot.waitSignal(state.image_requested, timeout=2000) as blocker:
        qtbot.mouseClick(browser.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == ["3"]


def test_selection_follows_the_image_shown_without_asking_again(browser, state, isbi_index, qtbot):
    with qtbot.assertNotEmitted(state.image_requested):
        state.set_document(document(isbi_index, "17"))
    assert current_name(browser) == "17"
    browser.name_filter.setText("1")  # still listed: still selected, nothing requested
    assert current_name(browser) == "17"
    browser.name_filter.setText("2")  # hidden: no selection, and filtering does not pick another image
    assert current_name(browser) is None
    browser.name_filter.setText("")
    assert current_name(browser) == "17"


def test_keyboard_and_slots_step_through_the_images(browser, state, qtbot):
    requested: list[str] = []
    state.image_requested.connect(requested.append)
    browser.select_next()  # nothing selected yet: the first image
    browser.select_next()
    browser.select_previous()
    browser.view.setFocus()
    qtbot.keyClick(browser.view, Qt.Key.Key_D)
    qtbot.keyClick(browser.view, Qt.Key.Key_D)
    qtbot.keyClick(browser.view, Qt.Key.Key_A)
    qtbot.keyClick(browser.view, Qt.Key.Key_Right)  # grid: right is the next image
    assert requested == ["0", "1", "0", "1", "2", "1", "2"]
    browser.set_grid_mode(False)
    qtbot.keyClick(browser.view, Qt.Key.Key_Down)  # list: down is the next image
    qtbot.keyClick(browser.view, Qt.Key.Key_End)
    browser.select_next()  # at the end: stays
    assert requested[-2:] == ["3", "29"]
    assert current_name(browser) == "29"


def expected_thumbnail_mask(index: DatasetIndex, name: str, shape) -> np.ndarray:
    mask = index.load_mask(index.sample(name))
    return cv2.resize(mask, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)


def rgb_array(image) -> np.ndarray:
    image = image.convertToFormat(image.Format.Format_RGB888)
    data = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return data[:, : image.width() * 3].reshape(image.height(), image.width(), 3).astype(int)


def test_thumbnails_arrive_with_the_mask_in_class_colours(browser, state, isbi_index, qtbot, tmp_path):
    model = browser.model
    qtbot.waitUntil(lambda: model.thumbnail("0") is not None, timeout=THUMBNAIL_WAIT_MS)
    pixels = rgb_array(model.thumbnail("0"))
    assert pixels.shape == (96, 96, 3)
    mask = expected_thumbnail_mask(isbi_index, "0", pixels.shape)
    assert 0.5 < (mask == 1).mean() < 0.95  # ISBI: class 1 is the cell interior, 0 the membranes
    red, green, blue = (pixels[..., c] for c in range(3))
    # half class colour (230, 159, 0) over gray: the channel differences are those of the colour, halved
    foreground = mask == 1
    assert np.abs(red[foreground] - blue[foreground] - 115).max() <= 1
    assert np.abs(green[foreground] - blue[foreground] - 80).max() <= 1
    background = mask == 0  # class 0 is not drawn: plain gray
    assert np.array_equal(red[background], blue[background]) and np.array_equal(green[background], blue[background])

    state.set_classes(state.classes.recoloured(1, (0, 0, 255)), edited=False)  # recomposed, not re-read
    pixels = rgb_array(model.thumbnail("0"))
    assert np.abs(pixels[..., 2][foreground] - pixels[..., 0][foreground] - 128).max() <= 1
    state.update_overlay(hidden=frozenset({1}))
    pixels = rgb_array(model.thumbnail("0"))
    assert np.array_equal(pixels[..., 0], pixels[..., 2])
    assert list((tmp_path / "thumbnails").rglob("*.thumb"))  # cached on disk too


def test_only_visible_rows_are_made_and_the_disk_cache_is_used(browser, state, qtbot, tmp_path, monkeypatch):
    model, view = browser.model, browser.view
    names = shown_names(browser)
    visible = [name for row, name in enumerate(names)
               if view.visualRect(browser.proxy.index(row, 0)).intersects(view.viewport().rect())]
    assert 0 < len(visible) < len(names)
    qtbot.waitUntil(lambda: all(model.thumbnail(name) is not None for name in visible), timeout=THUMBNAIL_WAIT_MS)
    qtbot.wait(300)  # time to make more than the visible ones, were any other asked for
    assert len(list((tmp_path / "thumbnails").rglob("*.thumb"))) == len(visible)

    import gui.browser.thumbnails as thumbnails

    def fail(*_args, **_kwargs):
        raise AssertionError("the thumbnail should have come from the disk cache")

    monkeypatch.setattr(thumbnails, "make_thumbnail", fail)
    second = DatasetBrowserWidget(state, cache_dir=tmp_path / "thumbnails")
    qtbot.addWidget(second)
    second.resize(320, 600)
    second.show()
    qtbot.waitUntil(lambda: second.model.thumbnail("0") is not None, timeout=THUMBNAIL_WAIT_MS)
    assert second.model.error("0") is None
    assert second.shutdown()


def test_list_mode_and_the_empty_state(browser, state, qtbot):
    browser.set_grid_mode(False)
    assert not browser.grid_mode and browser.list_button.isChecked()
    assert browser.view.viewMode() == browser.view.ViewMode.ListMode
    qtbot.waitUntil(lambda: browser.model.thumbnail("1") is not None, timeout=THUMBNAIL_WAIT_MS)
    state.set_index(None)
    assert shown_names(browser) == []
    assert "Open a folder" in browser.view.empty_text
    assert browser.count_label.text() == ""


def test_disk_cache_key_follows_the_files_and_damaged_entries_are_made_again(isbi_index, tmp_path):
    from gui.browser.thumbnails import ThumbnailDiskCache, make_thumbnail

    folder = tmp_path / "data"
    for sub in ("images", "masks"):
        (folder / sub).mkdir(parents=True)
        (folder / sub / "0.png").write_bytes((isbi_index.root / sub / "0.png").read_bytes())
    index = DatasetIndex.scan(folder)
    cache = ThumbnailDiskCache(tmp_path / "cache")
    key = cache.key(index, "0")
    made = make_thumbnail(index, "0")
    cache.save(key, made)
    loaded = cache.load(key, "0")
    assert np.array_equal(loaded.image, made.image) and np.array_equal(loaded.mask, made.mask)
    mask_file = folder / "masks" / "0.png"
    os.utime(mask_file, ns=(mask_file.stat().st_atime_ns, mask_file.stat().st_mtime_ns + 10**9))
    assert cache.key(index, "0") != key  # the mask was saved again: a new thumbnail
    cache.path(key).write_bytes(b"SEGLAB-THUMB\ngarbage")
    assert cache.load(key, "0") is None


def browser_on(qtbot, folder, cache_dir) -> tuple[AppState, DatasetBrowserWidget]:
    """A shown browser on `folder` as scanned now, with its own thumbnail cache."""
    state = AppState()
    state.set_index(DatasetIndex.scan(folder))
    widget = DatasetBrowserWidget(state, cache_dir=cache_dir)
    qtbot.addWidget(widget)
    widget.show()
    return state, widget


def test_a_saved_mask_gets_a_fresh_thumbnail(qtbot, tmp_path, isbi_dir):
    import shutil

    folder = tmp_path / "isbi"
    for sub in ("images", "masks"):
        (folder / sub).mkdir(parents=True)
        shutil.copy(isbi_dir / sub / "0.png", folder / sub / "0.png")
    state, widget = browser_on(qtbot, folder, tmp_path / "thumbnails")
    model = widget.model
    qtbot.waitUntil(lambda: model.thumbnail("0") is not None, timeout=THUMBNAIL_WAIT_MS)
    before = rgb_array(model.thumbnail("0"))
    cv2.imwrite(str(folder / "masks" / "0.png"), np.zeros((512, 512), np.uint8))  # all membrane now
    os.utime(folder / "masks" / "0.png", (1, 1))
    state.mask_saved.emit("0")
    qtbot.waitUntil(lambda: model.thumbnail("0") is not None and not np.array_equal(rgb_array(model.thumbnail("0")),
                                                                                     before), timeout=THUMBNAIL_WAIT_MS)
    after = rgb_array(model.thumbnail("0"))
    assert (np.abs(after.astype(int) - before.astype(int)).sum(axis=2) > 30).mean() > 0.5
    assert widget.shutdown()


def test_the_grid_does_not_repaint_in_a_loop_in_the_window(qtbot, main_window, show_folder, isbi_dir, tmp_path):
    """A grid whose columns depended on the scroll bar once toggled it forever (hundreds of repaints a
    second, half a core) for folders of a few small images."""
    from PySide6.QtCore import QEvent, QObject

    from tests.gui.test_training_wizard import tiny_isbi

    show_folder(main_window, tiny_isbi(isbi_dir, tmp_path / "tiny"))
    qtbot.wait(500)
    paints = []

    class Counter(QObject):
        def eventFilter(self, watched, event):
            if event.type() == QEvent.Type.Paint:
                paints.append(event)
            return False

    counter = Counter()
    main_window.browser.view.viewport().installEventFilter(counter)
    qtbot.wait(1500)
    main_window.browser.view.viewport().removeEventFilter(counter)
    assert len(paints) < 10


def test_ctrl_click_picks_several_images_for_batch_actions(browser, state, qtbot):
    from gui.chosen_images import chosen_label
    from gui.segment.segment_dialog import scope_names

    def click(row: int, modifier=Qt.KeyboardModifier.NoModifier) -> None:
        rect = browser.view.visualRect(browser.proxy.index(row, 0))
        qtbot.mouseClick(browser.view.viewport(), Qt.MouseButton.LeftButton, modifier, rect.center())

    with qtbot.waitSignal(state.image_requested) as first:
        click(1)
    assert first.args == ["1"] and state.selected_names == ("1",)
    with qtbot.waitSignal(state.image_requested) as second:
        click(3, Qt.KeyboardModifier.ControlModifier)
    assert second.args == ["3"]
    assert state.selected_names == ("1", "3")
    assert scope_names(state, "current") == ["1", "3"] and chosen_label(state) == "Selected images (2)"


def test_a_partly_labeled_mask_says_how_much_of_the_image_it_labels(qtbot, tmp_path):
    from core.classes import IGNORE_INDEX, ClassTable
    from core.io.masks import write_mask
    from gui.browser.browser_delegate import badge_text, status_key

    folder = tmp_path / "partial"
    for sub in ("images", "masks"):
        (folder / sub).mkdir(parents=True)
    classes = ClassTable.default(3)
    for name, labeled_rows in (("full", 64), ("part", 16), ("none", 0)):
        cv2.imwrite(str(folder / "images" / f"{name}.png"), np.full((64, 64), 128, np.uint8))
        mask = np.full((64, 64), IGNORE_INDEX, np.uint8)
        mask[:labeled_rows] = 1
        write_mask(folder / "masks" / f"{name}.png", mask, classes)
    state, widget = browser_on(qtbot, folder, tmp_path / "thumbnails")
    model = widget.model
    qtbot.waitUntil(lambda: all(model.thumbnail(n) is not None for n in ("full", "part", "none")),
                    timeout=THUMBNAIL_WAIT_MS)
    badges = {name: badge_text(model.status(name), None, model.labeled_share(name)) for name in model.names}
    assert badges == {"full": "labeled", "part": "labeled 25%", "none": "nothing labeled"}
    assert status_key(model.status("none"), None, model.labeled_share("none")) == "unlabeled"  # grey, not green
    assert widget.shutdown()
