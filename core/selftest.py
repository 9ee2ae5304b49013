"""`seglab --self-test`: versions, the device training and prediction will use (or why a GPU is not used),
a timed forward and backward pass on it, and a write test of the settings and recovery folders.

Returns 0 when all is well, 1 with an explanation otherwise. Used by the CLI and the Help menu."""

from __future__ import annotations

import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from core import __version__
from core.data.workspace import user_data_dir
from core.errors import SegLabError

BATCH, SIZE, STEPS = 2, 256, 3


def settings_dir() -> Path:
    """The folder holding SegLab's QSettings file (QtCore only; no window needed)."""
    from PySide6.QtCore import QCoreApplication, QSettings

    QCoreApplication.setOrganizationName("SegLab")
    QCoreApplication.setApplicationName("SegLab")
    return Path(QSettings().fileName()).parent


def check_writable(folder: Path) -> str | None:
    """None when a file can be written and replaced atomically in `folder`, else why not."""
    from core.io.atomic import write_text_atomic

    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".seglab-self-test-{os.getpid()}"
        write_text_atomic(probe, "ok")
        ok = probe.read_text() == "ok"
        probe.unlink()
        return None if ok else "a written file read back differently"
    except OSError as exc:
        return f"{exc.strerror or exc}"


def timed_pass(device_name: str) -> tuple[float, float]:
    """(training images/s, prediction images/s) of an smp U-Net (resnet18) at 256 x 256 on this device."""
    import torch

    from core.models.registry import create_model

    model = create_model("unet", in_channels=1, out_channels=2, encoder="resnet18").to(device_name)
    images = torch.rand(BATCH, 1, SIZE, SIZE, device=device_name)
    targets = torch.randint(0, 2, (BATCH, SIZE, SIZE), device=device_name)
    optimizer = torch.optim.AdamW(model.parameters())

    def train_step():
        loss = torch.nn.functional.cross_entropy(model(images), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def synchronise():
        if device_name.startswith("cuda"):
            torch.cuda.synchronize()

    train_step()  # warm-up
    synchronise()
    start = time.perf_counter()
    for _ in range(STEPS):
        train_step()
    synchronise()
    train_rate = BATCH * STEPS / (time.perf_counter() - start)
    model.eval()
    with torch.inference_mode():
        model(images)
        synchronise()
        start = time.perf_counter()
        for _ in range(STEPS):
            model(images)
        synchronise()
    return train_rate, BATCH * STEPS / (time.perf_counter() - start)


def run_self_test(say: Callable[[str], None] = print) -> int:
    """Print each check as it runs; 0 when every check passed."""
    from core.versions import software_versions

    failures: list[str] = []
    say(f"SegLab {__version__} self-test on {platform.platform()}")
    for name, version in software_versions().items():
        say(f"  {name:<28} {version}")
    try:
        from core.device import select_device

        device = select_device("auto")
        say(f"device: {device.describe()}")
        if device.note:
            say(f"  note: {device.note}")
        train_rate, predict_rate = timed_pass(device.torch_device)
        say(f"timed pass (U-Net resnet18, {SIZE}x{SIZE}): training {train_rate:.1f} images/s, "
            f"prediction {predict_rate:.1f} images/s")
    except (SegLabError, RuntimeError, ImportError, OSError) as exc:
        failures.append(f"the compute check failed: {exc}")
    folders = {"settings folder": settings_dir(), "data and recovery folder": user_data_dir(),
               "temporary folder": Path(tempfile.gettempdir())}
    for label, folder in folders.items():
        problem = check_writable(folder)
        say(f"write test, {label} {folder}: {'ok' if problem is None else 'FAILED: ' + problem}")
        if problem is not None:
            failures.append(f"the {label} {folder} cannot be written ({problem}); settings or unsaved edits "
                            "could not be kept. Check the folder's permissions and free disk space")
    if failures:
        for failure in failures:
            say(f"PROBLEM: {failure}")
        return 1
    say("All checks passed.")
    return 0
