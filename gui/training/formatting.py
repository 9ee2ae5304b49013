"""Small pieces of rich text the training pages and dock share: class swatches, notices, numbers."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QLabel

from core.classes import ClassTable, colour_hex

NOTICE_COLOURS = {"error": "#C62828", "warning": "#A65E00", "info": "#1B5E20"}
MUTED = "#666666"


def class_swatches_html(classes: ClassTable) -> str:
    """Every class as a colour square and its name, on one wrapping line."""
    return " &nbsp; ".join(
        f"<span style='background-color:{colour_hex(c.colour)}; color:{colour_hex(c.colour)}'>&#9632;&#9632;</span>"
        f"&nbsp;{escape(c.name)}" for c in classes)


def notice_html(kind: str, text: str) -> str:
    """A coloured line: kind is 'error', 'warning' or 'info'."""
    symbol = {"error": "&#10006;", "warning": "&#9888;", "info": "&#10004;"}[kind]
    return f"<span style='color:{NOTICE_COLOURS[kind]}'>{symbol} {text}</span>"


def muted_html(text: str) -> str:
    return f"<span style='color:{MUTED}'>{text}</span>"


def number(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def names_preview(names, limit: int = 3) -> str:
    """'a, b, c and 4 more'."""
    names = list(names)
    shown = ", ".join(escape(str(n)) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


class WrappedLabel(QLabel):
    """A word-wrapped rich-text label whose size hint is its height at its real width. QFormLayout sizes rows by
    size hints, and QLabel's own hint guesses a narrow width, so forms would leave gaps of empty lines."""

    def __init__(self, text: str = "", parent=None):
        super().__init__(text, parent)
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        if self.width() > 0:
            hint.setHeight(self.heightForWidth(self.width()))
        return hint

    def minimumSizeHint(self) -> QSize:
        return QSize(super().minimumSizeHint().width(), self.fontMetrics().height() if self.text() else 0)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width() and self.heightForWidth(self.width()) != self.height():
            self.updateGeometry()  # once per width change: the height follows the width, never the reverse
