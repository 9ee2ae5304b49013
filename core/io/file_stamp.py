"""FileStamp: the modification times and sizes of files, taken when they were read, to notice later changes."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FileStamp:
    """Modification time and size of annotation files (size -1: the file did not exist)."""

    entries: tuple[tuple[str, int, int], ...]

    @classmethod
    def of(cls, paths: Iterable[str | Path]) -> FileStamp:
        entries = []
        for path in paths:
            try:
                info = os.stat(path)
                entries.append((str(path), info.st_mtime_ns, info.st_size))
            except FileNotFoundError:
                entries.append((str(path), 0, -1))
        return cls(tuple(entries))

    def changed_files(self) -> list[Path]:
        """The files whose time or size differ from the stamp now."""
        now = FileStamp.of(path for path, _, _ in self.entries)
        return [Path(old[0]) for old, new in zip(self.entries, now.entries, strict=True) if old != new]

    def to_json(self) -> list:
        return [list(entry) for entry in self.entries]

    @classmethod
    def from_json(cls, data) -> FileStamp:
        return cls(tuple((str(p), int(t), int(s)) for p, t, s in data or ()))
