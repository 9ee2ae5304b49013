"""Edit > Revert Mask…: the kept versions of the current image's mask (core/data/mask_history.py), newest
first, with the time, the labeled pixels and a thumbnail in the class colours. Restore puts the chosen
version on screen as one undo step, unsaved: the user looks at it and saves (and that save keeps the mask
it replaces as a version in turn). Versions are read on a worker; the dialog opens at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import cv2
import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.classes import ClassTable
from core.data.index import DatasetIndex
from core.data.mask_history import MAX_VERSIONS, MaskVersion, list_versions, read_version
from core.errors import MaskFormatError, SegLabError
from core.io.masks import ignore_index_for
from core.mask_painting import MaskPatch
from gui.workers import TaskRunner

THUMB_PX = 64
EMPTY_TEXT = "No earlier versions of this mask yet: SegLab keeps one each time the mask is saved."
_ROLE = Qt.ItemDataRole.UserRole


@dataclass(frozen=True)
class VersionRow:
    """One version as listed: its thumbnail (RGB uint8) and labeled pixels, or why it cannot be read."""

    version: MaskVersion
    thumbnail: np.ndarray | None
    labeled_pixels: int = 0
    total_pixels: int = 0
    problem: str = ""


def when_text(seconds: float, today: date | None = None) -> str:
    """'Today 14:02', 'Yesterday 09:15', else '3 Mar 2025 14:02' (local time)."""
    moment = datetime.fromtimestamp(seconds)
    today = today or date.today()
    clock = moment.strftime("%H:%M")
    if moment.date() == today:
        return f"Today {clock}"
    if moment.date() == today - timedelta(days=1):
        return f"Yesterday {clock}"
    return f"{moment.day} {moment.strftime('%b %Y')} {clock}"


def read_rows(ctx, index: DatasetIndex, name: str) -> list[VersionRow]:
    """(worker) The versions of `name`, newest first, each decoded for its thumbnail and pixel count."""
    rows = []
    classes = index.settings.classes
    for version in list_versions(index.root, name):
        ctx.check_cancelled()
        try:
            mask = read_version(version, index)
        except SegLabError as exc:
            rows.append(VersionRow(version, None, problem=exc.reason))
            continue
        labeled = int(np.count_nonzero((mask != 0) & (mask != ignore_index_for(len(classes)))))
        rows.append(VersionRow(version, _thumbnail(mask, classes), labeled, mask.size))
    return rows


def restore_patch(ctx, index: DatasetIndex, version: MaskVersion, current: np.ndarray) -> MaskPatch | None:
    """(worker) The edit from `current` to the version's mask; None when they are equal."""
    mask = read_version(version, index)
    if mask.shape != current.shape:
        raise MaskFormatError(f"this version is {mask.shape[1]} x {mask.shape[0]} pixels but the image is "
                              f"{current.shape[1]} x {current.shape[0]}; it cannot be restored",
                              version.files[0].path)
    return MaskPatch.between((0, 0, *current.shape), current, mask.astype(current.dtype))


def _thumbnail(mask: np.ndarray, classes: ClassTable) -> np.ndarray:
    height, width = mask.shape
    scale = min(1.0, THUMB_PX / max(height, width))
    small = cv2.resize(mask, (max(1, round(width * scale)), max(1, round(height * scale))),
                       interpolation=cv2.INTER_NEAREST)
    return np.ascontiguousarray(classes.lookup_table(int(small.max(initial=0)) + 1)[small])


class RevertMaskDialog(QDialog):
    """Lists the current image's kept versions; Restore applies the chosen one through the editor."""

    def __init__(self, controller, parent: QWidget | None = None):
        super().__init__(parent)
        self.controller = controller  # gui.editor.editor_controller.EditorController
        self.name = controller.session.name
        self.index = controller.state.index
        self.tasks = TaskRunner(1, self)
        self.rows: list[VersionRow] = []
        self.setWindowTitle(f"Revert Mask of {self.name}")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.intro = QLabel(f"Earlier masks of <b>{self.name}</b>, newest first. Each one is the mask as it "
                            "was just before a save replaced it.<br>Restore shows the chosen mask as an edit: "
                            "Undo (Ctrl+Z) takes it back, Save (Ctrl+S) keeps it.")
        self.intro.setWordWrap(True)
        self.versions = QListWidget()
        self.versions.setIconSize(QSize(THUMB_PX, THUMB_PX))
        self.versions.setSpacing(2)
        self.versions.currentRowChanged.connect(self._sync_buttons)
        self.versions.itemDoubleClicked.connect(lambda _item: self.restore())
        self.status = QLabel("Reading the kept versions…")
        self.status.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button = buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.restore_button = buttons.addButton("Restore", QDialogButtonBox.ButtonRole.AcceptRole)
        self.restore_button.setEnabled(False)
        buttons.accepted.connect(self.restore)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.versions, 1)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self.resize(460, 420)
        task = self.tasks.start(read_rows, self.index, self.name)
        task.signals.finished.connect(self._on_rows_read)
        task.signals.failed.connect(lambda message, _: self._show_failure("Cannot read the versions", message))

    def restore(self) -> None:
        """Read the chosen version (on the worker) and apply it to the image on screen."""
        row = self.versions.currentItem()
        session = self.controller.session
        if row is None or session is None or not self.restore_button.isEnabled():
            return
        version = self.rows[row.data(_ROLE)].version
        self.restore_button.setEnabled(False)
        self.status.setText("Reading the chosen mask…")
        task = self.tasks.start(restore_patch, self.index, version, session.mask.copy())
        task.signals.finished.connect(lambda patch: self._on_patch_ready(version, patch))
        task.signals.failed.connect(lambda message, _: self._show_failure("Not restored", message))

    def done(self, result: int) -> None:
        self.tasks.shutdown()
        super().done(result)

    def _on_rows_read(self, rows: list[VersionRow]) -> None:
        self.rows = rows
        for number, row in enumerate(rows):
            item = QListWidgetItem(self._row_text(row))
            item.setData(_ROLE, number)
            if row.thumbnail is not None:
                pixmap = QPixmap.fromImage(_qimage(row.thumbnail))
                icon = QIcon(pixmap)
                icon.addPixmap(pixmap, QIcon.Mode.Selected)  # the class colours, not tinted by the selection
                item.setIcon(icon)
            else:
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
            self.versions.addItem(item)
        if not rows:
            self._show_empty()
            return
        self.status.setText(f"{len(rows)} earlier version{'s' if len(rows) > 1 else ''} kept "
                            f"(SegLab keeps the last {MAX_VERSIONS} of each image).")
        first = next((n for n, row in enumerate(rows) if row.thumbnail is not None), None)
        if first is not None:
            self.versions.setCurrentRow(first)
        self._sync_buttons()

    def _show_empty(self) -> None:
        for widget in (self.intro, self.versions, self.restore_button):
            widget.hide()
        self.status.setText(EMPTY_TEXT)
        self.status.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.status.setMinimumSize(420, 80)
        self.cancel_button.setText("Close")
        self.adjustSize()

    def _on_patch_ready(self, version: MaskVersion, patch: MaskPatch | None) -> None:
        session = self.controller.session
        if session is None or session.name != self.name:
            self.reject()
            return
        when = when_text(version.time)
        if patch is None:
            self.controller.message(f"The mask on screen already equals the version of {when}")
        else:
            self.controller.push(f"Revert mask to {when}", patch)
            self.controller.message(f"Restored the mask of {when}; save to keep it, or undo")
        self.accept()

    def _show_failure(self, what: str, message: str) -> None:
        self.status.setText(f"{what}: {message}")
        self._sync_buttons()

    def _sync_buttons(self, *_) -> None:
        item = self.versions.currentItem()
        self.restore_button.setEnabled(item is not None and bool(item.flags() & Qt.ItemFlag.ItemIsEnabled))

    @staticmethod
    def _row_text(row: VersionRow) -> str:
        when = when_text(row.version.time)
        if row.thumbnail is None:
            return f"{when}\ncannot be read: {row.problem}"
        share = 100 * row.labeled_pixels / row.total_pixels if row.total_pixels else 0
        return f"{when}\n{row.labeled_pixels:,} labeled pixels ({share:.1f} % of the image)"


def _qimage(rgb: np.ndarray) -> QImage:
    height, width, _ = rgb.shape
    return QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()
