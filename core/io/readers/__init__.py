"""One reader layer for what microscopes write: `open_source(path)` returns an ImageSource whatever library
reads the format (see each module's note); heavy libraries are imported only when such a file is opened."""

from __future__ import annotations

import importlib
from pathlib import Path

from core.errors import ImageReadError
from core.io.readers.source import ImageSource, PlaneAddress, Scene

__all__ = ["ImageSource", "PlaneAddress", "Scene", "SOURCE_EXTENSIONS", "is_source_path", "open_source"]

_READERS = {  # extension -> (module, class, the package that reads it)
    ".tif": ("tiff_source", "TiffSource", "tifffile"), ".tiff": ("tiff_source", "TiffSource", "tifffile"),
    ".btf": ("tiff_source", "TiffSource", "tifffile"), ".czi": ("czi_source", "CziSource", "pylibCZIrw"),
    ".nd2": ("nd2_source", "Nd2Source", "nd2"), ".lif": ("lif_source", "LifSource", "liffile"),
    ".zarr": ("zarr_source", "ZarrSource", "zarr"),
    ".png": ("plain_source", "PlainSource", "pillow"), ".jpg": ("plain_source", "PlainSource", "pillow"),
    ".jpeg": ("plain_source", "PlainSource", "pillow"), ".bmp": ("plain_source", "PlainSource", "pillow"),
}
SOURCE_EXTENSIONS = tuple(_READERS)


def is_source_path(path: str | Path) -> bool:
    """Whether `open_source` reads this path (a file, or a .zarr / .ome.zarr folder), judged by its name."""
    return Path(path).suffix.lower() in _READERS


def open_source(path: str | Path) -> ImageSource:
    """Open a micrograph for reading its planes. Raises ImageReadError naming the file and the problem."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _READERS:
        raise ImageReadError(f"SegLab does not read {suffix or 'extension-less'} files; it reads "
                             f"{', '.join(SOURCE_EXTENSIONS)}", path)
    _check_exists(path, folder=suffix == ".zarr")
    module_name, class_name, package = _READERS[suffix]
    try:
        return getattr(importlib.import_module(f"core.io.readers.{module_name}"), class_name)(path)
    except ImageReadError:
        raise
    except ImportError as exc:
        raise ImageReadError(f"reading {suffix} files needs the package {package}, which is missing or broken "
                             f"({exc}); reinstall SegLab or run: pip install {package}", path) from None
    except Exception as exc:  # each library raises its own types for broken or foreign files
        raise ImageReadError(f"not a readable {suffix[1:].upper()} file (corrupt, truncated or another format?): "
                             f"{type(exc).__name__}: {exc}", path) from None


def _check_exists(path: Path, folder: bool) -> None:
    if not path.exists():
        raise ImageReadError("file not found", path)
    if folder and not path.is_dir():
        raise ImageReadError("an OME-Zarr image is a folder, but this is a file", path)
    if not folder and not path.is_file():
        raise ImageReadError("not a file", path)
    if not folder and path.stat().st_size == 0:
        raise ImageReadError("empty file (0 bytes); copy it again from its source", path)
