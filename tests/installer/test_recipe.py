"""The packaging recipe: relative paths only, resources in, tests and dead weight out, hidden imports that exist,
the Linux desktop entry, and (when a bundle has been built, see installer/README.md) the built app's self-test.

A full PyInstaller build takes about 10 minutes and 5 GB (CUDA torch), too much for CI: set SEGLAB_BUILD_BUNDLE=1
to build here first with the current environment; otherwise the last test checks dist/SegLab when it exists."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

import core
from core.versions import _DISTRIBUTIONS

REPO = Path(__file__).resolve().parents[2]
INSTALLER = REPO / "installer"
SPEC = INSTALLER / "seglab.spec"
BUNDLE = REPO / "dist" / "SegLab"
EXECUTABLE = BUNDLE / ("seglab-cli.exe" if os.name == "nt" else "SegLab")
ABSOLUTE = re.compile(r"^(/\w|~/|[A-Za-z]:[\\/]|\\\\\w)")  # /usr, ~/x, C:\x, \\server


class _Recorded:
    """Stands in for PyInstaller's Analysis, PYZ, EXE, COLLECT and BUNDLE: keeps the arguments."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs
        self.binaries, self.datas, self.pure, self.scripts = [], [], [], []


def _fake_copy_metadata(name):
    """PyInstaller's copy_metadata for environments without PyInstaller: (dist-info folder, its bundle name)."""
    folder = Path(metadata.distribution(name)._path)
    return [(str(folder), folder.name)]


def _fake_collect_dynamic_libs(package, search_patterns=("lib*.so",)):
    """PyInstaller's collect_dynamic_libs, top folder only: (library, package folder) pairs."""
    folder = Path(importlib.util.find_spec(package).origin).parent
    return [(str(path), package) for pattern in search_patterns for path in sorted(folder.glob(pattern))]


@pytest.fixture(scope="module")
def recipe():
    """The spec executed with recording stand-ins; returns its namespace (Analysis call under 'a')."""
    saved_path, saved_modules = list(sys.path), dict(sys.modules)
    if importlib.util.find_spec("PyInstaller") is None:
        hooks = type(sys)("PyInstaller.utils.hooks")
        hooks.copy_metadata = _fake_copy_metadata
        hooks.collect_dynamic_libs = _fake_collect_dynamic_libs
        sys.modules.update({"PyInstaller": type(sys)("PyInstaller"), "PyInstaller.utils": type(sys)("x"),
                            "PyInstaller.utils.hooks": hooks})
    namespace = {"SPECPATH": str(INSTALLER), "__file__": str(SPEC)}
    namespace.update({name: _Recorded for name in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE")})
    try:
        exec(compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec"), namespace)
    finally:
        sys.path[:] = saved_path
        for name in set(sys.modules) - set(saved_modules):
            if name.startswith("PyInstaller"):
                del sys.modules[name]
    return namespace


def _bundled(recipe) -> dict[Path, str]:
    """Source file -> folder in the bundle, for the data files the recipe adds."""
    return {Path(source): folder for source, folder in recipe["a"].kwargs["datas"]}


def test_recipes_name_no_absolute_path():
    for string in (node.value for node in ast.walk(ast.parse(SPEC.read_text(encoding="utf-8")))
                   if isinstance(node, ast.Constant) and isinstance(node.value, str)):
        assert not ABSOLUTE.match(string), f"absolute path {string!r} in {SPEC.name}"
    assert "Path(SPECPATH)" in SPEC.read_text(encoding="utf-8")
    for line in (INSTALLER / "windows" / "seglab.iss").read_text(encoding="utf-8").splitlines():
        if line.startswith(("Source:", "SourceDir", "OutputDir", "SetupIconFile", "LicenseFile")):
            assert not re.search(r"\"[A-Za-z]:\\", line), line


def test_recipe_bundles_resources_and_leaves_tests_and_pickles_out(recipe):
    analysis = recipe["a"].kwargs
    assert [Path(script) for script in recipe["a"].args[0]] == [REPO / "main.py"]
    assert [Path(path) for path in analysis["pathex"]] == [REPO]
    bundled = _bundled(recipe)
    resources = {path for path in bundled if REPO / "resources" in path.parents}
    expected = {path for path in (REPO / "resources").rglob("*") if path.is_file()
                and path.suffix not in {".pt", ".pth", ".ckpt", ".pkl"} and "__pycache__" not in path.parts}
    assert resources == expected
    for needed in ("icons/seglab.svg", "palette.json", "sample/seglab.json"):
        assert REPO / "resources" / needed in resources
    assert sum(1 for path in resources if "sample" in path.parts and path.suffix == ".tif") >= 1
    starter = REPO / "resources" / "starter_model.safetensors"
    assert (starter in resources) == starter.exists()
    for path in resources:  # the same layout inside the bundle: core.resources finds them under _MEIPASS
        assert bundled[path] == path.parent.relative_to(REPO).as_posix()
    assert not any(REPO / "tests" in path.parents for path in bundled)
    assert {"tests", "benchmarks", "triton", "pytest"} <= set(analysis["excludes"])


def test_recipe_carries_the_metadata_the_self_test_reports(recipe):
    folders = {Path(source).name.lower() for source, _ in recipe["a"].kwargs["datas"]}
    for key, distributions in _DISTRIBUTIONS.items():
        installed = [name for name in distributions if _installed(name)]
        if installed:
            wanted = metadata.distribution(installed[0])._path.name.lower()
            assert wanted in folders, f"{key}: {wanted} is not bundled, the frozen app would not know its version"


def _installed(name: str) -> bool:
    try:
        metadata.distribution(name)
        return True
    except metadata.PackageNotFoundError:
        return False


def test_torchvision_operators_are_bundled(recipe):
    """torchvision opens _C_stable by path; without it importing torchvision.ops fails in the frozen app."""
    binaries = {Path(source).name: folder for source, folder in recipe["a"].kwargs["binaries"]}
    operators = [name for name in binaries if name.startswith("_C_stable")]
    assert operators and all(binaries[name] == "torchvision" for name in operators)


def test_every_hidden_import_can_be_found(recipe):
    assert recipe["HIDDEN_IMPORTS"]
    for name in recipe["HIDDEN_IMPORTS"]:
        assert importlib.util.find_spec(name) is not None, name


def test_dead_weight_filter_keeps_what_torch_links(recipe):
    is_dead = recipe["is_dead"]
    for dead in ("nvidia/cu13/lib/libcusolverMg.so.12", "nvidia/cu13/lib/libnvrtc.alt.so.13",
                 "torch/bin/protoc-3.21.12.0", "torch/include/ATen/Tensor.h"):
        assert is_dead(dead), dead
    for kept in ("nvidia/cu13/lib/libcusolver.so.12", "nvidia/cu13/lib/libnvrtc.so.13",
                 "nvidia/cu13/lib/libnvrtc-builtins.so.13.0", "torch/lib/libtorch_cuda.so",
                 "nvidia/cudnn/lib/libcudnn_engines_precompiled.so.9", "torch/bin/torch_shm_manager"):
        assert not is_dead(kept), kept


def _build_script():
    spec = importlib.util.spec_from_file_location("seglab_build_script", INSTALLER / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_build_script_installs_what_pyproject_lists():
    torch, others, installer = _build_script().requirements()
    assert sorted(re.match(r"[a-z]+", r).group() for r in torch) == ["torch", "torchvision"]
    assert any(r.startswith("PySide6") for r in others) and not any(r.startswith("torch") for r in others)
    assert any(r.startswith("pyinstaller") for r in installer)


def test_inno_setup_script_matches_the_version_and_the_bundle():
    script = (INSTALLER / "windows" / "seglab.iss").read_text(encoding="utf-8")
    assert re.search(r'#define AppVersion "([^"]+)"', script).group(1) == core.__version__
    assert r"..\..\dist\SegLab\*" in script
    assert (INSTALLER / "windows" / "seglab.ico").is_file()


@pytest.mark.skipif(os.name == "nt", reason="a POSIX shell script")
def test_desktop_entry_installs_and_uninstalls(tmp_path):
    app = tmp_path / "SegLab app"
    app.mkdir()
    (app / "SegLab").write_text("#!/bin/sh\n")
    (app / "SegLab").chmod(0o755)
    home = tmp_path / "home"
    environment = dict(os.environ, HOME=str(home), XDG_DATA_HOME=str(home / "share"))
    script = INSTALLER / "linux" / "install-desktop-entry.sh"
    subprocess.run(["sh", str(script), str(app)], env=environment, check=True, capture_output=True)

    entry = (home / "share" / "applications" / "seglab.desktop").read_text()
    assert f"Exec={app}/SegLab %f" in entry.splitlines() and "@APP_DIR@" not in entry
    assert "Icon=seglab" in entry.splitlines()
    icon = home / "share" / "icons" / "hicolor" / "256x256" / "apps" / "seglab.png"
    assert icon.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (home / ".local" / "bin" / "seglab").resolve() == (app / "SegLab").resolve()

    subprocess.run(["sh", str(script), "--uninstall"], env=environment, check=True, capture_output=True)
    assert not (home / "share" / "applications" / "seglab.desktop").exists() and not icon.exists()
    assert (app / "SegLab").exists()


def test_built_app_passes_its_self_test(tmp_path):
    if os.environ.get("SEGLAB_BUILD_BUNDLE") == "1":
        subprocess.run([sys.executable, str(INSTALLER / "build.py"), "--venv", sys.prefix], check=True)
    if not EXECUTABLE.exists():
        pytest.skip("no built bundle in dist/SegLab: build it by hand (installer/README.md) or set "
                    "SEGLAB_BUILD_BUNDLE=1")
    environment = dict(os.environ, QT_QPA_PLATFORM="offscreen", SEGLAB_DATA_HOME=str(tmp_path / "data"))
    version = subprocess.run([str(EXECUTABLE), "--version"], env=environment, capture_output=True, text=True,
                             timeout=120)
    assert version.returncode == 0 and version.stdout.strip() == f"SegLab {core.__version__}"
    result = subprocess.run([str(EXECUTABLE), "--self-test"], env=environment, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "All checks passed."
    assert not any("not installed" in line for line in lines), result.stdout  # versions come from bundled metadata
