"""Evaluate a model against the open dataset's ground truth in a background task (progress, cancel), write
the CSV/JSON/HTML report (and a PDF printed by Qt), and show the results in the Evaluation panel. The
predictions made on the way are kept as the window's predictions, so the worst image can be inspected; they
have no uncertainty map, so the ones kept from an earlier Segment run are removed with their scores."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import QWidget

from core.report import MetricReport
from gui.job_controller import JobController
from gui.report.evaluate_dialog import EvaluateChoice, EvaluateDialog
from gui.report.pdf_export import PDF_REPORT, html_to_pdf
from gui.report.report_widget import ReportWidget
from gui.segmented_image import SegmentedImage
from gui.state import AppState
from gui.workers import BackgroundTask, TaskContext


@dataclass(frozen=True)
class EvaluateJob:
    model_path: str
    data_dir: Path
    out_dir: Path
    predictions_dir: Path
    pdf: bool = True
    include_training: bool = False


@dataclass(frozen=True)
class EvaluationOutcome:
    report: MetricReport
    out_dir: Path
    files: list[Path]
    failures: list[tuple[str, str]]
    warnings: tuple[tuple[str, str], ...] = ()  # scored, with a note (e.g. NaN pixels left out)


def run_evaluation(ctx: TaskContext, job: EvaluateJob) -> EvaluationOutcome:
    """Predict and score the labelled images (those the model trained on only if asked), then write the
    report files into job.out_dir."""
    from core.evaluation import evaluate_model
    from core.inference import PredictOptions, Predictor
    from core.inference.uncertainty_files import forget_uncertainty
    from core.io.masks import mask_suffix, read_mask, write_mask
    from core.report import read_metric_report, write_metric_report
    from core.report_html import HTML_REPORT, dataset_loader, image_panels, write_html_report

    predictor = Predictor.from_file(job.model_path, PredictOptions(device="auto"))
    classes = predictor.spec.classes
    suffix = mask_suffix(len(classes))

    def keep_prediction(name: str, prediction) -> None:
        path = write_mask(job.predictions_dir / f"{name}{suffix}", prediction, classes)
        forget_uncertainty(job.predictions_dir, [name])  # the old map and score describe the replaced mask
        ctx.partial(SegmentedImage(name, str(path), prediction))

    evaluation = evaluate_model(predictor, job.model_path, job.data_dir, cancel=ctx.cancelled,
                                progress=lambda done, total, _eta: ctx.progress(done, total),
                                on_result=keep_prediction, include_training=job.include_training)
    ctx.check_cancelled()
    files = write_metric_report(job.out_dir, evaluation.results, classes, evaluation.meta)
    report = read_metric_report(job.out_dir)
    load = dataset_loader(job.data_dir, lambda name: read_mask(job.predictions_dir / f"{name}{suffix}"))
    html_path = write_html_report(job.out_dir / HTML_REPORT, report, image_panels(report, load), evaluation.failures,
                                  evaluation.warnings)
    files.append(html_path)
    if job.pdf:
        title = f"SegLab report: {Path(job.model_path).name}"
        files.append(html_to_pdf(html_path.read_text(encoding="utf-8"), job.out_dir / PDF_REPORT, title))
    return EvaluationOutcome(report, job.out_dir, files, evaluation.failures, evaluation.warnings)


def _images_to_score(choice: EvaluateChoice, index) -> int:
    """How many images the evaluation will predict (a model file that cannot be read fails in the job)."""
    from core.errors import SegLabError
    from core.evaluation_scope import EvaluationScope
    from core.models.model_file import read_model_spec

    labeled = [sample.name for sample in index.labeled]
    try:
        training = read_model_spec(choice.model_path).training
    except SegLabError:
        return len(labeled)
    return len(labeled) - len(EvaluationScope.of(training, labeled, choice.include_training).left_out)


class ReportController(JobController):
    failure_title = "Evaluation failed"
    results_shown = Signal()
    finished = Signal(object)  # EvaluationOutcome

    def __init__(self, state: AppState, settings: QSettings, window: QWidget):
        super().__init__(state, settings, window)
        self.widget = ReportWidget(state)
        self.outcome: EvaluationOutcome | None = None
        self._index = None

    def open_dialog(self) -> EvaluateDialog | None:
        index = self.state.index
        if index is None or not index.labeled:
            self.state.message.emit("Open a folder with ground-truth masks to evaluate a model against them.")
            return None
        if self.running:
            self.state.message.emit("An evaluation is running; cancel it or wait for it to finish.")
            return None
        return self._show_dialog(EvaluateDialog(self.state, self.settings, self._window),
                                 lambda dialog: self.evaluate(dialog.choice()))

    def evaluate(self, choice: EvaluateChoice) -> BackgroundTask | None:
        from core.data.workspace import predictions_dir

        index = self.state.index
        if index is None or self.running:
            return None
        job = EvaluateJob(choice.model_path, Path(index.root), choice.out_dir, predictions_dir(index.root), choice.pdf,
                          choice.include_training)
        self._index = index
        return self._start_job(run_evaluation, job, f"Evaluating {Path(choice.model_path).name}",
                               _images_to_score(choice, index))

    # the job ------------------------------------------------------------------------------------
    def _on_job_partial(self, value) -> None:
        if isinstance(value, SegmentedImage) and self.state.index is self._index:
            self.state.set_prediction(value.name, value.mask_path, value.mask)

    def _on_job_finished(self, outcome: EvaluationOutcome) -> None:
        self.outcome = outcome
        self.widget.show_report(outcome.report, outcome.out_dir, len(outcome.failures), outcome.warnings)
        self.results_shown.emit()
        report = outcome.report
        summary = report.held_out or report.dataset
        self.state.message.emit(f"Evaluation done: mIoU {summary['mean_iou'] or 0:.4f}; "
                                f"{report.describe_scope()}; report in {outcome.out_dir}")
        self.finished.emit(outcome)

    def _on_job_cancelled(self) -> None:
        self.state.message.emit("Evaluation cancelled; no report was written.")
