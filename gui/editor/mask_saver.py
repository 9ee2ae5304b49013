"""Saving an image's edits into the dataset (core/data/mask_saving.py) and explaining what went wrong.

On any failure the edits stay in their EditSession (the image stays "edited") and a recovery file is written
at once. A mask changed on disk by another program is not overwritten without asking; neither is a mask
file that could not be read when the image was opened.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

from core.data.mask_saving import SavedAnnotation, save_annotation
from core.errors import MaskChangedOnDiskError, SegLabError
from gui.editor import editor_dialogs as dialogs
from gui.editor.edit_session import EditSession, SaveInput
from gui.editor.recovery import RecoveryController
from gui.state import AppState


class MaskSaver(QObject):
    def __init__(self, state: AppState, recovery: RecoveryController, widget: QWidget,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.state = state
        self.recovery = recovery
        self.widget = widget  # dialogs open over its window

    def save(self, session: EditSession) -> bool:
        """Save the session's mask; True when it is on disk now."""
        state = self.state
        if state.index is None:
            return False
        try:
            what = session.save_input()
        except SegLabError as exc:
            return self._failed(session, exc)
        if what.mask_unreadable and not dialogs.confirm(
                self.widget, "Replace the unreadable mask?",
                f"The mask file of {what.name} could not be read when the image was opened, so the mask "
                "shown started empty. Saving replaces that file with the mask you see.", "Replace"):
            return False
        try:
            saved = self._write(what, overwrite=False)
        except MaskChangedOnDiskError as exc:
            if not dialogs.confirm(self.widget, "Mask changed on disk",
                                   f"{exc}\n\nOverwrite it with your edits?", "Overwrite"):
                return self._failed(session, None)
            try:
                saved = self._write(what, overwrite=True)
            except SegLabError as again:
                return self._failed(session, again)
        except SegLabError as exc:
            return self._failed(session, exc)
        session.mark_saved(saved.stamp)
        state.update_sample(saved.sample)
        state.mask_saved.emit(what.name)
        path = saved.sample.mask or saved.sample.labelme or saved.sample.class_masks[0][1]
        state.message.emit(f"Saved {path.parent.name}/{path.name} ({saved.description})")
        return True

    def _write(self, what: SaveInput, overwrite: bool) -> SavedAnnotation:
        index = self.state.index
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            return save_annotation(index, index.sample(what.name), what.mask, what.stamp, what.polygons, overwrite)
        finally:
            QGuiApplication.restoreOverrideCursor()

    def _failed(self, session: EditSession, error: SegLabError | None) -> bool:
        """Keep the edits: in memory, and in a recovery file written now."""
        kept = self.recovery.write_now(session)
        if error is not None:
            where = f" and in {kept}" if kept else ""
            dialogs.show_error(self.widget, "The mask was not saved",
                               f"{error}\n\nYour edits are kept in SegLab{where}.")
            self.state.message.emit(f"Not saved: {error.reason}")
        return False
