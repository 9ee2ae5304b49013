"""Recommended training settings: a plain function of what is known about the data, the device and the model
to train. The wizard offers them as its recommended values and the command line uses them for every option
not given, so both start from the same run."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from core.errors import SegLabError
from core.training.choices import augment_preset

if TYPE_CHECKING:
    from core.data.index import DatasetIndex
    from core.device import DeviceInfo
    from core.io.image_headers import ImageInfo
    from core.models.registry import ModelInfo
    from core.models.spec import ModelSpec

HEADER_TRIES = 5  # labeled images whose header is tried before giving up on the image size
PATCH_STEP = 32
BUDGET_BATCH = {"cpu": 8, "gpu": 16}  # a time budget: larger batches at a higher peak rate (README: how the
BUDGET_LR = 0.002  # automatic recipe was chosen)


@dataclass(frozen=True)
class DatasetFacts:
    """A scanned dataset and the header of its first readable labeled image (size, channels, dtype)."""

    index: DatasetIndex
    image_info: ImageInfo | None
    image_problem: str | None  # why no labeled image's header could be read

    @classmethod
    def read(cls, index: DatasetIndex) -> DatasetFacts:
        """Read headers only, of up to HEADER_TRIES labeled images, until one is readable."""
        from core.io.image_headers import read_image_info

        problem = None
        for sample in index.labeled[:HEADER_TRIES]:
            try:
                return cls(index, read_image_info(sample.image), None)
            except SegLabError as exc:
                problem = str(exc)
        return cls(index, None, problem)


@dataclass(frozen=True)
class Recommendation:
    """Recommended TrainConfig values; `augment` names an AUGMENT_PRESETS entry."""

    epochs: int
    patch_size: int
    batch_size: int
    learning_rate: float
    loss: str
    patches_per_epoch: int | None = None  # None: enough crops to cover the training images once
    optimizer: str = "adamw"
    schedule: str = "plateau"
    augment: str = "standard"
    early_stopping: int = 10
    device: str = "auto"

    def config_fields(self) -> dict:
        """These values as TrainConfig keyword arguments (the augmentation preset resolved)."""
        return {**asdict(self), "augment": augment_preset(self.augment)}


def smallest_patch(model: ModelInfo | None) -> int:
    """The smallest crop the network trains on: a multiple of 32, at least 32."""
    smallest = model.smallest_input if model is not None else PATCH_STEP
    return max(PATCH_STEP, -(-smallest // PATCH_STEP) * PATCH_STEP)


def recommend(data: DatasetFacts | None, device: DeviceInfo | None, model: ModelInfo | None = None,
              base: ModelSpec | None = None, minutes: float | None = None) -> Recommendation:
    """Settings that suit most data: a plain function of the device report, the dataset's facts, the network and
    the time budget, so the same inputs always give the same recipe. A GPU takes larger crops and batches than
    the CPU; fine-tuning `base` (the spec of the model file being fine-tuned) keeps its patch size and takes
    fewer, smaller steps; crops are no larger than the images; deeply supervised networks (U²-Net) train with
    their own loss. With a time budget (`minutes`) the learning rate follows one cycle over the planned steps,
    which suits larger batches at a higher peak (BUDGET_BATCH, BUDGET_LR), and early stopping does not apply."""
    gpu = device is not None and device.kind != "cpu"
    smallest = smallest_patch(model)
    patch = base.patch_size if base is not None else (512 if gpu else 256)
    image = data.image_info if data is not None else None
    if image is not None:
        patch = min(patch, max(smallest, min(image.width, image.height) // PATCH_STEP * PATCH_STEP))
    budget = minutes is not None
    batch = BUDGET_BATCH["gpu" if gpu else "cpu"] if budget else (8 if gpu else 4)
    rate = BUDGET_LR if budget else 0.001
    return Recommendation(
        epochs=20 if base is not None else 50, patch_size=max(patch, smallest),
        batch_size=max(batch, model.min_train_batch if model is not None else 1),
        learning_rate=rate / 10 if base is not None else rate,
        loss="u2net" if model is not None and model.deep_supervision else "ce",
        schedule="cosine" if budget else "plateau", early_stopping=0 if budget else 10)
