"""Polygon tool: draw polygons with clicks and reshape them afterwards.

Drawing: click to add vertices (at the pixel under the pointer); close with a click on the first vertex,
a double-click or Enter; Backspace or a right-click removes the last vertex; Esc cancels the draft.
Editing (no draft): click an outline to select its polygon (the current class follows it); drag a
vertex to move it, drag the outline or the inside of the selected polygon to move it; Ctrl+click or
double-click on an edge inserts a vertex; right-click a vertex, or Delete with a vertex selected,
removes it; Delete with the polygon selected removes the polygon; choosing another class (1-9 or the
class panel) gives the selected polygon that class. Esc deselects, then goes back to navigating.
Every change is one undo step that repaints only the region of the old and new outline.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QKeyEvent

from gui.canvas import ImageCanvas, ToolEvent
from gui.editor.commands import class_text
from gui.editor.polygon_items import HANDLE_PX, PolygonOverlayItem
from gui.editor.polygon_shapes import contains, hit_shape, nearest_edge, repaint_polygon
from gui.editor.tool_base import EditorTool

_CLOSE_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


class PolygonTool(EditorTool):
    def __init__(self, controller):
        super().__init__(controller)
        self.item = PolygonOverlayItem()
        self.draft: list[tuple[int, int]] = []
        self.hover: tuple[int, int] | None = None
        self._drag: tuple[str, int, tuple[float, float], tuple] | None = None  # kind, shape, start, points

    @property
    def shapes(self) -> tuple:
        return self.session.shapes if self.session is not None else ()

    @property
    def selected(self) -> int | None:
        return self.item.selected

    def activate(self, canvas: ImageCanvas) -> None:
        super().activate(canvas)
        canvas.scene().addItem(self.item)
        self.refresh()

    def deactivate(self) -> None:
        if self.item.scene() is not None:
            self.item.scene().removeItem(self.item)
        super().deactivate()

    def reset(self) -> None:
        self.draft, self.hover, self._drag = [], None, None
        self.item.set_preview(None)
        self.item.set_selection(None)
        self._show_draft()

    def refresh(self) -> None:
        """The image, its polygons or the class colours changed."""
        session = self.session
        if session is not None:
            height, width = session.mask.shape
            self.item.set_image_size(width, height)
        colours = [QColor(*spec.colour) for spec in self.controller.state.classes]
        self.item.set_shapes(self.shapes, colours)
        if self.canvas is not None:
            self.item.zoom = self.canvas.zoom

    # input --------------------------------------------------------------------------------------
    def _where(self, event: ToolEvent) -> tuple[tuple[float, float], tuple[int, int], float]:
        """(precise point, pixel clamped into the image, hit tolerance) in pixel-centre coordinates."""
        height, width = self.session.mask.shape
        x, y = event.pixel
        pixel = (min(max(x, 0), width - 1), min(max(y, 0), height - 1))
        zoom = self.canvas.zoom if self.canvas is not None else 1.0
        return (event.pos.x() - 0.5, event.pos.y() - 0.5), pixel, HANDLE_PX / zoom

    def press(self, event: ToolEvent) -> bool:
        if self.session is None:
            return False
        point, pixel, tolerance = self._where(event)
        if event.button == Qt.MouseButton.RightButton:
            return self._right_click(point, tolerance)
        if event.button != Qt.MouseButton.LeftButton:
            return False
        if self.draft:
            if len(self.draft) >= 3 and math.dist(point, self.draft[0]) <= tolerance:
                self.finish()
            elif pixel != self.draft[-1]:
                self.draft.append(pixel)
                self._show_draft()
            return True
        selected = self.selected
        if selected is not None and event.modifiers & Qt.KeyboardModifier.ControlModifier:
            if self._insert_vertex(selected, point, tolerance):
                return True
        hit = hit_shape(self.shapes, *point, tolerance, prefer=selected)
        if hit is not None:
            index, kind, vertex = hit
            self.select(index, vertex)
            self._drag = ("vertex" if kind == "vertex" else "move", index, point, self.shapes[index].points)
            return True
        if selected is not None and contains(self.shapes[selected].points, *point):
            self._drag = ("move", selected, point, self.shapes[selected].points)
            return True
        self.select(None)
        self.draft = [pixel]
        self._show_draft()
        return True

    def move(self, event: ToolEvent) -> bool:
        if self.session is None:
            return False
        point, pixel, tolerance = self._where(event)
        if self._drag is not None:
            kind, index, start, points = self._drag
            if kind == "vertex":
                moved = tuple(pixel if i == self.item.selected_vertex else p for i, p in enumerate(points))
            else:
                dx, dy = round(point[0] - start[0]), round(point[1] - start[1])
                moved = tuple((x + dx, y + dy) for x, y in points)
            self.item.set_preview(index, moved)
            return True
        self.hover = pixel
        if self.draft:
            self._show_draft(math.dist(point, self.draft[0]) <= tolerance and len(self.draft) >= 3)
            return True
        return False

    def release(self, event: ToolEvent) -> bool:
        if self._drag is None or event.button != Qt.MouseButton.LeftButton:
            return False
        kind, index, _, points = self._drag
        moved = self.item.preview[1] if self.item.preview is not None else points
        self._drag = None
        self.item.set_preview(None)
        if moved != points:
            self.reshape(index, moved, "Move vertex" if kind == "vertex" else "Move polygon")
        return True

    def double_click(self, event: ToolEvent) -> bool:
        if self.session is None:
            return False
        if self.draft:
            self.finish()
            return True
        point, _, tolerance = self._where(event)
        return self.selected is not None and self._insert_vertex(self.selected, point, tolerance)

    def key_press(self, event: QKeyEvent) -> bool:
        key = event.key()
        if key in _CLOSE_KEYS and self.draft:
            self.finish()
        elif key == Qt.Key.Key_Escape and self.draft:
            self.draft = []
            self._show_draft()
        elif key == Qt.Key.Key_Escape and self.selected is not None:
            self.select(None)
        elif key == Qt.Key.Key_Backspace and self.draft:
            self.draft.pop()
            self._show_draft()
        elif key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.selected is not None:
            if self.item.selected_vertex is not None:
                self.delete_vertex(self.selected, self.item.selected_vertex)
            else:
                self.delete_polygon(self.selected)
        else:
            return super().key_press(event)
        return True

    def leave(self) -> None:
        self.hover = None
        if self.draft:
            self._show_draft()

    def _right_click(self, point, tolerance: float) -> bool:
        if self.draft:
            self.draft.pop()
            self._show_draft()
            return True
        hit = hit_shape(self.shapes, *point, tolerance, prefer=self.selected)
        if hit is not None and hit[1] == "vertex":
            self.select(hit[0])
            self.delete_vertex(hit[0], hit[2])
        return True

    def _insert_vertex(self, index: int, point, tolerance: float) -> bool:
        edge = nearest_edge(self.shapes[index].points, *point, tolerance)
        if edge is None:
            return False
        position, pixel = edge
        points = list(self.shapes[index].points)
        points.insert(position, pixel)
        self.reshape(index, tuple(points), "Insert vertex")
        self.select(index, position)
        return True

    # drafting -----------------------------------------------------------------------------------
    def _show_draft(self, closing: bool = False) -> None:
        colour = self.controller.state.classes[self.controller.current_class].colour \
            if self.controller.current_class < len(self.controller.state.classes) else (255, 255, 255)
        if self.canvas is not None:
            self.item.zoom = self.canvas.zoom
        self.item.set_draft(tuple(self.draft), self.hover if self.draft else None, QColor(*colour), closing)

    def finish(self) -> None:
        """Close the draft: it becomes a polygon of the current class (one undo step)."""
        points = [p for i, p in enumerate(self.draft) if i == 0 or p != self.draft[i - 1]]
        while len(points) > 1 and points[-1] == points[0]:
            points.pop()
        if len(points) < 3:
            self.controller.message("A polygon needs at least 3 corners; add more, or press Esc to cancel")
            return
        self.draft = []
        self._show_draft()
        controller = self.controller
        value, replace = controller.paint_rule(erase=False)
        change = repaint_polygon(self.session.mask, None, tuple(points), value, replace)
        shapes = self.shapes
        controller.push(f"Polygon ({class_text(controller.state.classes, value)})", change.patch,
                        shapes, shapes + (change.shape,))

    # editing ------------------------------------------------------------------------------------
    def select(self, index: int | None, vertex: int | None = None) -> None:
        self.item.set_selection(index, vertex)
        if index is not None:
            self.controller.state.set_current_class(self.shapes[index].class_index)

    def reshape(self, index: int, points, text: str, class_index: int | None = None) -> None:
        old = self.shapes[index]
        class_index = old.class_index if class_index is None else class_index
        _, replace = self.controller.paint_rule(erase=False)
        change = repaint_polygon(self.session.mask, old, tuple(points), class_index, replace)
        shapes = self.shapes
        self.controller.push(text, change.patch, shapes, shapes[:index] + (change.shape,) + shapes[index + 1:])

    def delete_vertex(self, index: int, vertex: int) -> None:
        points = self.shapes[index].points
        if len(points) <= 3:
            self.delete_polygon(index)
            return
        self.reshape(index, points[:vertex] + points[vertex + 1:], "Delete vertex")
        self.select(index)

    def delete_polygon(self, index: int) -> None:
        old = self.shapes[index]
        change = repaint_polygon(self.session.mask, old, None, old.class_index, None)
        shapes = self.shapes
        self.select(None)
        self.controller.push("Delete polygon", change.patch, shapes, shapes[:index] + shapes[index + 1:])

    def apply_class(self, class_index: int) -> None:
        """The current class changed: the selected polygon takes it."""
        index = self.selected
        if index is not None and index < len(self.shapes) and self.shapes[index].class_index != class_index:
            self.reshape(index, self.shapes[index].points,
                         f"Polygon → {class_text(self.controller.state.classes, class_index)}", class_index)
