"""Where SegLab keeps its own files for a dataset (predictions, recovery of unsaved edits, caches):
`<dataset>/.seglab/` when the folder is writable, else a per-dataset folder in the user's data folder."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from core.io.atomic import remove_stale_temp_files
from core.user_folders import user_data_dir

WORKSPACE_NAME = ".seglab"


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
        return True
    except OSError:
        return False


def _fallback_dir(root: Path) -> Path:
    """The workspace of a read-only dataset, in the user's data folder."""
    digest = hashlib.sha256(str(root).encode("utf-8")).hexdigest()[:16]
    return user_data_dir() / "workspaces" / f"{root.name}-{digest}"


def workspace_dir(dataset_root: str | Path) -> Path:
    """The dataset's workspace folder, created if needed."""
    root = Path(dataset_root).resolve()
    inside = root / WORKSPACE_NAME
    if _writable(inside):
        return inside
    fallback = _fallback_dir(root)
    fallback.mkdir(parents=True, exist_ok=True)
    return fallback


def remove_killed_writes(dataset_root: str | Path, data_folders: Iterable[Path] = ()) -> list[Path]:
    """Remove the temporary files that killed writes left in the dataset's root, its visible subfolders,
    `data_folders` (where its images and masks are) and its workspace folders; nothing is created."""
    root = Path(dataset_root).resolve()
    folders = {root, *(Path(f).resolve() for f in data_folders)}
    for parent in (root, root / WORKSPACE_NAME, _fallback_dir(root)):
        try:
            with os.scandir(parent) as entries:
                subfolders = [Path(e.path) for e in entries if e.is_dir() and (parent != root or e.name[0] != ".")]
        except OSError:
            continue
        folders.update([parent, *subfolders])
    return remove_stale_temp_files(sorted(folders))


def predictions_dir(dataset_root: str | Path) -> Path:
    folder = workspace_dir(dataset_root) / "predictions"
    folder.mkdir(exist_ok=True)
    return folder


def _stored_predictions_dir(dataset_root: str | Path) -> Path | None:
    root = Path(dataset_root).resolve()
    for folder in (root / WORKSPACE_NAME / "predictions", _fallback_dir(root) / "predictions"):
        if folder.is_dir():
            return folder
    return None


def stored_predictions(dataset_root: str | Path, names: list[str]) -> dict[str, str]:
    """Predicted masks kept from earlier runs, for the given sample names (name -> file); nothing is created."""
    folder = _stored_predictions_dir(dataset_root)
    if folder is None:
        return {}
    found = {p.stem: str(p) for p in folder.iterdir() if p.suffix.lower() in (".png", ".tif")}
    return {name: found[name] for name in names if name in found}


def stored_uncertainty(dataset_root: str | Path, names: list[str]) -> dict[str, float]:
    """Uncertainty scores kept with those predictions (name -> score; core.inference.uncertainty_files);
    an unreadable score file is logged and counts as none (segmenting again rewrites it)."""
    from core.errors import SegLabError
    from core.inference.uncertainty_files import read_scores

    folder = _stored_predictions_dir(dataset_root)
    try:
        scores = read_scores(folder) if folder is not None else {}
    except SegLabError as exc:
        logging.getLogger(__name__).warning("%s", exc)
        return {}
    return {name: scores[name] for name in names if name in scores}


def recovery_dir(dataset_root: str | Path) -> Path:
    folder = workspace_dir(dataset_root) / "recovery"
    folder.mkdir(exist_ok=True)
    return folder


def history_dir(dataset_root: str | Path) -> Path:
    """Earlier versions of the dataset's masks (core/data/mask_history.py)."""
    folder = workspace_dir(dataset_root) / "history"
    folder.mkdir(exist_ok=True)
    return folder


def existing_workspaces(dataset_root: str | Path) -> list[Path]:
    """The dataset's workspace folders that exist (inside the dataset, then the fallback); nothing is created."""
    root = Path(dataset_root).resolve()
    return [folder for folder in (root / WORKSPACE_NAME, _fallback_dir(root)) if folder.is_dir()]


def sample_dataset() -> Path:
    """A writable copy of the bundled sample dataset in the user's data folder (made on first use), so labeling
    and training on it never change the installed files."""
    import shutil

    from core.resources import resource_path

    target = user_data_dir() / "sample"
    if not (target / "images").is_dir():
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".sample-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(resource_path("sample"), staging, ignore=shutil.ignore_patterns(WORKSPACE_NAME))
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)
    return target
