"""One image being edited: its mask, its undo stack, its editable polygons, and whether it has unsaved edits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from core.data.recovery_files import RecoveryEntry, read_recovery
from core.io.file_stamp import FileStamp
from core.io.polygons import Polygon
from core.mask_painting import MaskPatch
from gui.editor.polygon_shapes import EditablePolygon
from gui.state import AppState, ImageDocument

UNDO_LIMIT = 200  # steps per image; each holds only the pixels it changed


@dataclass(frozen=True)
class SaveInput:
    """What saving an image's edits writes, and what it checks first."""

    name: str
    mask: np.ndarray
    stamp: FileStamp | None  # the annotation files the edits started from (changed since: ask)
    mask_unreadable: bool  # the image's mask file could not be read (replacing it: ask)
    polygons: tuple[Polygon, ...]


class EditSession(QObject):
    """The one owner of an image's edits. Commands change the mask through apply() and the polygons through
    set_shapes(), so the overlay repaints just the region and the polygon tool redraws.

    `edited` (unsaved edits) is the undo stack away from its clean state, or restored edits waiting to be
    shown. Only _update_edited changes it: AppState's "edited" flag follows and `edited_changed` tells the
    recovery files (False: nothing to recover any more).

    While its image is not shown the session keeps its history and polygons, and its mask only when it has
    unsaved edits (the image pixels are let go). Coming back, the image read again takes the kept mask, or,
    without edits, its own mask when its annotation files are the ones saved (same FileStamp)."""

    shapes_changed = Signal()
    edited_changed = Signal(str, bool)  # name, edited

    def __init__(self, state: AppState, name: str, restore: RecoveryEntry | None = None,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.state = state
        self._name = name
        self.document: ImageDocument | None = None
        self._mask: np.ndarray | None = None
        self.stamp: FileStamp | None = None
        self.mask_unreadable = False
        self.restore_entry = restore  # restored edits, applied when the image is shown
        self.stack = QUndoStack(self)
        self.stack.setUndoLimit(UNDO_LIMIT)
        self.shapes: tuple[EditablePolygon, ...] = ()
        self.revision = 0  # counts changes, for the recovery files
        self._edited = False
        self.stack.indexChanged.connect(self._on_stack_index_changed)
        self.stack.cleanChanged.connect(self._update_edited)
        self._update_edited()

    @property
    def name(self) -> str:
        return self._name

    @property
    def mask(self) -> np.ndarray | None:
        """The mask being edited (None for restored edits not shown yet, or an image let go unedited)."""
        return self._mask

    @property
    def edited(self) -> bool:
        return self._edited

    # showing ------------------------------------------------------------------------------------
    def can_show(self, document: ImageDocument) -> bool:
        """Whether `document` (this image read again) can carry on this session: it fits the mask kept with
        unsaved edits, or the files read are the ones last saved (every save reads back exactly)."""
        if document.name != self.name:
            return False
        if self._mask is not None:
            return self._mask.shape == document.shape
        return self.restore_entry is not None or (
            document.annotation_stamp == self.stamp and not document.mask_unreadable)

    def show(self, document: ImageDocument) -> None:
        """The image is on screen as `document`: it shows the kept edits, or the session takes its mask."""
        self.document = document
        if self._mask is not None:
            document.mask, document.has_mask = self._mask, True
            self.state.notify_mask_edited(None)
        else:
            self._mask = document.mask
            self.stamp, self.mask_unreadable = document.annotation_stamp, document.mask_unreadable

    def detach(self) -> None:
        """The image is no longer shown: let go of its pixels, keeping the mask only if it has unsaved edits."""
        self.document = None
        if not self._edited:
            self._mask = None

    # edits --------------------------------------------------------------------------------------
    def apply(self, patch: MaskPatch, undo: bool = False) -> None:
        patch.apply(self._mask, undo)
        if self.document is not None and self.state.document is self.document:
            self.state.notify_mask_edited(patch.region)
        elif self.document is not None:
            self.document.has_mask = True

    def set_shapes(self, shapes: tuple[EditablePolygon, ...]) -> None:
        self.shapes = shapes
        self.shapes_changed.emit()

    def set_restore(self, entry: RecoveryEntry) -> None:
        """Edits restored from a recovery file, applied (one undoable step) when the image is shown."""
        self.restore_entry = entry
        self._update_edited()

    def finish_restore(self) -> None:
        """The restored edits were applied (or could not be): the undo stack says what is unsaved now."""
        self.restore_entry = None
        self._update_edited()

    # saving and letting go ----------------------------------------------------------------------
    def save_input(self) -> SaveInput:
        """What to write. Restored edits never shown come from their recovery file (may raise SegLabError)."""
        if self._mask is None and self.restore_entry is not None:
            entry = self.restore_entry
            return SaveInput(self.name, read_recovery(entry), entry.source, False, ())
        return SaveInput(self.name, self._mask, self.stamp, self.mask_unreadable,
                         tuple(shape.as_polygon() for shape in self.shapes))

    def mark_saved(self, stamp: FileStamp) -> None:
        """The edits are in the dataset now, in files with this stamp."""
        self.stamp, self.mask_unreadable, self.restore_entry = stamp, False, None
        if self.document is not None:
            self.document.has_mask, self.document.mask_unreadable = True, False
        else:
            self._mask = None
        self.stack.setClean()
        self._update_edited()

    def discard(self) -> None:
        """Let the unsaved edits go (the folder or the window closes): back to the saved mask where the history
        reaches it, and no history."""
        if self.stack.cleanIndex() >= 0:
            self.stack.setIndex(self.stack.cleanIndex())
        self.restore_entry = None
        self.stack.clear()
        self._update_edited()

    def _update_edited(self, *_) -> None:
        edited = not self.stack.isClean() or self.restore_entry is not None
        if edited != self._edited:
            self._edited = edited
            self.state.mark_edited(self.name, edited)
            self.edited_changed.emit(self.name, edited)

    def _on_stack_index_changed(self, _index: int) -> None:
        self.revision += 1
