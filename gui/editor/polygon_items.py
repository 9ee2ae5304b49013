"""What the polygon tool draws over the image: the editable polygons' outlines in their class colours, the
selected one with its vertex handles, a vertex or polygon being dragged, and the draft polygon growing
towards the pointer (a rubber band, with the first vertex marked where a click closes it).

Vertices are pixel indices; pixel (x, y) is drawn at its centre (x + 0.5, y + 0.5). Pens are cosmetic
and handles keep their size on screen at every zoom. Changes repaint only the rectangle they touch.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem

from gui.canvas import TOOL_Z

HANDLE_PX = 7.0
_HALO = QColor(0, 0, 0, 170)
_WHITE = QColor(255, 255, 255)
_MARGIN_PX = 12.0

Points = tuple[tuple[int, int], ...]


def _pen(colour: QColor, width: float, style=Qt.PenStyle.SolidLine) -> QPen:
    pen = QPen(colour, width, style)
    pen.setCosmetic(True)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    return pen


def _halo(colour: QColor) -> QColor:
    """A dark edge around light colours, a light one around dark colours (e.g. black background)."""
    light = 0.299 * colour.red() + 0.587 * colour.green() + 0.114 * colour.blue() > 80
    return _HALO if light else QColor(255, 255, 255, 200)


def _polygon(points) -> QPolygonF:
    return QPolygonF([QPointF(x + 0.5, y + 0.5) for x, y in points])


def _bounds(*point_lists) -> QRectF | None:
    xs = [x for points in point_lists if points for x, _ in points]
    ys = [y for points in point_lists if points for _, y in points]
    if not xs:
        return None
    return QRectF(min(xs), min(ys), max(xs) - min(xs) + 1, max(ys) - min(ys) + 1)


class PolygonOverlayItem(QGraphicsItem):
    def __init__(self):
        super().__init__()
        self.setZValue(TOOL_Z)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)
        self._rect = QRectF()
        self.shapes: tuple = ()
        self.colours: list[QColor] = []
        self.selected: int | None = None
        self.selected_vertex: int | None = None
        self.preview: tuple[int, Points] | None = None  # (shape index, points) while dragging
        self.draft: Points = ()
        self.hover: tuple[int, int] | None = None
        self.draft_colour = _WHITE
        self.closing = False  # the pointer is on the first draft vertex: a click closes the polygon
        self.zoom = 1.0

    # updates ------------------------------------------------------------------------------------
    def set_image_size(self, width: int, height: int) -> None:
        rect = QRectF(0, 0, width, height).adjusted(-4096, -4096, 4096, 4096)
        if rect != self._rect:
            self.prepareGeometryChange()
            self._rect = rect

    def set_shapes(self, shapes: tuple, colours: list[QColor]) -> None:
        self.shapes, self.colours = shapes, colours
        if self.selected is not None and self.selected >= len(shapes):
            self.selected, self.selected_vertex = None, None
        self.update()

    def set_selection(self, index: int | None, vertex: int | None = None) -> None:
        touched = [self._shape_points(i) for i in (self.selected, index) if i is not None]
        self.selected, self.selected_vertex = index, vertex
        self._repaint(*touched)

    def set_preview(self, index: int | None, points: Points = ()) -> None:
        old = self.preview
        self.preview = (index, tuple(points)) if index is not None else None
        touched = [old[1] if old else (), tuple(points)]
        if index is not None:
            touched.append(self.shapes[index].points if index < len(self.shapes) else ())
        if old is not None and old[0] < len(self.shapes):
            touched.append(self.shapes[old[0]].points)
        self._repaint(*touched)

    def set_draft(self, points: Points, hover: tuple[int, int] | None, colour: QColor, closing: bool) -> None:
        old = self.draft + ((self.hover,) if self.hover else ())
        self.draft, self.hover, self.draft_colour, self.closing = tuple(points), hover, colour, closing
        self._repaint(old, self.draft + ((hover,) if hover else ()))

    def _shape_points(self, index: int) -> Points:
        if self.preview is not None and self.preview[0] == index:
            return self.preview[1]
        return self.shapes[index].points if index < len(self.shapes) else ()

    def _repaint(self, *point_lists) -> None:
        rect = _bounds(*point_lists)
        if rect is not None:
            margin = _MARGIN_PX / max(self.zoom, 1e-3)
            self.update(rect.adjusted(-margin, -margin, margin, margin))

    # drawing ------------------------------------------------------------------------------------
    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        self.zoom = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        exposed = option.exposedRect
        for index in range(len(self.shapes)):
            if index == self.selected:
                continue
            points = self._shape_points(index)
            polygon = _polygon(points)
            if polygon.boundingRect().adjusted(-1, -1, 1, 1).intersects(exposed):
                self._outline(painter, polygon, self._colour(self.shapes[index].class_index), 1.5)
        if self.selected is not None and self.selected < len(self.shapes):
            points = self._shape_points(self.selected)
            colour = self._colour(self.shapes[self.selected].class_index)
            self._outline(painter, _polygon(points), colour, 2.5)
            self._handles(painter, points, colour, self.selected_vertex)
        if self.draft:
            self._draw_draft(painter)

    def _colour(self, class_index: int) -> QColor:
        return self.colours[class_index] if 0 <= class_index < len(self.colours) else _WHITE

    def _outline(self, painter: QPainter, polygon: QPolygonF, colour: QColor, width: float) -> None:
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(_pen(_halo(colour), width + 2))
        painter.drawPolygon(polygon)
        painter.setPen(_pen(colour, width))
        painter.drawPolygon(polygon)

    def _handles(self, painter: QPainter, points, colour: QColor, highlighted: int | None,
                 first_big: bool = False) -> None:
        size = HANDLE_PX / max(self.zoom, 1e-3)
        painter.setPen(_pen(_HALO, 1.0))
        for i, (x, y) in enumerate(points):
            grow = 1.6 if (first_big and i == 0) else 1.0
            half = size * grow / 2
            painter.setBrush(QBrush(colour if i == highlighted else _WHITE))
            painter.drawRect(QRectF(x + 0.5 - half, y + 0.5 - half, 2 * half, 2 * half))

    def _draw_draft(self, painter: QPainter) -> None:
        colour = self.draft_colour
        line = _polygon(self.draft)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        halo = _halo(colour)
        for pen in (_pen(halo, 4.0), _pen(colour, 2.0)):
            painter.setPen(pen)
            painter.drawPolyline(line)
        if self.hover is not None:
            last, hover = line[line.size() - 1], QPointF(self.hover[0] + 0.5, self.hover[1] + 0.5)
            first = line[0]
            painter.setPen(_pen(halo, 3.0))
            painter.drawLine(last, hover)
            painter.setPen(_pen(colour, 1.5, Qt.PenStyle.DashLine))
            painter.drawLine(last, hover)
            if len(self.draft) >= 2 and not self.closing:  # where the polygon closes
                painter.setPen(_pen(QColor(colour.red(), colour.green(), colour.blue(), 190), 1.2,
                                    Qt.PenStyle.DotLine))
                painter.drawLine(hover, first)
        self._handles(painter, self.draft, colour, 0 if self.closing else None, first_big=len(self.draft) >= 3)
