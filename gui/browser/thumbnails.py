"""Thumbnails for the dataset browser: made on a thread pool, cached on disk, composed with the class colours.

A Thumbnail holds plain arrays (the display image and the index mask, both downscaled), so a new class
colour or a hidden class only recomposes 96-pixel images and never reads files again. The disk cache is
keyed by path, modification time and size of the image and its annotation files, and written atomically.
Only visible rows are requested; the newest request is served first and stale requests are dropped.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QObject, QRunnable, QStandardPaths, QThreadPool, Signal

from core.classes import IGNORE_INDEX, ClassTable
from core.errors import SegLabError
from core.io.atomic import write_bytes_atomic

THUMBNAIL_SIZE = 96
THUMBNAIL_OPACITY = 0.5
CACHE_VERSION = 1
MAX_PENDING = 400  # requests kept waiting; older ones (rows scrolled past) are dropped
DISK_CACHE_LIMIT = 256 * 1024 * 1024
_MAGIC = b"SEGLAB-THUMB\n"
_SUFFIX = ".thumb"


@dataclass(frozen=True)
class Thumbnail:
    """A downscaled display image (uint8 gray or RGB) and mask (index values), or why there is none."""

    name: str
    image: np.ndarray | None
    mask: np.ndarray | None = None
    error: str | None = None  # the image cannot be read: what is wrong
    mask_error: str | None = None  # the image is fine but its mask cannot be shown: why


def default_cache_dir() -> Path:
    """thumbnails/ in the user's cache folder (the dataset folder may be read-only or shared)."""
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.CacheLocation)
    return Path(base or Path.home() / ".cache" / "seglab") / "thumbnails"


def fit_size(width: int, height: int, size: int = THUMBNAIL_SIZE) -> tuple[int, int]:
    """(width, height) scaled to fit a size x size box; small images are not enlarged."""
    scale = min(1.0, size / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def make_thumbnail(index, name: str, size: int = THUMBNAIL_SIZE) -> Thumbnail:
    """Read a sample's image (and mask) and shrink them; unreadable files give a Thumbnail with an error."""
    from core.io.images import display_view, percentile_levels

    sample = index.sample(name)
    try:
        image = index.load_image(sample)
    except SegLabError as exc:
        return Thumbnail(name, None, error=exc.reason)
    display = display_view(image, percentile_levels(image))
    width, height = fit_size(display.shape[1], display.shape[0], size)
    small = cv2.resize(display, (width, height), interpolation=cv2.INTER_AREA)
    if not sample.labeled:
        return Thumbnail(name, small)
    try:
        mask = index.load_mask(sample)
    except SegLabError as exc:
        return Thumbnail(name, small, mask_error=exc.reason)
    if mask.shape != image.shape[:2]:
        return Thumbnail(name, small, mask_error="the mask size differs from the image; not shown")
    return Thumbnail(name, small, cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST))


def compose_thumbnail(thumbnail: Thumbnail, classes: ClassTable, hidden: frozenset[int] = frozenset(),
                      opacity: float = THUMBNAIL_OPACITY) -> np.ndarray:
    """(h, w, 3) uint8 RGB: the image with its mask blended in the class colours, as the viewer draws it:
    class 0 (background), unlabeled pixels (IGNORE_INDEX) and hidden classes stay uncovered, values past
    the class table are black."""
    image = thumbnail.image
    rgb = np.repeat(image[:, :, None], 3, axis=2) if image.ndim == 2 else image[:, :, :3]
    mask = thumbnail.mask
    if mask is None:
        return np.ascontiguousarray(rgb)
    size = max(len(classes), int(mask.max(initial=0)) + 1)
    colours = classes.lookup_table(size).astype(np.float32)
    alpha = np.full(len(colours), opacity, np.float32)
    uncovered = [0, *(i for i in hidden if i < len(alpha))] + ([IGNORE_INDEX] if len(alpha) > IGNORE_INDEX else [])
    alpha[uncovered] = 0
    a = alpha[mask][:, :, None]
    blended = rgb * (1 - a) + colours[mask] * a
    return np.ascontiguousarray(np.clip(np.rint(blended), 0, 255).astype(np.uint8))


class ThumbnailDiskCache:
    """Thumbnails as small files named by a hash of what they were made from: a JSON header, then the
    zlib-compressed image and mask bytes (no pickles; reading one is a file read and two decompressions)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def key(self, index, name: str, size: int = THUMBNAIL_SIZE) -> str | None:
        """A key that changes when the image, an annotation file or the mask decoding changes."""
        sample = index.sample(name)
        paths = [sample.image, sample.mask, sample.labelme, *(p for _, p in sample.class_masks)]
        parts = [CACHE_VERSION, size, name, json.dumps(index.settings.encoding.to_json(), sort_keys=True)]
        if sample.labelme is not None or sample.class_masks:
            parts.append(index.settings.classes.names)  # labelme labels map to classes by name
        for path in paths:
            if path is None:
                continue
            try:
                stat = os.stat(path)
            except OSError:
                return None
            parts.append((os.path.abspath(path), stat.st_mtime_ns, stat.st_size))
        return hashlib.sha1(repr(parts).encode("utf-8")).hexdigest()

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}{_SUFFIX}"

    def load(self, key: str, name: str) -> Thumbnail | None:
        """The cached thumbnail, or None when it is missing or damaged (it is then made again)."""
        try:
            data = self.path(key).read_bytes()
            length = int.from_bytes(data[len(_MAGIC): len(_MAGIC) + 4], "little")
            start = len(_MAGIC) + 4 + length
            if not data.startswith(_MAGIC):
                return None
            header = json.loads(data[len(_MAGIC) + 4: start])
            arrays = []
            for entry in header["arrays"]:
                raw = zlib.decompress(data[start: start + entry["bytes"]])
                arrays.append(np.frombuffer(raw, np.dtype(entry["dtype"])).reshape(entry["shape"]))
                start += entry["bytes"]
            return Thumbnail(name, arrays[0], arrays[1] if len(arrays) > 1 else None,
                             mask_error=header.get("mask_error"))
        except (OSError, ValueError, KeyError, TypeError, IndexError, zlib.error):
            return None

    def save(self, key: str, thumbnail: Thumbnail) -> None:
        """Store a readable thumbnail; a full or read-only disk only costs the cache."""
        if thumbnail.image is None:
            return
        arrays = [a for a in (thumbnail.image, thumbnail.mask) if a is not None]
        blobs = [zlib.compress(np.ascontiguousarray(a).tobytes(), 6) for a in arrays]
        header = json.dumps({"version": CACHE_VERSION, "mask_error": thumbnail.mask_error, "arrays": [
            {"dtype": a.dtype.str, "shape": list(a.shape), "bytes": len(b)} for a, b in zip(arrays, blobs, strict=True)]})
        head = header.encode("utf-8")
        target = self.path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(target, b"".join([_MAGIC, len(head).to_bytes(4, "little"), head, *blobs]))
        except OSError:
            pass  # the thumbnail is still shown; it is made again next time

    def prune(self, max_bytes: int = DISK_CACHE_LIMIT) -> None:
        """Delete the least recently written files until the cache holds at most 3/4 of max_bytes."""
        try:
            files = [(entry.stat().st_mtime, entry.stat().st_size, entry.path)
                     for folder in os.scandir(self.folder) if folder.is_dir()
                     for entry in os.scandir(folder.path) if entry.name.endswith(_SUFFIX)]
        except OSError:
            return
        total = sum(size for _, size, _ in files)
        if total <= max_bytes:
            return
        for _, size, path in sorted(files):
            if total <= max_bytes * 3 // 4:
                break
            try:
                os.remove(path)
                total -= size
            except OSError:
                continue


class _LoaderSignals(QObject):
    ready = Signal(int, object)  # generation, Thumbnail


class _Worker(QRunnable):
    def __init__(self, loader: ThumbnailLoader):
        super().__init__()
        self._loader = loader

    def run(self) -> None:
        self._loader._work()


class ThumbnailLoader:
    """Makes thumbnails on its own thread pool, newest request first; results arrive as `signals.ready`.

    Not a child of any widget: its pool outlives a closed browser until shutdown() has waited for it.
    """

    def __init__(self, cache: ThumbnailDiskCache | None, threads: int = 2, size: int = THUMBNAIL_SIZE):
        self.cache = cache
        self.size = size
        self.signals = _LoaderSignals()
        self.pool = QThreadPool()
        self.pool.setMaxThreadCount(max(1, threads))
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self._running: set[str] = set()
        self._workers = 0
        self._index = None
        self._generation = 0
        self._closed = False

    @property
    def generation(self) -> int:
        return self._generation

    def set_index(self, index) -> None:
        """A new dataset: forget what was asked for the old one (its late results are ignored)."""
        with self._lock:
            self._index = index
            self._generation += 1
            self._pending.clear()
        if index is not None and self.cache is not None:
            self.pool.start(_PruneTask(self.cache))

    def update_index(self, index) -> None:
        """The same dataset with changed samples (e.g. a new mask saved): later thumbnails use it."""
        with self._lock:
            self._index = index

    def request(self, names: list[str]) -> None:
        """Make these thumbnails next, in this order, before anything asked earlier."""
        with self._lock:
            if self._closed or self._index is None:
                return
            wanted = [n for n in dict.fromkeys(names) if n not in self._running]
            chosen = set(wanted)
            self._pending = (wanted + [n for n in self._pending if n not in chosen])[:MAX_PENDING]
            start = min(self.pool.maxThreadCount() - self._workers, len(self._pending))
            self._workers += max(0, start)
        for _ in range(max(0, start)):
            self.pool.start(_Worker(self))

    def close(self) -> None:
        """Drop waiting requests and take no new ones (running ones finish on their own)."""
        with self._lock:
            self._closed = True
            self._pending.clear()

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """close(), then wait for the running requests; True when all ended in time."""
        self.close()
        return self.pool.waitForDone(timeout_ms)

    def _next(self) -> tuple[str, object, int] | None:
        with self._lock:
            if not self._pending or self._closed:
                self._workers -= 1
                return None
            name = self._pending.pop(0)
            self._running.add(name)
            return name, self._index, self._generation

    def _work(self) -> None:
        while (job := self._next()) is not None:
            name, index, generation = job
            try:
                thumbnail = self._produce(index, name)
            except Exception as exc:  # never lose a pool thread; the tile shows what went wrong
                thumbnail = Thumbnail(name, None, error=f"{type(exc).__name__}: {exc}")
            with self._lock:
                self._running.discard(name)
            self.signals.ready.emit(generation, thumbnail)

    def _produce(self, index, name: str) -> Thumbnail:
        key = self.cache.key(index, name, self.size) if self.cache is not None else None
        if key is not None:
            cached = self.cache.load(key, name)
            if cached is not None:
                return cached
        thumbnail = make_thumbnail(index, name, self.size)
        if key is not None:
            self.cache.save(key, thumbnail)
        return thumbnail


class _PruneTask(QRunnable):
    def __init__(self, cache: ThumbnailDiskCache):
        super().__init__()
        self._cache = cache

    def run(self) -> None:
        self._cache.prune()
