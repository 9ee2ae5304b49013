"""What the wizard learns in the background before it can offer choices: the device, the losses, and
torch itself loaded (so later calls into core's torch modules cost nothing on the GUI thread)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gui.workers import TaskContext

if TYPE_CHECKING:
    from core.device import DeviceInfo
    from core.losses import LossInfo


@dataclass(frozen=True)
class TrainingEnvironment:
    device: DeviceInfo  # the one "auto" chooses
    device_choices: tuple[tuple[str, str], ...]  # (TrainConfig.device value, label) the user can pick
    losses: tuple[LossInfo, ...]  # every loss

    @property
    def device_kind(self) -> str:
        return self.device.kind


def load_environment(ctx: TaskContext) -> TrainingEnvironment:
    """Runs on a worker thread: imports torch (seconds) and looks at the hardware."""
    import torch

    from core.device import select_device
    from core.losses import list_losses, loss_info

    device = select_device("auto")
    choices = [("auto", f"Automatic ({device.describe()})")]
    for index in range(torch.cuda.device_count() if torch.cuda.is_available() else 0):
        name = torch.cuda.get_device_properties(index).name
        choices.append((f"cuda:{index}" if index else "cuda", f"GPU {index}: {name}"))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        choices.append(("mps", "Apple GPU (Metal)"))
    choices.append(("cpu", "CPU (processor)"))
    return TrainingEnvironment(device, tuple(choices), tuple(loss_info(name) for name in list_losses()))


def warm_up_training(ctx: TaskContext) -> None:
    """Runs on a worker thread while the user reads the wizard: the first optimiser step imports about 900 more
    modules (torch._dynamo, sympy, ...), seconds of work that would otherwise hold the interpreter lock at the
    start of the time estimate or of training and make the window stutter."""
    import torch

    import core.training.loop  # noqa: F401

    weight = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([weight], lr=1e-3)
    (weight * 2).sum().backward()
    optimizer.step()
