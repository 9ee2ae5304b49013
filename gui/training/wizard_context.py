"""What the wizard's pages share: the window's state and task runner, the training environment found in the
background, the dataset (the window's index of the open folder, or a scan of another) and the model chosen.
Pages read and write here, never each other."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSettings, Signal

from gui.state import AppState
from gui.training.environment import TrainingEnvironment
from gui.workers import TaskContext, TaskRunner

if TYPE_CHECKING:
    from core.data.index import DatasetIndex
    from core.models.registry import ModelInfo
    from core.models.spec import ModelSpec
    from core.training.recipe import DatasetFacts


@dataclass(frozen=True)
class ModelChoice:
    info: ModelInfo  # the architecture that will be trained
    encoder: str | None
    options: dict
    base_spec: ModelSpec | None  # the model file's spec when fine-tuning


def opened_index(state: AppState, folder: str | Path) -> DatasetIndex | None:
    """The window's index of `folder` when it is the open folder, carrying the window's class table; else None."""
    index = state.index
    if index is None or Path(index.root).resolve() != Path(folder).resolve():
        return None
    if index.settings.classes == state.classes:
        return index
    return replace(index, settings=replace(index.settings, classes=state.classes))


def read_dataset(ctx: TaskContext, folder: str, index: DatasetIndex | None) -> DatasetFacts:
    """The folder's facts for the wizard: `index` when it was scanned already, else a scan (names only); then
    the first labeled image's header."""
    from core.data.index import DatasetIndex
    from core.training.recipe import DatasetFacts

    return DatasetFacts.read(index if index is not None else DatasetIndex.scan(folder))


class WizardContext(QObject):
    environment_ready = Signal()
    dataset_changed = Signal()
    model_changed = Signal()

    def __init__(self, state: AppState, tasks: TaskRunner, settings: QSettings, parent: QObject | None = None):
        super().__init__(parent)
        self.state = state
        self.tasks = tasks
        self.settings = settings  # the user's choices from earlier runs (see remembered / remember)
        self.environment: TrainingEnvironment | None = None
        self.dataset: DatasetFacts | None = None
        self.model: ModelChoice | None = None

    def set_environment(self, environment: TrainingEnvironment) -> None:
        self.environment = environment
        self.environment_ready.emit()

    def set_dataset(self, dataset: DatasetFacts | None) -> None:
        self.dataset = dataset
        self.dataset_changed.emit()

    def set_model(self, model: ModelChoice | None) -> None:
        self.model = model
        self.model_changed.emit()

    def remembered(self, key: str) -> dict:
        """What the user chose in an earlier run (a JSON object stored under training/<key>), or {}."""
        try:
            value = json.loads(str(self.settings.value(f"training/{key}", "{}")))
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def remember(self, key: str, choices: dict) -> None:
        self.settings.setValue(f"training/{key}", json.dumps(choices))

    @property
    def index(self) -> DatasetIndex | None:
        return self.dataset.index if self.dataset is not None else None

    @property
    def in_channels(self) -> int:
        """The network's input channels: the fine-tuned model's, else the data's (1 when unknown)."""
        if self.model is not None and self.model.base_spec is not None:
            return self.model.base_spec.in_channels
        info = self.dataset.image_info if self.dataset is not None else None
        return info.channels if info is not None else 1
