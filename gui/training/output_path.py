"""Where a new model is saved by default: <dataset>/models/<dataset>_<date>.safetensors, or the dataset's
workspace folder when the dataset folder cannot be written; never over an earlier model or checkpoint."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

from core.training.config import TrainConfig


def default_model_path(dataset_root: str | Path, today: datetime.date | None = None) -> Path:
    root = Path(dataset_root)
    folder = root / "models"
    if not _can_write(folder):
        from core.data.workspace import workspace_dir

        folder = workspace_dir(root) / "models"
    stem = f"{root.name or 'model'}_{(today or datetime.date.today()).isoformat()}"
    candidate, number = folder / f"{stem}.safetensors", 2
    while candidate.exists() or checkpoint_of(candidate).exists():
        candidate, number = folder / f"{stem}_{number}.safetensors", number + 1
    return candidate


def checkpoint_of(model_path: str | Path) -> Path:
    """The resumable checkpoint a run writing `model_path` keeps (TrainConfig decides the place)."""
    return TrainConfig(data_dir=".", output=str(model_path)).checkpoint_path


def folder_problem(model_path: str | Path) -> str | None:
    """Why the model cannot be written there, or None."""
    path = Path(model_path)
    if path.suffix.lower() != ".safetensors":
        return "the model file name must end in .safetensors"
    existing = next((p for p in [path.parent, *path.parent.parents] if p.exists()), None)
    if existing is None or not existing.is_dir() or not os.access(existing, os.W_OK):
        return f"{path.parent} cannot be written; choose another folder"
    return None


def _can_write(folder: Path) -> bool:
    existing = folder if folder.exists() else folder.parent
    return existing.is_dir() and os.access(existing, os.W_OK)
