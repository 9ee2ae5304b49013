"""Build SegLab as a one-folder application with PyInstaller, from a clean checkout.

    python3.11 installer/build.py                  # build/venv with SegLab's dependencies + PyInstaller, then build
    python3.11 installer/build.py --venv .venv     # use an existing environment (PyInstaller is added if missing)
    python3.11 installer/build.py --torch-index https://download.pytorch.org/whl/cpu   # CPU-only torch: small bundle
    python3.11 installer/build.py --check          # afterwards, run the built app's --self-test

Result: dist/SegLab/ (SegLab, or SegLab.exe + seglab-cli.exe on Windows) and dist/SegLab.app on macOS.
Only the standard library is used here, so any Python 3.11+ can run this script.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "installer" / "seglab.spec"
DIST = ROOT / "dist"
WORK = ROOT / "build" / "pyinstaller"
DEFAULT_VENV = ROOT / "build" / "venv"
APP_NAME = "SegLab"
TORCH_PACKAGES = ("torch", "torchvision")
LINUX_DESKTOP_FILES = ("seglab.desktop", "seglab.png", "install-desktop-entry.sh")


def venv_python(folder: Path) -> Path:
    return folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def requirements() -> tuple[list[str], list[str], list[str]]:
    """(torch and torchvision, SegLab's other dependencies, the `installer` extra), as pyproject.toml lists them."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    dependencies = project["dependencies"]
    torch = [r for r in dependencies if re.match(r"[A-Za-z0-9_.-]+", r).group() in TORCH_PACKAGES]
    others = [r for r in dependencies if r not in torch]
    return torch, others, project["optional-dependencies"]["installer"]


def run(command: list, **kwargs) -> None:
    print("+", " ".join(str(part) for part in command), flush=True)
    subprocess.run([str(part) for part in command], check=True, **kwargs)


def prepare_environment(folder: Path, torch_index: str | None, install: bool) -> Path:
    """The build environment's Python, created and filled with SegLab's dependencies when asked to."""
    python = venv_python(folder)
    if not python.exists():
        print(f"creating the build environment {folder}", flush=True)
        venv.create(folder, with_pip=True)
        install = True
    torch_reqs, other_reqs, installer_reqs = requirements()
    if install:
        index = ["--index-url", torch_index] if torch_index else []
        run([python, "-m", "pip", "install", *index, *torch_reqs])  # first, so a CPU-only torch is kept
        run([python, "-m", "pip", "install", *other_reqs, *installer_reqs])
    elif subprocess.run([str(python), "-c", "import PyInstaller"], capture_output=True).returncode != 0:
        run([python, "-m", "pip", "install", *installer_reqs])
    return python


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def describe_bundle(app: Path, top: int = 12) -> None:
    """Total size and the largest folders inside the bundle's _internal/ (two levels deep)."""
    internal = app / "_internal" if (app / "_internal").is_dir() else app
    sizes: dict[Path, int] = {}
    for path in internal.rglob("*"):
        if path.is_file() and not path.is_symlink():
            relative = path.relative_to(internal)
            key = Path(*relative.parts[:2]) if len(relative.parts) > 2 else relative
            sizes[key] = sizes.get(key, 0) + path.stat().st_size
    print(f"bundle {app}: {folder_size(app) / 1e9:.2f} GB")
    for key, size in sorted(sizes.items(), key=lambda item: -item[1])[:top]:
        print(f"  {size / 1e6:9.1f} MB  {key}")


def add_desktop_entry_files(app: Path) -> None:
    """Linux: the .desktop template, its icon and the script that installs them go beside the executable."""
    if sys.platform.startswith("linux"):
        for name in LINUX_DESKTOP_FILES:
            shutil.copy2(ROOT / "installer" / "linux" / name, app / name)


def built_executable() -> Path:
    name = "seglab-cli.exe" if os.name == "nt" else APP_NAME
    return DIST / APP_NAME / name


def self_test() -> int:
    """Run the built application's --self-test offscreen; its exit code."""
    environment = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run([str(built_executable()), "--self-test"], env=environment).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV,
                        help="build environment (default: build/venv, created and filled when missing)")
    parser.add_argument("--install", action="store_true",
                        help="(re)install SegLab's dependencies into an existing --venv before building")
    parser.add_argument("--torch-index", metavar="URL",
                        help="package index for torch and torchvision, e.g. https://download.pytorch.org/whl/cpu")
    parser.add_argument("--check", action="store_true", help="run the built application's --self-test afterwards")
    args = parser.parse_args(argv)

    python = prepare_environment(args.venv.resolve(), args.torch_index,
                                 install=args.install or args.torch_index is not None)
    shutil.rmtree(DIST / APP_NAME, ignore_errors=True)
    start = time.perf_counter()
    run([python, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
         "--distpath", DIST, "--workpath", WORK, SPEC], cwd=ROOT)
    print(f"PyInstaller took {time.perf_counter() - start:.0f} s")
    shutil.rmtree(WORK, ignore_errors=True)  # analysis caches: --clean never reuses them
    add_desktop_entry_files(DIST / APP_NAME)
    describe_bundle(DIST / APP_NAME)
    if args.check:
        code = self_test()
        print(f"self-test of the built application: exit code {code}")
        return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
