"""labelme JSON in and out for the current image: import a labelme file as the image's mask (one undo
step; a hand-made mask is replaced only when the user agrees; labels that are not classes yet are offered
as new classes), export the mask (or the polygons, when they paint exactly the mask) as a labelme file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog

from core.data.mask_history import record_version
from core.data.mask_saving import write_labelme_annotation
from core.errors import SegLabError
from core.io.labelme import LabelmeDocument, labelme_to_mask, read_labelme, unknown_labels
from core.mask_painting import MaskPatch
from gui.editor import editor_dialogs as dialogs

if TYPE_CHECKING:
    from gui.editor.editor_controller import EditorController

_FILTER = "labelme files (*.json)"


class LabelmeActions(QObject):
    def __init__(self, controller: EditorController):
        super().__init__(controller)
        self.controller = controller

    def _image_path(self) -> Path | None:
        state = self.controller.state
        if self.controller.session is None or state.index is None:
            self.controller.message("Open an image first")
            return None
        return state.index.sample(self.controller.session.name).image

    def import_file(self, path: str | Path | None = None) -> bool:
        image = self._image_path()
        if image is None:
            return False
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self.controller.window, "Import a labelme file",
                                                  str(image.with_suffix(".json")), _FILTER)
            if not path:
                return False
        session = self.controller.session
        try:
            document = read_labelme(path)
            if (document.height, document.width) != session.mask.shape:
                height, width = session.mask.shape
                raise SegLabError(f"is for a {document.width} x {document.height} image, but {session.name} is "
                                  f"{width} x {height}", path)
            if not self._add_missing_classes(document, Path(path)):
                return False
            new = labelme_to_mask(document, self.controller.state.classes).astype(session.mask.dtype)
        except SegLabError as exc:
            dialogs.show_error(self.controller.window, "Cannot import this labelme file", str(exc))
            return False
        mask = session.mask
        overwritten = int(np.count_nonzero((mask != 0) & (mask != new)))
        if overwritten and session.document.has_mask and not dialogs.confirm(
                self.controller.window, "Replace your mask?",
                f"Importing {Path(path).name} replaces the mask of {session.name} ({overwritten:,} labeled pixels "
                "change). You can undo it afterwards.", "Replace"):
            return False
        self.controller.push(f"Import {Path(path).name}", MaskPatch.between((0, 0, *mask.shape), mask, new))
        if document.skipped_message():
            self.controller.message(document.skipped_message())
        return True

    def _add_missing_classes(self, document: LabelmeDocument, path: Path) -> bool:
        """Offer the file's labels that are not classes yet as new classes; False when the user declines."""
        state = self.controller.state
        missing = unknown_labels(document, state.classes)
        if not missing:
            return True
        listed = ", ".join(map(repr, missing))
        if not dialogs.confirm(self.controller.window, "Add classes?",
                               f"{path.name} uses label(s) {listed}, which are not classes yet. Add them as "
                               "new classes and import the file?", "Add classes"):
            return False
        classes = state.classes
        for label in missing:
            classes = classes.with_added(label)
        state.set_classes(classes)
        return True

    def export_file(self, path: str | Path | None = None) -> bool:
        image = self._image_path()
        if image is None:
            return False
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self.controller.window, "Export as a labelme file",
                                                  str(image.with_suffix(".json")), _FILTER)
            if not path:
                return False
        session = self.controller.session
        polygons = [shape.as_polygon() for shape in session.shapes]
        try:
            index = self.controller.state.index
            record_version(index, index.sample(session.name), "before labelme export", replacing=Path(path))
            written = write_labelme_annotation(path, session.mask, self.controller.state.classes, image, polygons)
        except (SegLabError, OSError) as exc:
            dialogs.show_error(self.controller.window, "Cannot export the labelme file", str(exc))
            return False
        self.controller.message(f"Exported {Path(path).name}: {written}")
        return True
