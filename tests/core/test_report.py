"""Metric report files: written, read back equal to the summaries, CSV columns and rows as documented."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from core.classes import ClassTable
from core.errors import ConfigError, SegLabError
from core.metrics import ConfusionMatrix
from core.report import (
    CSV_ENCODING,
    METRICS_JSON,
    ImageResult,
    read_metric_report,
    write_metric_report,
)

CLASSES = ClassTable.from_names(["background", "nucleus", "débris"])
META = {"model": "unet.safetensors", "dataset": "/data/bbbc039", "tile": 256}


@pytest.fixture
def results() -> list[ImageResult]:
    # Image a: class 2 absent from truth and prediction. Image b: class 2 present, never predicted.
    a = ConfusionMatrix.from_counts([[5, 1, 0], [2, 4, 0], [0, 0, 0]])
    b = ConfusionMatrix.from_counts([[3, 0, 0], [0, 1, 0], [1, 1, 0]])
    return [ImageResult("a.png", "/data/a.png", a), ImageResult("b.png", "/data/b.png", b)]


def read_csv(path) -> list[list[str]]:
    with open(path, encoding=CSV_ENCODING, newline="") as handle:
        return list(csv.reader(handle))


def test_report_files_are_written_and_read_back_equal_to_the_summaries(tmp_path, results):
    out = tmp_path / "report"
    written = write_metric_report(out, results, CLASSES, META)
    assert [p.name for p in written] == ["per_image.csv", "per_class.csv", "confusion_matrix.csv", "metrics.json"]
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in written)  # no temporary files left

    report = read_metric_report(out)
    dataset = results[0].matrix + results[1].matrix
    assert report.meta == META
    assert report.classes == CLASSES
    assert report.dataset == dataset.summary(CLASSES.names)
    assert report.dataset_matrix() == dataset
    assert [entry["name"] for entry in report.images] == ["a.png", "b.png"]
    assert report.images[0] == {"name": "a.png", "image_path": "/data/a.png", "trained_on": False,
                                **results[0].matrix.summary(CLASSES.names)}
    assert report.results() == results
    document = json.loads((out / METRICS_JSON).read_text(encoding="utf-8"))
    assert document["version"] == 1
    assert set(document) == {"version", "meta", "classes", "dataset", "held_out", "images"}
    assert document["held_out"] is None  # no scope in the meta: unknown
    assert document["images"][0]["per_class"][2]["iou"] is None  # nan -> null


def test_per_image_csv_has_one_row_per_image_and_empty_cells_for_nan(tmp_path, results):
    write_metric_report(tmp_path, results, CLASSES, META)
    header, *rows = read_csv(tmp_path / "per_image.csv")
    assert header == ["name", "image_path", "trained_on", "pixel_accuracy", "mean_iou", "mean_dice",
                      "iou_background", "iou_nucleus", "iou_débris",
                      "dice_background", "dice_nucleus", "dice_débris"]
    assert len(rows) == 2
    row_a = dict(zip(header, rows[0], strict=True))
    assert row_a["name"] == "a.png" and row_a["image_path"] == "/data/a.png" and row_a["trained_on"] == "no"
    assert float(row_a["pixel_accuracy"]) == pytest.approx(9 / 12)
    assert float(row_a["iou_background"]) == pytest.approx(5 / 8)  # 5 / (6 + 7 - 5)
    assert float(row_a["mean_iou"]) == pytest.approx(results[0].matrix.mean_iou())
    assert row_a["iou_débris"] == "" and row_a["dice_débris"] == ""
    row_b = dict(zip(header, rows[1], strict=True))
    assert float(row_b["iou_débris"]) == 0.0  # present, never predicted


def test_per_class_and_confusion_csv_cover_the_whole_dataset(tmp_path, results):
    write_metric_report(tmp_path, results, CLASSES, META)
    header, *rows = read_csv(tmp_path / "per_class.csv")
    assert header == ["index", "name", "iou", "dice", "accuracy", "truth_pixels", "predicted_pixels"]
    assert [row[:2] for row in rows] == [["0", "background"], ["1", "nucleus"], ["2", "débris"]]
    # dataset counts: [[8, 1, 0], [2, 5, 0], [1, 1, 0]]
    background = dict(zip(header, rows[0], strict=True))
    assert float(background["iou"]) == pytest.approx(8 / (9 + 11 - 8))
    assert float(background["accuracy"]) == pytest.approx(8 / 9)
    assert (background["truth_pixels"], background["predicted_pixels"]) == ("9", "11")
    assert [rows[2][2], rows[2][5], rows[2][6]] == ["0.0", "2", "0"]

    header, *rows = read_csv(tmp_path / "confusion_matrix.csv")
    assert header == ["truth \\ prediction", "background", "nucleus", "débris"]
    assert [row[0] for row in rows] == CLASSES.names
    np.testing.assert_array_equal(np.array([row[1:] for row in rows], dtype=int), [[8, 1, 0], [2, 5, 0], [1, 1, 0]])


def test_duplicate_class_names_get_distinct_columns(tmp_path, results):
    classes = ClassTable.from_names(["cell", "cell", "edge"])
    write_metric_report(tmp_path, results, classes, {})
    header = read_csv(tmp_path / "per_image.csv")[0]
    assert header[6:9] == ["iou_cell_0", "iou_cell_1", "iou_edge"]


def test_rewriting_replaces_the_report(tmp_path, results):
    write_metric_report(tmp_path, results, CLASSES, META)
    write_metric_report(tmp_path, results[:1], CLASSES, {"run": 2})
    report = read_metric_report(tmp_path)
    assert report.meta == {"run": 2} and len(report.images) == 1
    assert len(read_csv(tmp_path / "per_image.csv")) == 2


def test_bad_inputs_and_bad_files_raise_typed_errors(tmp_path, results):
    with pytest.raises(ConfigError, match="a.png: its metrics have 3 classes, the class table has 2"):
        write_metric_report(tmp_path, results, ClassTable.default(2), META)
    with pytest.raises(ConfigError, match="plain JSON"):
        write_metric_report(tmp_path, results, CLASSES, {"when": object()})
    with pytest.raises(SegLabError, match="cannot be read"):
        read_metric_report(tmp_path / "missing")
    (tmp_path / METRICS_JSON).write_text('{"version": 99}')
    with pytest.raises(SegLabError, match="version 99"):
        read_metric_report(tmp_path)
    (tmp_path / METRICS_JSON).write_text("{not json")
    with pytest.raises(SegLabError, match="not valid JSON"):
        read_metric_report(tmp_path)


def test_trained_on_rows_are_marked_and_held_out_images_summed_apart(tmp_path, results):
    """Issue 11.3: with the training images included, both figures are written and those rows marked."""
    from core.evaluation_scope import EvaluationScope

    scope = EvaluationScope.of({"train_images": ["b.png"], "val_images": ["a.png"]}, ["a.png", "b.png"],
                               include_training=True)
    marked = [results[0], ImageResult("b.png", "/data/b.png", results[1].matrix, trained_on=True)]
    write_metric_report(tmp_path, marked, CLASSES, {"scope": scope.to_json()})
    report = read_metric_report(tmp_path)
    assert report.held_out == results[0].matrix.summary(CLASSES.names)
    assert report.dataset == (results[0].matrix + results[1].matrix).summary(CLASSES.names)
    assert report.results() == marked
    assert [row[2] for row in read_csv(tmp_path / "per_image.csv")[1:]] == ["no", "yes"]
    assert report.describe_scope() == ("scored 2 images: 1 the model never trained on and 1 it was trained on "
                                       "(marked “trained on”)")
    assert report.meta["scope"]["left_out"] == [] and "a copy of the training folder" in report.meta["scope"]["rule"]
