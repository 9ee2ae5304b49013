"""Recovery files: unsaved mask edits written every few seconds to the dataset's workspace
(core/data/workspace.recovery_dir), so a crash or a killed process loses at most a few seconds of work.

Per image: `<name>.recovery.png` (the index mask, 8 or 16 bit, fast PNG compression) and
`<name>.recovery.json` ({"version", "name", "shape", "saved_at", "source": FileStamp of the annotation
files when they were read}). The JSON is written last, so a listed entry always has its mask.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.errors import MaskFormatError
from core.io.atomic import write_bytes_atomic, write_json_atomic
from core.io.file_stamp import FileStamp

RECOVERY_VERSION = 1
_MASK_SUFFIX = ".recovery.png"
_INFO_SUFFIX = ".recovery.json"
_PNG_FAST = [cv2.IMWRITE_PNG_COMPRESSION, 1]


@dataclass(frozen=True)
class RecoveryEntry:
    name: str  # the sample (image stem)
    mask_file: Path
    info_file: Path
    shape: tuple[int, int]
    saved_at: float  # time.time() of the write
    source: FileStamp | None  # the annotation files as they were when the edits began

    @property
    def source_changed(self) -> bool:
        """Whether the image's saved mask changed on disk since the edits began (restoring replaces it)."""
        return self.source is not None and bool(self.source.changed_files())


def write_recovery(folder: str | Path, name: str, mask: np.ndarray, source: FileStamp | None) -> RecoveryEntry:
    """Write (replace) the recovery files of `name`. Raises OSError when the folder cannot be written."""
    folder = Path(folder)
    ok, data = cv2.imencode(".png", np.ascontiguousarray(mask), _PNG_FAST)
    if not ok:
        raise MaskFormatError(f"the mask of {name} ({mask.dtype}) cannot be stored as PNG")
    mask_file, info_file = folder / f"{name}{_MASK_SUFFIX}", folder / f"{name}{_INFO_SUFFIX}"
    write_bytes_atomic(mask_file, data.tobytes())
    saved_at = time.time()
    write_json_atomic(info_file, {"version": RECOVERY_VERSION, "name": name, "shape": list(mask.shape),
                                  "saved_at": saved_at, "source": source.to_json() if source else None})
    return RecoveryEntry(name, mask_file, info_file, tuple(mask.shape), saved_at, source)


def list_recovery(folder: str | Path) -> list[RecoveryEntry]:
    """The recovery entries in `folder`, oldest first; unreadable or foreign files are left out."""
    entries = []
    for info_file in sorted(Path(folder).glob(f"*{_INFO_SUFFIX}")):
        try:
            data = json.loads(info_file.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or int(data.get("version", 0)) > RECOVERY_VERSION:
                continue
            name = str(data["name"])
            mask_file = info_file.with_name(f"{name}{_MASK_SUFFIX}")
            if not mask_file.is_file():
                continue
            source = FileStamp.from_json(data["source"]) if data.get("source") is not None else None
            entries.append(RecoveryEntry(name, mask_file, info_file, tuple(int(v) for v in data["shape"]),
                                         float(data["saved_at"]), source))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return sorted(entries, key=lambda entry: entry.saved_at)


def read_recovery(entry: RecoveryEntry) -> np.ndarray:
    """The recovered index mask. Raises MaskFormatError when the file is damaged."""
    mask = cv2.imdecode(np.fromfile(entry.mask_file, np.uint8), cv2.IMREAD_UNCHANGED)
    if mask is None or mask.ndim != 2 or tuple(mask.shape) != tuple(entry.shape):
        raise MaskFormatError("the recovery file is damaged and cannot be restored", entry.mask_file)
    return mask


def delete_recovery(folder: str | Path, name: str) -> None:
    """Remove the recovery files of `name` (nothing happens when there are none)."""
    for suffix in (_INFO_SUFFIX, _MASK_SUFFIX):
        with contextlib.suppress(FileNotFoundError):
            (Path(folder) / f"{name}{suffix}").unlink()
