"""Undo commands. A step stores only the pixels it changed (core.mask_painting.MaskPatch: the rectangle, or
the changed pixels alone when fewer), and the polygon list before and after when polygons changed, so
memory does not grow with the image size."""

from __future__ import annotations

from PySide6.QtGui import QUndoCommand

from core.classes import ClassTable
from core.mask_painting import MaskPatch
from gui.editor.edit_session import EditSession
from gui.editor.polygon_shapes import EditablePolygon


def class_text(classes: ClassTable, index: int) -> str:
    """'class nucleus' for a named class, 'class 2' for a default name or a value outside the table."""
    if 0 <= index < len(classes) and classes[index].name != f"class {index}":
        return f"class {classes[index].name}"
    return f"class {index}"


class MaskEditCommand(QUndoCommand):
    """One edit: a patch of pixels (or None) and, optionally, the polygons before and after."""

    def __init__(self, session: EditSession, text: str, patch: MaskPatch | None,
                 shapes_before: tuple[EditablePolygon, ...] | None = None,
                 shapes_after: tuple[EditablePolygon, ...] | None = None):
        super().__init__(text)
        self.session = session
        self.patch = patch
        self.shapes_before = shapes_before
        self.shapes_after = shapes_after

    @property
    def size_bytes(self) -> int:
        return 0 if self.patch is None else self.patch.nbytes

    def redo(self) -> None:
        if self.patch is not None:
            self.session.apply(self.patch)
        if self.shapes_after is not None:
            self.session.set_shapes(self.shapes_after)

    def undo(self) -> None:
        if self.patch is not None:
            self.session.apply(self.patch, undo=True)
        if self.shapes_before is not None:
            self.session.set_shapes(self.shapes_before)
