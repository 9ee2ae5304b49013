"""The browser's list model: one row per sample of state.index, its status, problems and a lazy thumbnail.

The model resets from the index at once (names only); a row's thumbnail is asked for when the view first
paints it, made by the ThumbnailLoader on a thread pool, and kept in a memory LRU. BrowserFilterModel
filters rows by name and by status, and lists the predicted images most uncertain first when asked.
"""

from __future__ import annotations

from collections import OrderedDict
from enum import IntEnum
from pathlib import Path

import numpy as np
from PySide6.QtCore import QAbstractListModel, QModelIndex, QSortFilterProxyModel, Qt, QTimer
from PySide6.QtGui import QImage

from core.classes import IGNORE_INDEX
from gui.browser.thumbnails import Thumbnail, ThumbnailLoader, compose_thumbnail
from gui.state import AppState, SampleStatus

MEMORY_CACHE_SIZE = 2000  # thumbnails kept in memory (about 20-40 kB each)
_REQUEST_DELAY_MS = 60  # rows painted until scrolling pauses this long are requested together
_DELIVERY_DELAY_MS = 40  # arrived thumbnails are shown together, not one repaint each
# name shown in the filter combo -> key
STATUS_FILTERS = {"All images": "all", "Unlabeled": "unlabeled", "Labeled": "labeled", "Predicted": "predicted",
                  "Edited since save": "edited", "With problems": "problems", "Most uncertain first": "uncertain"}


class BrowserRole(IntEnum):
    STATUS = Qt.ItemDataRole.UserRole + 1  # SampleStatus
    THUMBNAIL = Qt.ItemDataRole.UserRole + 2  # QImage, or None while it is being made or unreadable
    ERROR = Qt.ItemDataRole.UserRole + 3  # why the image cannot be read, or None
    PROBLEMS = Qt.ItemDataRole.UserRole + 4  # tuple of problem messages about this sample's files


def sample_paths(sample) -> list[Path]:
    """Every file of a sample: image, mask, per-class masks, labelme file."""
    return [p for p in (sample.image, sample.mask, sample.labelme, *(p for _, p in sample.class_masks))
            if p is not None]


class DatasetBrowserModel(QAbstractListModel):
    def __init__(self, state: AppState, loader: ThumbnailLoader, parent=None):
        super().__init__(parent)
        self.state = state
        self.loader = loader
        self.names: list[str] = []
        self._rows: dict[str, int] = {}
        self._cache: OrderedDict[str, tuple[Thumbnail, QImage | None]] = OrderedDict()
        self._problems: dict[str, tuple] = {}
        self._wanted: dict[str, None] = {}
        self._arrived: set[str] = set()
        self._hidden = state.overlay.hidden
        self._request_timer = self._timer(_REQUEST_DELAY_MS, self._flush_requests)
        self._delivery_timer = self._timer(_DELIVERY_DELAY_MS, self._flush_deliveries)
        loader.signals.ready.connect(self._on_loader_ready)
        state.dataset_changed.connect(self._on_state_dataset_changed)
        state.problems_changed.connect(self._on_state_problems_changed)
        state.status_changed.connect(self._on_state_status_changed)
        state.classes_changed.connect(self._recompose)
        state.overlay_changed.connect(self._on_state_overlay_changed)
        state.mask_saved.connect(self._on_state_mask_saved)
        self._on_state_dataset_changed()

    def _timer(self, interval: int, slot) -> QTimer:
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.setInterval(interval)
        timer.timeout.connect(slot)
        return timer

    # Qt model -----------------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self.names)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        name = self.names[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return name
        if role == BrowserRole.STATUS:
            return self.status(name)
        if role == BrowserRole.THUMBNAIL:
            return self.thumbnail(name)
        if role == BrowserRole.ERROR:
            return self.error(name)
        if role == BrowserRole.PROBLEMS:
            return self._problems.get(name, ())
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(name)
        return None

    # queries ------------------------------------------------------------------------------------
    def row_of(self, name: str | None) -> int:
        return self._rows.get(name, -1) if name is not None else -1

    def status(self, name: str) -> SampleStatus:
        return self.state.sample_status(name)

    def has_problems(self, name: str) -> bool:
        return bool(self._problems.get(name)) or self.error(name) is not None

    def error(self, name: str) -> str | None:
        """Why the image cannot be read (the thumbnail maker's or the validation's words), or None."""
        cached = self._cache.get(name)
        if cached is not None and cached[0].error:
            return cached[0].error
        for kind, message in self._problems.get(name, ()):
            if kind == "unreadable":
                return message
        return None

    def labeled_share(self, name: str) -> float | None:
        """The share of the saved mask's pixels that carry a label (partial labels leave the rest unlabeled),
        read from its thumbnail; None until the thumbnail is made or without a mask."""
        cached = self._cache.get(name)
        mask = cached[0].mask if cached is not None else None
        if mask is None or mask.size == 0:
            return None
        return float(np.count_nonzero(mask != IGNORE_INDEX)) / mask.size

    def thumbnail(self, name: str) -> QImage | None:
        """The composed thumbnail; None while it is made (it is requested then) or when unreadable."""
        cached = self._cache.get(name)
        if cached is None:
            if name not in self._wanted:
                self._wanted[name] = None
                self._request_timer.start()
            return None
        self._cache.move_to_end(name)
        thumbnail, image = cached
        if image is None and thumbnail.image is not None:
            image = self._compose(thumbnail)
            self._cache[name] = (thumbnail, image)
        return image

    def _tooltip(self, name: str) -> str:
        lines = [f"<b>{name}</b> — {self.status(name).label}"]
        if name in self.state.uncertainty:
            lines.append(f"uncertainty {self.state.uncertainty[name]:.2f} (0 certain, 1 most uncertain)")
        sample = self.state.index.sample(name)
        root = self.state.index.root
        if sample.plane_label:  # one plane of a stack, series or mosaic file
            lines.append(f"{sample.image.name} · {sample.plane_label}")
        lines += [_relative(path, root) for path in sample_paths(sample)]
        error = self.error(name)
        if error:
            lines.append(f"<span style='color:#c0392b'>Cannot read this image: {error}</span>")
        lines += [f"⚠ {message}" for kind, message in self._problems.get(name, ()) if kind != "unreadable"]
        cached = self._cache.get(name)
        if cached is not None and cached[0].mask_error:
            lines.append(f"⚠ mask not shown: {cached[0].mask_error}")
        return "<br>".join(lines)

    # state --------------------------------------------------------------------------------------
    def _on_state_dataset_changed(self) -> None:
        self.beginResetModel()
        index = self.state.index
        self.names = [s.name for s in index.samples] if index is not None else []
        self._rows = {name: row for row, name in enumerate(self.names)}
        self._cache.clear()
        self._wanted.clear()
        self._arrived.clear()
        self.loader.set_index(index)
        self._problems = self._problems_by_name()
        self.endResetModel()

    def _on_state_problems_changed(self) -> None:
        old, self._problems = self._problems, self._problems_by_name()
        for name in set(old) | set(self._problems):
            if old.get(name) != self._problems.get(name):
                self._row_changed(name)

    def _problems_by_name(self) -> dict[str, tuple]:
        """(kind, message) of each problem, by the sample whose file it names; 'unlabeled' is a status."""
        index = self.state.index
        if index is None or not self.state.problems:
            return {}
        owner = {path: s.name for s in index.samples for path in sample_paths(s)}
        found: dict[str, list] = {}
        for problem in self.state.problems:
            name = owner.get(problem.path)
            if name is not None and problem.kind != "unlabeled":
                found.setdefault(name, []).append((problem.kind, problem.message))
        return {name: tuple(items) for name, items in found.items()}

    def _on_state_status_changed(self, name: str) -> None:
        self._row_changed(name)

    def _on_state_mask_saved(self, name: str) -> None:
        """A saved mask: make its thumbnail again (the disk cache key holds the mask file's time and size)."""
        self.loader.update_index(self.state.index)
        self._cache.pop(name, None)
        self._row_changed(name)

    def _on_state_overlay_changed(self) -> None:
        if self.state.overlay.hidden != self._hidden:
            self._hidden = self.state.overlay.hidden
            self._recompose()

    def _recompose(self) -> None:
        """Class colours or visibility changed: compose the thumbnails again (no file is read)."""
        for name, (thumbnail, _) in self._cache.items():
            self._cache[name] = (thumbnail, None)
        if self.names:
            self.dataChanged.emit(self.index(0), self.index(len(self.names) - 1), [BrowserRole.THUMBNAIL])

    def _row_changed(self, name: str) -> None:
        row = self.row_of(name)
        if row >= 0:
            self.dataChanged.emit(self.index(row), self.index(row))

    # thumbnails ---------------------------------------------------------------------------------
    def _compose(self, thumbnail: Thumbnail) -> QImage:
        rgb = compose_thumbnail(thumbnail, self.state.classes, self.state.overlay.hidden)
        height, width = rgb.shape[:2]
        return QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()

    def _flush_requests(self) -> None:
        wanted = [name for name in self._wanted if name not in self._cache]
        self._wanted.clear()
        self.loader.request(wanted)

    def _on_loader_ready(self, generation: int, thumbnail: Thumbnail) -> None:
        if generation != self.loader.generation or thumbnail.name not in self._rows:
            return
        self._cache[thumbnail.name] = (thumbnail, None)
        while len(self._cache) > MEMORY_CACHE_SIZE:
            self._cache.popitem(last=False)
        self._arrived.add(thumbnail.name)
        if not self._delivery_timer.isActive():
            self._delivery_timer.start()

    def _flush_deliveries(self) -> None:
        arrived, self._arrived = self._arrived, set()
        for name in arrived:
            self._row_changed(name)


class BrowserFilterModel(QSortFilterProxyModel):
    """Rows whose name contains the filter text (any case) and whose status matches the chosen key; the key
    'uncertain' keeps the images with an uncertainty score, highest first (folder order otherwise)."""

    def __init__(self, source: DatasetBrowserModel, parent=None):
        super().__init__(parent)
        self.setSourceModel(source)
        self._text = ""
        self._status = "all"
        source.state.prediction_changed.connect(self._on_state_prediction_changed)

    @property
    def browser_model(self) -> DatasetBrowserModel:
        return self.sourceModel()

    def set_name_filter(self, text: str) -> None:
        self.beginFilterChange()
        self._text = text.strip().casefold()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_status_filter(self, key: str) -> None:
        if key not in STATUS_FILTERS.values():
            raise ValueError(f"unknown status filter {key!r}; choose one of {', '.join(STATUS_FILTERS.values())}")
        self.beginFilterChange()
        self._status = key
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        if key == "uncertain":
            self.sort(0, Qt.SortOrder.DescendingOrder)
        else:
            self.sort(-1)  # back to the folder's order

    def lessThan(self, left: QModelIndex, right: QModelIndex) -> bool:
        """By uncertainty score (sorted descending: most uncertain first); equal scores by name, A first."""
        names = self.browser_model.names
        a, b = names[left.row()], names[right.row()]
        scores = self.browser_model.state.uncertainty
        return (scores.get(a, -1.0), b) < (scores.get(b, -1.0), a)

    def _on_state_prediction_changed(self, _name: str) -> None:
        if self._status == "uncertain":  # a new score: filter and order again
            self.invalidate()

    @property
    def filtering(self) -> bool:
        return bool(self._text) or self._status != "all"

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex) -> bool:
        model = self.browser_model
        name = model.names[source_row]
        if self._text and self._text not in name.casefold():
            return False
        if self._status == "all":
            return True
        if self._status == "problems":
            return model.has_problems(name)
        if self._status == "uncertain":
            return name in model.state.uncertainty
        status = model.status(name)
        if self._status == "unlabeled":
            return not status.labeled
        return bool(getattr(status, self._status))


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
