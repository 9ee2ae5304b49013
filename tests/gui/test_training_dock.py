"""The Training panel in the real window: Stop ends a run within a second and keeps the best model, Resume continues
from the checkpoint, a failing run explains itself in a dialog and leaves the window usable (closing the window
during a run: test_training_resume.py); and the plot pieces (buffers, crosshair readout, preview overlay) on their own."""

from __future__ import annotations

import json
import re
import time

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from core.classes import ClassTable
from core.training.config import TrainConfig
from core.training.reports import Preview
from gui.dialogs import FAILURE_DIALOG
from tests.gui.test_training_wizard import Heartbeat, show_small_folder, tiny_isbi

RUN_TIMEOUT_MS = 90_000


def tiny_config(folder, output, **changes) -> TrainConfig:
    values = dict(data_dir=str(folder), output=str(output), architecture="unet_classic", encoder=None,
                  model_options={"base_channels": 8}, epochs=3, batch_size=4, patch_size=64, patches_per_epoch=48,
                  val_fraction=0.2, device="cpu", early_stopping=0)
    values.update(changes)
    return TrainConfig(**values)


def test_stop_within_a_second_then_resume_continues_from_the_checkpoint(qtbot, main_window, show_folder,
                                                                       isbi_dir, tmp_path):
    window, controller = main_window, main_window.training
    folder = tiny_isbi(isbi_dir, tmp_path / "data")
    (folder / "images" / "9.png").write_bytes(b"not an image")  # labeled but unreadable: skipped and listed
    (folder / "masks" / "9.png").write_bytes((folder / "masks" / "0.png").read_bytes())
    show_small_folder(window, show_folder, folder)
    config = tiny_config(folder, folder / "models" / "run.safetensors")
    dock = controller.dock_widget
    controller.start(config)  # the open folder: the run reuses the window's index
    qtbot.waitUntil(lambda: dock.plots.loss_plot.curves["batch"].data.size >= 12 + 3, timeout=RUN_TIMEOUT_MS)
    batch = dock.plots.loss_plot.curves["batch"].data
    assert batch.x[-1] > 1.0  # epoch 2 is under way (12 batches per epoch)
    assert dock.tabs.tabText(2) == "Skipped files (1)" and "9.png" in dock.skipped_list.item(0).text()

    with qtbot.waitSignal(controller.run_finished, timeout=5000) as stopped:
        pressed = time.perf_counter()
        dock.stop_button.click()
        assert not dock.stop_button.isEnabled() and "Stopping" in dock.status_label.text()
    latency = time.perf_counter() - pressed
    print(f"stop latency: {latency * 1000:.0f} ms (controller measured {controller.last_stop_latency_s * 1000:.0f} ms)")
    assert latency < 1.0
    finished = stopped.args[0]
    assert finished.reason == "stopped" and finished.epochs_done == 1
    assert finished.model_path == str(config.output) and window.state.model_path == str(config.output)
    assert dock.resume_button.isVisible() and dock.resume_button.isEnabled()
    kept_batches = dock.plots.loss_plot.curves["batch"].data.size

    heartbeat = Heartbeat()
    with qtbot.waitSignal(controller.run_finished, timeout=RUN_TIMEOUT_MS) as resumed:
        dock.resume_button.click()
        heartbeat.start()
    heartbeat.stop()
    print(f"max heartbeat gap while resuming: {heartbeat.max_gap_ms:.0f} ms")
    assert heartbeat.max_gap_ms < 200
    assert controller.last_started.start_epoch == 2 and len(controller.last_started.history) == 1
    assert resumed.args[0].reason == "completed" and resumed.args[0].epochs_done == 3
    plots = dock.plots
    np.testing.assert_array_equal(plots.loss_plot.curves["train"].data.x, [1, 2, 3])
    batch_x = plots.loss_plot.curves["batch"].data.x
    assert np.all(np.diff(batch_x) > 0) and batch_x.size == 12 + 2 * 12  # epoch 1 kept, the stopped epoch redone
    assert kept_batches > 12
    state = torch.load(config.checkpoint_path, weights_only=True)
    assert [entry["epoch"] for entry in json.loads(state["history"])] == [1, 2, 3]
    assert not dock.resume_button.isVisible()


def test_a_failing_run_shows_a_dialog_and_the_window_stays_usable(qtbot, main_window, isbi_dir, tmp_path):
    folder = tiny_isbi(isbi_dir, tmp_path / "broken", count=1)
    (folder / "images" / "0.png").write_bytes(b"\x89PNG\r\n\x1a\n but the rest is missing")
    controller = main_window.training
    with qtbot.waitSignal(controller.run_failed, timeout=RUN_TIMEOUT_MS) as failed:
        controller.start(tiny_config(folder, tmp_path / "out" / "m.safetensors"))
    assert re.search("none of the labell?ed images could be used", failed.args[0]) and "0.png" in failed.args[0]
    qtbot.waitUntil(lambda: not controller.running, timeout=5000)
    box = main_window.findChild(QMessageBox, FAILURE_DIALOG)
    assert box is not None and box.isVisible() and box.windowModality() == Qt.WindowModality.WindowModal
    assert "0.png" in box.text() and box.detailedText()
    assert "Training failed" in controller.dock_widget.status_label.text()
    assert "0.png" in controller.dock_widget.message_label.text()
    assert not controller.dock_widget.resume_button.isVisible()  # nothing to resume: no epoch finished
    box.accept()
    assert main_window.train_action.isEnabled()
    wizard = controller.open_wizard()  # the window still answers: a new run can be set up
    assert wizard is not None and wizard.isVisible()
    wizard.reject()


def test_series_buffer_grows_and_truncates():
    from gui.training.plots import SeriesBuffer

    buffer = SeriesBuffer(capacity=2)
    for i in range(5):
        buffer.append(i * 0.5, None if i == 3 else float(i))
    np.testing.assert_array_equal(buffer.x, [0, 0.5, 1, 1.5, 2])
    assert np.isnan(buffer.y[3]) and buffer.nearest(1.2) == (1.0, 2.0)
    buffer.keep_until(1.0)
    np.testing.assert_array_equal(buffer.x, [0, 0.5, 1])


def test_crosshair_reads_every_curve_at_the_nearest_epoch(qtbot):
    from gui.training.plots import TrainingPlotsWidget

    plots = TrainingPlotsWidget()
    qtbot.addWidget(plots)
    plots.start_run(ClassTable.from_names(["background", "cell"]), (), 1, epochs=2)
    for batch in range(1, 5):
        plots.add_batch(1, batch, 4, 1.0 / batch, 0.001)
    assert plots.rate_plot.curves["rate"].item.getData() == (None, None)  # batch points wait for the next redraw
    plots.redraw_batches()
    rate_x, rate_y = plots.rate_plot.curves["rate"].item.getData()
    np.testing.assert_allclose(rate_x, [0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(rate_y, [-3.0] * 4)  # log10 of 0.001 on the logarithmic rate axis
    loss_x, loss_y = plots.loss_plot.curves["batch"].item.getData()
    np.testing.assert_allclose(loss_x, rate_x)
    np.testing.assert_allclose(loss_y, [1.0, 0.5, 1 / 3, 0.25])
    plots.add_epoch({"epoch": 1, "train_loss": 0.6, "val_loss": 0.7, "mean_iou": 0.5, "learning_rate": 0.001,
                     "iou": [0.8, 0.2], "dice": [0.9, None]})
    x, text = plots.loss_plot.readout(0.95)
    assert x == 1.0 and text.splitlines() == ["epoch 1", "training (smoothed): 0.4897", "training, epoch: 0.6000",
                                              "validation: 0.7000"]
    _, quality = plots.quality_plot.readout(1.3)
    assert "cell IoU: 0.2000" in quality and "cell Dice: –" in quality


def test_preview_draws_predictions_in_class_colours(qtbot):
    from gui.training.preview_view import OVERLAY_OPACITY, TrainingPreviewWidget

    widget = TrainingPreviewWidget()
    qtbot.addWidget(widget)
    image = np.full((64, 64), 100, np.uint8)
    prediction = np.zeros((64, 64), np.uint8)
    prediction[:, 32:] = 1
    truth = np.full((64, 64), 255, np.uint8)
    classes = ClassTable.from_names(["background", "cell"])
    widget.show_preview(Preview("slice", image, truth, prediction), 3, classes)
    drawn = widget.views["prediction"].composed()
    colour = np.array(classes[1].colour)
    expected = np.rint(100 * (1 - OVERLAY_OPACITY) + colour * OVERLAY_OPACITY)
    left, right = drawn.pixelColor(10, 10), drawn.pixelColor(50, 10)
    assert (left.red(), left.green(), left.blue()) == (100, 100, 100)  # background: the image itself
    assert np.abs(np.array([right.red(), right.green(), right.blue()]) - expected).max() <= 2
    truth_drawn = widget.views["truth"].composed().pixelColor(50, 10)
    assert (truth_drawn.red(), truth_drawn.green(), truth_drawn.blue()) == (100, 100, 100)  # unlabeled: clear
    assert "after epoch 3" in widget.caption.text()


@pytest.mark.parametrize("seconds, text", [(3.25, "3.2 s"), (45, "45 s"), (2250, "38 min"), (7500, "2 h 05 min")])
def test_durations_read_like_people_say_them(seconds, text):
    from core.durations import format_duration

    assert format_duration(seconds) == text
