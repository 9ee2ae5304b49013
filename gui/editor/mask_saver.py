"""Saving the current image's mask into the dataset (core/data/mask_saving.py) and explaining what went wrong.

On any failure the edits stay in memory (the image stays dirty) and a recovery file is written at once.
A mask changed on disk by another program is not overwritten without asking; neither is a mask file
that could not be read when the image was opened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QGuiApplication

from core.data.mask_saving import save_annotation
from core.errors import MaskChangedOnDiskError, SegLabError
from gui.editor import editor_dialogs as dialogs

if TYPE_CHECKING:
    from gui.editor.editor_controller import EditorController


class MaskSaver(QObject):
    def __init__(self, controller: EditorController):
        super().__init__(controller)
        self.controller = controller

    def save(self) -> bool:
        """Save the current image's mask; True when it is on disk now."""
        controller = self.controller
        state, session = controller.state, controller.session
        if session is None or state.index is None:
            return False
        controller.commit_pending()
        document = session.document
        if document.mask_unreadable and not dialogs.confirm(
                controller.window, "Replace the unreadable mask?",
                f"The mask file of {document.name} could not be read when the image was opened, so the mask "
                "shown started empty. Saving replaces that file with the mask you see.", "Replace"):
            return False
        try:
            saved = self._write(session, overwrite=False)
        except MaskChangedOnDiskError as exc:
            if not dialogs.confirm(controller.window, "Mask changed on disk",
                                   f"{exc}\n\nOverwrite it with your edits?", "Overwrite"):
                return self._failed(session, None)
            try:
                saved = self._write(session, overwrite=True)
            except SegLabError as again:
                return self._failed(session, again)
        except SegLabError as exc:
            return self._failed(session, exc)
        document.annotation_stamp = saved.stamp
        document.mask_unreadable = False
        document.has_mask = True
        session.stack.setClean()
        controller.recovery.forget(document.name)
        state.update_sample(saved.sample)
        state.mark_edited(document.name, False)
        state.mask_saved.emit(document.name)
        path = saved.sample.mask or saved.sample.labelme or saved.sample.class_masks[0][1]
        controller.message(f"Saved {path.parent.name}/{path.name} ({saved.description})")
        return True

    def _write(self, session, overwrite: bool):
        state = self.controller.state
        document = session.document
        polygons = [shape.as_polygon() for shape in session.shapes]
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            return save_annotation(state.index, state.index.sample(document.name), document.mask,
                                   document.annotation_stamp, polygons, overwrite)
        finally:
            QGuiApplication.restoreOverrideCursor()

    def _failed(self, session, error: SegLabError | None) -> bool:
        """Keep the edits: in memory, and in a recovery file written now."""
        controller = self.controller
        kept = controller.recovery.write_now(session)
        if error is not None:
            where = f" and in {kept}" if kept else ""
            dialogs.show_error(controller.window, "The mask was not saved",
                               f"{error}\n\nYour edits are kept in SegLab{where}.")
            controller.message(f"Not saved: {error.reason}")
        return False
