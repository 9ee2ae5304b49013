"""The dataset browser: every image with its status as thumbnails or a compact list, filters, keyboard
navigation. Selecting an image asks AppState for it; the selection follows the image shown."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication, QItemSelectionModel, QModelIndex, QSize, Qt, Signal, Slot
from PySide6.QtGui import QIcon, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QStyle,
    QStyleOptionViewItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gui.browser.browser_delegate import BrowserItemDelegate
from gui.browser.browser_model import STATUS_FILTERS, BrowserFilterModel, DatasetBrowserModel
from gui.browser.thumbnails import ThumbnailDiskCache, ThumbnailLoader, default_cache_dir
from gui.state import AppState


def mode_icon(grid: bool, palette: QPalette) -> QIcon:
    """A small drawn icon: four tiles (thumbnails) or three lines (compact list)."""
    pixmap = QPixmap(16, 16)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    colour = palette.color(QPalette.ColorRole.WindowText)
    if grid:
        for x, y in ((1, 1), (9, 1), (1, 9), (9, 9)):
            painter.fillRect(x, y, 6, 6, colour)
    else:
        for y in (2, 7, 12):
            painter.fillRect(1, y, 3, 3, colour)
            painter.fillRect(6, y + 1, 9, 1, colour)
    painter.end()
    return QIcon(pixmap)


class BrowserListView(QListView):
    """A list view that shows a hint when empty and takes A/D as previous/next (arrows work as usual)."""

    step_requested = Signal(int)  # -1 previous, +1 next

    def __init__(self, parent=None):
        super().__init__(parent)
        self.empty_text = ""

    def keyPressEvent(self, event) -> None:
        step = {Qt.Key.Key_A: -1, Qt.Key.Key_D: 1}.get(event.key())
        if step is not None and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            self.step_requested.emit(step)
            return
        super().keyPressEvent(event)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.spread_columns()

    def spread_columns(self) -> None:
        """In the grid, share the spare width between the columns instead of leaving a gap on the right."""
        if self.viewMode() != QListView.ViewMode.IconMode or self.model() is None:
            return
        option = QStyleOptionViewItem()
        self.initViewItemOption(option)
        item = self.itemDelegate().sizeHint(option, QModelIndex())
        # The same width whether or not the scroll bar shows: else a grid that makes the scroll bar appear
        # shrinks itself, the scroll bar goes, the grid grows again, and the view repaints without end.
        scroll_bar = self.verticalScrollBar()
        full = self.viewport().width() + (scroll_bar.width() if scroll_bar.isVisible() else 0)
        extent = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, self)
        width = full - extent - 2 * self.spacing() - 1
        columns = max(1, width // (item.width() + 2 * self.spacing()))
        size = QSize(width // columns, item.height() + 2 * self.spacing())
        if self.gridSize() != size:
            self.setGridSize(size)

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self.model() is not None and self.model().rowCount() == 0 and self.empty_text:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
            rect = self.viewport().rect().adjusted(16, 16, -16, -16)
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.empty_text)


class DatasetBrowserWidget(QWidget):
    def __init__(self, state: AppState, parent: QWidget | None = None, cache_dir: str | Path | None = None):
        super().__init__(parent)
        self.state = state
        self.loader = ThumbnailLoader(ThumbnailDiskCache(cache_dir or default_cache_dir()))
        self.model = DatasetBrowserModel(state, self.loader, self)
        self.proxy = BrowserFilterModel(self.model, self)

        self.name_filter = QLineEdit()
        self.name_filter.setPlaceholderText("Filter by name")
        self.name_filter.setClearButtonEnabled(True)
        self.status_filter = QComboBox()
        for text, key in STATUS_FILTERS.items():
            self.status_filter.addItem(text, key)
        self.status_filter.setToolTip("Show only images in this state")
        self.status_filter.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.status_filter.setMinimumContentsLength(8)
        self.name_filter.setMinimumWidth(self.fontMetrics().horizontalAdvance("Filter by name") + 36)
        self.grid_button = self._mode_button(mode_icon(True, self.palette()), "Thumbnails")
        self.list_button = self._mode_button(mode_icon(False, self.palette()), "Compact list")
        modes = QButtonGroup(self)
        modes.addButton(self.grid_button)
        modes.addButton(self.list_button)

        self.delegate = BrowserItemDelegate(self.proxy, self)
        self.view = BrowserListView(self)
        self.view.setModel(self.proxy)
        self.view.setItemDelegate(self.delegate)
        self.view.setUniformItemSizes(True)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)  # Ctrl/Shift-click: several
        self.view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.view.setMouseTracking(True)
        self.count_label = QLabel()
        self.count_label.setObjectName("browser_count")

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.name_filter, 1)
        bar.addWidget(self.status_filter)
        bar.addWidget(self.grid_button)
        bar.addWidget(self.list_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.count_label)

        self._following = False
        self._shown: str | None = None  # the last image this widget asked for
        self.set_grid_mode(True)
        self.name_filter.textChanged.connect(self._on_name_filter_changed)
        self.status_filter.currentIndexChanged.connect(self._on_status_filter_changed)
        self.grid_button.toggled.connect(self.set_grid_mode)
        self.view.selectionModel().currentChanged.connect(self._on_view_current_changed)
        self.view.selectionModel().selectionChanged.connect(self._on_view_selection_changed)
        self.view.step_requested.connect(self.step)
        self.proxy.modelReset.connect(self._on_rows_changed)
        self.proxy.rowsInserted.connect(self._on_rows_changed)
        self.proxy.rowsRemoved.connect(self._on_rows_changed)
        state.current_changed.connect(self._on_state_current_changed)
        state.status_changed.connect(self._update_count)
        loader = self.loader  # not self: the widget may be gone when these run
        self.destroyed.connect(lambda *_: loader.close())
        QCoreApplication.instance().aboutToQuit.connect(loader.shutdown)
        self._on_rows_changed()

    def _mode_button(self, icon, tip: str) -> QToolButton:
        button = QToolButton()
        button.setIcon(icon)
        button.setToolTip(tip)
        button.setCheckable(True)
        button.setAutoRaise(True)
        return button

    # public -------------------------------------------------------------------------------------
    @Slot()
    def select_next(self) -> None:
        self.step(1)

    @Slot()
    def select_previous(self) -> None:
        self.step(-1)

    def step(self, offset: int) -> None:
        """Select the image `offset` rows away from the current one (the first one when none is)."""
        rows = self.proxy.rowCount()
        if rows == 0:
            return
        current = self.view.currentIndex()
        if not self.view.selectionModel().isSelected(current):  # Qt's cursor alone is not a chosen image
            current = QModelIndex()
        row = current.row() + offset if current.isValid() else (0 if offset > 0 else rows - 1)
        self._select_row(max(0, min(rows - 1, row)))

    def set_grid_mode(self, grid: bool) -> None:
        """Thumbnails in a grid (True) or a compact list with small thumbnails (False)."""
        self.delegate.grid = grid
        self.grid_button.setChecked(grid)
        self.list_button.setChecked(not grid)
        self.view.setViewMode(QListView.ViewMode.IconMode if grid else QListView.ViewMode.ListMode)
        self.view.setFlow(QListView.Flow.LeftToRight if grid else QListView.Flow.TopToBottom)
        self.view.setWrapping(grid)
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setMovement(QListView.Movement.Static)
        self.view.setSpacing(2 if grid else 0)
        self.view.setGridSize(QSize())
        self.view.spread_columns()
        self.view.scrollTo(self.view.currentIndex())

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Stop making thumbnails (waits for the ones in progress)."""
        return self.loader.shutdown(timeout_ms)

    @property
    def grid_mode(self) -> bool:
        return self.delegate.grid

    # selection ----------------------------------------------------------------------------------
    def _select_row(self, row: int) -> None:
        index = self.proxy.index(row, 0)
        self.view.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.view.scrollTo(index)

    def _on_view_current_changed(self, *_) -> None:
        self._show_current()

    def _on_view_selection_changed(self, *_) -> None:
        """The picked images (Ctrl/Shift-click for several), in list order, for batch actions."""
        rows = sorted(index.row() for index in self.view.selectionModel().selectedIndexes())
        self.state.set_selection(self.proxy.index(row, 0).data(Qt.ItemDataRole.DisplayRole) for row in rows)
        self._show_current()

    def _show_current(self) -> None:
        """The user moved to an image (click, arrows, A/D; Qt moves the cursor and the selection in either
        order): show it once it is both current and selected."""
        current = self.view.currentIndex()
        if current.isValid() and not self._following and self.view.selectionModel().isSelected(current):
            name = current.data(Qt.ItemDataRole.DisplayRole)
            if name != self._shown:
                self._shown = name
                self.state.request_image(name)

    def _on_state_current_changed(self) -> None:
        self._follow_current()

    def _follow_current(self) -> None:
        """Select the image shown (chosen elsewhere) without asking for it again."""
        self._shown = self.state.current_name
        row = self.model.row_of(self.state.current_name)
        index = self.proxy.mapFromSource(self.model.index(row)) if row >= 0 else QModelIndex()
        if self.view.currentIndex() == index and (not index.isValid()
                                                  or self.view.selectionModel().isSelected(index)):
            return
        self._following = True
        try:
            if index.isValid():
                self.view.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
                self.view.scrollTo(index)
            else:
                self.view.selectionModel().clearCurrentIndex()
                self.view.clearSelection()
        finally:
            self._following = False

    # filters ------------------------------------------------------------------------------------
    def _on_name_filter_changed(self, text: str) -> None:
        self._refilter(lambda: self.proxy.set_name_filter(text))

    def _on_status_filter_changed(self) -> None:
        self._refilter(lambda: self.proxy.set_status_filter(self.status_filter.currentData()))

    def _refilter(self, change) -> None:
        """Filtering must not pick another image by itself: keep the shown one selected if it is listed."""
        self._following = True
        try:
            change()
        finally:
            self._following = False
        self._follow_current()

    def _on_rows_changed(self, *_) -> None:
        if self.state.index is None:
            self.view.empty_text = "No folder open.\n\nOpen a folder of images (File ▸ Open Folder, Ctrl+O) " \
                                   "or drag one onto the window."
        elif self.proxy.filtering:
            self.view.empty_text = "No image matches the filter.\n\nClear the name or pick “All images”."
        else:
            self.view.empty_text = "This folder has no images."
        self._update_count()
        self.view.viewport().update()

    def _update_count(self, *_) -> None:
        index = self.state.index
        if index is None:
            self.count_label.setText("")
            return
        total = len(self.model.names)
        labeled = sum(1 for s in index.samples if s.labeled)
        shown = self.proxy.rowCount()
        head = f"{total} images" if shown == total else f"{shown} of {total} images shown"
        parts = [head, f"{labeled} labeled"]
        parts += [f"{len(self.state.predictions)} predicted"] if self.state.predictions else []
        parts += [f"{len(self.state.edited)} edited"] if self.state.edited else []
        self.count_label.setText(" · ".join(parts))
