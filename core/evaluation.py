"""Score a model against ground truth: predict every labeled image of a dataset and accumulate
confusion matrices per image and over the whole set."""

from __future__ import annotations

import datetime
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.classes import IGNORE_INDEX, ClassTable
from core.data.index import DatasetIndex
from core.errors import Cancelled, DatasetError, SegLabError
from core.evaluation_scope import EvaluationScope
from core.io.images import non_finite_pixels
from core.io.masks import out_of_range_values
from core.metrics import ConfusionMatrix
from core.report import ImageResult, held_out_summary, total_matrix


@dataclass(frozen=True)
class Evaluation:
    results: list[ImageResult]
    failures: list[tuple[str, str]]  # (file, problem)
    classes: ClassTable
    meta: dict
    cancelled: bool = False
    warnings: tuple[tuple[str, str], ...] = ()  # (file, note): scored, but e.g. NaN pixels left out
    scope: EvaluationScope = EvaluationScope(False, False)  # which images the model was trained on

    def dataset_matrix(self) -> ConfusionMatrix:
        """All scored images' pixels together."""
        return total_matrix(self.results, len(self.classes))

    def dataset_summary(self) -> dict:
        return self.dataset_matrix().summary(self.classes.names)

    def held_out_summary(self) -> dict | None:
        """Only the scored images the model never trained on (None when unknown or none was scored)."""
        return held_out_summary(self.results, self.classes, self.scope)

    def describe_scope(self, include_hint: str = "") -> str:
        return self.scope.describe((r.name for r in self.results), include_hint)


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def evaluation_meta(spec, model_path: str | Path, data_dir: str | Path, scope: EvaluationScope) -> dict:
    """Provenance for reports: model file and checksum, data folder, date, versions, training summary, and
    which images were scored (the scope)."""
    from core.versions import software_versions

    return {
        "model_file": str(Path(model_path).resolve()), "model_sha256": file_sha256(model_path),
        "data_dir": str(Path(data_dir).resolve()), "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "software": software_versions(), "architecture": spec.architecture, "encoder": spec.encoder,
        "model_created": spec.created, "model_training": spec.training, "model_metrics": spec.metrics,
        "scope": scope.to_json(),
    }


def evaluate_model(predictor, model_path: str | Path, data_dir: str | Path,
                   progress: Callable[[int, int, float], None] | None = None,
                   cancel: Callable[[], bool] | None = None,
                   on_result: Callable[[str, np.ndarray], None] | None = None,
                   include_training: bool = False) -> Evaluation:
    """Predict each labeled image with `predictor` (core.inference.Predictor) and compare with its mask.
    Images the model file says it was trained on are left out unless `include_training` (then they are
    marked). Unreadable images or masks are listed in failures; the rest are scored (NaN or infinite pixels
    not, and such images are listed in warnings)."""
    from core.inference.predictor import non_finite_warning

    index = DatasetIndex.scan(data_dir)
    if not index.labeled:
        raise DatasetError("no labeled images to evaluate against; the folder needs ground-truth masks", data_dir)
    scope = EvaluationScope.of(predictor.spec.training, (s.name for s in index.labeled), include_training)
    labeled = [s for s in index.labeled if scope.scores(s.name)]
    if not labeled:
        raise DatasetError(f"the model was trained on all {len(index.labeled)} labeled images of this folder, so "
                           "none is left to score it fairly; include the training images to score them anyway",
                           data_dir)
    trained = set(scope.trained_on)
    classes = predictor.spec.classes
    if predictor.needs_calibration:
        from core.inference.predictor import first_readable

        predictor.calibrate(first_readable(index.load_image, labeled))
    results: list[ImageResult] = []
    failures: list[tuple[str, str]] = []
    warnings: list[tuple[str, str]] = []
    start = time.perf_counter()
    cancelled = False
    for done, sample in enumerate(labeled, start=1):
        if cancel is not None and cancel():
            cancelled = True
            break
        try:
            image, note = index.model_image(sample, predictor.spec.in_channels)
            if note is not None and not any(text == note for _, text in warnings):
                warnings.append((str(sample.image), note))  # said once: a colour photo read as gray
            truth = index.load_mask(sample)
            if truth.shape != image.shape[:2]:
                raise DatasetError(f"mask {truth.shape[1]}x{truth.shape[0]} and image "
                                   f"{image.shape[1]}x{image.shape[0]} differ in size", sample.mask or sample.image)
            bad = out_of_range_values(truth, len(classes))
            if bad:
                raise DatasetError(f"mask values {bad[:5]} are not among the model's {len(classes)} classes",
                                   sample.mask or sample.image)
            prediction = predictor.predict_mask(image, cancel=cancel)
            unusable = non_finite_pixels(image)
            if unusable is not None:  # unlabeled in the prediction, so not scored
                truth = np.where(unusable, np.asarray(IGNORE_INDEX, truth.dtype), truth)
                warnings.append((str(sample.image), non_finite_warning(image)))
        except Cancelled:
            cancelled = True
            break
        except SegLabError as exc:
            failures.append((str(exc.path or sample.image), exc.reason))
        else:
            results.append(ImageResult(sample.name, str(sample.image),
                                       ConfusionMatrix(len(classes)).update(prediction, truth),
                                       sample.name in trained))
            if on_result is not None:
                on_result(sample.name, prediction)
        if progress is not None:
            elapsed = time.perf_counter() - start
            progress(done, len(labeled), elapsed / done * (len(labeled) - done))
    return Evaluation(results, failures, classes, evaluation_meta(predictor.spec, model_path, data_dir, scope),
                      cancelled, tuple(warnings), scope)
