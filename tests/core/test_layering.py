"""The layers hold: the import-linter contracts in pyproject.toml (core never imports the window, Qt widgets or
pyqtgraph; core/io never imports core/data; no cycles inside core; gui feature folders independent) and, at run
time, importing every core module loads no widget library."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_import_contracts_are_kept():
    """The same check as `lint-imports` from the repository root; the output names every broken import."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports)], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_importing_every_core_module_loads_no_widgets():
    modules = [".".join(p.relative_to(REPO).with_suffix("").parts) for p in (REPO / "core").rglob("*.py")]
    code = ("import sys, importlib\n"
            f"for name in {sorted(m.removesuffix('.__init__') for m in modules)!r}:\n"
            "    importlib.import_module(name)\n"
            "bad = [m for m in sys.modules if m.startswith(('gui', 'PySide6.QtWidgets', 'PySide6.QtGui', 'pyqtgraph'))]\n"
            "print(bad)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_ruff_finds_nothing():
    """Lint and import order (ruff's rules in pyproject.toml) hold for the whole repository."""
    ruff = Path(sys.executable).with_name("ruff")
    result = subprocess.run([str(ruff), "check", "."], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
