"""Shared fixtures: where the real datasets live, and small synthetic data."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# OpenMP threads that spin while waiting slow everything down on a 2-core machine running several processes.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# SegLab's per-user data (sample copy, workspaces of read-only datasets) goes to a throw-away folder.
os.environ.setdefault("SEGLAB_DATA_HOME", tempfile.mkdtemp(prefix="seglab-test-data-"))

import pytest

REPO = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path:
    """../shared/data beside the checkout (or above it, or $SEGLAB_TEST_DATA)."""
    candidates = [Path(os.environ["SEGLAB_TEST_DATA"])] if os.environ.get("SEGLAB_TEST_DATA") else []
    candidates += [parent / "shared" / "data" for parent in REPO.parents]
    candidates.append(Path("/work/shared/data"))
    for candidate in candidates:
        if (candidate / "isbi2012").is_dir() and (candidate / "bbbc039").is_dir():
            return candidate
    raise RuntimeError("the shared datasets (shared/data/isbi2012, bbbc039) were not found; set SEGLAB_TEST_DATA")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return shared_data_dir()


@pytest.fixture(scope="session")
def formats_dir(data_dir) -> Path:
    """Real files as microscopes and peer tools write them (shared/data/formats)."""
    folder = data_dir / "formats"
    if not folder.is_dir():
        pytest.skip(f"the microscopy format samples ({folder}) are not there; set SEGLAB_TEST_DATA")
    return folder


@pytest.fixture(scope="session")
def isbi_dir(data_dir) -> Path:
    return data_dir / "isbi2012"


@pytest.fixture(scope="session")
def bbbc_dir(data_dir) -> Path:
    return data_dir / "bbbc039"
