"""The training wizard: four pages (data, model, settings, review) that build one frozen TrainConfig."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import QWidget, QWizard

from core.training.config import TrainConfig
from gui.dialogs import show_failure
from gui.state import AppState
from gui.training.data_page import DataPage
from gui.training.environment import TrainingEnvironment, load_environment, warm_up_training
from gui.training.model_page import ModelPage
from gui.training.review_page import ReviewPage
from gui.training.settings_page import SettingsPage
from gui.training.wizard_context import WizardContext
from gui.workers import TaskRunner


class TrainingWizard(QWizard):
    config_ready = Signal(object, object)  # TrainConfig, DatasetIndex: Start Training was pressed

    def __init__(self, state: AppState, tasks: TaskRunner, settings: QSettings, parent: QWidget | None = None):
        """settings: where the pages remember what the user chose, for the next run."""
        super().__init__(parent)
        self.setWindowTitle("Train a Model")
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage)
        self.setButtonText(QWizard.WizardButton.FinishButton, "Start Training")
        self.context = WizardContext(state, tasks, settings, self)
        self.data_page = DataPage(self.context)
        self.model_page = ModelPage(self.context)
        self.settings_page = SettingsPage(self.context)
        self.review_page = ReviewPage(self.context)
        for page in (self.data_page, self.model_page, self.settings_page, self.review_page):
            self.addPage(page)
        self.resize(900, 700)
        self._warm_up_task = None
        self.warmed_up = False  # torch's lazily imported parts are loaded (see warm_up_training)
        self._environment_task = tasks.start(load_environment)
        self._environment_task.signals.finished.connect(self._on_environment_loaded)
        self._environment_task.signals.failed.connect(self._on_environment_failed)

    def build_config(self, output: str, resume: bool = False) -> TrainConfig:
        """The TrainConfig the pages describe now; raises ConfigError for values that cannot work."""
        return TrainConfig(output=output, resume=resume, **self.data_page.config_fields(),
                           **self.model_page.config_fields(), **self.settings_page.config_fields())

    def accept(self) -> None:
        super().accept()  # QWizard.done() validates the review page first; if that fails the wizard stays open
        if not self.isVisible() and self.review_page.config is not None:
            self.config_ready.emit(self.review_page.config, self.context.index)

    def done(self, result: int) -> None:
        self.settings_page.cancel_estimate()
        self.model_page.remember_choice()
        self.settings_page.remember_choices()
        super().done(result)

    def _on_environment_loaded(self, environment: TrainingEnvironment) -> None:
        self.context.set_environment(environment)
        self._warm_up_task = self.context.tasks.start(warm_up_training)
        self._warm_up_task.signals.finished.connect(self._on_warm_up_finished)

    def _on_warm_up_finished(self) -> None:
        self.warmed_up = True

    def _on_environment_failed(self, message: str, details: str) -> None:
        show_failure(self, "Training is not available",
                     f"SegLab could not prepare training on this computer:\n\n{message}", details)
