"""How long will training take? Run a few real training batches of this data on this device and time them.

The measuring run is an ordinary Trainer run with its output in a temporary folder, halted after a warm-up
batch plus `measure_batches` timed batches, so it measures exactly what training will do (data, model,
augmentation, device). Validation is not run; its time is approximated from the number of validation tiles.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.durations import format_duration
from core.errors import SegLabError
from core.training.config import TrainConfig

if TYPE_CHECKING:
    from core.data.index import DatasetIndex

FORWARD_SHARE = 1 / 3
"""Time of a forward pass (validation) as a share of a training step (forward + backward + update)."""


@dataclass(frozen=True)
class EpochEstimate:
    device: str  # the device in words, as training will report it
    batches_per_epoch: int
    seconds_per_batch: float  # measured after one warm-up batch
    validation_seconds: float  # approximate, see FORWARD_SHARE
    preparation_seconds: float  # reading the data and building the model, once per run
    measured_batches: int

    @property
    def seconds_per_epoch(self) -> float:
        return self.seconds_per_batch * self.batches_per_epoch + self.validation_seconds

    def describe(self, epochs: int) -> str:
        """E.g. 'about 45 s per epoch, 38 min for 50 epochs'."""
        return (f"about {format_duration(self.seconds_per_epoch)} per epoch, "
                f"{format_duration(self.seconds_per_epoch * epochs)} for {epochs} epoch{'s' if epochs != 1 else ''}")

    def describe_budget(self, minutes: float) -> str:
        """E.g. 'about 45 s per epoch: about 6 epochs' worth of training in 5 min'."""
        epochs = minutes * 60 / self.seconds_per_epoch
        return (f"about {format_duration(self.seconds_per_epoch)} per epoch: about {epochs:.0f} epochs' worth of "
                f"training in {format_duration(minutes * 60)}")


class _Halt:
    """The Trainer's stop flag: set when enough batches were timed, or reads true once the caller cancels."""

    def __init__(self, cancel: Callable[[], bool] | None):
        self._cancel = cancel
        self._done = False

    def set(self) -> None:
        self._done = True

    def is_set(self) -> bool:
        return self._done or (self._cancel is not None and self._cancel())


def estimate_epoch_time(config: TrainConfig, measure_batches: int = 3, cancel: Callable[[], bool] | None = None,
                        index: DatasetIndex | None = None) -> EpochEstimate | None:
    """Seconds per epoch for `config`, from real batches on its device; None when cancelled first.
    index: config.data_dir as already scanned; scanned here when not given.

    Raises what training would raise (TrainingError, ConfigError, ...) for data or settings that cannot work.
    Writes nothing outside a temporary folder.
    """
    from core.training.data_setup import dataset_index
    from core.training.loop import Trainer
    from core.training.reports import BatchReport, TrainingStarted

    index = dataset_index(config.data_dir, index)
    halt = _Halt(cancel)
    started_at = time.perf_counter()
    started: TrainingStarted | None = None
    preparation = 0.0
    elapsed: list[float] = []
    with tempfile.TemporaryDirectory(prefix="seglab-estimate-") as folder:
        trial = config.with_changes(output=str(Path(folder) / "estimate.safetensors"), checkpoint_dir=folder,
                                    resume=False, epochs=1, minutes=None, early_stopping=0)
        try:
            for report in Trainer(trial, halt, index).run():
                if isinstance(report, TrainingStarted):
                    started, preparation = report, time.perf_counter() - started_at
                elif isinstance(report, BatchReport):
                    elapsed.append(report.elapsed_s)
                    if len(elapsed) > measure_batches:
                        halt.set()
        except SegLabError:
            if cancel is not None and cancel():  # cancelled while reading the data: nothing to report
                return None
            raise
    if started is None or not elapsed or (cancel is not None and cancel()):
        return None
    if len(elapsed) > 1:  # leave out the first batch: it pays for one-off set-up (allocations, kernel choice)
        per_batch = (elapsed[-1] - elapsed[0]) / (len(elapsed) - 1)
    else:
        per_batch = elapsed[0]
    return EpochEstimate(
        device=started.device, batches_per_epoch=started.batches_per_epoch, seconds_per_batch=per_batch,
        validation_seconds=_validation_seconds(config, index, started.val_images, per_batch),
        preparation_seconds=preparation, measured_batches=max(len(elapsed) - 1, 1))


def _validation_seconds(config: TrainConfig, index: DatasetIndex, val_images: tuple[str, ...],
                        seconds_per_batch: float) -> float:
    """Forward passes over every validation tile, batch by batch (image sizes read from file headers)."""
    if not val_images:
        return 0.0
    from core.io.images import read_image_info

    tiles = 0
    for name in val_images:
        try:
            info = read_image_info(index.sample(name).image)
        except SegLabError:
            continue
        tiles += math.ceil(info.height / config.patch_size) * math.ceil(info.width / config.patch_size)
    return math.ceil(tiles / config.batch_size) * seconds_per_batch * FORWARD_SHARE
