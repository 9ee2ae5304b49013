"""Temporary files of writes that were killed are removed when their folder is next opened; nothing else is."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from core.data.index import DatasetIndex
from core.io.atomic import STALE_AFTER_S, atomic_path
from tests.conftest import REPO
from tests.core.synthetic import write_dataset

_KILLED_WRITER = """
import os, sys
from core.io.atomic import atomic_path
with atomic_path(sys.argv[1]) as tmp:
    tmp.write_bytes(b"half a mask")
    os._exit(9)  # killed mid-write: no cleanup runs
"""


def _killed_write(target: Path) -> Path:
    """Run a writer that dies mid-write, as `kill -9` would; returns the temporary file it left."""
    before = set(target.parent.iterdir())
    result = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(target)], cwd=REPO, timeout=120)
    assert result.returncode == 9
    (left,) = set(target.parent.iterdir()) - before
    return left


def _snapshot(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_opening_a_dataset_removes_what_killed_writes_left(tmp_path):
    root = write_dataset(tmp_path / "data", count=2)
    (root / ".seglab" / "predictions").mkdir(parents=True)
    (root / ".notes.txt").write_text("a hidden file of the user's")
    (root / ".seglab-tmp-notes.txt").write_text("looks a little like ours but is not")
    before = _snapshot(root)
    left = [_killed_write(root / "seglab.json"), _killed_write(root / "masks" / "img0.png"),
            _killed_write(root / ".seglab" / "predictions" / "img1.png")]
    assert all(path.is_file() and path.name.startswith(".seglab-tmp-") for path in left)
    DatasetIndex.scan(root)  # just killed: a write that might still be going on is left alone
    assert all(path.is_file() for path in left)
    old = time.time() - STALE_AFTER_S - 5
    for path in left:
        os.utime(path, (old, old))  # the next time the folder is opened, a minute or more later
    DatasetIndex.scan(root)
    assert not any(path.exists() for path in left)
    assert _snapshot(root) == before


def test_a_write_in_progress_is_left_alone_until_it_is_stale(tmp_path):
    root = write_dataset(tmp_path / "data", count=2)
    target = root / "masks" / "img0.png"
    with atomic_path(target) as tmp:  # this process is alive and writing
        tmp.write_bytes(b"being written")
        DatasetIndex.scan(root)
        assert tmp.is_file()
        old = time.time() - STALE_AFTER_S - 5
        os.utime(tmp, (old, old))  # a writer of this process that stopped writing long ago
        DatasetIndex.scan(root)
        assert not tmp.exists()
        tmp.write_bytes(b"written again")  # so the atomic write can finish
    assert target.read_bytes() == b"written again"
