"""Training checkpoints: model, optimiser and schedule state, written atomically every epoch, read with
torch.load(weights_only=True) so a checkpoint can never run code."""

from __future__ import annotations

import errno
from pathlib import Path

import torch

from core.errors import TrainingError
from core.io.atomic import write_atomic


def save_checkpoint(path: Path, state: dict) -> None:
    """state: tensors, numbers, strings and lists only; JSON-like parts are stored as JSON strings."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        write_atomic(path, lambda tmp: torch.save(state, tmp))
    except OSError as exc:
        raise disk_error(exc, path) from None


def load_checkpoint(path: Path) -> dict:
    if not path.is_file():
        raise TrainingError("there is no checkpoint to resume from; start a new run", path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt zip, foreign pickle, truncated file
        raise TrainingError(f"the checkpoint cannot be read ({exc}); start a new run", path) from None


def disk_error(exc: OSError, path: Path) -> TrainingError:
    """A save failure explained: a full disk or a read-only folder; earlier files stay intact."""
    if exc.errno == errno.ENOSPC:
        return TrainingError("the disk is full; free some space and resume. The previous checkpoint is intact", path)
    if exc.errno in (errno.EACCES, errno.EROFS, errno.EPERM):
        return TrainingError("this folder cannot be written; choose another place for the model", path)
    return TrainingError(f"saving failed: {exc.strerror or exc}", path)

