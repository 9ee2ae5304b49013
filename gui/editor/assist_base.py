"""What the assisted tools (GrabCut box, scissors, magic wand) share: the image as displayed, painting
a core.assist MaskCrop with the current class as one undo step, and a correction that replaces the tool's
last result (while nothing else was done since), and the outline pen of their previews."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem

from core.assist.mask_crop import MaskCrop
from core.mask_painting import MaskPatch, Region, apply_coverage, region_slices, region_union
from gui.canvas import ImageCanvas
from gui.editor.commands import class_text
from gui.editor.tool_base import EditorTool


class AssistTool(EditorTool):
    """Subclasses set `item`, their preview on the canvas, shown while the tool is active."""

    item: QGraphicsItem

    def __init__(self, controller):
        super().__init__(controller)
        self._last: tuple[object, object, Region, np.ndarray] | None = None  # session, command, region, base

    def activate(self, canvas: ImageCanvas) -> None:
        super().activate(canvas)
        canvas.scene().addItem(self.item)

    def deactivate(self) -> None:
        if self.item.scene() is not None:
            self.item.scene().removeItem(self.item)
        super().deactivate()

    @property
    def display(self) -> np.ndarray | None:
        """The image as drawn (uint8 after the display levels), what the assist functions work on."""
        document = self.controller.state.document
        return document.display if document is not None and self.session is not None else None

    def reset(self) -> None:
        self._last = None

    @property
    def can_correct(self) -> bool:
        """Whether the last edit of this image is this tool's result (so a correction may replace it)."""
        session, stack = self.session, self.session.stack if self.session is not None else None
        return (self._last is not None and self._last[0] is session and stack.index() == stack.count() > 0
                and stack.command(stack.index() - 1) is self._last[1])

    def paint(self, crop: MaskCrop, action: str, erase: bool = False, correct: bool = False) -> None:
        """Give the crop's pixels the current class (or background), as one undo step named after `action`;
        `correct`: first put back what the tool's last result replaced."""
        session = self.session
        value, replace = self.controller.paint_rule(erase)
        correct = correct and self.can_correct
        region = region_union(crop.region, self._last[2]) if correct else crop.region
        before = session.mask[region_slices(region)].copy()
        after = before.copy()
        if correct:
            after[region_slices(_within(self._last[2], region))] = self._last[3]
        inner = _within(crop.region, region)
        base = after[region_slices(inner)].copy()
        apply_coverage(after, inner, crop.pixels, value, replace)
        patch = MaskPatch.between(region, before, after)
        if patch is None:
            return
        text = f"{action} ({'background' if erase else class_text(self.controller.state.classes, value)})"
        self.controller.push(text, patch)
        self._last = (session, session.stack.command(session.stack.index() - 1), crop.region, base)


def _within(inner: Region, outer: Region) -> Region:
    """`inner` in the coordinates of `outer`'s top left corner."""
    return (inner[0] - outer[0], inner[1] - outer[1], inner[2] - outer[0], inner[3] - outer[1])


def outline_pen(colour: QColor, width: float = 1.5) -> QPen:
    """A cosmetic pen (its width in screen pixels), for previews that keep their size at any zoom."""
    pen = QPen(colour, width)
    pen.setCosmetic(True)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    return pen


def polyline_path(points: np.ndarray, closed: bool = False) -> QPainterPath:
    """A path through the centres of the pixels `points` ((N, 2) x, y)."""
    path = QPainterPath()
    for i, (x, y) in enumerate(points.tolist()):
        if i == 0:
            path.moveTo(x + 0.5, y + 0.5)
        else:
            path.lineTo(x + 0.5, y + 0.5)
    if closed and len(points) > 2:
        path.closeSubpath()
    return path
