"""One image being edited: its mask (the document's array), its undo stack and its editable polygons."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from core.mask_painting import MaskPatch
from gui.editor.polygon_shapes import EditablePolygon
from gui.state import AppState, ImageDocument

UNDO_LIMIT = 200  # steps per image; each holds only the pixels it changed


class EditSession(QObject):
    """Commands change the mask through apply() and the polygons through set_shapes(), so the overlay
    repaints just the region and the polygon tool redraws. The stack's clean state is "saved".

    While its image is not shown the session keeps its history and polygons but not the image: coming back,
    the image read again takes its place when its annotation files are the ones saved (same FileStamp)."""

    shapes_changed = Signal()

    def __init__(self, state: AppState, document: ImageDocument, parent: QObject | None = None):
        super().__init__(parent)
        self.state = state
        self._name = document.name
        self.document: ImageDocument | None = document
        self.saved_stamp = None  # the document's annotation stamp when it was let go
        self.stack = QUndoStack(self)
        self.stack.setUndoLimit(UNDO_LIMIT)
        self.shapes: tuple[EditablePolygon, ...] = ()
        self.revision = 0  # counts changes, for autosave
        self.stack.indexChanged.connect(self._on_stack_index_changed)
        self.stack.cleanChanged.connect(self._on_stack_clean_changed)

    @property
    def name(self) -> str:
        return self._name

    @property
    def mask(self) -> np.ndarray:
        return self.document.mask

    @property
    def dirty(self) -> bool:
        return not self.stack.isClean()

    def apply(self, patch: MaskPatch, undo: bool = False) -> None:
        patch.apply(self.mask, undo)
        if self.state.document is self.document:
            self.state.notify_mask_edited(patch.region)
        else:
            self.document.has_mask = True

    def set_shapes(self, shapes: tuple[EditablePolygon, ...]) -> None:
        self.shapes = shapes
        self.shapes_changed.emit()

    def detach(self) -> None:
        """The image is no longer shown (its edits were saved or let go): let go of its pixels."""
        if self.document is not None:
            self.saved_stamp = self.document.annotation_stamp
            self.document = None

    def can_rebind(self, document: ImageDocument) -> bool:
        """Whether `document` (the same image read again) holds exactly the mask this session left, so its
        undo history still applies: the files read are the ones saved (every save reads back exactly)."""
        return (document.name == self.name and not self.dirty and self.saved_stamp is not None
                and document.annotation_stamp == self.saved_stamp and not document.mask_unreadable)

    def rebind(self, document: ImageDocument) -> None:
        self.document = document

    def revert(self) -> None:
        """Undo back to the saved state (when it is reachable); the edits are let go."""
        if self.stack.cleanIndex() >= 0:
            self.stack.setIndex(self.stack.cleanIndex())

    def _on_stack_index_changed(self, _index: int) -> None:
        self.revision += 1

    def _on_stack_clean_changed(self, clean: bool) -> None:
        self.state.mark_edited(self.name, not clean)
