"""core/ is the engine: it never imports the window (gui/), Qt widgets, QtGui or pyqtgraph, so it runs
headless and in tests without a display. Only core/training/worker.py may use QtCore."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

FORBIDDEN = ("gui", "PySide6.QtWidgets", "PySide6.QtGui", "pyqtgraph", "PySide6.QtPrintSupport")
QTCORE_ALLOWED = {"core/training/worker.py", "core/selftest.py"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_core_source_imports_no_gui_and_no_widgets():
    offenders = []
    for path in sorted((REPO / "core").rglob("*.py")):
        relative = path.relative_to(REPO).as_posix()
        for name in imported_modules(path):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN):
                offenders.append(f"{relative}: {name}")
            if name.startswith("PySide6") and relative not in QTCORE_ALLOWED and name != "PySide6.QtCore":
                offenders.append(f"{relative}: {name}")
            if name == "PySide6.QtCore" and relative not in QTCORE_ALLOWED:
                offenders.append(f"{relative}: QtCore outside the allowed adapter")
    assert offenders == []


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
