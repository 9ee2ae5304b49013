"""Training for N minutes in the window: the wizard's "Train for" choice runs a budgeted run that ends on time with
the panel counting minutes, and the plots switch their x axis between epochs and minutes."""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtWidgets import QWizard

from core.classes import ClassTable
from tests.gui.test_training_wizard import (
    RUN_TIMEOUT_MS,
    choose_tiny_model,
    choose_tiny_settings,
    open_wizard,
    show_small_folder,
    tiny_isbi,
)

BUDGET_MINUTES = 0.3


def test_the_plots_show_epochs_or_minutes_of_training(qtbot):
    from gui.training.plots import TrainingPlotsWidget

    plots = TrainingPlotsWidget()
    qtbot.addWidget(plots)
    plots.start_run(ClassTable.from_names(["background", "cell"]), (), 1, epochs=2)
    for batch in range(1, 5):
        plots.add_batch(1, batch, 4, 1.0 / batch, 0.001, minutes=batch * 0.5)
    plots.add_epoch({"epoch": 1, "train_loss": 0.6, "val_loss": 0.7, "mean_iou": 0.5, "learning_rate": 0.001,
                     "iou": [0.8, 0.2], "dice": [0.9, 0.3], "elapsed": 150.0})
    plots.redraw_batches()
    np.testing.assert_allclose(plots.loss_plot.curves["batch"].item.getData()[0], [0.25, 0.5, 0.75, 1.0])

    plots.set_x_axis("minutes")
    np.testing.assert_allclose(plots.loss_plot.curves["batch"].item.getData()[0], [0.5, 1.0, 1.5, 2.0])
    np.testing.assert_allclose(plots.quality_plot.curves["mean_iou"].item.getData()[0], [2.5])
    assert plots.loss_plot.item.getAxis("bottom").labelText == "minutes"
    x, text = plots.quality_plot.readout(2.4)
    assert x == 2.5 and text.splitlines()[:2] == ["2.50 min", "mean IoU: 0.5000"]

    plots.set_x_axis("epoch")
    np.testing.assert_allclose(plots.rate_plot.curves["rate"].item.getData()[0], [0.25, 0.5, 0.75, 1.0])
    assert plots.quality_plot.readout(1.1)[1].startswith("epoch 1\n")


def test_train_for_minutes_in_the_wizard_ends_on_time(qtbot, main_window, show_folder, isbi_dir, tmp_path):
    window = main_window
    folder = tiny_isbi(isbi_dir, tmp_path / "tiny_isbi")
    show_small_folder(window, show_folder, folder)
    wizard = open_wizard(qtbot, window)
    choose_tiny_model(wizard)
    choose_tiny_settings(wizard, epochs=2)
    settings = wizard.settings_page
    assert settings.widgets["minutes"].isEnabled() is False  # epochs until "Train for" is chosen
    settings.set_minutes(BUDGET_MINUTES)
    assert not settings.widgets["epochs"].isEnabled() and not settings.widgets["early_stopping"].isEnabled()
    wizard.next()
    assert "for 0.3 minutes" in wizard.review_page.summary.text()

    dock = window.training.dock_widget
    finished_signal = qtbot.waitSignal(window.training.run_finished, timeout=RUN_TIMEOUT_MS)
    with finished_signal:
        wizard.button(QWizard.WizardButton.FinishButton).click()
        qtbot.waitUntil(lambda: dock.plots.loss_plot.curves["batch"].data.size > 0, timeout=RUN_TIMEOUT_MS)
        first_batch = time.perf_counter()
        qtbot.waitUntil(lambda: "of 0.3 min" in dock.progress.format(), timeout=10_000)
    wall = time.perf_counter() - first_batch
    finished = finished_signal.args[0]
    assert finished.reason == "budget" and finished.model_path
    assert BUDGET_MINUTES * 60 * 0.9 <= finished.seconds <= BUDGET_MINUTES * 60 * 1.1
    assert wall <= BUDGET_MINUTES * 60 * 1.1
    assert "time budget" in dock.status_label.text()
