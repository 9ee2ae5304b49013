"""The window's status bar: a message line that keeps to its own place. QStatusBar draws a long message right
across its permanent widgets (the pixel read-out, job progress, the device); here the message is a label that
takes the room left of them and is shortened with "…" (the whole text in its tooltip)."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QSizePolicy, QStatusBar, QWidget


class ElidedLabel(QLabel):
    """One line of plain text, cut with "…" in the middle when it does not fit."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setTextFormat(Qt.TextFormat.PlainText)

    def set_full_text(self, text: str) -> None:
        self._full = text
        self.setToolTip(text if text else "")
        self._elide()

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        self.setText(self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideMiddle, max(self.width(), 0)))


class MessageStatusBar(QStatusBar):
    """showMessage / currentMessage / clearMessage as QStatusBar's, shown in a label of its own. (Menu status
    tips still use QStatusBar's own drawing: Qt calls it from C++.)"""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.message_label = ElidedLabel()
        self.addWidget(self.message_label, 1)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.clearMessage)

    def showMessage(self, text: str, timeout: int = 0) -> None:  # noqa: N802 (Qt's name)
        self.message_label.set_full_text(text)
        self._timer.stop()
        if timeout > 0:
            self._timer.start(timeout)

    def currentMessage(self) -> str:  # noqa: N802
        return self.message_label.full_text()

    def clearMessage(self) -> None:  # noqa: N802
        self._timer.stop()
        self.message_label.set_full_text("")
