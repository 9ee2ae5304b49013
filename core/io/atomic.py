"""Atomic file writes: write a temporary file beside the target, flush it to disk, then os.replace.

A crash or a full disk mid-write leaves the previous file intact and no half-written target. The new file
gets the previous file's permissions, or the usual ones for a new file (0666 less the umask), so files
on a shared drive stay readable by colleagues.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

_NAME_ATTEMPTS = 100


def _create_temp(target: Path) -> Path:
    """A new empty file beside the target, hidden, keeping its suffix; created 0666 less the umask."""
    for _ in range(_NAME_ATTEMPTS):
        tmp = target.with_name(f".{target.stem}.{secrets.token_hex(4)}.tmp{target.suffix}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"no free temporary name beside {target}")


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success it replaces the target.

    The temporary file keeps the target's suffix so writers that pick a format by suffix work.
    """
    target = Path(target)
    tmp = _create_temp(target)
    try:
        mode = stat.S_IMODE((target if target.exists() else tmp).stat().st_mode)
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)  # writers that recreate the file would otherwise leave their own mode
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_atomic(target: str | Path, writer: Callable[[Path], None]) -> None:
    """Call writer(tmp_path), then move the result over `target`."""
    with atomic_path(target) as tmp:
        writer(tmp)


def write_bytes_atomic(target: str | Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(target: str | Path, text: str) -> None:
    write_bytes_atomic(target, text.encode("utf-8"))


def write_json_atomic(target: str | Path, data) -> None:
    write_text_atomic(target, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
