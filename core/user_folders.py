"""SegLab's own folder for the user's data (per-machine measurements, workspaces of read-only datasets, the
sample), outside any dataset; below core.data and core.inference, which both keep files there."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def user_data_dir() -> Path:
    """SegLab's folder for the user's data: $SEGLAB_DATA_HOME, or the platform's usual place."""
    if os.environ.get("SEGLAB_DATA_HOME"):
        return Path(os.environ["SEGLAB_DATA_HOME"])
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming")) / "SegLab"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "SegLab"
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "SegLab"
