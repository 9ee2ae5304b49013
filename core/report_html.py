"""The metric report as one self-contained HTML file (pictures embedded as base64 PNG), readable in any
browser, by e-mail, or printed to PDF by the window (Qt's rich-text engine reads the same file, so the
markup stays plain: tables, images, a few CSS properties).

Everything shown comes from a MetricReport (the content of metrics.json, core/report.py), so the HTML's
numbers are the CSV/JSON numbers; the worst images' pictures come from a loader the caller supplies.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.classes import colour_hex
from core.difference_colours import DIFFERENCE_KINDS
from core.errors import ConfigError
from core.io.atomic import write_text_atomic
from core.report import MetricReport
from core.report_figures import comparison_picture, confusion_picture, data_uri, line_chart, png_bytes

HTML_REPORT = "report.html"
WORST_IMAGES = 6
MAX_TABLE_IMAGES = 500  # rows of the per-image table; per_image.csv has them all
MAX_CLASS_COLUMNS = 8  # per-class IoU columns in the per-image table
NEW_PAGE = ' style="page-break-before: always"'  # printed: big pictures start a page
TRAINED_ROW = ' class="trained"'  # a row of an image the model was trained on

HEADLINES = (("pixel_accuracy", "Pixel accuracy"), ("mean_pixel_accuracy", "Mean pixel accuracy"),
             ("mean_iou", "Mean IoU (mIoU)"), ("frequency_weighted_iou", "Frequency-weighted IoU"),
             ("mean_dice", "Mean Dice"))

STYLE = """
body { font-family: "Segoe UI", Helvetica, Arial, sans-serif; color: #212529; margin: 24px; max-width: 1100px; }
h1 { font-size: 22pt; margin-bottom: 2px; }
h2 { font-size: 15pt; margin-top: 26px; border-bottom: 1px solid #ced4da; }
p.lead { color: #495057; margin-top: 2px; }
table { border-collapse: collapse; margin: 6px 0; }
th { background-color: #e9ecef; text-align: left; padding: 4px 10px; font-weight: 600; }
td { padding: 3px 10px; border-bottom: 1px solid #dee2e6; }
td.num, th.num { text-align: right; font-family: Menlo, Consolas, monospace; }
td.key { color: #495057; }
tr.trained td { color: #868e96; font-style: italic; }
p.scope { font-size: 12pt; }
span.swatch { border: 1px solid #868e96; }
p.note { color: #6c757d; font-size: 9pt; }
"""


@dataclass(frozen=True)
class ImagePanel:
    """One of the worst images: truth / prediction / difference picture as PNG bytes."""

    name: str
    caption: str
    png: bytes


ImageLoader = Callable[[str], tuple[np.ndarray, np.ndarray, np.ndarray]]
"""loader(image name) -> (image, truth mask, predicted mask)."""


class PredictionKeeper:
    """An on_result callback for core.evaluation.evaluate_model that keeps every prediction as PNG bytes
    (a few kB each), so the worst images can be drawn once all scores are known."""

    def __init__(self):
        self._pngs: dict[str, bytes] = {}

    def __call__(self, name: str, prediction: np.ndarray) -> None:
        ok, encoded = cv2.imencode(".png", prediction)
        if not ok:
            raise ConfigError(f"the prediction of {name} could not be kept for the report")
        self._pngs[name] = encoded.tobytes()

    def load(self, name: str) -> np.ndarray:
        return cv2.imdecode(np.frombuffer(self._pngs[name], np.uint8), cv2.IMREAD_UNCHANGED)


def dataset_loader(data_dir: str | Path, prediction: Callable[[str], np.ndarray]) -> ImageLoader:
    """An ImageLoader reading image and ground truth from the dataset folder, the prediction from `prediction`."""
    from core.data.index import DatasetIndex

    index = DatasetIndex.scan(data_dir)

    def load(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        sample = index.sample(name)
        return index.load_image(sample), index.load_mask(sample), prediction(name)

    return load


def worst_image_summaries(report: MetricReport, count: int | None = None) -> list[dict]:
    """Per-image summaries, lowest mean IoU first (images without a defined mIoU last)."""
    ranked = sorted(report.images, key=lambda s: (s["mean_iou"] is None, s["mean_iou"] or 0.0, s["name"]))
    return ranked if count is None else ranked[:count]


def image_panels(report: MetricReport, load: ImageLoader, count: int = WORST_IMAGES) -> list[ImagePanel]:
    """Comparison pictures of the `count` worst images."""
    panels = []
    for summary in worst_image_summaries(report, count):
        image, truth, prediction = load(summary["name"])
        trained = " (trained on)" if summary.get("trained_on") else ""
        caption = (f"{summary['name']}{trained}: mIoU {_number(summary['mean_iou'])}, "
                   f"pixel accuracy {_number(summary['pixel_accuracy'])}")
        picture = comparison_picture(image, truth, prediction, report.classes, caption)
        panels.append(ImagePanel(summary["name"], caption, png_bytes(picture)))
    return panels


def training_curves(meta: dict) -> list[bytes]:
    """Line charts (PNG) of the loss and validation IoU per epoch, when the model file carries its history."""
    history = (meta.get("model_training") or {}).get("history") or []
    if not history:
        return []
    epochs = [entry.get("epoch", i + 1) for i, entry in enumerate(history)]
    losses = {label: [(e, entry.get(key)) for e, entry in zip(epochs, history, strict=True)]
              for key, label in (("train_loss", "training loss"), ("val_loss", "validation loss"))}
    scores = {"validation mIoU": [(e, entry.get("mean_iou")) for e, entry in zip(epochs, history, strict=True)]}
    return [png_bytes(line_chart(losses, "Loss per epoch", "loss")),
            png_bytes(line_chart(scores, "Validation mean IoU per epoch", "mIoU", y_range=(0.0, 1.0)))]


def write_html_report(path: str | Path, report: MetricReport, panels: Sequence[ImagePanel] = (),
                      failures: Sequence[tuple[str, str]] = (), warnings: Sequence[tuple[str, str]] = ()) -> Path:
    path = Path(path)
    write_text_atomic(path, html_report(report, panels, failures, warnings))
    return path


def html_report(report: MetricReport, panels: Sequence[ImagePanel] = (), failures: Sequence[tuple[str, str]] = (),
                warnings: Sequence[tuple[str, str]] = ()) -> str:
    """The whole page; `failures` were not scored, `warnings` were scored with a note (file, text)."""
    meta = report.meta
    model = Path(str(meta.get("model_file", "model"))).name
    data = Path(str(meta.get("data_dir", ""))).name or str(meta.get("data_dir", ""))
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>SegLab report: {_e(model)} on {_e(data)}</title><style>{STYLE}</style></head><body>",
        "<h1>Segmentation report</h1>",
        f'<p class="lead">Model <b>{_e(model)}</b> on <b>{_e(data)}</b>: {len(report.images)} images with ground '
        f"truth scored, evaluated {_e(_date(meta.get('date')))}.</p>",
        *_scope(report), *_summary(report), *_per_class(report), *_confusion(report), *_images_table(report),
        *_panels(panels), *_curves(meta), *_provenance(meta, report), *_failures(failures), *_warnings(warnings),
        '<p class="note">Written by SegLab. IoU = intersection over union, Dice = 2 TP / (2 TP + FP + FN); '
        "all pixels of all images are counted together (a class absent from truth and prediction shows "
        "n/a).</p>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


# sections ------------------------------------------------------------------------------------------

def _scope(report: MetricReport) -> list[str]:
    """Which images were scored, and how the model's training images were recognised."""
    scope = report.scope
    if scope is None:
        return []
    validation = scope.validation_note(entry["name"] for entry in report.images)
    trained_where = f" (its training folder: {scope.training_dir})" if scope.training_dir else ""
    return [f'<p class="scope"><b>{_e(_capital(report.describe_scope()))}.</b>'
            + (f" {_e(_capital(validation))}." if validation else "") + "</p>",
            f'<p class="note">Training images: {_e(scope.rule)}{_e(trained_where)}.</p>']


def _summary(report: MetricReport) -> list[str]:
    trained = sum(bool(entry.get("trained_on")) for entry in report.images)
    if report.held_out is None or not trained:
        rows = "".join(f'<tr><td class="key">{label}</td><td class="num">{_number(report.dataset[key])}</td></tr>'
                       for key, label in HEADLINES)
        return ["<h2>Summary</h2>", f"<table>{rows}</table>"]
    held_out = len(report.images) - trained
    header = (f'<tr><th></th><th class="num">{held_out} images never trained on</th>'
              f'<th class="num">All {len(report.images)} scored images</th></tr>')
    rows = "".join(f'<tr><td class="key">{label}</td><td class="num">{_number(report.held_out[key])}</td>'
                   f'<td class="num">{_number(report.dataset[key])}</td></tr>' for key, label in HEADLINES)
    return ["<h2>Summary</h2>", f"<table>{header}{rows}</table>",
            f'<p class="note">The second column includes the {trained} images the model was trained on, whose '
            "scores do not show how it does on new images; the per-class table and the confusion matrix count "
            "all scored images.</p>"]


def _per_class(report: MetricReport) -> list[str]:
    header = ("<tr><th>Class</th><th class=\"num\">IoU</th><th class=\"num\">Dice</th>"
              "<th class=\"num\">Accuracy (recall)</th><th class=\"num\">True pixels</th>"
              "<th class=\"num\">Predicted pixels</th></tr>")
    rows = []
    for row in report.dataset["per_class"]:
        spec = report.classes[row["index"]]
        rows.append(f"<tr><td>{_swatch(spec.colour)} {_e(row['name'])}</td>"
                    f'<td class="num">{_number(row["iou"])}</td><td class="num">{_number(row["dice"])}</td>'
                    f'<td class="num">{_number(row["accuracy"])}</td><td class="num">{row["truth_pixels"]:,}</td>'
                    f'<td class="num">{row["predicted_pixels"]:,}</td></tr>')
    return ["<h2>Per class</h2>", f"<table>{header}{''.join(rows)}</table>"]


def _confusion(report: MetricReport) -> list[str]:
    picture = png_bytes(confusion_picture(report.dataset["confusion_matrix"], report.classes))
    return ["<h2>Confusion matrix</h2>",
            f'<p><img src="{data_uri(picture)}" alt="confusion matrix"></p>',
            '<p class="note">Rows: the true class; columns: the predicted class. Each cell shows the share of '
            "the row's pixels and their count; the diagonal holds the correct pixels.</p>"]


def _images_table(report: MetricReport) -> list[str]:
    classes = report.classes.names[:MAX_CLASS_COLUMNS]
    marked = any(entry.get("trained_on") for entry in report.images)
    header = ("<tr><th class=\"num\">#</th><th>Image</th>" + ("<th>Trained on</th>" if marked else "")
              + "<th class=\"num\">mIoU</th><th class=\"num\">Mean Dice</th><th class=\"num\">Pixel accuracy</th>"
              + "".join(f'<th class="num">IoU {_e(name)}</th>' for name in classes) + "</tr>")
    ranked = worst_image_summaries(report)
    rows = []
    for rank, summary in enumerate(ranked[:MAX_TABLE_IMAGES], start=1):
        per_class = "".join(f'<td class="num">{_number(row["iou"])}</td>'
                            for row in summary["per_class"][:MAX_CLASS_COLUMNS])
        trained = bool(summary.get("trained_on"))
        mark = f"<td>{'yes' if trained else 'no'}</td>" if marked else ""
        rows.append(f'<tr{TRAINED_ROW if trained else ""}><td class="num">{rank}</td><td>{_e(summary["name"])}</td>'
                    f'{mark}<td class="num">{_number(summary["mean_iou"])}</td>'
                    f'<td class="num">{_number(summary["mean_dice"])}</td>'
                    f'<td class="num">{_number(summary["pixel_accuracy"])}</td>{per_class}</tr>')
    more = (f'<p class="note">The {len(ranked) - MAX_TABLE_IMAGES} best images are left out here; '
            "per_image.csv lists them all.</p>") if len(ranked) > MAX_TABLE_IMAGES else ""
    return ["<h2>Images, worst first</h2>", f"<table>{header}{''.join(rows)}</table>", more]


def _panels(panels: Sequence[ImagePanel]) -> list[str]:
    if not panels:
        return []
    legend = ", ".join(f"{_swatch(kind.colour)} <b>{_e(kind.name)}</b>: {_e(kind.meaning)}"
                       for kind in DIFFERENCE_KINDS)
    parts = [f"<h2{NEW_PAGE}>The worst images</h2>",
             f'<p class="note">Left: ground truth; middle: prediction (class colours over the image); right: '
             f"differences: {legend} (in these small pictures a pixel shows an error when any pixel it stands "
             "for is wrong).</p>"]
    parts += [f'<p><img src="{data_uri(panel.png)}" alt="{_e(panel.caption)}"></p>' for panel in panels]
    return parts


def _curves(meta: dict) -> list[str]:
    charts = training_curves(meta)
    if not charts:
        return []
    return [f"<h2{NEW_PAGE}>Training curves</h2>", *(f'<p><img src="{data_uri(c)}" alt="training curve"></p>' for c in charts)]


def _provenance(meta: dict, report: MetricReport) -> list[str]:
    training = meta.get("model_training") or {}
    config = training.get("config") or {}
    rows = [
        ("Model file", meta.get("model_file")), ("Model SHA-256", meta.get("model_sha256")),
        ("Architecture", _architecture(meta, config)), ("Model created", _date(meta.get("model_created"))),
        ("Classes", ", ".join(report.classes.names)), ("Data folder", meta.get("data_dir")),
        ("Evaluated", _date(meta.get("date"))),
    ]
    if training:
        rows += [("Trained on", training.get("data_dir")),
                 ("Training images", _count(training.get("train_images"))),
                 ("Validation images", _count(training.get("val_images"))),
                 ("Epochs until this model was saved", f"{training.get('epochs_done', '?')} "
                                                       f"(best: {training.get('best_epoch', '?')})"),
                 ("Training time", f"{training.get('seconds', '?')} s on {training.get('device', '?')}")]
    rows += [(f"Software: {name}", version) for name, version in (meta.get("software") or {}).items()]
    body = "".join(f'<tr><td class="key">{_e(key)}</td><td>{_e("" if value is None else str(value))}</td></tr>'
                   for key, value in rows)
    return ["<h2>Model and provenance</h2>", f"<table>{body}</table>"]


def _failures(failures: Sequence[tuple[str, str]]) -> list[str]:
    if not failures:
        return []
    rows = "".join(f"<tr><td>{_e(str(path))}</td><td>{_e(problem)}</td></tr>" for path, problem in failures)
    return [f"<h2>Not evaluated ({len(failures)})</h2>", f"<table><tr><th>File</th><th>Problem</th></tr>{rows}</table>"]


def _warnings(warnings: Sequence[tuple[str, str]]) -> list[str]:
    if not warnings:
        return []
    rows = "".join(f"<tr><td>{_e(str(path))}</td><td>{_e(note)}</td></tr>" for path, note in warnings)
    return [f"<h2>Scored with a warning ({len(warnings)})</h2>",
            f"<table><tr><th>File</th><th>Warning</th></tr>{rows}</table>"]


# helpers -------------------------------------------------------------------------------------------

def _architecture(meta: dict, config: dict) -> str:
    encoder = meta.get("encoder")
    options = config.get("model_options") or {}
    details = ([encoder] if encoder else []) + [f"{k}={v}" for k, v in sorted(options.items())]
    return f"{meta.get('architecture', '?')}" + (f" ({', '.join(details)})" if details else "")


def _date(text) -> str:
    """An ISO timestamp as people write it: '2026-01-31 14:05:09+01:00'."""
    return str(text or "").replace("T", " ", 1)


def _count(names) -> str:
    return str(len(names)) if isinstance(names, list) else "?"


def _capital(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _swatch(colour: tuple[int, int, int]) -> str:
    return f'<span class="swatch" style="background-color:{colour_hex(colour)}">&nbsp;&nbsp;&nbsp;&nbsp;</span>'


def _e(text: str) -> str:
    return html.escape(text, quote=True)
