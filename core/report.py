"""Metric reports written by `evaluate`: CSV tables for spreadsheets and metrics.json for SegLab.

Files in the report folder (each written atomically):
  per_image.csv         one row per image: trained_on (yes/no: the model was trained on it), headline
                        metrics, then iou_<class> and dice_<class> columns
  per_class.csv         per class over all scored images (their pixels counted together)
  confusion_matrix.csv  those pixel counts, rows = truth, columns = prediction
  metrics.json          {"version", "meta", "classes", "dataset", "held_out", "images"}: everything, read back by
                        read_metric_report. "dataset" sums all scored images, "held_out" only those the model
                        never trained on (null when its file does not record them); meta["scope"] says which
                        images were left out and why (core/evaluation_scope.py).
CSV files are UTF-8 with a byte-order mark so spreadsheet programs show non-ASCII class names; undefined
values (a class absent from truth and prediction) are empty cells in CSV and null in JSON.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.classes import ClassTable
from core.errors import ConfigError, SegLabError
from core.evaluation_scope import EvaluationScope
from core.io.atomic import write_bytes_atomic, write_json_atomic
from core.io.masks import ignore_index_for
from core.metrics import ConfusionMatrix

REPORT_VERSION = 1
PER_IMAGE_CSV = "per_image.csv"
PER_CLASS_CSV = "per_class.csv"
CONFUSION_CSV = "confusion_matrix.csv"
METRICS_JSON = "metrics.json"
CSV_ENCODING = "utf-8-sig"

PER_IMAGE_HEADLINES = ("pixel_accuracy", "mean_iou", "mean_dice")
PER_CLASS_COLUMNS = ("index", "name", "iou", "dice", "accuracy", "truth_pixels", "predicted_pixels")


@dataclass(frozen=True)
class ImageResult:
    """One evaluated image: its pixel counts against the truth."""

    name: str
    image_path: str
    matrix: ConfusionMatrix
    trained_on: bool = False  # the model file lists it among its training images


@dataclass(frozen=True)
class MetricReport:
    """The content of metrics.json. `dataset`, `held_out` and each entry of `images` are
    ConfusionMatrix.summary dicts (held_out None when unknown)."""

    meta: dict
    classes: ClassTable
    dataset: dict
    images: list[dict]
    held_out: dict | None = None

    @property
    def scope(self) -> EvaluationScope | None:
        """Which images were scored; None for reports written before SegLab recorded it."""
        return EvaluationScope.from_json(self.meta.get("scope"))

    def describe_scope(self, include_hint: str = "") -> str:
        scope = self.scope
        return scope.describe((entry["name"] for entry in self.images), include_hint) if scope is not None else ""

    def dataset_matrix(self) -> ConfusionMatrix:
        return self._matrix(self.dataset)

    def results(self) -> list[ImageResult]:
        return [ImageResult(entry["name"], entry["image_path"], self._matrix(entry), bool(entry.get("trained_on")))
                for entry in self.images]

    def _matrix(self, summary: dict) -> ConfusionMatrix:
        return ConfusionMatrix.from_counts(summary["confusion_matrix"], ignore_index_for(len(self.classes)))


def total_matrix(results: Iterable[ImageResult], class_count: int) -> ConfusionMatrix:
    """The pixel counts of `results` added together."""
    total = ConfusionMatrix(class_count, ignore_index_for(class_count))
    for result in results:
        total.merge(result.matrix)
    return total


def held_out_summary(results: Sequence[ImageResult], classes: ClassTable, scope: EvaluationScope | None) -> dict | None:
    """The summary over the images the model never trained on; None when the model file does not record its
    training images or none of those was scored."""
    held_out = [r for r in results if not r.trained_on]
    if scope is None or not scope.recorded or not held_out:
        return None
    return total_matrix(held_out, len(classes)).summary(classes.names)


def per_image_columns(classes: ClassTable) -> list[str]:
    labels = _class_labels(classes)
    return ["name", "image_path", "trained_on", *PER_IMAGE_HEADLINES, *(f"iou_{label}" for label in labels),
            *(f"dice_{label}" for label in labels)]


def write_metric_report(out_dir: str | Path, results: Sequence[ImageResult], classes: ClassTable,
                        meta: dict) -> list[Path]:
    """Write the report files into `out_dir` (created if needed); returns their paths."""
    out_dir = Path(out_dir)
    for result in results:
        if result.matrix.class_count != len(classes):
            raise ConfigError(f"{result.name}: its metrics have {result.matrix.class_count} classes, "
                              f"the class table has {len(classes)}")
    try:
        json.dumps(meta)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"report metadata must be plain JSON data ({exc})") from None

    dataset = total_matrix(results, len(classes))
    names = classes.names
    dataset_summary = dataset.summary(names)
    image_summaries = [{"name": r.name, "image_path": str(r.image_path), "trained_on": r.trained_on,
                        **r.matrix.summary(names)} for r in results]
    document = {"version": REPORT_VERSION, "meta": meta, "classes": classes.to_json(), "dataset": dataset_summary,
                "held_out": held_out_summary(results, classes, EvaluationScope.from_json(meta.get("scope"))),
                "images": image_summaries}

    files = {
        PER_IMAGE_CSV: lambda path: _write_csv(path, [per_image_columns(classes)]
                                               + [_per_image_row(s) for s in image_summaries]),
        PER_CLASS_CSV: lambda path: _write_csv(path, [list(PER_CLASS_COLUMNS)]
                                               + [[row[c] for c in PER_CLASS_COLUMNS]
                                                  for row in dataset_summary["per_class"]]),
        CONFUSION_CSV: lambda path: _write_csv(path, _confusion_rows(dataset, classes)),
        METRICS_JSON: lambda path: write_json_atomic(path, document),
    }
    written = []
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for file_name, write in files.items():
            write(out_dir / file_name)
            written.append(out_dir / file_name)
    except OSError as exc:
        raise SegLabError(f"the metric report cannot be written ({exc.strerror or exc}); choose another folder",
                          exc.filename or out_dir) from None
    return written


def read_metric_report(out_dir: str | Path) -> MetricReport:
    """Read metrics.json from a report folder. Raises SegLabError naming the file when it is missing or broken."""
    path = Path(out_dir) / METRICS_JSON
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SegLabError(f"the metric report cannot be read ({exc.strerror or exc}); run evaluate again", path) from None
    except ValueError as exc:
        raise SegLabError(f"the metric report is not valid JSON ({exc}); run evaluate again", path) from None
    version = data.get("version") if isinstance(data, dict) else None
    if not isinstance(version, int) or version > REPORT_VERSION:
        raise SegLabError(f"report version {version!r} is not supported (this SegLab reads up to "
                          f"{REPORT_VERSION}); run evaluate again or update SegLab", path)
    try:
        return MetricReport(meta=dict(data.get("meta") or {}), classes=ClassTable.from_json(data["classes"]),
                            dataset=dict(data["dataset"]), images=list(data["images"]),
                            held_out=data.get("held_out"))
    except (KeyError, TypeError, ValueError, ConfigError) as exc:
        raise SegLabError(f"the metric report is incomplete ({exc}); run evaluate again", path) from None


def _class_labels(classes: ClassTable) -> list[str]:
    """Class names for column headers; a name used twice gets its index appended."""
    names = classes.names
    return [name if names.count(name) == 1 else f"{name}_{index}" for index, name in enumerate(names)]


def _per_image_row(summary: dict) -> list:
    per_class = summary["per_class"]
    return [summary["name"], summary["image_path"], "yes" if summary["trained_on"] else "no",
            *(summary[key] for key in PER_IMAGE_HEADLINES),
            *(row["iou"] for row in per_class), *(row["dice"] for row in per_class)]


def _confusion_rows(matrix: ConfusionMatrix, classes: ClassTable) -> list[list]:
    labels = _class_labels(classes)
    return [["truth \\ prediction", *labels]] + [[label, *row] for label, row in zip(labels, matrix.counts.tolist(),
                                                                                  strict=True)]


def _write_csv(path: Path, rows: list[list]) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
    write_bytes_atomic(path, buffer.getvalue().encode(CSV_ENCODING))
