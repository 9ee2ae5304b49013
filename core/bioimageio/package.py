"""Reading a BioImage.IO model package (format 0.5): a folder, a .zip, or its rdf.yaml / bioimageio.yaml.

The description is read with PyYAML and checked here for what SegLab can run: one 2D input, one output of
per-class scores the size of the input, ONNX or TorchScript weights inside the package. Everything else is
refused with a ModelFileError that names the package and the reason. URLs in a package are never followed:
weights that are only a URL count as absent. (bioimageio.spec validates in full but brings pydantic, httpx
and network look-ups; SegLab only needs these few fields at run time.)
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from core.bioimageio.preprocessing import PackagePreprocessing
from core.classes import ClassTable
from core.errors import ConfigError, ModelFileError
from core.inference.external_runner import RUNNABLE_FORMATS, AxisSize, ExternalNetwork

RDF_NAMES = ("rdf.yaml", "bioimageio.yaml")
INSTANCE_STEPS = ("stardist_postprocessing", "cellpose_flow_dynamics")
OUTPUT_STEPS = ("ensure_dtype", "sigmoid", "softmax", "binarize", "clip")


def is_package(path: str | Path) -> bool:
    """True for a .zip, a folder with an rdf.yaml / bioimageio.yaml, or such a YAML file."""
    path = Path(path)
    if path.is_dir():
        return any((path / name).is_file() for name in RDF_NAMES) or any(path.glob("*.bioimageio.yaml"))
    return path.suffix.lower() in (".zip", ".yaml", ".yml")


class PackageFiles:
    """The files of a package, read by their names in the description, from a folder or a zip."""

    def __init__(self, path: Path):
        self.path = path
        self._zip = path.suffix.lower() == ".zip"
        if path.is_file() and not self._zip:  # an rdf.yaml: its folder holds the files
            self.folder, self.rdf_name = path.parent, path.name
        else:
            self.folder, self.rdf_name = path, self._find_rdf()

    def read(self, name: str) -> bytes:
        if "://" in name:
            raise ModelFileError(f"refers to {name}, a URL; SegLab does not download, so the file must be "
                                 "inside the package", self.path)
        try:
            if self._zip:
                with zipfile.ZipFile(self.path) as archive:
                    return archive.read(name)
            return (self.folder / name).read_bytes()
        except (KeyError, OSError, zipfile.BadZipFile) as exc:
            raise ModelFileError(f"lacks {name}, a file its description names ({exc})", self.path) from None

    def has(self, name: str) -> bool:
        if "://" in name:
            return False
        if self._zip:
            with zipfile.ZipFile(self.path) as archive:
                return name in archive.namelist()
        return (self.folder / name).is_file()

    def _find_rdf(self) -> str:
        try:
            if self._zip:
                with zipfile.ZipFile(self.path) as archive:
                    names = archive.namelist()
            else:
                names = [p.name for p in self.path.iterdir()]
        except (OSError, zipfile.BadZipFile) as exc:
            raise ModelFileError(f"cannot be opened as a BioImage.IO package ({exc})", self.path) from None
        found = [n for n in RDF_NAMES if n in names] + sorted(n for n in names if n.endswith(".bioimageio.yaml"))
        if not found:
            raise ModelFileError("is not a BioImage.IO package: it has no rdf.yaml or bioimageio.yaml", self.path)
        return found[0]


@dataclass(frozen=True)
class Package:
    """What SegLab uses of a model package; built by read_package, which checks it."""

    path: Path
    rdf: dict
    files: PackageFiles
    input_axes: str
    output_axes: str
    in_channels: int
    out_channels: int
    output_names: tuple[str, ...]
    size_y: AxisSize
    size_x: AxisSize
    halo: int
    preprocessing: PackagePreprocessing
    activation: str
    threshold: float
    weights: dict

    @property
    def name(self) -> str:
        return str(self.rdf.get("name") or self.path.stem)

    @property
    def formats(self) -> tuple[str, ...]:
        return tuple(f for f in RUNNABLE_FORMATS if f in self.weights)

    @property
    def stored_classes(self) -> list | None:
        """The class table SegLab stores in its own exports (JSON); None in packages from elsewhere, which
        name only their output channels (e.g. one "probability")."""
        return ((self.rdf.get("config") or {}).get("seglab") or {}).get("classes") or None

    @cached_property
    def classes(self) -> ClassTable:
        """SegLab's own class table when SegLab wrote the package, else named after the output channels."""
        if self.stored_classes:
            return ClassTable.from_json(self.stored_classes)
        names = ["background", *self.output_names] if self.out_channels == 1 else list(self.output_names)
        return ClassTable.from_names(names)

    def network(self) -> ExternalNetwork:
        return ExternalNetwork(self.name, self.formats, self.read_weights, self.size_y, self.size_x,
                               self.activation, self.threshold, self.input_axes, self.output_axes)

    def read_weights(self, weights_format: str) -> bytes:
        """The weights file's bytes, checked against its sha256 when the description gives one."""
        entry = self.weights[weights_format]
        data = self.files.read(entry["source"])
        expected = entry.get("sha256")
        if expected and hashlib.sha256(data).hexdigest() != expected:
            raise ModelFileError(f"its {weights_format} weights {entry['source']} do not match their sha256; "
                                 "the package is damaged: copy it again", self.path)
        return data


def read_package(path: str | Path) -> Package:
    """Read and check a package; raises ModelFileError naming the package and what SegLab cannot run."""
    import yaml

    path = Path(path)
    if not path.exists():
        raise ModelFileError("not found; check the path of the BioImage.IO package", path)
    files = PackageFiles(path)
    try:
        rdf = yaml.safe_load(files.read(files.rdf_name))
    except yaml.YAMLError as exc:
        raise ModelFileError(f"has a description that is not valid YAML ({exc})", path) from None
    if not isinstance(rdf, dict):
        raise ModelFileError("has an empty or malformed description", path)
    try:
        return _checked(path, files, rdf)
    except ConfigError as exc:
        raise ModelFileError(f"cannot be run by SegLab: {exc.reason}", path) from None


def _checked(path: Path, files: PackageFiles, rdf: dict) -> Package:
    if rdf.get("type") != "model":
        raise ConfigError(f"it is a BioImage.IO {rdf.get('type')!r} description, not a model")
    version = str(rdf.get("format_version", ""))
    if not version.startswith("0.5."):
        raise ConfigError(f"its format is {version or 'unknown'}; SegLab reads format 0.5 (convert it with "
                          "`bioimageio update-format`)")
    inputs, outputs = rdf.get("inputs") or [], rdf.get("outputs") or []
    if len(inputs) != 1 or len(outputs) != 1:
        raise ConfigError(f"it has {len(inputs)} inputs and {len(outputs)} outputs; SegLab runs models with "
                          "one input image and one output")
    source, target = inputs[0], outputs[0]
    input_axes, in_names, sizes = _axes(source, "input")
    output_axes, out_names, _ = _axes(target, "output")
    postprocessing = target.get("postprocessing") or []
    instance = [s["id"] for s in postprocessing if s.get("id") in INSTANCE_STEPS]
    if instance:
        raise ConfigError(f"it segments instances ({instance[0]}); SegLab reads semantic (per-class) outputs")
    if "c" not in output_axes and str((target.get("data") or {}).get("type", "float32")).startswith(("int", "uint")):
        raise ConfigError("it outputs an integer label image (instances or labels); SegLab needs per-class scores")
    _check_output_size(target, source.get("id"))
    activation, threshold = _activation(postprocessing)
    weights = _local_weights(rdf.get("weights") or {}, files)
    return Package(path, rdf, files, input_axes, output_axes, len(in_names), len(out_names), tuple(out_names),
                   sizes["y"], sizes["x"], _halo(target), PackagePreprocessing.from_rdf(source.get("preprocessing")),
                   activation, threshold, weights)


def _axes(tensor: dict, role: str) -> tuple[str, list[str], dict[str, AxisSize]]:
    """The axes as a string over b, c, y, x, the channel names, and the input's y/x size rules."""
    order, channel_names, sizes = "", ["channel0"], {}
    for axis in tensor.get("axes") or []:
        kind = axis.get("type")
        axis_id = axis.get("id") or {"batch": "batch", "channel": "channel"}.get(kind, "x")
        if kind == "batch":
            order += "b"
        elif kind == "channel":
            order += "c"
            channel_names = [str(n) for n in axis.get("channel_names") or []] or ["channel0"]
        elif kind == "space" and axis_id in ("y", "x"):
            order += axis_id
            sizes[axis_id] = _axis_size(axis.get("size"))
        elif kind == "space":
            raise ConfigError(f"its {role} has the space axis {axis_id!r}: it is a 3D model; SegLab runs 2D models")
        else:
            raise ConfigError(f"its {role} has a {kind} axis ({axis_id}); SegLab runs 2D images (y, x, channels)")
    if "y" not in order or "x" not in order:
        raise ConfigError(f"its {role} lacks a y or x axis; SegLab runs 2D images")
    return order, channel_names, sizes


def _axis_size(size) -> AxisSize:
    if isinstance(size, int):
        return AxisSize(size, 0)
    if isinstance(size, dict) and "min" in size:
        return AxisSize(int(size["min"]), int(size.get("step") or 0))
    return AxisSize(1, 1)  # an output size given by reference to the input (checked separately)


def _check_output_size(output: dict, input_id: str | None) -> None:
    for axis in output.get("axes") or []:
        if axis.get("type") != "space":
            continue
        size = axis.get("size")
        same = isinstance(size, dict) and size.get("tensor_id") == input_id and not size.get("offset")
        if not same and not isinstance(size, int):
            raise ConfigError(f"its output axis {axis.get('id', 'x')} is not the size of the input ({size}); "
                              "SegLab needs one score per input pixel")
        if axis.get("scale", 1) != 1:
            raise ConfigError(f"its output axis {axis.get('id', 'x')} is rescaled; SegLab needs the input's pixels")


def _halo(output: dict) -> int:
    return max((int(axis.get("halo") or 0) for axis in output.get("axes") or []), default=0)


def _activation(steps: list[dict]) -> tuple[str, float]:
    activation, threshold = "none", 0.5
    for step in steps:
        name, kwargs = step.get("id"), step.get("kwargs") or {}
        if name not in OUTPUT_STEPS:
            raise ConfigError(f"its postprocessing step {name!r} is not supported (SegLab supports: "
                              f"{', '.join(OUTPUT_STEPS)})")
        if name in ("sigmoid", "softmax"):
            activation = name
        elif name == "binarize":
            threshold = kwargs.get("threshold", 0.5)
            if not isinstance(threshold, (int, float)) or not 0 < threshold < 1 or activation == "none":
                raise ConfigError(f"its binarize step (threshold {threshold}) is not a probability threshold "
                                  "after a sigmoid or softmax; SegLab cannot turn it into classes")
    return activation, float(threshold)


def _local_weights(weights: dict, files: PackageFiles) -> dict:
    """The runnable weights entries whose file is inside the package; refuses when there is none."""
    usable = {f: weights[f] for f in RUNNABLE_FORMATS if f in weights and files.has(str(weights[f].get("source")))}
    if usable:
        return usable
    described = []
    for name, entry in weights.items():
        source = str((entry or {}).get("source", ""))
        why = ("only a URL; SegLab does not download" if "://" in source else
               "missing from the package" if name in RUNNABLE_FORMATS else "a format SegLab cannot run")
        described.append(f"{name} ({why})")
    raise ConfigError(f"it has no weights SegLab can run: {', '.join(described) or 'none'}; SegLab runs onnx and "
                      "torchscript weights stored in the package")
