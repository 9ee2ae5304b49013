"""Viewer speed, run by hand: `QT_QPA_PLATFORM=offscreen python tests/bench/bench_viewer.py`.

1. Switching: 2048 x 2048 16-bit images with masks in a temporary folder, opened in the real main window.
   Each document is loaded first (as the loader thread does); the time counted runs from
   AppState.set_document to the end of a synchronous repaint of the whole window (target: under 150 ms).
2. Overlay looks on a 4096 x 4096 mask (fitted and 1:1): opacity and class colour changes, each followed
   by a synchronous repaint of the viewer (target: under 30 ms), and the same in the whole window.
3. Pan and zoom on an 8000 x 8000 image with a mask: the repaint after each zoom step (around a point) and
   after each 120-pixel pan step; the first fitted paint (it builds the downsampled copy) apart.
Figures are medians (and maxima) over repeats; a shared machine's load shows in the maxima.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import tifffile

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from tests.bench.qt_wait import wait_for  # noqa: E402

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SWITCH_TARGET_MS = 150
LOOKS_TARGET_MS = 30


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def summary(times: list[float]) -> str:
    return f"median {ms(statistics.median(times))}, max {ms(max(times))} ({len(times)} runs)"


def blobs(size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A 12-bit-in-16-bit image with round bright objects, and its 0/1/2 mask."""
    import cv2

    rng = np.random.default_rng(seed)
    image = rng.normal(300, 30, (size, size)).astype(np.float32)
    mask = np.zeros((size, size), np.uint8)
    for _ in range(size // 16):
        x, y, r = rng.integers(0, size), rng.integers(0, size), int(rng.integers(size // 200 + 4, size // 60 + 8))
        cv2.circle(mask, (int(x), int(y)), r, int(rng.integers(1, 3)), -1)
    image[mask > 0] += 1500
    return np.clip(image, 0, 4095).astype(np.uint16), mask


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def make_window(tmp: Path):
    from PySide6.QtCore import QSettings

    from gui.main_window import MainWindow

    window = MainWindow(QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
    window.resize(1400, 900)
    window.show()
    return window


def bench_switching(app, tmp: Path, count: int):
    """Returns the window, still open on the folder."""
    import cv2

    from gui.controllers.dataset_controller import load_document
    from gui.workers import TaskContext, TaskSignals

    folder = tmp / "switch"
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    for i in range(count):
        image, mask = blobs(2048, i)
        tifffile.imwrite(folder / "images" / f"img_{i}.tif", image)
        cv2.imwrite(str(folder / "masks" / f"img_{i}.png"), mask)
    window = make_window(tmp)
    window.open_folder(str(folder))
    wait_for(app, lambda: window.state.document is not None and not window.levels.busy)
    index = window.state.index
    context = TaskContext(TaskSignals(), threading.Event())
    documents = [load_document(context, index, f"img_{i}", None) for i in range(count)]
    times = []
    for _ in range(3):
        for document in documents[1:] + documents[:1]:
            times.append(timed(lambda d=document: (window.state.set_document(d), window.repaint())))
            wait_for(app, lambda: not window.levels.busy and window.viewer.layers.complete)
    verdict = "ok" if statistics.median(times) < SWITCH_TARGET_MS / 1000 else "SLOWER THAN TARGET"
    print(f"switch 2048x2048 uint16 (set_document -> window repainted): {summary(times)}  [{verdict}]")
    full = []
    for i in range(count):
        name = f"img_{(i + 1) % count}"
        start = time.perf_counter()
        window.state.request_image(name)
        wait_for(app, lambda n=name: window.state.current_name == n)
        window.repaint()
        full.append(time.perf_counter() - start)
    print(f"  with reading the files on the loader thread (request -> repainted): {summary(full)}")
    return window


def close_window(window) -> None:
    window.close()
    window.levels.shutdown()
    window.browser.shutdown()


def document_of(size: int, seed: int = 0):
    from core.io.images import display_view, percentile_levels
    from gui.state import ImageDocument

    image, mask = blobs(size, seed)
    levels = percentile_levels(image)
    return ImageDocument(f"{size}px", image, levels, levels.copy(), display_view(image, levels), mask, True)


def bench_looks(app, window) -> None:
    from PySide6.QtWidgets import QApplication

    from core.classes import ClassTable
    from gui.state import AppState
    from gui.viewer.image_viewer import ImageViewerWidget

    document = document_of(4096)
    state = AppState()
    state.set_classes(ClassTable.from_names(["background", "a", "b"]), edited=False)
    viewer = ImageViewerWidget(state)
    viewer.resize(1000, 800)
    viewer.show()
    state.set_document(document)
    QApplication.processEvents()
    for place, setup in (("fitted", viewer.fit), ("1:1", viewer.actual_size)):
        setup()
        viewer.canvas.viewport().repaint()
        opacity = [timed(lambda o=o: (state.update_overlay(opacity=o), viewer.canvas.viewport().repaint()))
                   for o in np.linspace(0.1, 0.9, 15)]
        colours = [timed(lambda c=c: (state.set_classes(state.classes.recoloured(1, (c, 40, 200)), edited=False),
                                      viewer.canvas.viewport().repaint())) for c in range(0, 250, 17)]
        for label, times in (("opacity", opacity), ("class colour", colours)):
            verdict = "ok" if statistics.median(times) < LOOKS_TARGET_MS / 1000 else "SLOWER THAN TARGET"
            print(f"{label} change, 4096x4096 mask, {place}, viewer repainted: {summary(times)}  [{verdict}]")
    viewer.close()

    window.state.set_document(document)  # the window opened on the switching folder: the viewer is shown
    wait_for(app, lambda: not window.levels.busy)
    window.repaint()
    opacity = [timed(lambda o=o: (window.state.update_overlay(opacity=o), window.repaint()))
               for o in np.linspace(0.1, 0.9, 9)]
    colours = [timed(lambda c=c: (window.state.set_classes(window.state.classes.recoloured(1, (c, 40, 200)),
                                                           edited=False), window.repaint()))
               for c in range(0, 250, 30)]
    print(f"  whole window repainted (all panels listening): opacity {summary(opacity)}; colour {summary(colours)}")


def bench_pan_zoom(app, size: int) -> None:
    from PySide6.QtCore import QPoint

    from gui.state import AppState
    from gui.viewer.image_viewer import ImageViewerWidget

    document = document_of(size, seed=1)
    state = AppState()
    viewer = ImageViewerWidget(state)
    viewer.resize(1000, 800)
    viewer.show()
    wait_for(app, lambda: viewer.canvas.viewport().isVisible())
    app.processEvents()
    viewport = viewer.canvas.viewport()
    first = timed(lambda: (state.set_document(document), viewport.repaint()))
    print(f"pan/zoom {size}x{size}: first fitted paint (builds the downsampled copy) {ms(first)}")
    anchor = QPoint(400, 300)
    zoom_times = []
    for _ in range(2):
        for step in [1.25] * 14 + [0.8] * 14:
            zoom_times.append(timed(lambda s=step: (viewer.canvas.zoom_to(viewer.canvas.zoom * s, anchor),
                                                    viewport.repaint())))
    print(f"  zoom step around a point + repaint: {summary(zoom_times)}")
    for zoom in (viewer.canvas.zoom, 1.0, 4.0):
        viewer.canvas.zoom_to(zoom)
        viewport.repaint()
        bar = viewer.canvas.horizontalScrollBar()
        pan = [timed(lambda b=bar: (b.setValue(b.value() + 120), viewport.repaint())) for _ in range(20)]
        print(f"  pan 120 px at {zoom * 100:.0f}% + repaint: {summary(pan)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=4, help="2048 x 2048 images to switch between")
    parser.add_argument("--huge", type=int, default=8000, help="side of the pan/zoom image")
    args = parser.parse_args()
    from PySide6.QtCore import QStandardPaths

    from gui.app import create_application

    QStandardPaths.setTestModeEnabled(True)  # the window's thumbnail cache goes to a throw-away place
    app = create_application()
    with tempfile.TemporaryDirectory() as tmp:
        window = bench_switching(app, Path(tmp), args.images)
        bench_looks(app, window)
        close_window(window)
    bench_pan_zoom(app, args.huge)


if __name__ == "__main__":
    main()
