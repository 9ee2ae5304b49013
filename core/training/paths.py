"""Where a training run writes: a new model's default file, the checkpoint kept beside it, and whether a chosen
folder can be written. A new model's path never lands on an earlier model or checkpoint."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

MODEL_SUFFIX = ".safetensors"
CHECKPOINT_NAME = "last.pt"


def checkpoint_path(model_path: str | Path, checkpoint_dir: str | Path | None = None) -> Path:
    """The resumable checkpoint of a run writing `model_path`: in `checkpoint_dir`, else in <model stem>_training
    beside the model file."""
    model = Path(model_path)
    folder = Path(checkpoint_dir) if checkpoint_dir else model.with_name(model.name.split(".")[0] + "_training")
    return folder / CHECKPOINT_NAME


def new_model_path(dataset_root: str | Path, today: datetime.date | None = None) -> Path:
    """<dataset>/models/<dataset>_<date>.safetensors (the dataset's workspace folder when the dataset folder
    cannot be written), numbered _2, _3, ... past any existing model or checkpoint of that name."""
    root = Path(dataset_root)
    folder = root / "models"
    if not _can_write(folder):
        from core.data.workspace import workspace_dir

        folder = workspace_dir(root) / "models"
    stem = f"{root.resolve().name or 'model'}_{(today or datetime.date.today()).isoformat()}"
    candidate, number = folder / f"{stem}{MODEL_SUFFIX}", 2
    while candidate.exists() or checkpoint_path(candidate).exists():
        candidate, number = folder / f"{stem}_{number}{MODEL_SUFFIX}", number + 1
    return candidate


def model_folders(dataset_root: str | Path) -> list[Path]:
    """Where new_model_path puts a dataset's models: <dataset>/models, and the workspace's models folder (the
    dataset's .seglab/ or, for a read-only dataset, its folder in the user's data folder). Nothing is created."""
    from core.data.workspace import WORKSPACE_NAME, workspace_dir

    root = Path(dataset_root).resolve()
    folders = [root / "models", root / WORKSPACE_NAME / "models"]
    if not _can_write(root / WORKSPACE_NAME):
        folders.append(workspace_dir(root) / "models")
    return folders


def folder_problem(model_path: str | Path) -> str | None:
    """Why a model cannot be written at `model_path` (a wrong suffix, a folder that cannot be written), or None."""
    path = Path(model_path)
    if path.suffix.lower() != MODEL_SUFFIX:
        return f"the model file name must end in {MODEL_SUFFIX}"
    existing = next((p for p in [path.parent, *path.parent.parents] if p.exists()), None)
    if existing is None or not existing.is_dir() or not os.access(existing, os.W_OK):
        return f"{path.parent} cannot be written; choose another folder"
    return None


def _can_write(folder: Path) -> bool:
    existing = folder if folder.exists() else folder.parent
    return existing.is_dir() and os.access(existing, os.W_OK)
