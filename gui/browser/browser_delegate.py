"""How one browser row is drawn: thumbnail tile with name and status badge (grid), or a compact line (list).

Painting is on the scrolling path, so it asks the source model directly (no QVariant round trips) and
reuses fonts, metrics and pre-drawn badges.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from gui.browser.browser_model import BrowserFilterModel
from gui.browser.thumbnails import THUMBNAIL_SIZE
from gui.state import SampleStatus

STATUS_COLOURS = {"unlabeled": "#7F8691", "labeled": "#2E9D57", "predicted": "#3B7DD8", "edited": "#D9822B",
                  "cannot read": "#C0392B"}
_PADDING = 6
_LIST_ICON = 28
_ERROR_TILE = QColor("#F6DCD8")


def status_key(status: SampleStatus, error: str | None = None, labeled_share: float | None = None) -> str:
    """The badge a sample gets: cannot read, edited, labeled, predicted or unlabeled (also a saved mask
    whose pixels are all unlabeled)."""
    if error:
        return "cannot read"
    if status.edited:
        return "edited"
    if status.labeled and labeled_share != 0:
        return "labeled"
    return "predicted" if status.predicted else "unlabeled"


def badge_text(status: SampleStatus, error: str | None = None, labeled_share: float | None = None) -> str:
    """The badge's words; a saved mask with unlabeled pixels says how much of the image it labels."""
    if error:
        return "cannot read"
    if status.labeled and not status.edited and labeled_share is not None and labeled_share < 0.995:
        words = "nothing labeled" if labeled_share == 0 else f"labeled {max(1, round(100 * labeled_share))}%"
        return words + (" + predicted" if status.predicted else "")
    return status.label


class BrowserItemDelegate(QStyledItemDelegate):
    """Paints rows itself so a 5,000-row list costs only its visible rows; grid or list by `grid`."""

    def __init__(self, proxy: BrowserFilterModel, parent=None):
        super().__init__(parent)
        self.proxy = proxy
        self.grid = True
        self._font_key: str | None = None
        self._metrics: QFontMetrics | None = None
        self._badges: dict[str, QPixmap] = {}

    def sizeHint(self, option: QStyleOptionViewItem, index) -> QSize:
        line = QFontMetrics(option.font).height()
        if self.grid:
            return QSize(THUMBNAIL_SIZE + 2 * _PADDING + 8, THUMBNAIL_SIZE + 2 * line + 3 * _PADDING + 4)
        return QSize(200, max(_LIST_ICON, line) + 6)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index) -> None:
        self._prepare(option.font)
        model = self.proxy.browser_model
        name = model.names[self.proxy.mapToSource(index).row()]
        error = model.error(name)
        image = model.thumbnail(name)
        status = model.status(name)
        share = model.labeled_share(name)
        badge = self._badge(badge_text(status, error, share), status_key(status, error, share))
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        palette = option.palette
        if selected:
            painter.fillRect(option.rect, palette.color(QPalette.ColorRole.Highlight))
        elif option.state & QStyle.StateFlag.State_MouseOver:
            painter.fillRect(option.rect, palette.color(QPalette.ColorRole.AlternateBase))
        painter.setPen(palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text))
        rect = option.rect
        if self.grid:
            box = QRect(rect.x() + (rect.width() - THUMBNAIL_SIZE) // 2, rect.y() + _PADDING,
                        THUMBNAIL_SIZE, THUMBNAIL_SIZE)
            name_rect = QRect(rect.x() + 2, box.bottom() + _PADDING, rect.width() - 4, self._metrics.height())
            align = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter
            badge_at = QPoint(rect.center().x() - badge.width() // 2, name_rect.bottom() + 3)
        else:
            box = QRect(rect.x() + 3, rect.y() + (rect.height() - _LIST_ICON) // 2, _LIST_ICON, _LIST_ICON)
            name_rect = QRect(box.right() + 8, rect.y(), rect.width() - box.width() - badge.width() - 22,
                              rect.height())
            align = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
            badge_at = QPoint(rect.right() - 6 - badge.width(), rect.y() + (rect.height() - badge.height()) // 2)
        painter.drawText(name_rect, align, self._metrics.elidedText(name, Qt.TextElideMode.ElideMiddle,
                                                                    name_rect.width()))
        painter.drawPixmap(badge_at, badge)
        if not self.grid:  # shrunk to a small icon: smooth it (the grid draws thumbnails at their size)
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self._paint_thumbnail(painter, box, image, error, palette)

    def _prepare(self, font: QFont) -> None:
        """Metrics and badges for this font, made once (not per row)."""
        key = font.key()
        if key != self._font_key:
            self._font_key = key
            self._metrics = QFontMetrics(font)
            self._badge_font = QFont(font)
            self._badge_font.setPointSizeF(max(6.5, font.pointSizeF() * 0.85))
            self._badges.clear()

    def _badge(self, text: str, key: str) -> QPixmap:
        """A coloured pill with the status in words (colour is never the only cue), drawn once per text."""
        badge = self._badges.get(text + key)
        if badge is None:
            metrics = QFontMetrics(self._badge_font)
            width, height = metrics.horizontalAdvance(text) + 12, metrics.height() + 2
            badge = QPixmap(width, height)
            badge.fill(Qt.GlobalColor.transparent)
            painter = QPainter(badge)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(STATUS_COLOURS[key]))
            painter.drawRoundedRect(QRectF(0, 0, width, height), height / 2, height / 2)
            painter.setFont(self._badge_font)
            painter.setPen(QColor("white"))
            painter.drawText(QRectF(0, 0, width, height), Qt.AlignmentFlag.AlignCenter, text)
            painter.end()
            self._badges[text + key] = badge
        return badge

    @staticmethod
    def _paint_thumbnail(painter: QPainter, box: QRect, image, error, palette: QPalette) -> None:
        if image is not None:
            size = image.size().scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(QPoint(0, 0), size)
            target.moveCenter(box.center())
            painter.drawImage(target, image)
            return
        painter.fillRect(box, _ERROR_TILE if error else palette.color(QPalette.ColorRole.Mid).lighter(130))
        if error:  # a red cross: this file cannot be shown
            painter.setPen(QPen(QColor(STATUS_COLOURS["cannot read"]), 2))
            inset = box.adjusted(box.width() // 3, box.height() // 3, -box.width() // 3, -box.height() // 3)
            painter.drawLine(inset.topLeft(), inset.bottomRight())
            painter.drawLine(inset.topRight(), inset.bottomLeft())
