"""Dataset browser speed, run by hand: `QT_QPA_PLATFORM=offscreen python tests/bench/bench_browser.py`.

1. Listing: 5,000 small PNGs (half with masks) in a temporary folder; the time to scan the folder, reset
   the browser's model and paint the list for the first time (target: under a second in total).
2. Scrolling: a page per frame through the whole list at 60 frames/s, then with pauses long enough for
   the visible thumbnails to be made; the mean and the slowest repaint (thumbnails are made on other
   threads, so painting never waits for files).
3. Thumbnails: 100 thumbnails of 512 x 512 images with masks, made on the loader's thread pool from an
   empty disk cache, then again from the disk cache.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from tests.bench.qt_wait import wait_for  # noqa: E402

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

LIST_TARGET_S = 1.0


def write_dataset(folder: Path, count: int, size: int, seed: int = 0) -> None:
    """`count` gray PNGs of size x size with blobs; every other one gets a 0/1/2 mask."""
    rng = np.random.default_rng(seed)
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    base = cv2.GaussianBlur(rng.integers(0, 255, (size, size), dtype=np.uint8), (0, 0), size / 32)
    for i in range(count):
        image = np.roll(base, i * 7, axis=1)
        cv2.imwrite(str(folder / "images" / f"img_{i:05d}.png"), image)
        if i % 2 == 0:
            mask = (image > 128).astype(np.uint8) + (image > 140)
            cv2.imwrite(str(folder / "masks" / f"img_{i:05d}.png"), mask)


def bench_listing(app, folder: Path, cache: Path) -> None:
    from core.data.index import DatasetIndex
    from gui.browser.browser_widget import DatasetBrowserWidget
    from gui.state import AppState

    state = AppState()
    browser = DatasetBrowserWidget(state, cache_dir=cache)
    browser.resize(340, 900)
    browser.show()
    app.processEvents()
    start = time.perf_counter()
    index = DatasetIndex.scan(folder)
    scanned = time.perf_counter()
    state.set_index(index)
    reset = time.perf_counter()
    browser.view.viewport().repaint()
    painted = time.perf_counter()
    total = painted - start
    print(f"listing {len(index.samples)} images: scan {1000 * (scanned - start):.0f} ms, model reset "
          f"{1000 * (reset - scanned):.0f} ms, first paint {1000 * (painted - reset):.0f} ms, "
          f"total {1000 * total:.0f} ms ({'meets' if total < LIST_TARGET_S else 'MISSES'} the 1 s target)")

    for grid in (True, False):
        browser.set_grid_mode(grid)
        app.processEvents()
        times = scroll(app, browser, frame_s=1 / 60)
        print(f"scrolling at 60 frames/s ({'grid' if grid else 'list'}): {len(times)} frames, repaint mean "
              f"{1000 * np.mean(times):.1f} ms, slowest {1000 * max(times):.1f} ms")
    browser.set_grid_mode(True)
    times = scroll(app, browser, frame_s=0.15, pages=40)
    print(f"scrolling with pauses (thumbnails made meanwhile, grid): {len(times)} frames, repaint mean "
          f"{1000 * np.mean(times):.1f} ms, slowest {1000 * max(times):.1f} ms")
    browser.shutdown()
    browser.deleteLater()


def scroll(app, browser, frame_s: float, pages: int | None = None) -> list[float]:
    """Page down through the list, one page per frame; the repaint time of each frame. Between frames the
    event loop runs (thumbnails are requested once scrolling pauses, and arrive)."""
    bar = browser.view.verticalScrollBar()
    bar.setValue(0)
    times = []
    for value in list(range(0, bar.maximum() + 1, max(1, bar.pageStep())))[:pages]:
        frame_end = time.perf_counter() + frame_s
        bar.setValue(value)
        tick = time.perf_counter()
        browser.view.viewport().repaint()
        times.append(time.perf_counter() - tick)
        while time.perf_counter() < frame_end:
            app.processEvents()
            time.sleep(0.001)
    return times


def bench_thumbnails(app, folder: Path, cache: Path, count: int) -> None:
    from core.data.index import DatasetIndex
    from gui.browser.thumbnails import ThumbnailDiskCache, ThumbnailLoader

    index = DatasetIndex.scan(folder)
    names = [s.name for s in index.samples[:count]]
    for label in ("empty disk cache", "from disk cache"):
        loader = ThumbnailLoader(ThumbnailDiskCache(cache))
        loader.set_index(index)
        loader.pool.waitForDone()  # the cache prune task
        arrived: list = []
        loader.signals.ready.connect(lambda _generation, thumbnail, into=arrived: into.append(thumbnail))
        start = time.perf_counter()
        loader.request(names)
        wait_for(app, lambda into=arrived: len(into) == len(names))
        elapsed = time.perf_counter() - start
        assert all(t.image is not None and t.mask is not None for t in arrived if int(t.name[4:]) % 2 == 0)
        print(f"{len(names)} thumbnails ({label}, {loader.pool.maxThreadCount()} threads): "
              f"{1000 * elapsed:.0f} ms, {1000 * elapsed / len(names):.1f} ms each")
        loader.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=5000, help="images to list (default 5000)")
    parser.add_argument("--thumbnails", type=int, default=100, help="thumbnails to make (default 100)")
    args = parser.parse_args()

    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    with tempfile.TemporaryDirectory(prefix="seglab_bench_browser_") as tmp:
        tmp = Path(tmp)
        tick = time.perf_counter()
        write_dataset(tmp / "many", args.images, 64)
        write_dataset(tmp / "large", args.thumbnails, 512, seed=1)
        print(f"(wrote the test folders in {time.perf_counter() - tick:.1f} s; {os.cpu_count()} CPU cores)")
        bench_listing(app, tmp / "many", tmp / "cache_list")
        bench_thumbnails(app, tmp / "large", tmp / "cache_thumbnails", args.thumbnails)


if __name__ == "__main__":
    main()
