"""Training runs are never lost, in the real window: closing during a run asks and Stop keeps the model; a run
that was interrupted is offered when its folder is opened again and Resume continues it, counting both parts; a
finished run is not offered; Discard deletes only the checkpoint. Also: the viewer stays fitted when the Training
panel appears, the wizard remembers what the user chose, and status messages keep clear of the pixel read-out."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import torch
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from core.training.loop import Trainer
from core.training.paths import new_model_path
from core.training.reports import BatchReport
from gui.training.run_dialogs import RESUME_OFFER
from tests.gui.test_training_dock import RUN_TIMEOUT_MS, tiny_config
from tests.gui.test_training_wizard import choose_tiny_model, choose_tiny_settings, open_wizard, tiny_isbi

SCREENSHOTS = Path("/tmp")


def answer_when_shown(title: str, button_text: str, screenshot: str | None = None) -> QTimer:
    """Click `button_text` in the message box titled `title` as soon as it shows (also inside its exec())."""
    timer = QTimer()

    def poll() -> None:
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, QMessageBox) and widget.isVisible() and widget.windowTitle() == title:
                if screenshot:
                    widget.grab().save(str(SCREENSHOTS / screenshot))
                timer.setObjectName(widget.text())  # what the question said
                timer.stop()
                next(b for b in widget.buttons() if b.text() == button_text).click()
                return

    timer.timeout.connect(poll)
    timer.start(50)
    return timer


def interrupted_run(folder: Path, epochs: int = 3, stop_in_epoch: int = 2):
    """A run on `folder` writing its default model path, stopped in `stop_in_epoch` (as a crash or a closed
    window leaves it: the checkpoint of the epoch before)."""
    config = tiny_config(folder, new_model_path(folder), epochs=epochs)
    trainer = Trainer(config)
    for report in trainer.run():
        if isinstance(report, BatchReport) and report.epoch == stop_in_epoch:
            trainer.request_stop()
    return config, report


def run_history(config) -> list[dict]:
    return json.loads(torch.load(config.checkpoint_path, weights_only=True)["history"])


def offer_box(window) -> QMessageBox | None:
    box = window.findChild(QMessageBox, RESUME_OFFER)
    return box if box is not None and box.isVisible() else None


def test_closing_during_a_run_asks_and_stop_keeps_the_best_model(qtbot, main_window, isbi_dir, tmp_path,
                                                                monkeypatch):
    folder = tiny_isbi(isbi_dir, tmp_path / "data", count=4)
    controller = main_window.training
    config = tiny_config(folder, tmp_path / "m.safetensors", epochs=50)
    controller.start(config)
    try:
        close_during_the_run(qtbot, main_window, config, monkeypatch)
    finally:
        assert controller.shutdown()  # a failed check leaves nothing running for the window's teardown


def close_during_the_run(qtbot, main_window, config, monkeypatch) -> None:
    controller = main_window.training
    qtbot.waitUntil(lambda: Path(config.output).is_file() and controller._last_batch.epoch >= 2,
                    timeout=RUN_TIMEOUT_MS)
    monkeypatch.setattr(main_window.editor, "confirm_close", lambda: False)  # "stay": unsaved edits
    main_window.close()
    assert main_window.isVisible() and controller.running  # nothing asked: the editor kept the window open
    monkeypatch.undo()

    answer = answer_when_shown("Training is running", "Cancel", screenshot="h11_close_question.png")
    main_window.close()
    assert not answer.isActive() and main_window.isVisible() and controller.running  # Cancel: it trains on
    assert re.search(r"A model is training \(epoch \d+ of 50\)", answer.objectName())

    answer = answer_when_shown("Training is running", "Stop and Keep the Best Model")
    start = time.perf_counter()
    main_window.close()
    assert not answer.isActive() and not main_window.isVisible()
    assert controller.worker is None and time.perf_counter() - start < 10  # its thread has ended
    assert Path(config.output).is_file() and config.checkpoint_path.is_file()


def test_an_interrupted_run_is_offered_on_reopening_and_resume_counts_both_parts(qtbot, main_window, show_folder,
                                                                                isbi_dir, tmp_path):
    folder = tiny_isbi(isbi_dir, tmp_path / "data")
    config, stopped = interrupted_run(folder)
    show_folder(main_window, folder)
    qtbot.waitUntil(lambda: offer_box(main_window) is not None, timeout=30_000)
    box = offer_box(main_window)
    box.grab().save(str(SCREENSHOTS / "h11_resume_offer.png"))
    run = main_window.training.interrupted
    assert box.text() == (f"<b>A training run on this folder was interrupted after epoch 1 of 3 (best mean IoU "
                          f"{stopped.best_mean_iou:.3f}).</b> Resume it?")
    dock = main_window.training.dock_widget
    assert "Interrupted" in dock.status_label.text() and dock.resume_button.isVisibleTo(dock)
    assert list(dock.plots.loss_plot.curves["train"].data.x) == [1.0]  # its curves so far, from the checkpoint
    main_window.docks["training"].show()
    qtbot.wait(100)
    dock.grab().save(str(SCREENSHOTS / "h11_interrupted_panel.png"))

    controller = main_window.training
    begun = time.perf_counter()
    with qtbot.waitSignal(controller.run_finished, timeout=RUN_TIMEOUT_MS) as finished_signal:
        box.resume_button.click()
    wall = time.perf_counter() - begun
    finished = finished_signal.args[0]
    assert controller.last_started.start_epoch == 2 and finished.reason == "completed"
    assert finished.epochs_done == 3 and finished.model_path == str(config.output)
    resumed_epochs = sum(entry["seconds"] for entry in run_history(config)[1:])
    assert run.seconds + resumed_epochs <= finished.seconds <= run.seconds + wall  # both parts are counted
    assert f"after 3 epochs in {finished.seconds:.0f} s" in main_window.statusBar().currentMessage()
    assert list(dock.plots.loss_plot.curves["train"].data.x) == [1.0, 2.0, 3.0]


def test_a_finished_run_is_not_offered(qtbot, main_window, show_folder, isbi_dir, tmp_path):
    folder = tiny_isbi(isbi_dir, tmp_path / "data", count=4)
    config, finished = interrupted_run(folder, epochs=1, stop_in_epoch=99)
    assert finished.reason == "completed" and config.checkpoint_path.is_file()
    show_folder(main_window, folder)
    qtbot.waitUntil(lambda: main_window.training._interrupted_search is None, timeout=30_000)
    qtbot.wait(100)
    assert offer_box(main_window) is None and main_window.training.interrupted is None
    assert main_window.training.dock_widget.stack.currentIndex() == 0  # "No training yet."


def test_discard_deletes_the_checkpoint_after_asking_and_keeps_the_model(qtbot, main_window, show_folder, isbi_dir,
                                                                         tmp_path):
    folder = tiny_isbi(isbi_dir, tmp_path / "data", count=4)
    config, _ = interrupted_run(folder)
    show_folder(main_window, folder)
    qtbot.waitUntil(lambda: offer_box(main_window) is not None, timeout=30_000)
    answer = answer_when_shown("Discard the interrupted run?", "Delete Checkpoint")
    offer_box(main_window).discard_button.click()
    assert not answer.isActive()
    assert not config.checkpoint_path.exists() and Path(config.output).is_file()
    assert main_window.training.dock_widget.stack.currentIndex() == 0 and not main_window.training.can_resume()


def test_the_viewer_stays_fitted_when_the_training_panel_appears(qtbot, main_window, show_folder, isbi_dir):
    show_folder(main_window, isbi_dir)
    canvas = main_window.viewer.canvas
    before = canvas.viewport().size()
    main_window.training.dock_widget.show_preparing(False)
    main_window.training.run_started.emit()
    qtbot.waitUntil(lambda: canvas.viewport().size() != before, timeout=5000)
    qtbot.wait(50)
    fit = min(canvas.viewport().width() / 512, canvas.viewport().height() / 512)
    assert canvas.zoom == pytest.approx(fit) and fit > 0.5
    assert main_window.viewer.zoom_label.text() == f"Fit · {fit * 100:.0f}%"


def test_the_wizard_remembers_what_the_user_chose(qtbot, main_window, show_folder, isbi_dir, tmp_path):
    folder = tiny_isbi(isbi_dir, tmp_path / "data")
    show_folder(main_window, folder)
    wizard = open_wizard(qtbot, main_window)
    choose_tiny_model(wizard)
    choose_tiny_settings(wizard, epochs=7)
    recommended_rate = wizard.settings_page._recommended["learning_rate"]
    wizard.reject()

    again = open_wizard(qtbot, main_window)
    again.next()
    assert again.model_page.architecture_combo.currentData() == "unet_classic"
    assert again.model_page.config_fields()["model_options"]["base_channels"] == 8
    again.next()
    settings = again.settings_page
    fields = settings.config_fields()
    assert (fields["epochs"], fields["patch_size"], fields["batch_size"], fields["device"]) == (7, 64, 4, "cpu")
    assert fields["learning_rate"] == pytest.approx(recommended_rate)  # never touched: still the recommendation
    settings.reset_button.click()
    assert settings.config_fields()["epochs"] == settings._recommended["epochs"] != 7
    again.back()
    again.model_page.reset_button.click()
    assert again.model_page.architecture_combo.currentData() != "unet_classic"
    again.reject()
    assert main_window.settings.value("training/settings") == "{}"


def test_a_long_message_keeps_clear_of_the_pixel_read_out(qtbot, main_window, show_folder, isbi_dir):
    show_folder(main_window, isbi_dir)
    main_window.resize(1000, 900)
    text = ("Training finished all epochs after 30 epochs in 1 h 05 min, best mIoU 0.707 at epoch 28; model saved "
            "to /data/lab/experiments/isbi/models/isbi_2024-05-17.safetensors")
    main_window.state.message.emit(text)
    main_window.cursor_label.setText("x 120, y 45   value 153   class 1 class 1   predicted 0 background")
    qtbot.wait(100)
    bar = main_window.statusBar()
    bar.grab().save(str(SCREENSHOTS / "h11_status_bar.png"))
    label = bar.message_label
    assert bar.currentMessage() == text and label.toolTip() == text
    assert label.geometry().right() < main_window.cursor_label.geometry().left()
    assert "…" in label.text() and label.fontMetrics().horizontalAdvance(label.text()) <= label.width()
