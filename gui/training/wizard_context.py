"""What the wizard's pages share: the window's state and task runner, the training environment found in the
background, the scanned dataset and the model chosen. Pages read and write here, never each other."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from gui.state import AppState
from gui.training.environment import TrainingEnvironment
from gui.workers import TaskContext, TaskRunner


@dataclass(frozen=True)
class ScannedDataset:
    index: object  # core.data.index.DatasetIndex
    image_info: object | None  # core.io.images.ImageInfo of the first labeled image (None if unreadable)
    image_problem: str | None  # why that header could not be read


@dataclass(frozen=True)
class ModelChoice:
    info: object  # core.models.registry.ModelInfo of the architecture that will be trained
    encoder: str | None
    options: dict
    base_spec: object | None  # core.models.spec.ModelSpec when fine-tuning a model file


def scan_dataset(ctx: TaskContext, folder: str) -> ScannedDataset:
    """Pair the folder's files (names only) and read the first labeled image's header."""
    from core.data.index import DatasetIndex
    from core.errors import SegLabError
    from core.io.images import read_image_info

    index = DatasetIndex.scan(folder)
    problem = None
    for sample in index.labeled[:5]:
        try:
            return ScannedDataset(index, read_image_info(sample.image), None)
        except SegLabError as exc:
            problem = str(exc)
    return ScannedDataset(index, None, problem)


class WizardContext(QObject):
    environment_ready = Signal()
    dataset_changed = Signal()
    model_changed = Signal()

    def __init__(self, state: AppState, tasks: TaskRunner, parent: QObject | None = None):
        super().__init__(parent)
        self.state = state
        self.tasks = tasks
        self.environment: TrainingEnvironment | None = None
        self.dataset: ScannedDataset | None = None
        self.model: ModelChoice | None = None

    def set_environment(self, environment: TrainingEnvironment) -> None:
        self.environment = environment
        self.environment_ready.emit()

    def set_dataset(self, dataset: ScannedDataset | None) -> None:
        self.dataset = dataset
        self.dataset_changed.emit()

    def set_model(self, model: ModelChoice | None) -> None:
        self.model = model
        self.model_changed.emit()

    @property
    def index(self):
        return self.dataset.index if self.dataset is not None else None

    @property
    def in_channels(self) -> int:
        """The network's input channels: the fine-tuned model's, else the data's (1 when unknown)."""
        if self.model is not None and self.model.base_spec is not None:
            return self.model.base_spec.in_channels
        info = self.dataset.image_info if self.dataset is not None else None
        return info.channels if info is not None else 1
