"""Magic wand: press on an object and drag away: the farther the drag, the larger the tolerance, and the
region of similar connected pixels (core/assist/magic_wand.py, on the image as displayed) is shown
live; releasing paints it with the current class (the right button: background), one undo step. A click
without a drag picks the tolerance from the image around the click. Shift+click on a pixel wrongly in or
out of the last region changes its tolerance just enough to flip that pixel (and replaces it). The wand
reaches REACH pixels around the pressed pixel."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import qRgba

from core.assist.magic_wand import MAX_TOLERANCE, auto_tolerance, tolerance_to_flip, wand_crop
from core.assist.mask_crop import MaskCrop, expand_region
from core.mask_painting import region_slices
from gui.canvas import TOOL_Z, ToolEvent
from gui.editor.assist_base import AssistTool
from gui.pixel_items import MaskLayerItem

REACH = 512  # pixels around the pressed pixel: a preview stays under ~60 ms even on pure noise
TOLERANCE_PER_SCREEN_PIXEL = 0.5  # display levels per screen pixel dragged
MIN_DRAG_PX = 4  # a shorter drag (screen pixels) is a click
PREVIEW_COLOUR = qRgba(0, 255, 255, 120)


class WandTool(AssistTool):
    cursor_shape = Qt.CursorShape.PointingHandCursor

    def __init__(self, controller):
        super().__init__(controller)
        self.item = MaskLayerItem()  # the region under way, drawn over the mask
        self.item.setZValue(TOOL_Z)
        self.item.set_colours([0, PREVIEW_COLOUR] + [0] * 254)
        self.seed: tuple[int, int] | None = None  # of the last region (pressed or applied)
        self.tolerance = 0.0
        self.erase = False  # the last region was painted as background (right button)
        self._press: tuple[QPointF, Qt.MouseButton] | None = None  # while dragging
        self._crop: MaskCrop | None = None  # the region shown

    def reset(self) -> None:
        super().reset()
        self.seed, self._press, self._crop = None, None, None
        self.item.set_array(None)

    # input --------------------------------------------------------------------------------------
    def press(self, event: ToolEvent) -> bool:
        if event.button not in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            return False
        pixel = self.pixel_in_image(event)
        if pixel is None or self.display is None:
            return self.session is not None
        if event.modifiers & Qt.KeyboardModifier.ShiftModifier and self.can_correct:
            self._correct(pixel)
            return True
        self.seed, self._press = pixel, (event.pos, event.button)
        self._preview(auto_tolerance(self.display, pixel))
        return True

    def move(self, event: ToolEvent) -> bool:
        if self._press is None:
            return False
        distance = self._screen_distance(event)
        if distance >= MIN_DRAG_PX:
            self._preview(min(MAX_TOLERANCE, round(distance * TOLERANCE_PER_SCREEN_PIXEL)))
            self.controller.message(f"Magic wand tolerance {self.tolerance:.0f} (drag farther for more)")
        return True

    def release(self, event: ToolEvent) -> bool:
        if self._press is None or event.button != self._press[1]:
            return False
        self.erase = self._press[1] == Qt.MouseButton.RightButton
        self._press = None
        self.item.set_array(None)
        self.paint(self._crop, "Magic wand", erase=self.erase)
        return True

    # work ---------------------------------------------------------------------------------------
    def _region(self, tolerance: float) -> MaskCrop:
        """The wand's region from the seed, within REACH of it."""
        x, y = self.seed
        window = expand_region((y, x, y + 1, x + 1), REACH, self.session.mask.shape)
        crop = wand_crop(self.display[region_slices(window)], (x - window[1], y - window[0]), tolerance)
        return crop.shifted(window[0], window[1])

    def _preview(self, tolerance: float) -> None:
        self.tolerance = float(tolerance)
        self._crop = self._region(self.tolerance)
        self.item.set_array(self._crop.pixels.view(np.uint8))
        self.item.setPos(self._crop.region[1], self._crop.region[0])
        self.item.show()

    def _correct(self, pixel: tuple[int, int]) -> None:
        x, y = self.seed
        if max(abs(pixel[0] - x), abs(pixel[1] - y)) > REACH:
            self.controller.message(f"Magic wand: that pixel is beyond the wand's reach ({REACH} pixels)")
            return
        window = expand_region((y, x, y + 1, x + 1), REACH, self.session.mask.shape)
        tolerance = tolerance_to_flip(self.display[region_slices(window)], (x - window[1], y - window[0]),
                                      self.tolerance, (pixel[0] - window[1], pixel[1] - window[0]))
        if tolerance == self.tolerance:
            self.controller.message("Magic wand: no tolerance changes that pixel; use the brush or eraser")
            return
        self.tolerance = tolerance
        self._crop = self._region(tolerance)
        self.paint(self._crop, "Magic wand", erase=self.erase, correct=True)
        self.controller.message(f"Magic wand tolerance {tolerance:.0f}")

    def _screen_distance(self, event: ToolEvent) -> float:
        start = self._press[0]
        zoom = self.canvas.zoom if self.canvas is not None else 1.0
        return math.hypot(event.pos.x() - start.x(), event.pos.y() - start.y()) * zoom
