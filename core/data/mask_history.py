"""Earlier versions of each image's mask, so no saved or brought mask is overwritten without a way back.

Before an image's annotation files are replaced (core/data/mask_saving.save_annotation, a labelme export
over the dataset's own file), record_version copies them byte for byte, whoever wrote them, to
`<workspace>/history/<quoted sample name>/<UTC time>/` with a `version.json` sidecar ({"version", "time",
"name", "kind", "reason", "labeled_pixels", "files": [{"file", "original", "class"}]}), written last so a
listed version always has its files. The newest MAX_VERSIONS per image are kept. Restoring is the
editor's job: read_version decodes a version as the dataset decodes its masks, and the editor applies it
as an undoable edit that the user saves.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import numpy as np

from core.data.layouts import Sample
from core.data.workspace import existing_workspaces, history_dir
from core.errors import SegLabError
from core.io.atomic import write_bytes_atomic, write_json_atomic
from core.io.masks import ignore_index_for

if TYPE_CHECKING:
    from core.data.index import DatasetIndex

HISTORY_VERSION = 1
MAX_VERSIONS = 20
INFO_FILE = "version.json"
BEFORE_SAVE = "before save"


@dataclass(frozen=True)
class KeptFile:
    path: Path  # the copy in the version's folder
    original: str  # where it was, relative to the dataset folder when inside it
    class_index: int | None = None  # class_masks: the class this binary mask is for


@dataclass(frozen=True)
class MaskVersion:
    name: str  # the sample (image stem)
    folder: Path
    time: float  # time.time() when it was kept
    kind: str  # mask, class_masks or labelme (as core.data.layouts.Sample holds them)
    files: tuple[KeptFile, ...]
    labeled_pixels: int | None  # pixels of a class other than background; None: the files could not be decoded
    reason: str


def record_version(index: DatasetIndex, sample: Sample, reason: str = BEFORE_SAVE,
                   replacing: Path | None = None) -> MaskVersion | None:
    """Keep a copy of `sample`'s annotation files as they are now. None when it has none (or `replacing`,
    the file about to be written, is not one of them); the newest version when the files equal it.
    Raises OSError when the copy cannot be written: the caller must not overwrite the files then."""
    kind, files = _annotation_files(sample)
    if not files or (replacing is not None and not any(_same_file(path, replacing) for _, path in files)):
        return None
    contents = [path.read_bytes() for _, path in files]
    versions = list_versions(index.root, sample.name)
    if versions and _same_contents(versions[0], kind, contents):
        return versions[0]
    folder = _new_version_folder(history_dir(index.root) / _folder_name(sample.name))
    try:
        kept = []
        for (class_index, path), data in zip(files, contents, strict=True):
            copy = folder / (path.name if class_index is None else f"{class_index}_{path.name}")
            write_bytes_atomic(copy, data)
            kept.append(KeptFile(copy, _relative(path, index.root), class_index))
        version = MaskVersion(sample.name, folder, time.time(), kind, tuple(kept), None, reason)
        version = replace(version, labeled_pixels=_labeled_pixels(version, index))
        write_json_atomic(folder / INFO_FILE, _to_json(version))
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    _drop_oldest(folder.parent)
    return version


def list_versions(index_root: str | Path, name: str) -> list[MaskVersion]:
    """The kept versions of image `name`, newest first; damaged or foreign folders are left out."""
    versions = []
    for workspace in existing_workspaces(index_root):
        folder = workspace / "history" / _folder_name(name)
        if folder.is_dir():
            versions += [v for v in map(_read_info, folder.glob(f"*/{INFO_FILE}")) if v is not None and v.name == name]
    return sorted(versions, key=lambda version: version.time, reverse=True)


def read_version(version: MaskVersion, index: DatasetIndex) -> np.ndarray:
    """The version's (H, W) index mask, decoded with the dataset's settings as its masks are."""
    return index.load_mask(_as_sample(version))


# internals -------------------------------------------------------------------------------------

def _annotation_files(sample: Sample) -> tuple[str, list[tuple[int | None, Path]]]:
    if sample.mask is not None:
        return "mask", [(None, sample.mask)] if sample.mask.is_file() else []
    if sample.class_masks:
        return "class_masks", [(number, path) for number, path in sample.class_masks if path.is_file()]
    if sample.labelme is not None:
        return "labelme", [(None, sample.labelme)] if sample.labelme.is_file() else []
    return "mask", []


def _as_sample(version: MaskVersion) -> Sample:
    image = version.folder / version.name  # never read: decoding needs only the annotation files
    paths = [kept.path for kept in version.files]
    if version.kind == "class_masks":
        return Sample(image, class_masks=tuple((kept.class_index, kept.path) for kept in version.files))
    if version.kind == "labelme":
        return Sample(image, labelme=paths[0])
    return Sample(image, mask=paths[0])


def _same_file(a: Path, b: Path) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def _same_contents(version: MaskVersion, kind: str, contents: list[bytes]) -> bool:
    if version.kind != kind or len(version.files) != len(contents):
        return False
    try:
        return all(kept.path.read_bytes() == data for kept, data in zip(version.files, contents, strict=True))
    except OSError:
        return False


def _folder_name(name: str) -> str:
    """A folder name for any sample name: percent-quoted (reversible), never '.', '..' or hidden."""
    quoted = quote(name, safe=" -_()[]+,=@")
    return "%2E" + quoted[1:] if quoted.startswith(".") else quoted


def _new_version_folder(parent: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    for attempt in range(100):
        folder = parent / (stamp if attempt == 0 else f"{stamp}-{attempt}")
        try:
            folder.mkdir(parents=True)
            return folder
        except FileExistsError:
            continue
    raise FileExistsError(f"no free version folder in {parent}")


def _drop_oldest(parent: Path) -> None:
    """Keep the newest MAX_VERSIONS version folders (their names sort by time)."""
    folders = sorted((p for p in parent.iterdir() if p.is_dir()), key=lambda p: p.name, reverse=True)
    for folder in folders[MAX_VERSIONS:]:
        shutil.rmtree(folder, ignore_errors=True)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(path)


def _labeled_pixels(version: MaskVersion, index: DatasetIndex) -> int | None:
    try:
        mask = read_version(version, index)
    except SegLabError:
        return None  # e.g. the mask SegLab could not read when the image was opened: kept all the same
    return int(np.count_nonzero((mask != 0) & (mask != ignore_index_for(len(index.settings.classes)))))


def _to_json(version: MaskVersion) -> dict:
    return {"version": HISTORY_VERSION, "time": version.time, "name": version.name, "kind": version.kind,
            "reason": version.reason, "labeled_pixels": version.labeled_pixels,
            "files": [{"file": kept.path.name, "original": kept.original, "class": kept.class_index}
                      for kept in version.files]}


def _read_info(info_file: Path) -> MaskVersion | None:
    try:
        data = json.loads(info_file.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or int(data.get("version", 0)) > HISTORY_VERSION:
            return None
        folder = info_file.parent
        files = tuple(KeptFile(folder / Path(entry["file"]).name, str(entry["original"]),
                               None if entry.get("class") is None else int(entry["class"]))
                      for entry in data["files"])
        if not files or not all(kept.path.is_file() for kept in files):
            return None
        pixels = data.get("labeled_pixels")
        return MaskVersion(str(data["name"]), folder, float(data["time"]), str(data["kind"]), files,
                           None if pixels is None else int(pixels), str(data.get("reason", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
