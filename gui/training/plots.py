"""Live training curves with pyqtgraph: loss, validation quality per class, learning rate.

Points are appended to growing numpy arrays. Epoch points are drawn at once; batch points are redrawn by a
timer at most REDRAW_HZ times a second, so a fast GPU never floods the GUI thread. The x axis is in epochs
(batch b of B in epoch e sits at e - 1 + b / B, and the epoch's own point at e) or, as the user chooses, in
minutes of training: every point keeps both positions, so switching only redraws.
"""

from __future__ import annotations

import math
from html import escape

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from core.classes import ClassTable, colour_hex
from gui.training.formatting import muted_html

REDRAW_HZ = 10
SMOOTHING = 0.9  # exponential moving average of the batch loss (bias-corrected)
BLUE, ORANGE, GREEN, VERMILLION, GREY = "#0072B2", "#E69F00", "#009E73", "#D55E00", "#9AA5B1"
MEAN_IOU = "#5B2C83"  # not among the default class colours
BATCH_KEYS = ("batch", "smoothed")
X_AXES = {"epoch": "Epoch", "minutes": "Minutes"}


class SeriesBuffer:
    """Points that grow by appending, each at an epoch position and a time (minutes of training; NaN when not
    known); `by_time` chooses which one is x. Capacity doubles, so appending stays O(1)."""

    def __init__(self, capacity: int = 256):
        self._x = np.empty(capacity)
        self._t = np.empty(capacity)
        self._y = np.empty(capacity)
        self.size = 0
        self.by_time = False

    def append(self, x: float, y: float | None, minutes: float | None = None) -> None:
        if self.size == len(self._x):
            self._x = np.resize(self._x, 2 * self.size)
            self._t = np.resize(self._t, 2 * self.size)
            self._y = np.resize(self._y, 2 * self.size)
        self._x[self.size] = x
        self._t[self.size] = np.nan if minutes is None else minutes
        self._y[self.size] = np.nan if y is None else y
        self.size += 1

    def keep_until(self, x_limit: float) -> None:
        """Drop every point after epoch position x_limit (positions only grow)."""
        self.size = int(np.searchsorted(self._x[: self.size], x_limit, side="right"))

    @property
    def x(self) -> np.ndarray:
        return (self._t if self.by_time else self._x)[: self.size]

    @property
    def y(self) -> np.ndarray:
        return self._y[: self.size]

    def nearest(self, x: float) -> tuple[float, float] | None:
        """The point whose x is closest to x, or None when empty."""
        known = np.isfinite(self.x)
        if not known.any():
            return None
        if not known.all():  # times missing (curves from before times were kept): read the timed points
            xs, ys = self.x[known], self.y[known]
            i = int(np.argmin(np.abs(xs - x)))
            return float(xs[i]), float(ys[i])
        i = int(np.clip(np.searchsorted(self.x, x), 1, self.size - 1)) if self.size > 1 else 0
        if i and abs(self.x[i - 1] - x) <= abs(self.x[i] - x):
            i -= 1
        return float(self.x[i]), float(self.y[i])


class Curve:
    def __init__(self, item: pg.PlotDataItem, name: str, in_readout: bool):
        self.item = item
        self.name = name
        self.data = SeriesBuffer()
        self.in_readout = in_readout
        self.dirty = False

    def redraw(self) -> None:
        self.item.setData(self.data.x, self.data.y)
        self.dirty = False


class TrainingPlot(QWidget):
    """A light-themed plot with labelled axes, a legend line under it (so no curve is hidden behind a legend
    box), and a crosshair whose label reads every curve at the point nearest the mouse."""

    def __init__(self, title: str, y_label: str, log_y: bool = False, parent: QWidget | None = None):
        super().__init__(parent)
        self.widget = pg.PlotWidget(background="w")
        self.widget.setMinimumSize(200, 120)
        self.item = self.widget.getPlotItem()
        self.item.setTitle(title, color="#222222", size="10pt")
        for side, text in (("bottom", "epoch"), ("left", y_label)):
            axis = self.item.getAxis(side)
            axis.setPen(pg.mkPen("#777777"))
            axis.setTextPen(pg.mkPen("#333333"))
            axis.enableAutoSIPrefix(False)
            self.item.setLabel(side, text, color="#333333")
        self.item.showGrid(x=True, y=True, alpha=0.15)
        self.item.setLogMode(y=log_y)
        if log_y:
            self.item.getAxis("left").setTickSpacing(1, 1)  # one label per decade: 0.0001, 0.001, 0.01
        self.item.setMenuEnabled(False)
        self.item.vb.setLimits(xMin=0)
        self.log_y = log_y
        self.by_time = False  # x in minutes of training instead of epochs
        self.legend = QLabel()
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)
        self.legend.setContentsMargins(6, 0, 6, 0)
        self.legend_note = ""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.widget, 1)
        layout.addWidget(self.legend)
        self.curves: dict[str, Curve] = {}
        self._legend_entries: dict[str, str] = {}
        self._vline = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#888888", style=Qt.PenStyle.DashLine))
        self._readout = pg.TextItem(color="#111111", fill=pg.mkBrush(255, 255, 255, 230), border=pg.mkPen("#BBBBBB"))
        for overlay in (self._vline, self._readout):
            overlay.setVisible(False)
            overlay.setZValue(100)
            self.item.addItem(overlay, ignoreBounds=True)
        self.widget.scene().sigMouseMoved.connect(self._on_scene_mouse_moved)

    def add_curve(self, key: str, name: str, colour: str, width: float = 1.5, alpha: int = 255,
                  dashed: bool = False, symbol: str | None = None, legend: str | None = "",
                  in_readout: bool = True) -> Curve:
        """legend: the text in the legend line ('' = name, None = not listed)."""
        qcolour = pg.mkColor(colour)
        qcolour.setAlpha(alpha)
        pen = pg.mkPen(qcolour, width=width, style=Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)
        item = pg.PlotDataItem(pen=pen, symbol=symbol, symbolSize=6, symbolPen=pen if symbol else None,
                               symbolBrush=qcolour if symbol else None, connect="finite")
        self.item.addItem(item)
        curve = Curve(item, name, in_readout)
        curve.data.by_time = self.by_time
        self.curves[key] = curve
        if legend is not None:
            glyph = "&#9679;" if symbol else ("&#9476;&#9476;" if dashed else "&#9473;&#9473;")
            self._legend_entries[key] = f"<span style='color:{colour}'>{glyph}</span>&nbsp;{escape(legend or name)}"
            self._show_legend()
        return curve

    def remove_curves(self, keep: tuple[str, ...] = ()) -> None:
        for key in [k for k in self.curves if k not in keep]:
            self.item.removeItem(self.curves.pop(key).item)
            self._legend_entries.pop(key, None)
        self._show_legend()

    def set_legend_note(self, note: str) -> None:
        self.legend_note = note
        self._show_legend()

    def _show_legend(self) -> None:
        entries = list(self._legend_entries.values()) + ([muted_html(escape(self.legend_note))] if self.legend_note else [])
        self.legend.setText(" &nbsp; ".join(entries))

    def set_time_axis(self, by_time: bool) -> None:
        """x in minutes of training (True) or in epochs; every curve is redrawn at its other positions."""
        self.by_time = by_time
        self.item.setLabel("bottom", "minutes" if by_time else "epoch", color="#333333")
        for curve in self.curves.values():
            curve.data.by_time = by_time
        self.redraw(list(self.curves))

    def redraw(self, keys) -> None:
        for key in keys:
            self.curves[key].redraw()
        if self.log_y:
            self._fit_log_range()

    def _fit_log_range(self) -> None:
        """At least two decades shown, so a constant rate still gets labelled decade ticks."""
        values = np.concatenate([c.data.y for c in self.curves.values()]) if self.curves else np.empty(0)
        values = values[np.isfinite(values) & (values > 0)]
        if values.size:
            low, high = np.log10(values.min()), np.log10(values.max())
            middle, half = (low + high) / 2, max((high - low) / 2 + 0.15, 1.0)
            self.item.setYRange(middle - half, middle + half, padding=0)

    def readout(self, x: float) -> tuple[float, str] | None:
        """(x of the nearest point, 'epoch 2.50\nname: value ...'), or None when there is nothing to read."""
        found = [(curve, curve.data.nearest(x)) for curve in self.curves.values() if curve.in_readout]
        found = [(curve, point) for curve, point in found if point is not None]
        if not found:
            return None
        x_near = min((point[0] for _, point in found), key=lambda value: abs(value - x))
        lines = [f"{curve.name}: {_number(point[1])}" for curve, point in found if abs(point[0] - x_near) < 1e-9]
        if self.by_time:
            label = f"{x_near:.2f} min"
        else:
            label = f"epoch {x_near:g}" if x_near == int(x_near) else f"epoch {x_near:.2f}"
        return x_near, "\n".join([label, *lines])

    def _on_scene_mouse_moved(self, position) -> None:
        box = self.item.vb.sceneBoundingRect()
        found = self.readout(self.item.vb.mapSceneToView(position).x()) if box.contains(position) else None
        self._vline.setVisible(found is not None)
        self._readout.setVisible(found is not None)
        if found is None:
            return
        x_near, text = found
        self._vline.setPos(x_near)
        self._readout.setText(text)
        view_point = self.item.vb.mapSceneToView(position)
        self._readout.setAnchor((1.05, 0) if position.x() > box.center().x() else (-0.05, 0))
        self._readout.setPos(view_point.x(), view_point.y())

    def leaveEvent(self, event) -> None:
        self._vline.setVisible(False)
        self._readout.setVisible(False)
        super().leaveEvent(event)


def _number(value: float) -> str:
    if math.isnan(value):
        return "–"
    return f"{value:.3g}" if abs(value) < 0.01 else f"{value:.4f}"


class TrainingPlotsWidget(QWidget):
    """The three live plots of a run, fed with the run's reports."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.loss_plot = TrainingPlot("Loss", "loss")
        self.quality_plot = TrainingPlot("Validation IoU (solid) and Dice (dashed)", "score")
        self.rate_plot = TrainingPlot("Learning rate", "learning rate (log)", log_y=True)
        quality = self.quality_plot.item
        quality.enableAutoRange(axis="y", enable=False)
        quality.setYRange(0, 1.0, padding=0.02)
        quality.vb.setLimits(yMin=-0.05, yMax=1.05)
        loss = self.loss_plot
        loss.add_curve("batch", "batch loss", GREY, width=1, alpha=120, in_readout=False, legend="each batch")
        loss.add_curve("smoothed", "training (smoothed)", BLUE, width=2, legend="training, smoothed")
        loss.add_curve("train", "training, epoch", ORANGE, symbol="o", legend="training per epoch")
        loss.add_curve("val", "validation", VERMILLION, dashed=True, symbol="t")
        self.quality_plot.add_curve("mean_iou", "mean IoU", MEAN_IOU, width=2.5, symbol="o")
        self.rate_plot.add_curve("rate", "learning rate", GREEN, width=2, legend=None)
        self.x_axis_combo = QComboBox()
        for value, title in X_AXES.items():
            self.x_axis_combo.addItem(title, value)
        self.x_axis_combo.setToolTip("Plot against epochs, or against minutes of training")
        self.x_axis_combo.currentIndexChanged.connect(self._on_x_axis_changed)
        axis_row = QHBoxLayout()
        axis_row.addStretch(1)
        axis_row.addWidget(QLabel("x axis:"))
        axis_row.addWidget(self.x_axis_combo)
        plots = QHBoxLayout()
        for plot, stretch in ((self.loss_plot, 3), (self.quality_plot, 3), (self.rate_plot, 2)):
            plots.addWidget(plot, stretch)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(axis_row)
        layout.addLayout(plots, 1)
        self._ema, self._ema_steps = 0.0, 0
        self._rate_from_history = False
        self._epochs, self._x_right = 1, 0.0
        self._timer = QTimer(self)
        self._timer.setInterval(1000 // REDRAW_HZ)
        self._timer.timeout.connect(self.redraw_batches)

    # run lifecycle --------------------------------------------------------------------------------
    def start_run(self, classes: ClassTable, history: tuple[dict, ...], start_epoch: int, epochs: int,
                  has_validation: bool = True) -> None:
        """A run begins: per-class curves in the class colours; a resumed run keeps the batch points before its
        first epoch and redraws the epoch curves from its history. The epoch axis doubles its span when the
        curves reach its end (up to the run's length), so the axes are not redrawn with every point."""
        self._epochs = epochs
        self._x_right = 0.0
        for plot in self._plots():
            plot.item.enableAutoRange(axis="x", enable=plot.by_time)
        self._extend_x(max(start_epoch - 1, 0.5))
        self.quality_plot.remove_curves(keep=("mean_iou",))
        for spec in classes:
            colour = colour_hex(spec.colour)
            self.quality_plot.add_curve(f"iou{spec.index}", f"{spec.name} IoU", colour, legend=spec.name)
            self.quality_plot.add_curve(f"dice{spec.index}", f"{spec.name} Dice", colour, width=1.2, dashed=True,
                                        legend=None)
        self.quality_plot.set_legend_note("" if has_validation else "no validation images in this run")
        for plot in (self.loss_plot, self.quality_plot):
            epoch_keys = [key for key in plot.curves if key not in BATCH_KEYS]
            for key in epoch_keys:
                plot.curves[key].data.size = 0
            plot.redraw(epoch_keys)
        for curve in self._batch_curves():
            curve.data.keep_until(start_epoch - 1 if history else 0)
        self._ema, self._ema_steps = 0.0, 0
        self._rate_from_history = self.rate_plot.curves["rate"].data.size == 0
        for entry in history:
            self.add_epoch(entry)
        self._rate_from_history = False
        self.redraw_batches(force=True)
        self._timer.start()

    def clear(self) -> None:
        """Empty every curve: a new run is being prepared."""
        for plot in (self.loss_plot, self.quality_plot, self.rate_plot):
            for curve in plot.curves.values():
                curve.data.size = 0
            plot.redraw(list(plot.curves))

    def finish_run(self) -> None:
        self._timer.stop()
        self.redraw_batches()

    def set_x_axis(self, axis: str) -> None:
        """'epoch' or 'minutes' (as the x axis menu does)."""
        self.x_axis_combo.setCurrentIndex(self.x_axis_combo.findData(axis))

    def _on_x_axis_changed(self) -> None:
        by_time = self.x_axis_combo.currentData() == "minutes"
        for plot in self._plots():
            plot.set_time_axis(by_time)
            plot.item.enableAutoRange(axis="x", enable=by_time)  # minutes: the range follows the curves
        if not by_time:
            for plot in self._plots():
                plot.item.setXRange(0, self._x_right, padding=0.02)

    def _plots(self) -> tuple[TrainingPlot, TrainingPlot, TrainingPlot]:
        return self.loss_plot, self.quality_plot, self.rate_plot

    # points -------------------------------------------------------------------------------------
    def _extend_x(self, x: float) -> None:
        if x <= self._x_right:
            return
        self._x_right = min(float(self._epochs), max(1.0, 2.0 ** math.ceil(math.log2(max(x, 1e-9)))))
        if not self.loss_plot.by_time:
            for plot in self._plots():
                plot.item.setXRange(0, self._x_right, padding=0.02)

    def add_batch(self, epoch: int, batch: int, batches: int, loss: float, learning_rate: float,
                  minutes: float | None = None) -> None:
        """Stored at once, drawn by the next timer tick; `minutes`: the run's training time then."""
        x = epoch - 1 + batch / batches
        self._extend_x(x)
        self._ema_steps += 1
        self._ema = SMOOTHING * self._ema + (1 - SMOOTHING) * loss
        smoothed = self._ema / (1 - SMOOTHING ** self._ema_steps)  # bias-corrected: no slow start from zero
        for curve, y in zip(self._batch_curves(), (loss, smoothed, learning_rate), strict=True):
            curve.data.append(x, y, minutes)
            curve.dirty = True

    def add_epoch(self, entry: dict) -> None:
        """One epoch from EpochReport.history_entry() or a checkpoint's history; drawn at once."""
        epoch = entry["epoch"]
        minutes = entry["elapsed"] / 60 if entry.get("elapsed") is not None else None
        self._extend_x(epoch)
        loss, quality = self.loss_plot.curves, self.quality_plot.curves
        loss["train"].data.append(epoch, entry.get("train_loss"), minutes)
        loss["val"].data.append(epoch, entry.get("val_loss"), minutes)
        quality["mean_iou"].data.append(epoch, entry.get("mean_iou"), minutes)
        for kind in ("iou", "dice"):
            for index, value in enumerate(entry.get(kind) or []):
                if f"{kind}{index}" in quality:
                    quality[f"{kind}{index}"].data.append(epoch, value, minutes)
        if self._rate_from_history:  # a run resumed in a new session: no batch points, one rate per epoch
            self.rate_plot.curves["rate"].data.append(epoch, entry.get("learning_rate"), minutes)
            self.rate_plot.curves["rate"].dirty = True
        self.loss_plot.redraw(["train", "val"])
        self.quality_plot.redraw(list(quality))
        self.redraw_batches()

    def redraw_batches(self, force: bool = False) -> None:
        for plot, keys in ((self.loss_plot, BATCH_KEYS), (self.rate_plot, ("rate",))):
            dirty = [key for key in keys if force or plot.curves[key].dirty]
            if dirty:
                plot.redraw(dirty)

    def _batch_curves(self) -> tuple[Curve, Curve, Curve]:
        return self.loss_plot.curves["batch"], self.loss_plot.curves["smoothed"], self.rate_plot.curves["rate"]
