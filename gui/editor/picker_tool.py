"""Pick class: a click makes the class under the pointer the current class, then the previous tool returns."""

from __future__ import annotations

from PySide6.QtCore import Qt

from gui.editor.tool_base import EditorTool


class PickerTool(EditorTool):
    cursor_shape = Qt.CursorShape.WhatsThisCursor

    def click(self, x: int, y: int) -> None:
        value = int(self.session.mask[y, x])
        classes = self.controller.state.classes
        if value == self.controller.unlabeled_value:
            self.controller.message(f"The pixel at x {x}, y {y} is unlabeled; pick a labeled pixel")
            return
        if value >= len(classes):
            self.controller.message(f"Value {value} at x {x}, y {y} is not a class")
            return
        self.controller.state.set_current_class(value)
        self.controller.message(f"Current class: {value} {classes[value].name}")
        self.controller.return_to_previous_tool()
