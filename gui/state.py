"""AppState: the one object that owns what the window shows, and signals every change.

Widgets never call each other: they write here and listen here. Only plain data is stored (numpy arrays,
frozen dataclasses from core). Work that takes time happens elsewhere (gui/workers.py) and lands here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, Signal

from core.classes import ClassTable

if TYPE_CHECKING:
    from core.data.index import DatasetIndex
    from core.io.file_stamp import FileStamp

LAYERS = ("truth", "prediction", "both", "difference", "uncertainty", "none")


@dataclass(frozen=True)
class OverlaySettings:
    """How masks are drawn over the image. Changing any of these never touches mask pixels."""

    opacity: float = 0.45
    layer: str = "truth"  # one of LAYERS
    outline: bool = False
    hidden: frozenset[int] = frozenset()  # class indices not drawn


@dataclass(frozen=True)
class SampleStatus:
    labeled: bool = False
    predicted: bool = False
    edited: bool = False  # changed since the last save

    @property
    def label(self) -> str:
        if self.edited:
            return "edited"
        if self.labeled:
            return "labeled" + (" + predicted" if self.predicted else "")
        return "predicted" if self.predicted else "unlabeled"


@dataclass
class ImageDocument:
    """The image on screen: native pixels, display levels, its editable mask and its prediction."""

    name: str
    image: np.ndarray  # (H, W) or (H, W, C), native dtype, never changed
    auto_levels: np.ndarray  # (C, 2) percentile levels
    levels: np.ndarray  # (C, 2) levels in use (the user may move them)
    display: np.ndarray  # uint8 (H, W) or (H, W, 3): the image as drawn, from levels and channel
    mask: np.ndarray  # (H, W) index mask; zeros when unlabeled
    has_mask: bool
    prediction: np.ndarray | None = None
    uncertainty: np.ndarray | None = None  # the prediction's uncertainty map as uint8 0..255 (drawn as is)
    channel: int | None = None  # None: gray or RGB composite; else one channel shown
    warnings: tuple[str, ...] = field(default_factory=tuple)
    annotation_stamp: FileStamp | None = None  # of the annotation files when read
    mask_unreadable: bool = False  # the image has a mask file that could not be read (saving asks first)

    @property
    def shape(self) -> tuple[int, int]:
        return self.image.shape[:2]

    @property
    def channels(self) -> int:
        return 1 if self.image.ndim == 2 else self.image.shape[2]


class AppState(QObject):
    dataset_changed = Signal()  # a folder was opened (index set) or closed
    problems_changed = Signal()
    classes_changed = Signal()
    classes_edited = Signal()  # the user changed the class table (it should be saved with the dataset)
    image_requested = Signal(str)  # someone asked to show this sample; the loader answers with current_changed
    current_changed = Signal()  # another image (or none) is shown
    selection_changed = Signal()  # the images picked in the browser (for batch actions) changed
    levels_changed = Signal()
    mask_changed = Signal(object)  # (top, left, bottom, right) region that changed, or None for all
    prediction_changed = Signal(str)  # sample name whose prediction arrived or changed
    status_changed = Signal(str)  # sample name whose SampleStatus changed
    mask_saved = Signal(str)  # sample name whose edited mask was written to the dataset
    overlay_changed = Signal()
    current_class_changed = Signal(int)
    message = Signal(str)  # a short line for the status bar
    segmentation_requested = Signal(str, object)  # model file, sample names (None = every image): run it
    model_changed = Signal(str)  # the model file the window works with (last trained or chosen)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.index: DatasetIndex | None = None
        self.problems: tuple = ()
        self.classes = ClassTable.default(2)
        self.document: ImageDocument | None = None
        self.overlay = OverlaySettings()
        self.current_class = 1
        self.predictions: dict[str, str] = {}  # sample name -> predicted mask file
        self.uncertainty: dict[str, float] = {}  # sample name -> uncertainty score of its prediction
        self.edited: set[str] = set()
        self.selected_names: tuple[str, ...] = ()  # picked in the browser; batch actions can use them
        self.model_path: str | None = None  # the model the window works with

    # dataset ------------------------------------------------------------------------------------
    def set_index(self, index: DatasetIndex | None, predictions: dict[str, str] | None = None,
                  uncertainty: dict[str, float] | None = None) -> None:
        """A newly opened folder (or None), with the predictions already stored for it (name -> file) and
        their uncertainty scores (name -> score)."""
        self.index = index
        self.problems = tuple(index.problems) if index is not None else ()
        self.classes = index.settings.classes if index is not None else ClassTable.default(2)
        self.document = None
        self.predictions = dict(predictions or {})
        self.uncertainty = dict(uncertainty or {})
        self.selected_names = ()
        self.edited = set()
        self.dataset_changed.emit()
        self.classes_changed.emit()
        self.problems_changed.emit()
        self.current_changed.emit()

    def add_problems(self, problems) -> None:
        known = set(self.problems)
        self.problems = self.problems + tuple(p for p in problems if p not in known)
        self.problems_changed.emit()

    def set_classes(self, classes: ClassTable, edited: bool = True) -> None:
        """A new class table; edited=True when the user changed it (it is then saved with the dataset)."""
        self.classes = classes
        if self.current_class >= len(classes):
            self.set_current_class(len(classes) - 1)
        self.classes_changed.emit()
        if edited:
            self.classes_edited.emit()

    def update_sample(self, sample) -> None:
        """A sample's annotation files changed (e.g. a new mask was saved): the index pairs it so now."""
        index = self.index
        if index is None or index.sample(sample.name) == sample:
            return
        samples = tuple(sample if s.name == sample.name else s for s in index.samples)
        self.index = replace(index, samples=samples)
        if sample.labeled:
            self.problems = tuple(p for p in self.problems if not (p.kind == "unlabeled" and p.path == sample.image))
            self.problems_changed.emit()
        self.status_changed.emit(sample.name)

    def sample_status(self, name: str) -> SampleStatus:
        sample = self.index.sample(name) if self.index is not None else None
        return SampleStatus(labeled=bool(sample and sample.labeled), predicted=name in self.predictions,
                            edited=name in self.edited)

    # current image ------------------------------------------------------------------------------
    def request_image(self, name: str) -> None:
        if name != self.current_name:
            self.image_requested.emit(name)

    def set_document(self, document: ImageDocument | None) -> None:
        self.document = document
        self.current_changed.emit()

    @property
    def current_name(self) -> str | None:
        return self.document.name if self.document is not None else None

    def set_selection(self, names) -> None:
        names = tuple(names)
        if names != self.selected_names:
            self.selected_names = names
            self.selection_changed.emit()

    def chosen_names(self) -> list[str]:
        """The images a batch action on 'the selected images' means: the browser's selection, or else the
        image on screen."""
        if self.selected_names:
            return list(self.selected_names)
        return [self.current_name] if self.current_name else []

    def set_display(self, levels: np.ndarray, channel: int | None, display: np.ndarray) -> None:
        """New display levels/channel and the uint8 image they give (computed off the GUI thread if large)."""
        if self.document is None or display.shape[:2] != self.document.shape:
            return
        self.document.levels = np.asarray(levels, dtype=np.float64)
        self.document.channel = channel
        self.document.display = display
        self.levels_changed.emit()

    def notify_mask_edited(self, region: tuple[int, int, int, int] | None) -> None:
        """The current mask's pixels changed in `region` (top, left, bottom, right) or everywhere (None).
        Whether that leaves unsaved edits is the editor's to say (mark_edited)."""
        if self.document is None:
            return
        self.document.has_mask = True
        self.mask_changed.emit(region)

    def mark_edited(self, name: str, edited: bool) -> None:
        """Whether `name` has unsaved edits; written only by its gui.editor.edit_session.EditSession."""
        if (name in self.edited) != edited:
            (self.edited.add if edited else self.edited.discard)(name)
            self.status_changed.emit(name)

    def set_prediction(self, name: str, path: str, mask: np.ndarray | None = None,
                       uncertainty: np.ndarray | None = None, score: float | None = None) -> None:
        """A prediction for `name` was written to `path`; if it is on screen, show `mask` (and `uncertainty`,
        its uint8 map). `score`: its uncertainty score; None forgets the score of an earlier prediction."""
        self.predictions[name] = path
        if score is not None:
            self.uncertainty[name] = score
        else:
            self.uncertainty.pop(name, None)
        if self.document is not None and self.document.name == name and mask is not None:
            self.document.prediction = mask
            self.document.uncertainty = uncertainty
        self.prediction_changed.emit(name)
        self.status_changed.emit(name)

    # models -------------------------------------------------------------------------------------
    def set_model(self, path: str) -> None:
        self.model_path = path
        self.model_changed.emit(path)

    def request_segmentation(self, model_path: str, names: list[str] | None = None) -> None:
        """Ask for `model_path` to be run on `names` (None: every image of the open folder)."""
        self.segmentation_requested.emit(model_path, names)

    # overlay ------------------------------------------------------------------------------------
    def update_overlay(self, **changes) -> None:
        new = replace(self.overlay, **changes)
        if new != self.overlay:
            self.overlay = new
            self.overlay_changed.emit()

    def set_current_class(self, index: int) -> None:
        index = max(0, min(index, len(self.classes) - 1))
        if index != self.current_class:
            self.current_class = index
            self.current_class_changed.emit(index)
