"""The questions about a training run: closing the window while it trains, resuming a run that was interrupted
(stopped, crashed, killed, or the window closed), and deleting such a run's checkpoint."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from core.durations import format_duration

if TYPE_CHECKING:
    from core.training.interrupted import InterruptedRun

RESUME_OFFER = "resume_offer"  # object names, to find an open question among the window's children
CLOSE_QUESTION = "close_training_question"


def _question(parent: QWidget, title: str, text: str, informative: str) -> QMessageBox:
    box = QMessageBox(QMessageBox.Icon.Question, title, text, parent=parent)
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setInformativeText(informative)
    box.setStyleSheet("QLabel#qt_msgbox_label { min-width: 420px; }")
    return box


def close_question(parent: QWidget, progress: str) -> tuple[QMessageBox, object]:
    """'Training is running' with Stop and Keep the Best Model (returned as the second item) / Cancel."""
    box = _question(parent, "Training is running", f"<b>A model is training ({escape(progress)}).</b>",
                    "Training cannot go on without the window. Stop it now: the best model so far is kept, and "
                    "the run can be resumed from its last finished epoch when you open this folder again.")
    box.setObjectName(CLOSE_QUESTION)
    stop = box.addButton("Stop and Keep the Best Model", QMessageBox.ButtonRole.AcceptRole)
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel)
    box.setEscapeButton(cancel)
    return box, stop


class ResumeOfferBox(QMessageBox):
    """'A training run on this folder was interrupted after epoch 7 of 30 (best mean IoU 0.710). Resume it?'
    Resume / Not Now / Discard…; opens without blocking and says what was chosen through `chosen`."""

    chosen = Signal(str)  # "resume" | "later" | "discard"

    def __init__(self, run: InterruptedRun, parent: QWidget):
        super().__init__(QMessageBox.Icon.Question, "Resume training?",
                         f"<b>A training run on this folder was {escape(run.describe())}.</b> Resume it?",
                         parent=parent)
        self.setObjectName(RESUME_OFFER)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setInformativeText(
            f"It trained for {format_duration(run.seconds)}. Its checkpoint is kept beside the model "
            f"{run.model_path.name}; Resume continues from epoch {run.epoch + 1} with the run's own settings.")
        self.setStyleSheet("QLabel#qt_msgbox_label { min-width: 420px; }")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.resume_button = self.addButton("Resume", QMessageBox.ButtonRole.AcceptRole)
        self.later_button = self.addButton("Not Now", QMessageBox.ButtonRole.RejectRole)
        self.discard_button = self.addButton("Discard…", QMessageBox.ButtonRole.DestructiveRole)
        self.discard_button.setToolTip("Delete the checkpoint; the model file is kept")
        self.setDefaultButton(self.resume_button)
        self.setEscapeButton(self.later_button)
        self.buttonClicked.connect(self._on_button_clicked)

    def _on_button_clicked(self, button) -> None:
        self.chosen.emit("resume" if button is self.resume_button else
                         "discard" if button is self.discard_button else "later")


def confirm_discard(parent: QWidget, run: InterruptedRun) -> bool:
    """Ask before deleting an interrupted run's checkpoint (the model file is never deleted)."""
    box = _question(parent, "Discard the interrupted run?",
                    f"<b>Delete the checkpoint of the run {escape(run.describe())}?</b>",
                    f"The model file {run.model_path.name} is kept and can still be used; only resuming this "
                    "run becomes impossible.")
    delete = box.addButton("Delete Checkpoint", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return box.clickedButton() is delete
