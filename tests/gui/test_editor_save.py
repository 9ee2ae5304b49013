"""Saving from the real window: the dataset's own formats (ISBI 0/255, BBBC039's RGBA red channel), a new
mask for an unlabeled image where a rescan finds it, read-only folders and masks changed on disk, and
labelme files in and out. Leaving and closing with unsaved edits: test_unsaved_edits.py."""

from __future__ import annotations

import errno
import json
import os

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt

from core.data.index import DatasetIndex
from core.data.recovery_files import list_recovery, read_recovery
from core.data.workspace import recovery_dir
from core.io import atomic
from core.io.labelme import labelme_to_mask, read_labelme
from core.io.masks import read_raw_mask
from core.io.polygons import Polygon, rasterise
from tests.gui.editor_helpers import (
    CLASSES,
    CTRL,
    SIZE,
    click,
    drag,
    fixtures,
    press_key,
    saved_mask,
)

three_class, dialogs, window = fixtures()
TRIANGLE = [(40, 30), (200, 60), (90, 220)]


def draw_triangle(qtbot, window, class_key) -> list[tuple[int, int]]:
    window.editor.set_tool("polygon")
    press_key(qtbot, window, class_key)
    for x, y in TRIANGLE:
        click(qtbot, window.viewer.canvas, x, y)
    press_key(qtbot, window, Qt.Key.Key_Return)
    return TRIANGLE


def test_isbi_masks_are_saved_as_0_255_pngs(qtbot, main_window, show_folder, isbi_copy, dialogs):
    show_folder(main_window, isbi_copy, "1")
    draw_triangle(qtbot, main_window, Qt.Key.Key_1)
    original = DatasetIndex.scan(isbi_copy).load_mask(DatasetIndex.scan(isbi_copy).sample("1"))
    press_key(qtbot, main_window, Qt.Key.Key_S, CTRL)
    expected = rasterise([Polygon(tuple(TRIANGLE), 1)], original.shape, base=original)
    with Image.open(isbi_copy / "masks" / "1.png") as image:
        assert image.mode == "L"
        assert set(np.unique(np.asarray(image)).tolist()) == {0, 255}
    assert np.array_equal(saved_mask(isbi_copy, "1"), expected)
    assert "0/255" in main_window.statusBar().currentMessage()


def test_bbbc_masks_keep_their_rgba_red_channel(qtbot, main_window, show_folder, bbbc_copy, dialogs):
    show_folder(main_window, bbbc_copy)
    name = main_window.state.current_name
    draw_triangle(qtbot, main_window, Qt.Key.Key_1)
    document_mask = main_window.state.document.mask.copy()
    assert main_window.editor.save()
    raw = read_raw_mask(bbbc_copy / "masks" / f"{name}.png")
    assert raw.shape == (520, 696, 4) and np.array_equal(raw[:, :, 0] > 0, document_mask == 1)
    assert not raw[:, :, 1:3].any() and (raw[:, :, 3] == 255).all()
    assert np.array_equal(saved_mask(bbbc_copy, name), document_mask)


def test_a_new_mask_for_an_unlabeled_image_is_paired_by_a_rescan(qtbot, main_window, show_folder, isbi_copy,
                                                                   dialogs):
    (isbi_copy / "masks" / "2.png").unlink()
    show_folder(main_window, isbi_copy, "2")
    state = main_window.state
    assert not state.sample_status("2").labeled
    draw_triangle(qtbot, main_window, Qt.Key.Key_1)
    assert main_window.editor.save()
    assert state.sample_status("2").labeled and not state.sample_status("2").edited
    assert not [p for p in state.problems if p.kind == "unlabeled"]
    rescanned = DatasetIndex.scan(isbi_copy)
    assert rescanned.sample("2").mask == isbi_copy / "masks" / "2.png"
    assert np.array_equal(rescanned.load_mask(rescanned.sample("2")),
                          rasterise([Polygon(tuple(TRIANGLE), 1)], (512, 512)))
    assert set(np.unique(read_raw_mask(isbi_copy / "masks" / "2.png")).tolist()) == {0, 255}  # like its siblings


def paint(qtbot, window) -> np.ndarray:
    window.editor.set_tool("brush")
    window.editor.set_brush_size(9)
    press_key(qtbot, window, Qt.Key.Key_2)
    drag(qtbot, window.viewer.canvas, [(70, 20), (150, 60)])
    return window.state.document.mask.copy()


def test_a_read_only_folder_is_explained_and_the_edits_are_kept(qtbot, window, three_class, dialogs, monkeypatch):
    before = (three_class / "masks" / "a.png").read_bytes()
    edited = paint(qtbot, window)

    create_temp = atomic._create_temp

    def read_only_masks(target):  # the masks folder refuses new files; SegLab's workspace does not
        if target.parent == three_class / "masks":
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(target))
        return create_temp(target)

    monkeypatch.setattr(atomic, "_create_temp", read_only_masks)
    press_key(qtbot, window, Qt.Key.Key_S, CTRL)
    (message,) = dialogs.texts("show_error")
    assert "a.png" in message and "read-only" in message and "kept" in message
    assert (three_class / "masks" / "a.png").read_bytes() == before
    assert window.state.sample_status("a").edited and np.array_equal(window.state.document.mask, edited)
    (entry,) = list_recovery(recovery_dir(three_class))
    assert entry.name == "a" and np.array_equal(read_recovery(entry), edited)
    dialogs.answer("ask_unsaved_images", "save")  # closing: Save All fails too (explained), so it stays open
    assert not window.close() and len(dialogs.texts("show_error")) == 2
    monkeypatch.undo()
    press_key(qtbot, window, Qt.Key.Key_S, CTRL)
    assert np.array_equal(saved_mask(three_class, "a"), edited) and list_recovery(recovery_dir(three_class)) == []


def test_a_mask_changed_on_disk_is_not_overwritten_without_asking(qtbot, window, three_class, dialogs):
    path = three_class / "masks" / "a.png"
    edited = paint(qtbot, window)
    other = np.zeros(SIZE, np.uint8)
    other[:10] = 1
    Image.fromarray(other).save(path)  # another program
    stamp = os.stat(path).st_mtime_ns + 5 * 10**9
    os.utime(path, ns=(stamp, stamp))
    dialogs.answer("confirm", False)
    assert not window.editor.save()
    assert "changed on disk" in dialogs.texts("confirm")[0]
    assert np.array_equal(saved_mask(three_class, "a"), other) and window.state.sample_status("a").edited
    dialogs.answer("confirm", True)
    assert window.editor.save()
    assert np.array_equal(saved_mask(three_class, "a"), edited)


def test_labelme_files_in_and_out(qtbot, main_window, show_folder, tmp_path, dialogs):
    folder = tmp_path / "labelme"
    folder.mkdir()
    rng = np.random.default_rng(2)
    for name in ("a", "b"):
        Image.fromarray(rng.integers(0, 255, SIZE, dtype=np.uint8)).save(folder / f"{name}.png")
    shape = {"label": "nucleus", "points": [[20, 20], [60, 20], [60, 50], [20, 50]], "shape_type": "polygon"}
    (folder / "a.json").write_text(json.dumps({"shapes": [shape], "imagePath": "a.png", "imageWidth": SIZE[1],
                                               "imageHeight": SIZE[0]}))
    (folder / "seglab.json").write_text(json.dumps({"version": 1, "classes": CLASSES.to_json()}))
    show_folder(main_window, folder, "b")
    window, state = main_window, main_window.state
    points = [(70, 15), (140, 25), (130, 100)]
    window.editor.set_tool("polygon")
    press_key(qtbot, window, Qt.Key.Key_2)
    for x, y in points:
        click(qtbot, window.viewer.canvas, x, y)
    press_key(qtbot, window, Qt.Key.Key_Return)
    assert window.editor.save()
    saved = read_labelme(folder / "b.json")  # the polygon itself, as drawn
    assert [(s.label, s.points) for s in saved.shapes] == [("membrane", tuple(map(tuple, points)))]
    assert DatasetIndex.scan(folder).sample("b").labelme == folder / "b.json"
    exported = tmp_path / "exported.json"
    assert window.editor_actions.labelme.export_file(exported)
    dialogs.answer("confirm", True, True)  # b has a hand-made mask now: each import asks
    assert window.editor_actions.labelme.import_file(folder / "a.json")
    assert np.array_equal(state.document.mask, labelme_to_mask(read_labelme(folder / "a.json"), CLASSES))
    assert window.editor_actions.labelme.import_file(exported)  # the exported file restores the polygon
    assert np.array_equal(state.document.mask, rasterise([Polygon(tuple(points), 2)], SIZE))
    assert len(dialogs.texts("confirm")) == 2
