"""The HTML report: its numbers are core's metrics, its pictures are embedded PNGs, curves when the model has them."""

from __future__ import annotations

import base64
import io
import re
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image

from core.classes import ClassTable
from core.difference_colours import EXTRA, MISSED, WRONG_CLASS
from core.metrics import ConfusionMatrix
from core.report import ImageResult, read_metric_report, write_metric_report
from core.report_figures import comparison_picture, difference_picture, nice_ticks
from core.report_html import HEADLINES, image_panels, training_curves, write_html_report

CLASSES = ClassTable.from_names(["background", "cell", "nucleus"])
HISTORY = [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.2 / e, "mean_iou": 0.5 + 0.1 * e} for e in (1, 2, 3)]


class Tables(HTMLParser):
    """Text of every table cell, row by row, and every image source."""

    def __init__(self):
        super().__init__()
        self.tables, self.images, self._cell = [], [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = ""
        elif tag == "img":
            self.images.append(dict(attrs)["src"])

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[-1][-1].append(self._cell.strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


@pytest.fixture
def dataset():
    """Three images: truth, a prediction that gets part of it wrong, and their images."""
    rng = np.random.default_rng(3)
    images, truths, predictions = {}, {}, {}
    for number, wrong in enumerate((0.05, 0.4, 0.2)):
        truth = np.zeros((48, 64), np.uint8)
        truth[8:40, 8:30] = 1
        truth[12:20, 40:56] = 2
        prediction = truth.copy()
        flip = rng.random(truth.shape) < wrong
        prediction[flip] = rng.integers(0, 3, flip.sum())
        name = f"image_{number}"
        images[name] = rng.integers(0, 4096, truth.shape).astype(np.uint16)
        truths[name], predictions[name] = truth, prediction
    return images, truths, predictions


def write_report(tmp_path, dataset, history=None):
    images, truths, predictions = dataset
    results = [ImageResult(name, f"/data/{name}.tif", ConfusionMatrix(3).update(predictions[name], truths[name]))
               for name in images]
    meta = {"model_file": "/models/cells.safetensors", "model_sha256": "ab" * 32, "data_dir": "/data",
            "date": "2026-01-01T10:00:00+01:00", "software": {"seglab": "0.1.0"}, "architecture": "unet",
            "encoder": "resnet18", "model_training": {"history": history} if history else {}}
    write_metric_report(tmp_path, results, CLASSES, meta)
    report = read_metric_report(tmp_path)
    panels = image_panels(report, lambda name: (images[name], truths[name], predictions[name]), count=2)
    path = write_html_report(tmp_path / "report.html", report, panels, [("/data/broken.tif", "not an image")])
    parser = Tables()
    parser.feed(path.read_text(encoding="utf-8"))
    return results, parser


def test_numbers_in_the_html_are_cores_metrics(tmp_path, dataset):
    results, page = write_report(tmp_path, dataset)
    total = ConfusionMatrix(3)
    for result in results:
        total.merge(result.matrix)
    summary, per_class, _per_image = page.tables[0], page.tables[1], page.tables[2]
    expected = {"pixel_accuracy": total.pixel_accuracy(), "mean_pixel_accuracy": total.mean_pixel_accuracy(),
                "mean_iou": total.mean_iou(), "frequency_weighted_iou": total.frequency_weighted_iou(),
                "mean_dice": total.mean_dice()}
    assert summary == [[label, f"{expected[key]:.4f}"] for key, label in HEADLINES]
    for row, name, iou, dice, recall, truth, predicted in zip(
            per_class[1:], CLASSES.names, total.iou(), total.dice(), total.class_accuracy(),
            total.truth_pixels, total.predicted_pixels, strict=True):
        assert row == [name, f"{iou:.4f}", f"{dice:.4f}", f"{recall:.4f}", f"{truth:,}", f"{predicted:,}"]


def test_images_are_ranked_worst_first_with_their_scores(tmp_path, dataset):
    results, page = write_report(tmp_path, dataset)
    ranking = sorted(results, key=lambda r: r.matrix.mean_iou())
    rows = page.tables[2][1:]
    assert [row[1] for row in rows] == [r.name for r in ranking] == ["image_1", "image_2", "image_0"]
    for row, result in zip(rows, ranking, strict=True):
        assert row[2:5] == [f"{result.matrix.mean_iou():.4f}", f"{result.matrix.mean_dice():.4f}",
                            f"{result.matrix.pixel_accuracy():.4f}"]
        assert row[5:] == [f"{v:.4f}" for v in result.matrix.iou()]


def test_pictures_are_embedded_and_curves_appear_only_with_a_history(tmp_path, dataset):
    _, without = write_report(tmp_path / "a", dataset)
    _, with_history = write_report(tmp_path / "b", dataset, HISTORY)
    assert len(without.images) == 1 + 2  # confusion matrix + two worst images
    assert len(with_history.images) == 1 + 2 + 2  # + loss and IoU curves
    for source in with_history.images:
        assert source.startswith("data:image/png;base64,")
        picture = Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1])))
        assert picture.format == "PNG" and min(picture.size) > 50
    text = (tmp_path / "b" / "report.html").read_text(encoding="utf-8")
    assert "Training curves" in text and "Training curves" not in (tmp_path / "a" / "report.html").read_text()
    assert not re.search(r'src="(?!data:)', text)  # nothing outside the file
    assert "ab" * 32 in text and "broken.tif" in text and "not an image" in text


def test_training_curves_draw_every_epoch(dataset):
    loss_chart, iou_chart = (np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
                             for png in training_curves({"model_training": {"history": HISTORY}}))
    blue = np.all(loss_chart == (0, 114, 178), axis=2)  # the first series' colour
    orange = np.all(loss_chart == (213, 94, 0), axis=2)
    assert blue.sum() > 100 and orange.sum() > 100
    assert training_curves({"model_training": {}}) == [] and training_curves({}) == []
    assert iou_chart.shape == loss_chart.shape


def test_difference_picture_marks_missed_extra_and_wrong_class_pixels():
    truth = np.zeros((4, 4), np.uint8)
    truth[0, :2] = 1
    truth[1, 0] = 1
    prediction = np.zeros((4, 4), np.uint8)
    prediction[0, 0] = 1
    prediction[3, 3] = 2
    prediction[1, 0] = 2
    truth[2, 2] = 255  # unlabeled: never wrong
    prediction[2, 2] = 1
    picture = difference_picture(np.zeros((4, 4), np.uint8), truth, prediction, 3)
    assert tuple(picture[0, 1]) == MISSED.colour and tuple(picture[3, 3]) == EXTRA.colour
    assert tuple(picture[1, 0]) == WRONG_CLASS.colour
    assert tuple(picture[0, 0]) == tuple(picture[2, 2]) == tuple(picture[1, 1])  # right or unlabeled: gray
    panels = comparison_picture(np.zeros((4, 4), np.uint8), truth, prediction, CLASSES, "caption")
    assert panels.shape[1] == 3 * 4 + 2 * 8


def test_nice_ticks_cover_the_range_with_round_steps():
    assert nice_ticks(0.0, 1.0, 5) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert nice_ticks(1, 7, 8, integer=True) == [1, 2, 3, 4, 5, 6, 7]
    ticks = nice_ticks(0.183, 0.957, 5)
    assert ticks[0] <= 0.183 and ticks[-1] >= 0.957 and len(ticks) <= 7


def test_cli_evaluate_writes_the_html_report(tmp_path, isbi_dir):
    """`evaluate --html` on two ISBI crops with a small random U-Net: report.html beside metrics.json."""
    import torch

    from core.cli import run_cli
    from core.models.model_file import save_model_file
    from core.models.registry import build_from_spec
    from core.models.spec import ModelSpec

    for folder in ("images", "masks"):
        (tmp_path / "data" / folder).mkdir(parents=True)
        for name in ("0.png", "1.png"):
            Image.open(isbi_dir / folder / name).crop((0, 0, 128, 96)).save(tmp_path / "data" / folder / name)
    torch.manual_seed(0)
    spec = ModelSpec("unet_classic", 1, ClassTable.default(2), 2, options={"base_channels": 4})
    model = save_model_file(tmp_path / "tiny", build_from_spec(spec), spec)
    out = tmp_path / "report"
    assert run_cli(["evaluate", str(model), str(tmp_path / "data"), "--report", str(out), "--html",
                    "--backend", "torch", "--device", "cpu", "--tile", "128"]) == 0
    page = Tables()
    page.feed((out / "report.html").read_text(encoding="utf-8"))
    written = read_metric_report(out)
    assert page.tables[0][2] == ["Mean IoU (mIoU)", f"{written.dataset['mean_iou']:.4f}"]
    assert len(page.images) == 1 + 2 and all(src.startswith("data:image/png;base64,") for src in page.images)


def test_with_training_images_included_the_page_gives_both_figures_and_marks_their_rows(tmp_path, dataset):
    """Issue 11.3: the report states what was scored, both summaries, and which rows the model trained on."""
    from core.evaluation_scope import EvaluationScope

    images, truths, predictions = dataset
    scope = EvaluationScope.of({"train_images": ["image_0"], "val_images": []}, list(images), include_training=True)
    results = [ImageResult(name, f"/data/{name}.tif", ConfusionMatrix(3).update(predictions[name], truths[name]),
                           trained_on=name == "image_0") for name in images]
    write_metric_report(tmp_path, results, CLASSES, {"scope": scope.to_json()})
    page_text = write_html_report(tmp_path / "report.html", read_metric_report(tmp_path),
                                  warnings=[("/data/image_2.tif", "16 pixels are NaN or infinite")]
                                  ).read_text(encoding="utf-8")
    page = Tables()
    page.feed(page_text)
    held_out = results[1].matrix + results[2].matrix
    everything = held_out + results[0].matrix
    summary = page.tables[0]
    assert summary[0] == ["", "2 images never trained on", "All 3 scored images"]
    assert summary[1:] == [[label, f"{getattr(held_out, key)():.4f}", f"{getattr(everything, key)():.4f}"]
                           for key, label in HEADLINES]
    assert "Scored 3 images: 2 the model never trained on and 1 it was trained on" in page_text
    images_table = page.tables[2]
    column = images_table[0].index("Trained on")
    assert {row[1]: row[column] for row in images_table[1:]} == {"image_0": "yes", "image_1": "no", "image_2": "no"}
    assert page_text.count('<tr class="trained">') == 1
    assert page.tables[-1] == [["File", "Warning"], ["/data/image_2.tif", "16 pixels are NaN or infinite"]]
