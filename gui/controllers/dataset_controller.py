"""Opening folders and loading images, off the GUI thread. The newest image request always wins."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from core.errors import SegLabError
from gui.state import AppState, ImageDocument
from gui.workers import TaskContext, TaskRunner


def scan_folder(ctx: TaskContext, folder: str):
    """The folder's DatasetIndex, the predictions SegLab stored for it earlier (name -> mask file) and their
    uncertainty scores (name -> score)."""
    from core.data.index import DatasetIndex
    from core.data.workspace import stored_predictions, stored_uncertainty

    index = DatasetIndex.scan(folder)
    names = [s.name for s in index.samples]
    return index, stored_predictions(index.root, names), stored_uncertainty(index.root, names)


def validate_index_task(ctx: TaskContext, index) -> tuple:
    """Worker body: the deep check of every sample (core.data.validation), with progress and cancel."""
    return tuple(index.validate(deep=True, progress=ctx.progress, cancel=ctx.cancelled))


def load_document(ctx: TaskContext, index, name: str, prediction_path: str | None) -> ImageDocument:
    """Read an image, its mask and its prediction; a bad mask becomes a warning, not a failure."""
    from core.data.mask_saving import annotation_stamp
    from core.io.images import display_view, percentile_levels
    from core.io.masks import read_mask

    sample = index.sample(name)
    image = index.load_image(sample)
    ctx.check_cancelled()
    levels = percentile_levels(image)
    warnings = []
    mask, has_mask = None, False
    stamp = annotation_stamp(index, sample)  # before reading: a change after this is noticed when saving
    if sample.labeled:
        try:
            mask = index.load_mask(sample)
            has_mask = True
            if mask.shape != image.shape[:2]:
                warnings.append(f"{sample.mask or sample.labelme}: the mask size differs from the image; not shown")
                mask, has_mask = None, False
        except SegLabError as exc:
            warnings.append(str(exc))
    if mask is None:
        mask = np.zeros(image.shape[:2], dtype=np.uint8)
    mask = np.require(mask, requirements=["C", "W"])  # the editor paints into it (decoders may return read-only views)
    prediction, uncertainty = None, None
    if prediction_path:
        try:
            prediction = read_mask(prediction_path)
        except SegLabError as exc:
            warnings.append(str(exc))
        try:
            uncertainty = stored_uncertainty_map(prediction_path, image.shape[:2])
        except SegLabError as exc:
            warnings.append(str(exc))
    ctx.check_cancelled()
    return ImageDocument(name=name, image=image, auto_levels=levels, levels=levels.copy(),
                         display=display_view(image, levels), mask=mask, has_mask=has_mask,
                         prediction=prediction, uncertainty=uncertainty, warnings=tuple(warnings),
                         annotation_stamp=stamp,
                         mask_unreadable=sample.labeled and not has_mask)


def stored_uncertainty_map(prediction_path: str, shape: tuple[int, int]) -> np.ndarray | None:
    """The uint8 uncertainty map kept with a prediction, if there is one of the image's size."""
    from core.inference.uncertainty import display_levels
    from core.inference.uncertainty_files import map_path_for_mask, read_map

    path = map_path_for_mask(prediction_path)
    if not path.is_file():
        return None
    uncertainty = read_map(path)
    return display_levels(uncertainty) if uncertainty.shape == shape else None


class DatasetController(QObject):
    scan_started = Signal(str)  # folder
    scan_failed = Signal(str)  # message naming the folder and the problem
    load_failed = Signal(str)  # message naming the file and the problem
    validated = Signal()  # the deep check of the open folder finished and its problems are in AppState

    def __init__(self, state: AppState, tasks: TaskRunner, parent: QObject | None = None):
        super().__init__(parent)
        self.state = state
        self.tasks = tasks
        self._scan = None
        self._load = None
        # asked before another folder replaces the open one (the editor saves or asks about unsaved edits);
        # False keeps the folder open. Another image needs no asking: its edits stay with the editor.
        self.leave_guard: Callable[[], bool] | None = None
        state.image_requested.connect(self._on_state_image_requested)
        state.classes_edited.connect(self._on_state_classes_edited)

    # folders ------------------------------------------------------------------------------------
    def may_leave(self) -> bool:
        """Whether the open folder may be replaced (its unsaved edits were saved or let go)."""
        return self.leave_guard is None or self.state.index is None or self.leave_guard()

    def open_folder(self, folder: str | Path) -> None:
        if not self.may_leave():
            return
        folder = str(folder)
        if self._scan is not None:
            self._scan.cancel()
        self.scan_started.emit(folder)
        self.state.message.emit(f"Opening {folder} ...")
        task = self._scan = self.tasks.start(scan_folder, folder)
        task.signals.finished.connect(lambda result, t=task: self._on_scan_finished(t, *result))
        task.signals.failed.connect(lambda message, _details: self.scan_failed.emit(message))

    def _on_scan_finished(self, task, index, predictions, uncertainty) -> None:
        if task is not self._scan or not self.may_leave():
            return
        self.state.set_index(index, predictions, uncertainty)
        labeled = len(index.labeled)
        self.state.message.emit(f"{index.root}: {len(index.samples)} images, {labeled} labeled")
        if index.samples:
            self.state.request_image(index.samples[0].name)
        check = self.tasks.start(validate_index_task, index)
        check.signals.finished.connect(lambda problems, i=index: self._on_validated(i, problems))

    def _on_validated(self, index, problems) -> None:
        if self.state.index is index:
            self.state.add_problems(problems)
            self.validated.emit()

    # images -------------------------------------------------------------------------------------
    def _on_state_image_requested(self, name: str) -> None:
        index = self.state.index
        if index is None or index.sample(name) is None:
            return
        if self._load is not None:
            self._load.cancel()
        task = self._load = self.tasks.start(load_document, index, name, self.state.predictions.get(name))
        task.signals.finished.connect(lambda document, t=task: self._on_document_loaded(t, document))
        task.signals.failed.connect(lambda message, _details, t=task: self._on_load_failed(t, message))

    def _on_document_loaded(self, task, document: ImageDocument) -> None:
        if task is not self._load:
            return
        self.state.set_document(document)
        for warning in document.warnings:
            self.state.message.emit(warning)

    def _on_load_failed(self, task, message: str) -> None:
        if task is self._load:
            self.load_failed.emit(message)
            self.state.message.emit(message)

    # settings -----------------------------------------------------------------------------------
    def set_mask_encoding(self, encoding) -> bool:
        """Save how masks are read (seglab.json) and scan the folder again; False if it could not be saved."""
        return self.update_settings(encoding=encoding)

    def update_settings(self, **changes) -> bool:
        """Save the open dataset's settings with these fields changed (core.data.settings.DatasetSettings:
        encoding, channel, pixel_size_um) and scan the folder again, so every view and measurement uses
        them; False (and scan_failed says why) if seglab.json could not be written."""
        index = self.state.index
        if index is None:
            return False
        try:
            replace(index.settings, classes=self.state.classes, **changes).save(index.root)
        except OSError as exc:
            self.scan_failed.emit(f"{index.root}: the settings could not be saved ({exc.strerror}); "
                                  "is the folder read-only?")
            return False
        self.open_folder(index.root)
        return True

    def _on_state_classes_edited(self) -> None:
        """Write the edited class table beside the data (seglab.json), keeping the other settings."""
        index = self.state.index
        if index is None:
            return
        try:
            replace(index.settings, classes=self.state.classes).save(index.root)
        except OSError as exc:
            self.state.message.emit(f"{index.root}: the class table could not be saved ({exc.strerror}); "
                                    "it is kept for this session")
