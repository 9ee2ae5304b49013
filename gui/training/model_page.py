"""Wizard step 2: fine-tune an existing model file, or build a new network from the registry."""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from core.errors import SegLabError
from core.models.registry import list_encoders, list_models, model_info, recommended
from gui.training.formatting import WrappedLabel, class_swatches_html, muted_html, notice_html, number
from gui.training.wizard_context import ModelChoice, WizardContext


def _file_row(edit: QLineEdit, button: QPushButton, clear: QPushButton | None = None) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addWidget(edit, 1)
    row.addWidget(button)
    if clear is not None:
        row.addWidget(clear)
    return row


class ModelPage(QWizardPage):
    def __init__(self, context: WizardContext):
        super().__init__()
        self.context = context
        self.setTitle("Model")
        self.setSubTitle("Start from a model you trained before (fine-tuning keeps what it learned), or train a new "
                         "network from scratch.")
        self._user_chose_architecture = False
        self._base_spec = None
        self._option_widgets: dict[str, QWidget] = {}

        self.new_radio = QRadioButton("Train a new model")
        self.finetune_radio = QRadioButton("Fine-tune an existing model file")
        self.new_radio.setChecked(True)
        modes = QButtonGroup(self)
        modes.addButton(self.new_radio)
        modes.addButton(self.finetune_radio)

        self.architecture_combo = QComboBox()
        for name in list_models():
            info = model_info(name)
            self.architecture_combo.addItem(info.title, name)
            self.architecture_combo.setItemData(self.architecture_combo.count() - 1, info.description,
                                                Qt.ItemDataRole.ToolTipRole)
        self.description_label = WrappedLabel()
        self.recommendation_label = WrappedLabel()
        self.reset_button = QPushButton("Reset to Recommended")
        self.reset_button.setToolTip("Forget the model you chose (also the one remembered from earlier runs)")
        self.reset_button.clicked.connect(self.use_recommended)
        recommendation_row = QHBoxLayout()
        recommendation_row.addWidget(self.recommendation_label, 1)
        recommendation_row.addWidget(self.reset_button)
        self.encoder_combo = QComboBox()
        self.encoder_combo.setToolTip("The part of the network that reads the image; larger encoders see more "
                                      "but train slower")
        self.weights_edit = QLineEdit()
        self.weights_edit.setPlaceholderText("none: random start")
        self.weights_button = QPushButton("Choose…")
        self.weights_clear = QPushButton("Clear")
        self.weights_label = WrappedLabel()
        new_box = QGroupBox()
        new_form = QFormLayout(new_box)
        new_form.addRow("Architecture:", self.architecture_combo)
        new_form.addRow("", self.description_label)
        new_form.addRow("", recommendation_row)
        new_form.addRow("Encoder:", self.encoder_combo)
        self._options_row = new_form.rowCount()  # architecture options are inserted here
        self._new_form = new_form
        new_form.addRow("Starting weights:", _file_row(self.weights_edit, self.weights_button, self.weights_clear))
        new_form.addRow("", self.weights_label)
        self.new_box = new_box

        self.model_edit = QLineEdit()
        self.model_edit.setPlaceholderText("a .safetensors model file saved by SegLab")
        self.model_button = QPushButton("Choose…")
        self.model_info_label = WrappedLabel()
        self.model_info_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        finetune_box = QGroupBox()
        finetune_form = QFormLayout(finetune_box)
        finetune_form.addRow("Model file:", _file_row(self.model_edit, self.model_button))
        finetune_form.addRow("", self.model_info_label)
        self.finetune_box = finetune_box
        self.input_label = WrappedLabel()

        layout = QVBoxLayout(self)
        layout.addWidget(self.new_radio)
        layout.addWidget(new_box)
        layout.addWidget(self.finetune_radio)
        layout.addWidget(finetune_box)
        input_form = QFormLayout()
        input_form.addRow("Input:", self.input_label)
        layout.addLayout(input_form)
        layout.addStretch(1)

        self.new_radio.toggled.connect(self._on_mode_toggled)
        self.architecture_combo.activated.connect(self._on_architecture_activated)
        self.architecture_combo.currentIndexChanged.connect(self._on_architecture_changed)
        self.encoder_combo.currentIndexChanged.connect(self._publish)
        self.weights_button.clicked.connect(self._on_weights_clicked)
        self.weights_clear.clicked.connect(lambda: self._set_weights(""))
        self.model_button.clicked.connect(self._on_model_clicked)
        self.model_edit.editingFinished.connect(lambda: self.set_model_file(self.model_edit.text()))
        self.encoder_combo.activated.connect(self._on_architecture_activated)
        context.environment_ready.connect(self._apply_recommendation)
        context.dataset_changed.connect(self._show_input)
        self._on_architecture_changed()
        self._on_mode_toggled()
        self._restore_choice(context.remembered("model"))

    # wizard hooks -------------------------------------------------------------------------------
    def initializePage(self) -> None:
        self._show_input()
        self._publish()

    def isComplete(self) -> bool:
        if self.finetune_radio.isChecked():
            return self._base_spec is not None
        weights = self.weights_edit.text().strip()
        return not weights or Path(weights).is_file()

    def config_fields(self) -> dict:
        if self.finetune_radio.isChecked():
            spec = self._base_spec
            return {"init_model": self.model_edit.text().strip(), "architecture": spec.architecture,
                    "encoder": spec.encoder, "model_options": dict(spec.options), "encoder_weights": None}
        info = self._info()
        return {"init_model": None, "architecture": info.name,
                "encoder": self.encoder_combo.currentText() if info.needs_encoder else None,
                "model_options": self._options(), "encoder_weights": self.weights_edit.text().strip() or None}

    def describe(self) -> str:
        """One line for the review page."""
        fields = self.config_fields()
        if fields["init_model"]:
            return f"fine-tune {escape(fields['init_model'])} ({escape(self._describe_spec(self._base_spec))})"
        parts = [f"new {self._info().title}"] + ([f"encoder {fields['encoder']}"] if fields["encoder"] else [])
        parts += [f"{k.replace('_', ' ')} {('yes' if v else 'no') if isinstance(v, bool) else v}"
                  for k, v in fields["model_options"].items()]
        parts.append(f"starting weights {fields['encoder_weights']}" if fields["encoder_weights"] else "random start")
        return escape(" · ".join(parts))

    # remembered between runs --------------------------------------------------------------------
    def remember_choice(self) -> None:
        """Keep a model the user chose (fine-tuning, or a network other than the recommended one) for the next
        run; nothing when the recommendation was left as it was."""
        choice = {}
        if self.finetune_radio.isChecked() and self._base_spec is not None:
            choice = {"model_file": self.model_edit.text().strip()}
        elif self.new_radio.isChecked() and self._user_chose_architecture:
            fields = self.config_fields()
            choice = {"architecture": fields["architecture"], "encoder": fields["encoder"],
                      "options": fields["model_options"]}
        self.context.remember("model", choice)

    def use_recommended(self) -> None:
        """Back to a new network of the recommended kind with its default options."""
        self._user_chose_architecture = False
        self.new_radio.setChecked(True)
        self._set_weights("")
        self._on_architecture_changed()  # default options
        if self.context.environment is not None:
            self._apply_recommendation()

    def _restore_choice(self, choice: dict) -> None:
        """The model chosen in an earlier run, where it still exists."""
        model_file = choice.get("model_file")
        if model_file and Path(model_file).is_file():
            self.finetune_radio.setChecked(True)
            self.set_model_file(model_file)
        elif self.architecture_combo.findData(choice.get("architecture")) >= 0:
            self.select_architecture(choice["architecture"])
            if self.encoder_combo.findText(str(choice.get("encoder"))) >= 0:
                self.encoder_combo.setCurrentText(choice["encoder"])
            for name, value in (choice.get("options") or {}).items():
                if name in self._option_widgets:
                    self.set_option(name, value)

    # new model ----------------------------------------------------------------------------------
    def select_architecture(self, name: str) -> None:
        self.architecture_combo.setCurrentIndex(self.architecture_combo.findData(name))
        self._user_chose_architecture = True

    def set_option(self, name: str, value) -> None:
        widget = self._option_widgets[name]
        if isinstance(widget, QCheckBox):
            widget.setChecked(bool(value))
        elif isinstance(widget, QSpinBox):
            widget.setValue(int(value))
        else:
            widget.setCurrentText(str(value))

    def _info(self):
        return model_info(self.architecture_combo.currentData())

    def _on_architecture_activated(self) -> None:
        self._user_chose_architecture = True

    def _on_architecture_changed(self) -> None:
        info = self._info()
        self.description_label.setText(muted_html(escape(info.description)))
        self.encoder_combo.blockSignals(True)
        self.encoder_combo.clear()
        encoders = list_encoders(info.name)
        self.encoder_combo.addItems(encoders or ["built into the network"])
        self.encoder_combo.setEnabled(bool(encoders))
        preferred = self._recommended_encoder(info) or info.default_encoder
        if preferred in encoders:
            self.encoder_combo.setCurrentText(preferred)
        self.encoder_combo.blockSignals(False)
        self._build_options(info)
        example = "the encoder, e.g. ImageNet weights" if info.family == "smp" else \
            "the whole network, e.g. from an earlier training of this architecture"
        self.weights_label.setText(muted_html(f"Optional: a local weights file (.safetensors, .pth) for {example}; "
                                              "nothing is downloaded."))
        self._publish()

    def _build_options(self, info) -> None:
        for widget in self._option_widgets.values():
            self._new_form.removeRow(self._new_form.getWidgetPosition(widget.parentWidget())[0])
        self._option_widgets = {}
        for option in info.options:
            if isinstance(option.default, bool):
                widget = QCheckBox()
                widget.setChecked(option.default)
                widget.toggled.connect(self._publish)
            elif isinstance(option.default, int):
                widget = QSpinBox()
                widget.setRange(1, 100_000)
                widget.setValue(option.default)
                widget.valueChanged.connect(self._publish)
            else:
                widget = QComboBox()
                widget.addItems([str(c) for c in option.choices] or [str(option.default)])
                widget.setCurrentText(str(option.default))
                widget.currentIndexChanged.connect(self._publish)
            widget.setToolTip(option.description)
            self._option_widgets[option.name] = widget
            field = QWidget()  # the option's widget and its explanation, removed together
            row = QHBoxLayout(field)
            row.setContentsMargins(0, 0, 0, 0)
            row.addWidget(widget)
            row.addWidget(WrappedLabel(muted_html(escape(option.description))), 1)
            self._new_form.insertRow(self._options_row + len(self._option_widgets) - 1,
                                     f"{option.name.replace('_', ' ').capitalize()}:", field)

    def _options(self) -> dict:
        values = {}
        for name, widget in self._option_widgets.items():
            if isinstance(widget, QCheckBox):
                values[name] = widget.isChecked()
            elif isinstance(widget, QSpinBox):
                values[name] = widget.value()
            else:
                values[name] = widget.currentText()
        return values

    def _recommended_encoder(self, info) -> str | None:
        environment = self.context.environment
        if environment is None or not info.needs_encoder:
            return None
        architecture, encoder = recommended(environment.device_kind)
        return encoder if architecture == info.name else None

    def _apply_recommendation(self) -> None:
        environment = self.context.environment
        architecture, encoder = recommended(environment.device_kind)
        where = "a GPU" if environment.device_kind != "cpu" else "this computer's processor (no GPU)"
        title = model_info(architecture).title + (f" with {encoder}" if encoder else "")
        self.recommendation_label.setText(muted_html(f"Recommended for {where}: <b>{escape(title)}</b>."))
        if not self._user_chose_architecture:
            self.architecture_combo.setCurrentIndex(self.architecture_combo.findData(architecture))
            if encoder:
                self.encoder_combo.setCurrentText(encoder)

    def _on_weights_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Starting weights", self.weights_edit.text() or str(Path.home()),
                                              "Weights (*.safetensors *.pth *.pt *.bin);;All files (*)")
        if path:
            self._set_weights(path)

    def _set_weights(self, path: str) -> None:
        self.weights_edit.setText(path)
        self.completeChanged.emit()

    # fine-tuning --------------------------------------------------------------------------------
    def set_model_file(self, path: str) -> None:
        """Read the model file's header and show what it is; Next stays disabled until it is readable."""
        from core.models.model_file import read_model_spec

        path = path.strip()
        self.model_edit.setText(path)
        self._base_spec = None
        if path:
            try:
                self._base_spec = read_model_spec(path)
            except SegLabError as exc:
                self.model_info_label.setText(notice_html("error", escape(str(exc))))
            else:
                self.model_info_label.setText(self._spec_html(self._base_spec))
        else:
            self.model_info_label.setText(muted_html("Choose a model file to see what it was trained on."))
        self._show_input()
        self._publish()

    def _on_model_clicked(self) -> None:
        start = self.model_edit.text() or self._models_folder()
        path, _ = QFileDialog.getOpenFileName(self, "Model to fine-tune", start, "SegLab models (*.safetensors)")
        if path:
            self.set_model_file(path)

    def _models_folder(self) -> str:
        index = self.context.index
        folder = Path(index.root) / "models" if index is not None else Path.home()
        return str(folder if folder.is_dir() else Path.home())

    @staticmethod
    def _describe_spec(spec) -> str:
        from core.models.model_file import describe_architecture

        return describe_architecture(spec)

    def _spec_html(self, spec) -> str:
        training, metrics = spec.training or {}, spec.metrics or {}
        created = spec.created.replace("T", " ")[:16] if spec.created else "unknown"
        rows = [f"<b>{escape(self._describe_spec(spec))}</b>, {spec.in_channels} input channel"
                f"{'s' if spec.in_channels != 1 else ''}, patch size {spec.patch_size}",
                "Classes: " + class_swatches_html(spec.classes),
                f"Trained {escape(created)}"
                + (f" on {escape(Path(training['data_dir']).name)}" if training.get("data_dir") else "")
                + (f", {training['epochs_done']} epochs (best {training.get('best_epoch')})"
                   if training.get("epochs_done") else "")]
        if metrics.get("mean_iou") is not None:
            rows.append(f"Validation: mean IoU {number(metrics['mean_iou'])}, mean Dice "
                        f"{number(metrics.get('mean_dice'))}")
        index = self.context.index
        if index is not None and len(index.settings.classes) != len(spec.classes):
            rows.append(notice_html("warning", f"The model has {len(spec.classes)} classes, this data "
                                               f"{len(index.settings.classes)}: its output layer starts fresh."))
        return "<br>".join(rows)

    # both ---------------------------------------------------------------------------------------
    def _on_mode_toggled(self) -> None:
        new = self.new_radio.isChecked()
        self.new_box.setEnabled(new)
        self.finetune_box.setEnabled(not new)
        if not new and not self.model_edit.text():
            self.model_info_label.setText(muted_html("Choose a model file to see what it was trained on."))
        self._show_input()
        self._publish()

    def _show_input(self) -> None:
        dataset = self.context.dataset
        info = dataset.image_info if dataset is not None else None
        channels = self.context.in_channels if self.finetune_radio.isChecked() and self._base_spec else \
            (info.channels if info is not None else None)
        if channels is None:
            self.input_label.setText(muted_html("taken from the data"))
            return
        what = {1: "gray", 3: "RGB"}.get(channels, "multi-channel")
        source = "the model file" if self.finetune_radio.isChecked() and self._base_spec else "the data"
        norm = self._base_spec.normalisation if source == "the model file" else None
        scaling = "each image scaled between its 1st and 99th percentile (robust for 8- and 16-bit images)" \
            if norm is None or norm.mode == "percentile" else "values divided by the largest value of the pixel type"
        self.input_label.setText(f"{channels} channel{'s' if channels != 1 else ''} ({what}), {scaling}"
                                 + muted_html(f" — from {source}"))

    def _publish(self) -> None:
        if self.finetune_radio.isChecked():
            spec = self._base_spec
            choice = ModelChoice(model_info(spec.architecture), spec.encoder, dict(spec.options), spec) \
                if spec is not None else None
        else:
            info = self._info()
            choice = ModelChoice(info, self.encoder_combo.currentText() if info.needs_encoder else None,
                                 self._options(), None)
        self.context.set_model(choice)
        self.completeChanged.emit()
