"""Wizard step 3: the training settings, each explained in one line with its recommended value, and a time
estimate measured on a few real batches of this data on this device (in the background)."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QGridLayout, QHBoxLayout, QLabel,
                               QProgressBar, QPushButton, QSpinBox, QVBoxLayout, QWidget, QWizardPage)

from core.data.augment import AugmentConfig
from core.errors import SegLabError
from core.training.config import TrainConfig
from gui.training.formatting import WrappedLabel, muted_html, notice_html
from gui.training.wizard_context import WizardContext
from gui.workers import TaskContext

FIELD_WIDTH = 250
OPTIMIZER_TITLES = {"adamw": "AdamW", "sgd": "SGD with momentum", "rmsprop": "RMSprop"}
AUGMENTATIONS = {
    "standard": ("Flips, rotations, scale, brightness", AugmentConfig()),
    "geometry": ("Flips and rotations only", AugmentConfig(scale=0.0, brightness=0.0, contrast=0.0)),
    "none": ("None", AugmentConfig.none()),
}
SCHEDULE_TITLES = {"plateau": "Halve when the score stalls", "cosine": "Cosine decay", "none": "Constant"}
EXPLANATIONS = {
    "epochs": "How many times training goes through the images; it stops early when the score stops improving.",
    "patch_size": "Training looks at square crops of this many pixels; larger crops see more context but need "
                  "more memory.",
    "batch_size": "Crops learned from together in one step; lower it if the device runs out of memory.",
    "patches_per_epoch": "Crops per epoch; automatic covers every training image about once.",
    "learning_rate": "How big each learning step is: too high and the loss jumps about, too low and learning "
                     "crawls.",
    "optimizer": "The method that updates the weights; AdamW works well almost everywhere.",
    "schedule": "How the learning rate falls during training.",
    "loss": "What training minimises.",
    "augment": "Random changes to the crops (scale ±20 %, brightness and contrast ±10 %) so the model copes "
               "with images it has not seen.",
    "early_stopping": "Stop when the validation score has not improved for this many epochs.",
    "device": "Where the computation runs; a GPU is often 10 to 50 times faster.",
}


def run_estimate(ctx: TaskContext, config: TrainConfig):
    from core.training.estimate import estimate_epoch_time

    return estimate_epoch_time(config, cancel=ctx.cancelled)


class SettingsPage(QWizardPage):
    def __init__(self, context: WizardContext):
        super().__init__()
        self.context = context
        self.setTitle("Settings")
        self.setSubTitle("The recommended values suit most data; change them when you know why.")
        self._recommended: dict = {}
        self._touched: set[str] = set()
        self._applying = False
        self._estimate = None  # (EpochEstimate, the config it was measured with, epochs set to 1)
        self._estimate_task = None
        self._estimate_config: TrainConfig | None = None
        self.widgets: dict[str, QWidget] = {}
        self._hints: dict[str, QLabel] = {}

        grid = QGridLayout()
        grid.setColumnStretch(2, 1)
        grid.setHorizontalSpacing(12)
        self._grid = grid
        self._add("epochs", "Epochs", self._spin(1, 10_000))
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
        self._add("augment", "Augmentation", self._combo({name: title for name, (title, _) in AUGMENTATIONS.items()}))
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
        self.reset_button = QPushButton("Use Recommended Values")
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

    def _add(self, key: str, title: str, widget: QWidget) -> None:
        widget.setMaximumWidth(FIELD_WIDTH)
        row = self._grid.rowCount()
        self._grid.addWidget(QLabel(f"{title}:"), row, 0)
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
            "epochs": self.widgets["epochs"].value(), "patch_size": self.widgets["patch_size"].value(),
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
        self._touched.clear()
        self._apply_recommendations()

    def estimate_summary(self) -> str | None:
        if self._estimate is None or not self._estimate_current():
            return None
        estimate, _ = self._estimate
        return estimate.describe(self.widgets["epochs"].value())

    # values -------------------------------------------------------------------------------------
    def _value(self, key: str):
        return self.widgets[key].currentData()

    def _augment(self) -> AugmentConfig:
        return AUGMENTATIONS[self._value("augment")][1]

    def _recommendations(self) -> dict:
        environment, model = self.context.environment, self.context.model
        gpu = environment is not None and environment.device_kind != "cpu"
        finetune = model is not None and model.base_spec is not None
        info = model.info if model is not None else None
        smallest = self._smallest_patch()
        patch = model.base_spec.patch_size if finetune else (512 if gpu else 256)
        image = self.context.dataset.image_info if self.context.dataset is not None else None
        if image is not None:
            patch = min(patch, max(smallest, min(image.width, image.height) // 32 * 32))
        return {
            "epochs": 20 if finetune else 50, "patch_size": max(patch, smallest),
            "batch_size": max(8 if gpu else 4, info.min_train_batch if info else 1), "patches_per_epoch": 0,
            "learning_rate": 0.0001 if finetune else 0.001, "optimizer": "adamw", "schedule": "plateau",
            "loss": "u2net" if info is not None and info.deep_supervision else "ce", "augment": "standard",
            "early_stopping": 10, "device": "auto",
        }

    def _smallest_patch(self) -> int:
        model = self.context.model
        smallest = model.info.smallest_input if model is not None else 32
        return max(32, -(-smallest // 32) * 32)

    def _apply_limits(self) -> None:
        model = self.context.model
        self.widgets["patch_size"].setMinimum(self._smallest_patch())
        self.widgets["batch_size"].setMinimum(model.info.min_train_batch if model is not None else 1)

    def _apply_recommendations(self) -> None:
        """Show the recommended values; fields the user has not changed take them."""
        self._recommended = self._recommendations()
        self._applying = True
        for key, value in self._recommended.items():
            if key not in self._touched:
                self.set_value(key, value)
        self._applying = False
        for key, hint in self._hints.items():
            hint.setText(muted_html(f"{escape(self._explanation(key))} Recommended: <b>{self._shown(key)}</b>."))
        self._refresh_estimate_label()

    def _explanation(self, key: str) -> str:
        if key == "loss" and self.widgets["loss"].currentData():
            from core.losses import loss_info

            return f"{EXPLANATIONS[key]} {loss_info(self.widgets['loss'].currentData()).description}"
        return EXPLANATIONS[key]

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
        self._touched.add(key)
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
        task = self.context.tasks.start(run_estimate, config)
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

    def _on_estimate_finished(self, estimate) -> None:
        self._end_estimate()
        if estimate is None:
            self._on_estimate_cancelled()
            return
        self._estimate = (estimate, self._estimate_config.with_changes(epochs=1))
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
        return now == self._estimate[1]

    def _refresh_estimate_label(self) -> None:
        if self._estimate is None or self._estimate_task is not None:
            return
        estimate, _ = self._estimate
        if self._estimate_current():
            text = estimate.describe(self.widgets["epochs"].value())
            self.estimate_label.setText(f"<b>{escape(text[0].upper() + text[1:])}</b>"
                                        + muted_html(f" — measured on {escape(estimate.device)}"))
        else:
            self.estimate_label.setText(muted_html("The settings changed since the last estimate; estimate again."))
