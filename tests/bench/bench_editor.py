"""Mask editor speed on a 4096 x 4096 16-bit image, run by hand:
`QT_QPA_PLATFORM=offscreen python tests/bench/bench_editor.py`.

In the real main window (fitted view and 1:1), with real mouse events on the canvas:
1. Brush stroke segment: one mouse move while painting (the segment is painted, the overlay told which
   region changed) until that region is repainted (the events are processed). The repainted screen area
   per segment is recorded from the viewport's paint events, to show only the touched region is drawn;
   a full viewport repaint is timed for comparison.
2. Polygon fill: the click that closes a 16-corner polygon about 600 px across (rasterised in its region,
   pushed as one undo step) until repainted; then its undo and redo.
3. Flood fill of a large connected region, one undo step.
4. Saving the 4096 x 4096 mask (paletted PNG, atomic) and writing a recovery file (worker thread).
Figures are medians (and maxima) over repeats; a shared machine's load shows in the maxima.
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from bench_viewer import blobs, ms, summary, wait_for  # noqa: E402

SIZE = 4096
SEGMENT_TARGET_MS = 16  # a 60 Hz pointer


class PaintAreas:
    """Collects the screen rectangles the viewport repaints."""

    def __init__(self, viewport):
        from PySide6.QtCore import QEvent, QObject

        outer = self

        class Filter(QObject):
            def eventFilter(self, watched, event):
                if event.type() == QEvent.Type.Paint:
                    rect = event.rect()
                    outer.areas.append(rect.width() * rect.height())
                return False

        self.areas: list[int] = []
        self._filter = Filter()
        viewport.installEventFilter(self._filter)


def settle(app, rounds: int = 3) -> None:
    for _ in range(rounds):
        app.processEvents()


def make_folder(tmp: Path) -> Path:
    import cv2

    folder = tmp / "big"
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    image, mask = blobs(SIZE, 3)
    tifffile.imwrite(folder / "images" / "big.tif", image)
    cv2.imwrite(str(folder / "masks" / "big.png"), mask)
    return folder


def bench_strokes(app, window, place: str, areas: PaintAreas) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    canvas, editor = window.viewer.canvas, window.editor
    viewport = canvas.viewport()
    editor.set_tool("brush")
    window.state.set_current_class(2)
    full = []
    for _ in range(5):
        start = time.perf_counter()
        viewport.repaint()
        full.append(time.perf_counter() - start)
    centre = canvas.mapToScene(viewport.rect().center())
    for size in (15, 61):
        editor.set_brush_size(size)
        times, painted, ends = [], [], []
        for stroke in range(3):
            radius = min(viewport.width(), viewport.height()) * 0.35
            points = [canvas.mapFromScene(centre) + _offset(radius, a, stroke) for a in np.linspace(0, 2 * math.pi, 60)]
            QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[0])
            settle(app)
            for point in points[1:]:
                areas.areas.clear()
                start = time.perf_counter()
                QTest.mouseMove(viewport, point)
                settle(app)
                times.append(time.perf_counter() - start)
                painted.append(sum(areas.areas))
            start = time.perf_counter()
            QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[-1])
            settle(app)
            ends.append(time.perf_counter() - start)
        verdict = "ok" if statistics.median(times) < SEGMENT_TARGET_MS / 1000 else "SLOWER THAN TARGET"
        screen = viewport.width() * viewport.height()
        print(f"brush {size:>3} px, {place}: stroke segment painted + repainted: {summary(times)}  [{verdict}]; "
              f"repainted {statistics.median(painted) / screen:.1%} of the view (median); stroke end (the undo "
              f"step recorded) {summary(ends)}")
    step = editor.session.stack.command(editor.session.stack.count() - 1)
    print(f"  one stroke's undo step: {step.size_bytes / 1e3:.0f} kB (the mask: {SIZE * SIZE / 1e6:.0f} MB); "
          f"full viewport repaint for comparison: {summary(full)}")


def _offset(radius: float, angle: float, stroke: int):
    from PySide6.QtCore import QPoint

    r = radius * (1 - 0.2 * stroke)
    return QPoint(round(r * math.cos(angle)), round(r * math.sin(angle)))


def bench_polygons(app, window, place: str) -> None:
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtTest import QTest

    canvas, editor = window.viewer.canvas, window.editor
    viewport = canvas.viewport()
    editor.set_tool("polygon")
    window.state.set_current_class(1)
    centre = canvas.mapToScene(viewport.rect().center())
    closes, undos, redos = [], [], []
    stack = editor.session.stack
    for repeat in range(6):
        radius = 300 - 20 * repeat
        corners = [canvas.mapFromScene(QPointF(centre.x() + radius * math.cos(a) * (1 + 0.2 * (i % 2)),
                                               centre.y() + radius * math.sin(a)))
                   for i, a in enumerate(np.linspace(0, 2 * math.pi, 16, endpoint=False))]
        for corner in corners:
            QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, corner)
        settle(app)
        start = time.perf_counter()
        QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, corners[0])
        settle(app)
        closes.append(time.perf_counter() - start)
        assert stack.text(stack.index() - 1).startswith("Polygon") and len(editor.session.shapes) == 1
        start = time.perf_counter()
        stack.undo()
        settle(app)
        undos.append(time.perf_counter() - start)
        start = time.perf_counter()
        stack.redo()
        settle(app)
        redos.append(time.perf_counter() - start)
        stack.undo()  # no polygon left to click on by the next one
    print(f"polygon fill (16 corners, ~600 px), {place}: close + repaint {summary(closes)}; "
          f"undo {summary(undos)}; redo {summary(redos)}")


def bench_fill_and_save(app, window) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    canvas, editor, state = window.viewer.canvas, window.editor, window.state
    editor.set_tool("fill")
    mask = state.document.mask
    ys, xs = np.nonzero(mask == 0)
    times = []
    for i, value in enumerate((1, 2, 1, 2)):
        state.set_current_class(value)
        point = canvas.mapFromScene(float(xs[i * 9973]) + 0.5, float(ys[i * 9973]) + 0.5)
        start = time.perf_counter()
        QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point)
        settle(app)
        times.append(time.perf_counter() - start)
    region = editor.session.stack.command(editor.session.stack.count() - 1).patch.region
    print(f"flood fill of the background ({(region[2] - region[0])} x {region[3] - region[1]} px region), "
          f"fitted: {summary(times)}")
    start = time.perf_counter()
    assert editor.save()
    print(f"save 4096 x 4096 mask (encode, check, atomic write): {ms(time.perf_counter() - start)}")
    from core.data.recovery_files import write_recovery
    from core.data.workspace import recovery_dir

    folder = recovery_dir(state.index.root)
    start = time.perf_counter()
    entry = write_recovery(folder, "bench", mask.copy(), None)
    print(f"recovery file write (runs on a worker thread): {ms(time.perf_counter() - start)}, "
          f"{entry.mask_file.stat().st_size / 1e3:.0f} kB")
    entry.mask_file.unlink()
    entry.info_file.unlink()


def main() -> None:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from gui.main_window import MainWindow

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = make_folder(tmp)
        window = MainWindow(QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
        window.resize(1400, 900)
        window.show()
        window.open_folder(str(folder))
        wait_for(app, lambda: window.state.document is not None and not window.levels.busy
                 and window.viewer.layers.complete)
        areas = PaintAreas(window.viewer.canvas.viewport())
        for place, setup in (("fitted", window.viewer.fit), ("1:1", window.viewer.actual_size)):
            setup()
            settle(app)
            bench_strokes(app, window, place, areas)
            bench_polygons(app, window, place)
        window.viewer.fit()
        settle(app)
        bench_fill_and_save(app, window)
        window.close()
        window.levels.shutdown()
        window.browser.shutdown()


if __name__ == "__main__":
    main()
