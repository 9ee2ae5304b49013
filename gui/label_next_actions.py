"""Label Next (Edit menu, tool bar, key N): steps through the unlabeled images where labeling is worth most
(core.label_next: the model's uncertainty and the images' diversity), each shown zoomed to its most
uncertain region, which a dashed box marks.

The suggestions are made in the background from the uncertainty scores in AppState and the maps kept with
the predictions, on the first press after a segmentation run or after another folder opened. Images
labeled meanwhile are skipped."""

from __future__ import annotations

from PySide6.QtCore import QObject, QRectF, Qt
from PySide6.QtGui import QAction, QColor, QPen
from PySide6.QtWidgets import QGraphicsRectItem

from core.label_next import Suggestion
from gui.canvas import TOOL_Z, ImageCanvas
from gui.state import AppState
from gui.workers import TaskContext, TaskRunner

SUGGESTIONS = 10
FRAME_MARGIN = 1.25  # the view shows the region and this much around it
MARKER_COLOUR = QColor(0, 229, 255)  # cyan: apart from the inferno colours of the uncertainty overlay


def find_suggestions(ctx: TaskContext, index, scores: dict[str, float]) -> list[Suggestion]:
    """Worker body: the ranked suggestions for the open folder (reads its unlabeled images and the maps)."""
    from core.data.workspace import predictions_dir
    from core.label_next import maps_reader, suggest_next

    return suggest_next(index, scores, maps_reader(predictions_dir(index.root)), SUGGESTIONS, ctx.cancelled)


class LabelNextActions(QObject):
    def __init__(self, state: AppState, tasks: TaskRunner, canvas: ImageCanvas, parent: QObject | None = None):
        super().__init__(parent)
        self.state = state
        self.tasks = tasks
        self.canvas = canvas
        self.action = QAction("Label &Next", self)
        self.action.setShortcut("N")
        self.action.setToolTip("Label Next (N): go to the unlabeled image where labeling helps the model most, "
                               "zoomed to the part it is least sure about")
        self.action.setStatusTip("Go to the next image worth labeling (from the model's uncertainty)")
        self.action.triggered.connect(self.label_next)
        self.suggestions: list[Suggestion] | None = None  # None: to be made on the next press
        self._shown = 0  # how many suggestions were stepped through
        self._task = None
        self._pending: Suggestion | None = None  # its image was asked for; framed once it is shown
        self.marker = QGraphicsRectItem()
        pen = QPen(MARKER_COLOUR, 2, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)  # two screen pixels at any zoom
        self.marker.setPen(pen)
        self.marker.setZValue(TOOL_Z - 1)
        self.marker.hide()
        canvas.scene().addItem(self.marker)
        self._marked: str | None = None
        state.dataset_changed.connect(self._forget)
        state.prediction_changed.connect(lambda _name: self._forget())
        state.current_changed.connect(self._on_state_current_changed)

    def label_next(self) -> None:
        """Show the next suggested image (making the suggestions first when needed)."""
        if self.state.index is None:
            self.state.message.emit("Open a folder first.")
        elif self.suggestions is not None:
            self._step()
        elif not self.state.uncertainty:
            self.state.message.emit("Segment the unlabeled images first (Model ▸ Segment Images…): Label Next "
                                    "ranks them by where the model is unsure.")
        elif self._task is None:
            self.state.message.emit("Finding the images worth labeling next …")
            task = self._task = self.tasks.start(find_suggestions, self.state.index, dict(self.state.uncertainty))
            index = self.state.index
            task.signals.finished.connect(lambda found, t=task: self._on_task_finished(t, index, found))
            task.signals.failed.connect(lambda message, _details, t=task: self._on_task_failed(t, message))
            task.signals.cancelled.connect(lambda t=task: self._on_task_failed(t, None))

    # suggestions --------------------------------------------------------------------------------
    def _on_task_finished(self, task, index, found: list[Suggestion]) -> None:
        if task is not self._task:
            return
        self._task = None
        if index is not self.state.index:
            return
        self.suggestions = found
        self._shown = 0
        self._step()

    def _on_task_failed(self, task, message: str | None) -> None:
        if task is self._task:
            self._task = None
            if message:
                self.state.message.emit(f"Label Next: {message}")

    def _forget(self) -> None:
        """Scores changed or another folder opened: the next press makes new suggestions."""
        self.suggestions = None
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def _step(self) -> None:
        suggestions = self.suggestions or []
        while self._shown < len(suggestions):
            suggestion = suggestions[self._shown]
            self._shown += 1
            if not self.state.sample_status(suggestion.name).labeled:
                self._show(suggestion, self._shown, len(suggestions))
                return
        if not suggestions:
            self.state.message.emit("No unlabeled image has an uncertainty map: segment the unlabeled images "
                                    "first (Model ▸ Segment Images…).")
        else:
            self.state.message.emit("That was the last suggestion. Train or improve the model with your new "
                                    "labels and segment again for new ones.")

    def _show(self, suggestion: Suggestion, number: int, total: int) -> None:
        self.state.message.emit(f"Label next: {suggestion.name} ({number} of {total}, uncertainty "
                                f"{suggestion.score:.3f}); the dashed box marks where the model is least sure.")
        if self.state.current_name == suggestion.name:
            self._frame(suggestion)
        else:
            self._pending = suggestion
            self.state.request_image(suggestion.name)

    # the view -----------------------------------------------------------------------------------
    def _on_state_current_changed(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None and pending.name == self.state.current_name:
            self._frame(pending)
        elif self.state.current_name != self._marked:
            self.marker.hide()

    def _frame(self, suggestion: Suggestion) -> None:
        """Zoom to the suggestion's region and mark it (the whole image when it has no region)."""
        self._marked = suggestion.name
        if suggestion.region is None:
            self.marker.hide()
            self.canvas.fit()
            return
        top, left, bottom, right = suggestion.region
        rect = QRectF(left, top, right - left, bottom - top)
        view = self.canvas.viewport().rect()
        zoom = min(view.width() / rect.width(), view.height() / rect.height()) / FRAME_MARGIN
        self.canvas.zoom_to(zoom)
        self.canvas.centerOn(rect.center())
        self.marker.setRect(rect)
        self.marker.show()
