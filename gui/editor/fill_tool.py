"""Fill: a click gives the connected region of the clicked pixel's class (or of unlabeled pixels;
4-connected) the current class."""

from __future__ import annotations

from PySide6.QtCore import Qt

from core.mask_painting import MaskPatch, flood_coverage, region_slices
from gui.editor.commands import class_text
from gui.editor.tool_base import EditorTool


class FillTool(EditorTool):
    cursor_shape = Qt.CursorShape.PointingHandCursor

    def click(self, x: int, y: int) -> None:
        controller = self.controller
        mask = self.session.mask
        old, value = int(mask[y, x]), controller.current_class
        if old == value:
            return
        if controller.protect and old not in (0, controller.unlabeled_value):
            controller.message("Protect other classes is on: Fill only fills background or unlabeled pixels; "
                               "turn it off to refill another class")
            return
        region, coverage = flood_coverage(mask, x, y)
        before = mask[region_slices(region)].copy()
        after = before.copy()
        after[coverage] = value
        controller.push(f"Fill ({class_text(controller.state.classes, value)})",
                        MaskPatch.between(region, before, after))
