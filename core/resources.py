"""Where the bundled resources (sample data, starter model, icons, palette) live, installed or frozen."""

from __future__ import annotations

import sys
from pathlib import Path


def resources_dir() -> Path:
    """The top-level resources/ folder, also inside a PyInstaller bundle."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    root = Path(frozen_root) if frozen_root else Path(__file__).resolve().parent.parent
    return root / "resources"


def resource_path(*parts: str) -> Path:
    """A path inside resources/ (it may not exist; callers check)."""
    return resources_dir().joinpath(*parts)
