"""Wizard step 3: the training settings, each explained in one line with its recommended value, and a time
estimate measured on a few real batches of this data on this device (in the background)."""

from __future__ import annotations

from dataclasses import asdict
from html import escape
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from core.data.augment import AugmentConfig
from core.errors import SegLabError
from core.training.budget import DEFAULT_MINUTES
from core.training.choices import (
    AUGMENT_PRESETS,
    OPTIMIZER_TITLES,
    SCHEDULE_TITLES,
    SETTING_HELP,
    augment_preset,
)
from core.training.config import TrainConfig
from core.training.recipe import recommend, smallest_patch
from gui.training.formatting import WrappedLabel, muted_html, notice_html
from gui.training.wizard_context import WizardContext
from gui.workers import BackgroundTask, TaskContext

if TYPE_CHECKING:
    from core.data.index import DatasetIndex
    from core.training.estimate import EpochEstimate

FIELD_WIDTH = 250


def run_estimate(ctx: TaskContext, config: TrainConfig, index: DatasetIndex | None) -> EpochEstimate | None:
    from core.training.estimate import estimate_epoch_time

    return estimate_epoch_time(config, cancel=ctx.cancelled, index=index)


class SettingsPage(QWizardPage):
    def __init__(self, context: WizardContext):
        super().__init__()
        self.context = context
        self.setTitle("Settings")
        self.setSubTitle("The recommended values suit most data; change them when you know why.")
        self._recommended: dict = {}
        self._chosen: dict = context.remembered("settings")  # values the user set (now or in an earlier run)
        self._applying = False
        self._estimate: tuple[EpochEstimate, TrainConfig] | None = None  # and the config it measured, 1 epoch
        self._estimate_task: BackgroundTask | None = None
        self._estimate_config: TrainConfig | None = None
        self.widgets: dict[str, QWidget] = {}
        self._hints: dict[str, QLabel] = {}

        grid = QGridLayout()
        grid.setColumnStretch(2, 1)
        grid.setHorizontalSpacing(12)
        self._grid = grid
        self.by_epochs, self.by_minutes = QRadioButton("Epochs:"), QRadioButton("Train for:")
        self.by_epochs.setChecked(True)
        self.by_minutes.setToolTip("Plan the run for this much time: the learning rate falls over it, "
                                   "and the best model is kept when time is up")
        self._length_group = QButtonGroup(self)
        for button in (self.by_epochs, self.by_minutes):
            self._length_group.addButton(button)
        self._add("epochs", "Epochs", self._spin(1, 10_000), label=self.by_epochs)
        minutes = QDoubleSpinBox()
        minutes.setDecimals(1)
        minutes.setRange(0.1, 100_000)
        minutes.setSuffix(" min")
        self._add("minutes", "Train for", minutes, label=self.by_minutes)
        self.by_minutes.toggled.connect(self._on_length_toggled)
        self._add("patch_size", "Patch size", self._spin(32, 4096, step=32, suffix=" px"))
        self._add("batch_size", "Batch size", self._spin(1, 512))
        self._add("patches_per_epoch", "Patches per epoch", self._spin(0, 10_000_000, special="automatic"))
        rate = QDoubleSpinBox()
        rate.setDecimals(5)
        rate.setRange(0.00001, 1.0)
        rate.setSingleStep(0.0001)
        self._add("learning_rate", "Learning rate", rate)
        self._add("optimizer", "Optimiser", self._combo(OPTIMIZER_TITLES))
        self._add("schedule", "Learning-rate schedule", self._combo(SCHEDULE_TITLES))
        self._add("loss", "Loss", QComboBox())
        self._add("augment", "Augmentation", self._combo({name: title for name, (title, _) in AUGMENT_PRESETS.items()}))
        self._add("early_stopping", "Early stopping", self._spin(0, 10_000, special="never", suffix=" epochs"))
        self._add("device", "Device", QComboBox())

        self.estimate_button = QPushButton("Estimate Time")
        self.estimate_button.setToolTip("Runs a few training batches of this data on this device and times them")
        self.estimate_button.clicked.connect(self._on_estimate_clicked)
        self.estimate_busy = QProgressBar()
        self.estimate_busy.setRange(0, 0)
        self.estimate_busy.setMaximumWidth(120)
        self.estimate_busy.setVisible(False)
        self.estimate_label = WrappedLabel(muted_html("Not measured yet."))
        self.estimate_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.reset_button = QPushButton("Reset to Recommended")
        self.reset_button.setToolTip("Forget the values you chose (also those remembered from earlier runs)")
        self.reset_button.clicked.connect(self.use_recommended)
        estimate_row = QHBoxLayout()
        estimate_row.addWidget(self.reset_button)
        estimate_row.addWidget(self.estimate_button)
        estimate_row.addWidget(self.estimate_busy)
        estimate_row.addWidget(self.estimate_label, 1)

        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addSpacing(8)
        layout.addLayout(estimate_row)
        layout.addStretch(1)
        context.environment_ready.connect(self._on_environment_ready)

    # building -----------------------------------------------------------------------------------
    @staticmethod
    def _spin(low: int, high: int, step: int = 1, special: str = "", suffix: str = "") -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setSingleStep(step)
        spin.setSuffix(suffix)
        if special:
            spin.setSpecialValueText(special)
        return spin

    @staticmethod
    def _combo(titles: dict[str, str]) -> QComboBox:
        combo = QComboBox()
        for value, title in titles.items():
            combo.addItem(title, value)
        return combo

    def _add(self, key: str, title: str, widget: QWidget, label: QWidget | None = None) -> None:
        widget.setMaximumWidth(FIELD_WIDTH)
        row = self._grid.rowCount()
        self._grid.addWidget(label or QLabel(f"{title}:"), row, 0)
        self._grid.addWidget(widget, row, 1)
        hint = WrappedLabel()
        self._grid.addWidget(hint, row, 2)
        self.widgets[key], self._hints[key] = widget, hint
        signal = widget.currentIndexChanged if isinstance(widget, QComboBox) else widget.valueChanged
        signal.connect(lambda *_, k=key: self._on_changed(k))

    # wizard hooks -------------------------------------------------------------------------------
    def initializePage(self) -> None:
        if self.context.environment is not None:
            self._fill_choices()
        self._apply_limits()
        self._apply_recommendations()

    def config_fields(self) -> dict:
        per_epoch = self.widgets["patches_per_epoch"].value()
        return {
            "epochs": self.widgets["epochs"].value(), "minutes": self._minutes(),
            "patch_size": self.widgets["patch_size"].value(),
            "batch_size": self.widgets["batch_size"].value(), "patches_per_epoch": per_epoch or None,
            "learning_rate": self.widgets["learning_rate"].value(), "optimizer": self._value("optimizer"),
            "schedule": self._value("schedule"), "loss": self._value("loss") or "ce", "augment": self._augment(),
            "early_stopping": self.widgets["early_stopping"].value(), "device": self._value("device") or "auto",
        }

    def set_value(self, key: str, value) -> None:
        """Set one setting as the user would (tests and scripted use)."""
        widget = self.widgets[key]
        if isinstance(widget, QComboBox):
            widget.setCurrentIndex(widget.findData(value))
        else:
            widget.setValue(value)

    def use_recommended(self) -> None:
        self._chosen.clear()
        self._apply_recommendations()

    def remember_choices(self) -> None:
        """Keep the values the user chose for the next run; the others follow the recommendations then."""
        self.context.remember("settings", self._chosen)

    def set_minutes(self, minutes: float | None) -> None:
        """Train for `minutes` (None: for the number of epochs), as the radio buttons do."""
        (self.by_epochs if minutes is None else self.by_minutes).setChecked(True)
        if minutes is not None:
            self.widgets["minutes"].setValue(minutes)

    def estimate_summary(self) -> str | None:
        if self._estimate is None or not self._estimate_current():
            return None
        estimate, _ = self._estimate
        minutes = self._minutes()
        return estimate.describe(self.widgets["epochs"].value()) if minutes is None else \
            estimate.describe_budget(minutes)

    def _minutes(self) -> float | None:
        return self.widgets["minutes"].value() if self.by_minutes.isChecked() else None

    def _on_length_toggled(self) -> None:
        """Only the chosen length can be edited; early stopping does not apply to a time budget."""
        by_minutes = self.by_minutes.isChecked()
        self.widgets["minutes"].setEnabled(by_minutes)
        self.widgets["epochs"].setEnabled(not by_minutes)
        self.widgets["early_stopping"].setEnabled(not by_minutes)
        if not self._applying:  # a budget has its own recommended batch, rate and schedule
            self._chosen["by_minutes"] = by_minutes
            self._apply_recommendations()

    # values -------------------------------------------------------------------------------------
    def _value(self, key: str):
        return self.widgets[key].currentData()

    def _shown_value(self, key: str):
        widget = self.widgets[key]
        return widget.currentData() if isinstance(widget, QComboBox) else widget.value()

    def _offered(self, key: str, value) -> bool:
        """`value` can be shown now (a remembered device or loss may not be offered for this data or computer)."""
        widget = self.widgets[key]
        return widget.findData(value) >= 0 if isinstance(widget, QComboBox) else value is not None

    def _augment(self) -> AugmentConfig:
        return augment_preset(self._value("augment"))

    def _recommendations(self) -> dict:
        """The recommended value of every field, as the widgets show it (0 patches per epoch: automatic)."""
        environment, model = self.context.environment, self.context.model
        minutes = self.widgets["minutes"].value() if self._chosen.get("by_minutes") else None
        recommendation = recommend(self.context.dataset, environment.device if environment is not None else None,
                                   model.info if model is not None else None,
                                   model.base_spec if model is not None else None, minutes)
        return {**asdict(recommendation), "patches_per_epoch": recommendation.patches_per_epoch or 0,
                "minutes": DEFAULT_MINUTES}

    def _apply_limits(self) -> None:
        info = self.context.model.info if self.context.model is not None else None
        self.widgets["patch_size"].setMinimum(smallest_patch(info))
        self.widgets["batch_size"].setMinimum(info.min_train_batch if info is not None else 1)

    def _apply_recommendations(self) -> None:
        """Show the recommended values; fields the user has not chosen take them."""
        self._recommended = self._recommendations()
        self._applying = True
        for key, value in self._recommended.items():
            chosen = self._chosen.get(key)
            self.set_value(key, chosen if key in self._chosen and self._offered(key, chosen) else value)
        (self.by_minutes if self._chosen.get("by_minutes") else self.by_epochs).setChecked(True)
        self._on_length_toggled()
        self._applying = False
        for key, hint in self._hints.items():
            hint.setText(muted_html(f"{escape(self._explanation(key))} Recommended: <b>{self._shown(key)}</b>."))
        self._refresh_estimate_label()

    def _explanation(self, key: str) -> str:
        if key == "loss" and self.widgets["loss"].currentData():
            from core.losses import loss_info

            return f"{SETTING_HELP[key]} {loss_info(self.widgets['loss'].currentData()).description}"
        return SETTING_HELP[key]

    def _shown(self, key: str) -> str:
        value = self._recommended.get(key)
        if key == "device":
            return "Automatic"
        widget = self.widgets[key]
        if isinstance(widget, QComboBox):
            found = widget.findData(value)
            return escape(widget.itemText(found)) if found >= 0 else str(value)
        if isinstance(widget, QDoubleSpinBox):
            return f"{value:g}"
        return escape(widget.textFromValue(value) + widget.suffix()) if value or not widget.specialValueText() \
            else widget.specialValueText()

    def _on_environment_ready(self) -> None:
        self._fill_choices()
        self._apply_recommendations()

    def _fill_choices(self) -> None:
        """Losses that suit the data's class count (binary ones for two classes only) and the devices found;
        a choice already made is kept when it is still offered."""
        environment = self.context.environment
        classes = len(self.context.index.settings.classes) if self.context.index is not None else 2
        losses = [(info.title, info.name) for info in environment.losses if not info.binary_only or classes == 2]
        self._applying = True
        for combo, items in ((self.widgets["loss"], losses),
                             (self.widgets["device"], [(label, value) for value, label in environment.device_choices])):
            chosen = combo.currentData()
            combo.clear()
            for title, value in items:
                combo.addItem(title, value)
            if combo.findData(chosen) >= 0:
                combo.setCurrentIndex(combo.findData(chosen))
        self._applying = False

    def _on_changed(self, key: str) -> None:
        if self._applying:
            return
        self._chosen[key] = self._shown_value(key)
        if key == "loss":
            self._hints["loss"].setText(muted_html(f"{escape(self._explanation('loss'))} Recommended: "
                                                   f"<b>{self._shown('loss')}</b>."))
        self._refresh_estimate_label()

    # time estimate ------------------------------------------------------------------------------
    def cancel_estimate(self) -> None:
        if self._estimate_task is not None:
            self._estimate_task.cancel()

    def _on_estimate_clicked(self) -> None:
        if self._estimate_task is not None:
            self._estimate_task.cancel()
            return
        try:
            config = self.wizard().build_config(output="estimate.safetensors")
        except SegLabError as exc:
            self.estimate_label.setText(notice_html("error", escape(str(exc))))
            return
        task = self.context.tasks.start(run_estimate, config, self.context.index)
        self._estimate_task = task
        self.estimate_button.setText("Cancel")
        self.estimate_busy.setVisible(True)
        self.estimate_label.setText(muted_html("Timing a few training batches on this device…"))
        self._estimate_config = config
        task.signals.finished.connect(self._on_estimate_finished)
        task.signals.failed.connect(self._on_estimate_failed)
        task.signals.cancelled.connect(self._on_estimate_cancelled)

    def _end_estimate(self) -> None:
        self._estimate_task = None
        self.estimate_button.setText("Estimate Time")
        self.estimate_busy.setVisible(False)

    def _on_estimate_finished(self, estimate: EpochEstimate | None) -> None:
        self._end_estimate()
        if estimate is None:
            self._on_estimate_cancelled()
            return
        self._estimate = (estimate, self._estimate_config.with_changes(epochs=1, minutes=None))
        self._refresh_estimate_label()

    def _on_estimate_cancelled(self) -> None:
        self._end_estimate()
        self.estimate_label.setText(muted_html("Estimate cancelled."))

    def _on_estimate_failed(self, message: str, _details: str) -> None:
        self._end_estimate()
        self.estimate_label.setText(notice_html("error", f"Could not time training: {escape(message)}"))

    def _estimate_current(self) -> bool:
        try:
            now = self.wizard().build_config(output="estimate.safetensors").with_changes(epochs=1)
        except SegLabError:
            return False
        return now.with_changes(minutes=None) == self._estimate[1]

    def _refresh_estimate_label(self) -> None:
        if self._estimate is None or self._estimate_task is not None:
            return
        estimate, _ = self._estimate
        if self._estimate_current():
            text = self.estimate_summary()
            self.estimate_label.setText(f"<b>{escape(text[0].upper() + text[1:])}</b>"
                                        + muted_html(f" — measured on {escape(estimate.device)}"))
        else:
            self.estimate_label.setText(muted_html("The settings changed since the last estimate; estimate again."))
