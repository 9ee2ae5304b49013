"""What Improve Model did, in one sentence and a list: the validation score before and after, how many images
were segmented again, and which predictions changed most (double-click one to see it)."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.inference.prediction_changes import PredictionChange
from gui.state import AppState

NAMED_IN_SENTENCE = 3  # most changed images named in the summary line


@dataclass(frozen=True)
class ImprovementSummary:
    new_model: str
    base_model: str
    base_iou: float | None  # on the run's validation images; None: not comparable (another class count)
    new_iou: float | None
    validation_images: int
    resegmented: int  # unlabeled images segmented again with the new model
    changes: tuple[PredictionChange, ...]  # most changed first

    def describe(self) -> str:
        if self.validation_images == 0 or self.new_iou is None:
            score = "no validation images to score it on"
        elif self.base_iou is None:
            score = f"mIoU {self.new_iou:.2f} on validation"
        else:
            score = f"mIoU {self.base_iou:.2f} -> {self.new_iou:.2f} on validation"
        parts = [f"Improved model: {score}",
                 f"{self.resegmented} image{'s' if self.resegmented != 1 else ''} re-segmented"]
        changed = [c for c in self.changes if c.changed_share > 0]
        if changed:
            named = ", ".join(f"{c.name} ({percent(c.changed_share)}{' of pixels' if i == 0 else ''})"
                              for i, c in enumerate(changed[:NAMED_IN_SENTENCE]))
            parts.append(f"most changed: {named}{', …' if len(changed) > NAMED_IN_SENTENCE else ''}")
        elif self.changes:
            parts.append("no prediction changed")
        return "; ".join(parts)


def percent(share: float) -> str:
    """18% for 0.18; below 1% keeps one decimal so a small change does not read as none."""
    value = share * 100
    return f"{value:.0f}%" if value >= 1 or value == 0 else f"{value:.1f}%"


class ImprovementSummaryDialog(QDialog):
    """The summary line, then every compared image with its changed share; double-click one to show it with its
    new prediction."""

    def __init__(self, summary: ImprovementSummary, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Model improved")
        self.state = state
        text = QLabel(f"<b>{escape(summary.describe())}</b><br>The window now works with "
                      f"{escape(Path(summary.new_model).name)} (the previous model, "
                      f"{escape(Path(summary.base_model).name)}, is kept).")
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.change_list = QListWidget()
        for change in summary.changes:
            item = QListWidgetItem(f"{change.name} — {percent(change.changed_share)} of pixels changed")
            item.setData(Qt.ItemDataRole.UserRole, change.name)
            self.change_list.addItem(item)
        self.change_list.setVisible(bool(summary.changes))
        self.change_list.itemDoubleClicked.connect(self._on_change_list_double_clicked)
        hint = QLabel("Double-click an image to see its new prediction.")
        hint.setVisible(bool(summary.changes))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(hint)
        layout.addWidget(self.change_list, 1)
        layout.addWidget(buttons)
        self.resize(520, 380)

    def _on_change_list_double_clicked(self, item: QListWidgetItem) -> None:
        self.state.update_overlay(layer="prediction")
        self.state.request_image(item.data(Qt.ItemDataRole.UserRole))
