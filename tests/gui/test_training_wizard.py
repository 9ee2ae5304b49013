"""The training wizard in the real window: walk it on a tiny copy of ISBI, time the epochs, train 2 epochs on the
CPU while a heartbeat proves the window stays responsive, watch points arrive in the plots, and segment the
open folder with the new model in one click."""

from __future__ import annotations

import datetime
import re
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QWizard

from core.models.model_file import read_model_spec

RUN_TIMEOUT_MS = 90_000
HEARTBEAT_MS = 20
TINY_SIZE = 128


def tiny_isbi(isbi_dir: Path, target: Path, count: int = 6, size: int = TINY_SIZE) -> Path:
    """The first `count` ISBI slices and masks, downscaled (masks with nearest neighbour)."""
    (target / "images").mkdir(parents=True)
    (target / "masks").mkdir()
    for i in range(count):
        image = cv2.imread(str(isbi_dir / "images" / f"{i}.png"), cv2.IMREAD_GRAYSCALE)
        mask = cv2.imread(str(isbi_dir / "masks" / f"{i}.png"), cv2.IMREAD_GRAYSCALE)
        cv2.imwrite(str(target / "images" / f"{i}.png"), cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA))
        cv2.imwrite(str(target / "masks" / f"{i}.png"), cv2.resize(mask, (size, size),
                                                                      interpolation=cv2.INTER_NEAREST))
    return target


def show_small_folder(window, show_folder, folder: Path) -> None:
    show_folder(window, folder)


class Heartbeat:
    """A 20 ms QTimer; the longest gap between ticks shows how long the GUI thread was ever busy."""

    def __init__(self):
        self.timer = QTimer()
        self.timer.setInterval(HEARTBEAT_MS)
        self.timer.timeout.connect(self._tick)
        self.last = None
        self.max_gap_ms = 0.0
        self.ticks = 0

    def _tick(self) -> None:
        now = time.perf_counter()
        if self.last is not None:
            self.max_gap_ms = max(self.max_gap_ms, (now - self.last) * 1000)
        self.last = now
        self.ticks += 1

    def start(self) -> None:
        self.last = None
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()


def open_wizard(qtbot, window):
    window.train_action.trigger()
    wizard = window.training.wizard
    assert wizard is not None and wizard.isVisible()
    qtbot.waitUntil(lambda: wizard.context.environment is not None and wizard.context.dataset is not None
                    and wizard.data_page.split is not None and wizard.warmed_up, timeout=30_000)
    return wizard


def choose_tiny_model(wizard) -> None:
    wizard.next()
    assert wizard.currentPage() is wizard.model_page
    wizard.model_page.select_architecture("unet_classic")
    wizard.model_page.set_option("base_channels", 8)


def choose_tiny_settings(wizard, epochs: int) -> None:
    wizard.next()
    page = wizard.settings_page
    assert wizard.currentPage() is page
    for key, value in {"epochs": epochs, "patch_size": 64, "batch_size": 4, "patches_per_epoch": 16,
                       "device": "cpu"}.items():
        page.set_value(key, value)


def test_wizard_trains_two_epochs_with_live_plots_and_a_responsive_window(qtbot, main_window, show_folder,
                                                                          isbi_dir, tmp_path):
    window = main_window
    folder = tiny_isbi(isbi_dir, tmp_path / "tiny_isbi")
    show_small_folder(window, show_folder, folder)
    wizard = open_wizard(qtbot, window)

    data = wizard.data_page
    assert wizard.context.index is window.state.index  # the open folder is not scanned again
    assert "<b>6</b> labeled" in data.report_label.text()
    assert "Only 6 labeled images: label at least 10" in data.notice_label.text()
    assert [len(part) for part in data.split] == [5, 1] and data.isComplete()
    assert "background" in data.classes_label.text() and "#E69F00" in data.classes_label.text()

    choose_tiny_model(wizard)
    assert "1 channel (gray)" in wizard.model_page.input_label.text()
    choose_tiny_settings(wizard, epochs=2)
    settings = wizard.settings_page
    assert "Recommended: <b>128 px</b>" in settings._hints["patch_size"].text()  # capped to the 128 px images
    heartbeat = Heartbeat()
    heartbeat.start()
    settings.estimate_button.click()
    assert settings.estimate_busy.isVisible()
    qtbot.waitUntil(lambda: settings.estimate_summary() is not None, timeout=30_000)
    assert re.fullmatch(r"about [\d.]+ s per epoch, [\d.]+ s for 2 epochs", settings.estimate_summary())
    assert heartbeat.max_gap_ms < 200, f"the estimate stalled the GUI for {heartbeat.max_gap_ms:.0f} ms"

    wizard.next()
    review = wizard.review_page
    output = Path(review.output_path)
    assert output == folder / "models" / f"tiny_isbi_{datetime.date.today().isoformat()}.safetensors"
    assert "2 epochs" in review.summary.text() and "base channels 8" in review.summary.text()

    finished_signal = qtbot.waitSignal(window.training.run_finished, timeout=RUN_TIMEOUT_MS)
    with finished_signal:
        wizard.button(QWizard.WizardButton.FinishButton).click()
        assert window.training.running and not wizard.isVisible()
        assert window.training.worker.index is window.state.index  # nor by the training run
        assert window.docks["training"].isVisible()
        heartbeat.start()
    heartbeat.stop()
    finished = finished_signal.args[0]
    print(f"max heartbeat gap while training: {heartbeat.max_gap_ms:.0f} ms over {heartbeat.ticks} ticks")
    assert heartbeat.max_gap_ms < 200, f"the GUI thread stalled for {heartbeat.max_gap_ms:.0f} ms"
    assert heartbeat.ticks > 10

    assert finished.reason == "completed" and finished.epochs_done == 2
    assert finished.model_path == str(output) and read_model_spec(output).architecture == "unet_classic"
    assert window.state.model_path == str(output)

    plots = window.training.dock_widget.plots
    loss, quality, rate = plots.loss_plot.curves, plots.quality_plot.curves, plots.rate_plot.curves
    batches = 2 * 4
    for curve in (loss["batch"], loss["smoothed"], rate["rate"]):
        assert curve.data.size == batches
        np.testing.assert_allclose(curve.data.x, np.arange(1, batches + 1) / 4)
        drawn_x, drawn_y = curve.item.getData()
        assert len(drawn_x) == batches  # what is on screen, not only what is stored
    np.testing.assert_allclose(rate["rate"].data.y, 0.001)
    for key in ("train", "val"):
        np.testing.assert_array_equal(loss[key].data.x, [1, 2])
        assert np.all(loss[key].data.y > 0)
    for key in ("mean_iou", "iou0", "iou1", "dice0", "dice1"):
        np.testing.assert_array_equal(quality[key].data.x, [1, 2])
        assert np.all((quality[key].data.y >= 0) & (quality[key].data.y <= 1))
    assert finished.best_epoch in (1, 2)  # the model file holds the best epoch's weights and scores
    assert quality["mean_iou"].data.y[finished.best_epoch - 1] == pytest.approx(finished.metrics["mean_iou"],
                                                                                abs=1e-6)
    assert plots.loss_plot.readout(1.02)[1].startswith("epoch 1\n")

    dock = window.training.dock_widget
    prediction = dock.preview.views["prediction"].composed()
    assert prediction is not None and prediction.width() == TINY_SIZE
    summary = dock.summary
    assert summary.table.rowCount() == 3 and summary.table.item(2, 0).text() == "mean"
    assert summary.segment_button.isVisible() and summary.segment_button.isEnabled()
    with qtbot.waitSignal(window.state.segmentation_requested) as requested:
        summary.segment_button.click()
    assert requested.args == [str(output), None]
    qtbot.waitUntil(lambda: len(window.state.predictions) == 6, timeout=60_000)  # the batch helper answered

    again = open_wizard(qtbot, window)  # fine-tune the new model; its output has a checkpoint: resume is offered
    again.next()
    model_page = again.model_page
    model_page.finetune_radio.setChecked(True)
    assert not model_page.isComplete()
    model_page.set_model_file(str(output))
    info = model_page.model_info_label.text()
    assert model_page.isComplete() and "unet_classic (base_channels=8, bilinear=True)" in info
    assert "Trained" in info and "tiny_isbi" in info and "mean IoU" in info and "#E69F00" in info
    again.next()
    hints = again.settings_page._hints
    assert "Recommended: <b>0.0001</b>" in hints["learning_rate"].text()  # fine-tuning takes smaller steps
    assert "Recommended: <b>64 px</b>" in hints["patch_size"].text()  # the model's own patch size
    again.next()
    assert "fine-tune" in again.review_page.summary.text()
    again.review_page.set_output(str(output))
    assert again.review_page.resume_check.isVisibleTo(again) and not again.review_page.resume_check.isChecked()
    assert "replaces its model" in again.review_page.output_note.text()
    again.reject()


def test_a_folder_without_labels_cannot_go_on(qtbot, main_window, isbi_dir, tmp_path):
    folder = tiny_isbi(isbi_dir, tmp_path / "unlabeled", count=3)
    for mask in (folder / "masks").iterdir():
        mask.unlink()
    wizard = main_window.training.open_wizard()
    wizard.data_page.set_folder(str(folder))
    qtbot.waitUntil(lambda: wizard.context.dataset is not None, timeout=30_000)
    assert not wizard.data_page.isComplete()
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    assert "No labeled images in this folder" in wizard.data_page.notice_label.text()
    assert "3</b> images: <b>0</b> labeled" in wizard.data_page.report_label.text()
    wizard.reject()
