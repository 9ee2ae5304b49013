"""A prediction as a starting point: accept it as the image's mask (wholly, or the current class only), or
turn it into editable polygons to correct. A mask with labeled pixels is never overwritten without asking;
each action is one undo step."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject

from core.io.polygons import mask_to_polygons
from core.mask_painting import MaskPatch, replaceable
from gui.editor import editor_dialogs as dialogs
from gui.editor.commands import class_text
from gui.editor.polygon_shapes import polygons_from

if TYPE_CHECKING:
    from gui.editor.editor_controller import EditorController

SIMPLIFY_PX = 1.0  # outline simplification of predicted regions (cv2.approxPolyDP tolerance)
MIN_REGION_PX = 4  # smaller predicted specks get no polygon


class PredictionActions(QObject):
    def __init__(self, controller: EditorController):
        super().__init__(controller)
        self.controller = controller

    def _inputs(self):
        """(session, prediction) of the current image, or None with a message saying why not."""
        session = self.controller.session
        document = session.document if session is not None else None
        prediction = document.prediction if document is not None else None
        if prediction is None:
            self.controller.message("This image has no prediction; segment it with a model first")
            return None
        if prediction.shape != document.mask.shape:
            self.controller.message("The prediction's size differs from the image; it cannot be used")
            return None
        return session, prediction

    def _may_overwrite(self, session, changed_labeled: int, what: str) -> bool:
        """Ask before changing `changed_labeled` pixels of a hand-made mask."""
        if changed_labeled == 0 or not session.document.has_mask:
            return True
        return dialogs.confirm(self.controller.window, "Overwrite your mask?",
                               f"{session.name} already has a mask. {what} changes {changed_labeled:,} labeled "
                               "pixels. You can undo it afterwards.", "Overwrite")

    def accept(self) -> None:
        """The prediction becomes the image's mask."""
        inputs = self._inputs()
        if inputs is None:
            return
        session, prediction = inputs
        mask = session.mask
        new = prediction.astype(mask.dtype)
        if not self._may_overwrite(session, int(np.count_nonzero((mask != 0) & (mask != new))),
                                   "Accepting the prediction"):
            return
        self.controller.push("Accept prediction", MaskPatch.between((0, 0, *mask.shape), mask, new))

    def accept_current_class(self) -> None:
        """Pixels predicted as the current class take it (only background ones with protect on)."""
        inputs = self._inputs()
        if inputs is None:
            return
        session, prediction = inputs
        value, replace = self.controller.paint_rule(erase=False)
        mask = session.mask
        changed = (prediction == value) & (mask != value)
        changed &= replaceable(mask, replace)
        label = class_text(self.controller.state.classes, value)
        if not self._may_overwrite(session, int(np.count_nonzero(changed & (mask != 0))),
                                   f"Accepting the predicted {label}"):
            return
        new = mask.copy()
        new[changed] = value
        self.controller.push(f"Accept prediction ({label})", MaskPatch.between((0, 0, *mask.shape), mask, new))

    def to_polygons(self) -> None:
        """The predicted regions as editable polygons (simplified outlines), painted into the mask."""
        inputs = self._inputs()
        if inputs is None:
            return
        session, prediction = inputs
        polygons = mask_to_polygons(prediction, epsilon=SIMPLIFY_PX, min_area=MIN_REGION_PX)
        _, replace = self.controller.paint_rule(erase=False)
        patch, shapes = polygons_from(session.mask, polygons, replace)
        labeled = 0 if patch is None else int(np.count_nonzero(patch.changed_values()[0] != 0))
        if not self._may_overwrite(session, labeled, "Painting the predicted outlines"):
            return
        self.controller.push(f"Polygons from prediction ({len(shapes)})", patch, session.shapes,
                             session.shapes + shapes)
        self.controller.set_tool("polygon")
