"""Batch segmentation from the window: answers AppState.segmentation_requested by running core's folder
prediction (a SegLab model file or a BioImage.IO package; every plane of a stack its own image) in a
background task. Each mask, with its uncertainty map and score, lands in the dataset's workspace
(predictions_dir) and in AppState as soon as it is written, so overlays appear while the rest is running;
progress follows the tiles of a large image. Failures are listed at the end. Closing the window or opening
another folder cancels the run; finished masks stay."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import QWidget

from core.classes import ClassTable
from core.durations import format_duration
from core.io.readers.planes import ImagePlane
from gui.dialogs import show_failure
from gui.job_controller import JobController
from gui.segment.segment_dialog import SegmentChoice, SegmentDialog
from gui.segmented_image import SegmentedImage
from gui.state import AppState
from gui.workers import TaskContext

PROGRESS_INTERVAL_S = 0.25
"""Progress reaches the window at most this often (tile batches on a GPU finish far faster)."""


@dataclass(frozen=True)
class SegmentJob:
    model_path: str  # a SegLab model file or a BioImage.IO package
    images: tuple[ImagePlane, ...]  # one per sample; a mask is named after its plane (= the sample name)
    output_dir: Path
    tile_size: int = 512
    tta: bool = False
    exact: bool = False  # 32-bit only; by default the fastest checked precision
    channel: str | int | None = None  # what a 1-channel model reads of multi-channel images (dataset setting)
    classes: ClassTable | None = None  # names and colours for a package's outputs


@dataclass(frozen=True)
class SegmentSummary:
    done: int
    total: int
    failures: list[tuple[str, str]] = field(default_factory=list)  # (file, problem)
    cancelled: bool = False
    seconds: float = 0.0
    backend: str = ""
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (file, note): segmented, e.g. NaN pixels


def run_segmentation(ctx: TaskContext, job: SegmentJob) -> SegmentSummary:
    """Load the model once, then predict image by image (core.inference.predict_folder), keeping each mask's
    uncertainty map and score beside it. Every finished mask is delivered as a SegmentedImage partial (with its
    map ready to draw); the SegmentSummary comes as the last partial too, so a cancelled run still reports
    what it did."""
    from core.bioimageio.importing import load_predictor, package_predictor
    from core.inference import PredictOptions, predict_folder
    from core.inference.uncertainty import display_levels, image_score
    from core.inference.uncertainty_files import map_path_for_mask, read_map
    from core.io.masks import read_mask

    options = PredictOptions(tile_size=job.tile_size, overlap=min(64, job.tile_size // 4), tta=job.tta,
                             precision="exact" if job.exact else "auto",
                             device="auto")  # the GPU when there is one
    if job.classes is not None:
        predictor = package_predictor(job.model_path, options, classes=job.classes)
    else:
        predictor = load_predictor(job.model_path, options)

    def on_result(_image_path: Path, mask_path: Path) -> None:
        uncertainty = read_map(map_path_for_mask(mask_path))
        ctx.partial(SegmentedImage(Path(mask_path).stem, str(mask_path), read_mask(mask_path),
                                   display_levels(uncertainty), image_score(uncertainty)))

    result = predict_folder(predictor, job.images, job.output_dir, progress=ThrottledProgress(ctx),
                            cancel=ctx.cancelled, on_result=on_result, within_images=True,
                            channel=job.channel, uncertainty=True, on_phase=ctx.partial)
    summary = SegmentSummary(len(result.written), len(job.images), [(str(p), m) for p, m in result.failures],
                             result.cancelled, result.seconds, predictor.backend_reason,
                             [(str(p), m) for p, m in result.warnings])
    ctx.partial(summary)
    return summary


class ThrottledProgress:
    """Passes core's folder progress (tile by tile) to the task at most every PROGRESS_INTERVAL_S, and the
    last step always, so the window repaints the progress line a few times a second."""

    def __init__(self, ctx: TaskContext):
        self.ctx = ctx
        self.last_sent = float("-inf")

    def __call__(self, done: float, total: int, seconds_left: float) -> None:
        now = time.monotonic()
        if done >= total or now - self.last_sent >= PROGRESS_INTERVAL_S:
            self.last_sent = now
            self.ctx.progress(done, total, seconds_left)


class SegmentationController(JobController):
    failure_title = "Segmentation failed"
    finished = Signal(object)  # SegmentSummary, also when cancelled

    def __init__(self, state: AppState, settings: QSettings, window: QWidget):
        super().__init__(state, settings, window)
        self.options = SegmentChoice("", None, int(settings.value("segment/tile_size", 512)),
                                     settings.value("segment/tta", False, type=bool),
                                     settings.value("segment/exact", False, type=bool))
        self.last_summary: SegmentSummary | None = None
        self._index = None  # the dataset the running job writes for
        self._segment_on_open: tuple[Path, str] | None = None  # (folder, model file) to run once it is open
        state.segmentation_requested.connect(self._on_state_segmentation_requested)
        state.dataset_changed.connect(self._on_state_dataset_changed)

    # actions ------------------------------------------------------------------------------------
    def open_dialog(self) -> SegmentDialog | None:
        """Show the Segment Images dialog (window-modal); the run starts when it is accepted."""
        if self.state.index is None:
            self.state.message.emit("Open a folder of images first.")
            return None
        return self._show_dialog(SegmentDialog(self.state, self.settings, self._window),
                                 lambda dialog: self.segment(dialog.choice()))

    def segment(self, choice: SegmentChoice) -> None:
        from core.bioimageio.package import is_package

        self.options = choice
        if choice.model_path != self.state.model_path and not is_package(choice.model_path):
            self.state.set_model(choice.model_path)  # the window's model stays a SegLab model file
        self.state.request_segmentation(choice.model_path, choice.names)

    def segment_when_opened(self, folder: str | Path, model_path: str) -> None:
        """Once `folder` is the open dataset, run `model_path` on its images that have no prediction yet
        (Open Sample Dataset: the starter model segments the sample without being asked)."""
        self._segment_on_open = (Path(folder).resolve(), model_path)

    # running ------------------------------------------------------------------------------------
    def _on_state_segmentation_requested(self, model_path: str, names) -> None:
        from core.data.workspace import predictions_dir

        index = self.state.index
        if index is None:
            self.state.message.emit("Open a folder of images before segmenting.")
            return
        if self.running:
            self.state.message.emit("Segmentation is already running; cancel it or wait for it to finish.")
            return
        known = {s.name for s in index.samples}
        samples = index.samples if names is None else [index.sample(n) for n in names if n in known]
        if not samples:
            self.state.message.emit("No images to segment.")
            return
        classes = self.options.classes if self.options.model_path == model_path else None
        job = SegmentJob(model_path, tuple(s.image_plane for s in samples), predictions_dir(index.root),
                         self.options.tile_size, self.options.tta, self.options.exact, index.settings.channel,
                         classes)
        self._index = index
        self.last_summary = None
        self._start_job(run_segmentation, job, f"Segmenting with {Path(model_path).name}", len(samples))
        self.state.message.emit(f"Segmenting {len(samples)} image(s) with {Path(model_path).name} …")

    def _on_job_partial(self, value) -> None:
        if isinstance(value, SegmentedImage):
            if self.state.index is self._index:  # not for a folder opened meanwhile
                self.state.set_prediction(value.name, value.mask_path, value.mask, value.uncertainty, value.score)
        elif isinstance(value, str):  # a slow step before the first image, in words
            self.state.message.emit(value)
        elif isinstance(value, SegmentSummary):
            self.last_summary = value
            self._report(value)

    def _on_job_finished(self, summary: SegmentSummary) -> None:
        self.finished.emit(summary)
        self._segment_opened_folder()

    def _on_job_cancelled(self) -> None:
        if self.last_summary is not None:  # None when cancelled before the model was loaded
            self.finished.emit(self.last_summary)
        self._segment_opened_folder()  # a folder opened during the run may want its own

    def _report(self, summary: SegmentSummary) -> None:
        what = "cancelled after" if summary.cancelled else "done:"
        self.state.message.emit(f"Segmentation {what} {summary.done} of {summary.total} image(s) in "
                                f"{format_duration(summary.seconds)}"
                                + (f"; {len(summary.failures)} failed" if summary.failures else "")
                                + (f"; {len(summary.warnings)} with a warning" if summary.warnings else ""))
        if not summary.failures and not summary.warnings:
            return
        parts = []
        if summary.failures:
            parts.append(f"<p>{len(summary.failures)} of {summary.total} image(s) failed; the others were "
                         f"segmented.</p>{_listed(summary.failures)}")
        if summary.warnings:
            parts.append(f"<p>{len(summary.warnings)} image(s) were segmented with a warning:</p>"
                         f"{_listed(summary.warnings)}")
        title = "Some images could not be segmented" if summary.failures else "Some images need a look"
        show_failure(self._window, title, "".join(parts),
                     "\n".join(f"{path}: {text}" for path, text in [*summary.failures, *summary.warnings]))

    def _on_state_dataset_changed(self) -> None:
        if self.state.index is not self._index:
            self.cancel()
        self._segment_opened_folder()

    def _segment_opened_folder(self) -> None:
        """The run segment_when_opened asked for, once its folder is open and no other run is (still) going."""
        index = self.state.index
        if index is None or self._segment_on_open is None or self.running:
            return
        (folder, model_path), self._segment_on_open = self._segment_on_open, None
        missing = [s.name for s in index.samples if s.name not in self.state.predictions]
        if Path(index.root).resolve() == folder and missing:
            if not self.state.model_path:
                self.state.set_model(model_path)
            self.state.request_segmentation(model_path, missing)


def _listed(entries: list[tuple[str, str]], shown: int = 10) -> str:
    """The first `shown` (file, text) entries as an HTML list, and how many more there are."""
    items = "".join(f"<li>{escape(Path(path).name)}: {escape(text)}</li>" for path, text in entries[:shown])
    more = f"<p>… and {len(entries) - shown} more (see details).</p>" if len(entries) > shown else ""
    return f"<ul>{items}</ul>{more}"
