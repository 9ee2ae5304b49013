"""Atomic file writes: write a temporary file beside the target, flush it to disk, then os.replace.

A crash or a full disk mid-write leaves the previous file intact and no half-written target. The new file
gets the previous file's permissions, or the usual ones for a new file (0666 less the umask), so files
on a shared drive stay readable by colleagues. A failed write raises an OSError naming the target.

Temporary files are named `.seglab-tmp-<writer pid>-<random>.<target name>`, so the ones a killed process
leaves behind are recognised and removed by remove_stale_temp_files when their folder is next opened.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from core.errors import WriteError

_NAME_ATTEMPTS = 100
_TEMP_PREFIX = ".seglab-tmp-"
_TEMP_NAME = re.compile(re.escape(_TEMP_PREFIX) + r"(\d+)-[0-9a-f]{8}\.")
STALE_AFTER_S = 60.0
"""A temporary file untouched for this long belongs to a write that will not finish."""


def _create_temp(target: Path) -> Path:
    """A new empty file beside the target, hidden, keeping its suffix; created 0666 less the umask."""
    for _ in range(_NAME_ATTEMPTS):
        tmp = target.with_name(f"{_TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}.{target.name}")
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
    except OSError as exc:
        if exc.filename == str(target):
            raise
        # writers report the temporary file, or no file at all: name the file the user asked for
        raise OSError(exc.errno, exc.strerror or str(exc), str(target)) from exc
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


_READ_ONLY = (errno.EACCES, errno.EPERM, errno.EROFS)
_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG)
_IN_THE_WAY = (errno.EEXIST, errno.ENOTDIR)


def write_error(exc: OSError, path: str | Path | None) -> WriteError:
    """The typed error for a failed write of `path`, saying what to do about it."""
    reason = exc.strerror or str(exc)
    if exc.errno in _READ_ONLY:
        advice = f"the folder is read-only or you lack permission ({reason}); choose a folder you can write to"
    elif exc.errno in _FULL:
        advice = f"the disk is full ({reason}); free some space or choose another disk, and try again"
    elif exc.errno in _IN_THE_WAY:
        advice = f"a file is in the way ({reason}); choose another folder"
    else:
        advice = f"{reason}; check the folder and try again"
    return WriteError(f"cannot be written: {advice}", path, exc)


def prepare_output_folder(path: str | Path) -> Path:
    """Create the folder (and its parents) if needed and check that files can be written in it; a
    WriteError naming it otherwise."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise WriteError("is a file, not a folder; choose a folder for the output", folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(exc, folder) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise write_error(PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(folder)), folder)
    return folder


def remove_stale_temp_files(folders: Iterable[str | Path]) -> list[Path]:
    """Delete the temporary files that killed writes left in these folders (not recursive): those whose
    were untouched for STALE_AFTER_S. Age alone decides: on a shared drive the writer may be another
    computer's process, whose PID means nothing here. Returns what was removed."""
    removed = []
    for folder in folders:
        try:
            with os.scandir(folder) as entries:
                stale = [entry for entry in entries if _is_stale(entry)]
        except OSError:
            continue  # a folder that cannot be listed holds nothing we could remove
        for entry in stale:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _is_stale(entry: os.DirEntry) -> bool:
    match = _TEMP_NAME.match(entry.name)
    if match is None or not entry.is_file(follow_symlinks=False):
        return False
    try:
        age = time.time() - entry.stat(follow_symlinks=False).st_mtime
    except OSError:
        return False
    return age > STALE_AFTER_S
