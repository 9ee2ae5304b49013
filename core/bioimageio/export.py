"""Export a SegLab model as a BioImage.IO model package (rdf.yaml, format 0.5) in one .zip.

    export_package("cells.safetensors", "cells.bioimageio.zip", ExportDetails("Cells", ("Ada Lovelace",)))

The package holds the weights as ONNX (SegLab's own checked export) and TorchScript, the state dict with a
library architecture for segmentation-models-pytorch networks (SegLab's classic U-Net, U²-Net and FCN-8s live
in SegLab's code, which the spec cannot reference), SegLab's model file as an attachment (to fine-tune from),
test tensors computed by SegLab's predictor, a README and a cover. Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from core.bioimageio.export_files import readme, sample_tensors, training_image, write_cover
from core.bioimageio.importing import SEGLAB_MODEL_ATTACHMENT
from core.bioimageio.preprocessing import seglab_preprocessing
from core.errors import ConfigError, ModelFileError
from core.inference.onnx_backend import OPSET, MainOutput, OnnxUnavailable, export_onnx
from core.inference.predictor import size_multiple
from core.io.atomic import atomic_path
from core.io.images import read_image
from core.models.model_file import load_model_file
from core.models.registry import model_info
from core.models.spec import ModelSpec

FORMAT_VERSION = "0.5.4"
"""Written format: read by bioimageio.spec 0.5.4 and later, ilastik, deepImageJ and QuPath of 2025."""
TOLERANCE = {"relative_tolerance": 1e-3, "absolute_tolerance": 1e-4, "mismatched_elements_per_million": 100}
"""What the test output may differ by when another runtime reproduces it (probabilities in [0, 1])."""
CITATIONS = {
    "unet": ("Ronneberger et al. U-Net, MICCAI 2015", "10.1007/978-3-319-24574-4_28"),
    "unet_classic": ("Ronneberger et al. U-Net, MICCAI 2015", "10.1007/978-3-319-24574-4_28"),
    "unetplusplus": ("Zhou et al. UNet++, DLMIA 2018", "10.1007/978-3-030-00889-5_1"),
    "deeplabv3plus": ("Chen et al. DeepLabv3+, ECCV 2018", "10.1007/978-3-030-01234-2_49"),
    "fpn": ("Lin et al. Feature Pyramid Networks, CVPR 2017", "10.1109/CVPR.2017.106"),
    "linknet": ("Chaurasia and Culurciello. LinkNet, VCIP 2017", "10.1109/VCIP.2017.8305148"),
    "manet": ("Fan et al. MA-Net, IEEE Access 2020", "10.1109/ACCESS.2020.3025372"),
    "pspnet": ("Zhao et al. Pyramid Scene Parsing Network, CVPR 2017", "10.1109/CVPR.2017.660"),
    "pan": ("Li et al. Pyramid Attention Network, BMVC 2018", "10.48550/arXiv.1805.10180"),
    "upernet": ("Xiao et al. Unified Perceptual Parsing, ECCV 2018", "10.1007/978-3-030-01228-1_26"),
    "segformer": ("Xie et al. SegFormer, NeurIPS 2021", "10.48550/arXiv.2105.15203"),
    "u2net": ("Qin et al. U2-Net, Pattern Recognition 2020", "10.1016/j.patcog.2020.107404"),
    "fcn8s": ("Long et al. Fully Convolutional Networks, CVPR 2015", "10.1109/CVPR.2015.7298965"),
}
TRACE_CHECK = 1e-4
"""Largest difference allowed between the traced TorchScript network and the model on another tile size."""

ExportProgress = Callable[[int, int, str], None]
"""progress(step, steps, what is being done)."""


@dataclass(frozen=True)
class ExportDetails:
    """What SegLab cannot know: the package's name, its authors and its licence (an SPDX id)."""

    name: str
    authors: tuple[str, ...]
    license: str = "CC-BY-4.0"
    description: str = ""
    sample_image: str | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self):
        if not self.name.strip():
            raise ConfigError("the package needs a name")
        if not any(author.strip() for author in self.authors):
            raise ConfigError("a BioImage.IO package names at least one author; give one (--author NAME)")
        if not self.license.strip() or " " in self.license.strip():
            raise ConfigError(f"licence {self.license!r} is not an SPDX identifier such as CC-BY-4.0 or MIT")


def export_package(model_path: str | Path, output: str | Path, details: ExportDetails,
                   progress: ExportProgress | None = None) -> Path:
    """Write the package zip at `output` ('.zip' appended when missing; atomically) and return its path."""
    steps = ["reading the model", "predicting the test image", "exporting ONNX", "tracing TorchScript",
             "writing the package"]
    report = progress or (lambda step, total, what: None)
    report(0, len(steps), steps[0])
    model_path, output = Path(model_path), Path(output)
    output = output if output.suffix.lower() == ".zip" else output.with_name(output.name + ".zip")
    model, spec = load_model_file(model_path, "cpu")
    sample = Path(details.sample_image) if details.sample_image else training_image(spec)
    report(1, len(steps), steps[1])
    tensors = sample_tensors(model, spec, read_image(sample), size_multiple(spec))
    with tempfile.TemporaryDirectory(prefix="seglab-bioimageio-") as scratch:
        folder = Path(scratch)
        report(2, len(steps), steps[2])
        try:
            export_onnx(model, spec.in_channels, folder / "weights.onnx")
        except OnnxUnavailable as exc:
            raise ModelFileError(f"cannot be exported as ONNX ({exc})", model_path) from None
        report(3, len(steps), steps[3])
        notes = _torchscript(model, tensors.input, folder / "weights_torchscript.pt")
        weights = _weights(model, spec, folder, notes)
        np.save(folder / "test_input.npy", tensors.input)
        np.save(folder / "test_output.npy", tensors.output)
        write_cover(folder / "cover.png", spec, tensors)
        description = details.description or _description(spec)
        (folder / "README.md").write_text(readme(details.name, description, spec, list(weights), notes), "utf-8")
        (folder / SEGLAB_MODEL_ATTACHMENT).write_bytes(model_path.read_bytes())
        rdf = package_description(details, description, spec, tensors, weights, folder)
        report(4, len(steps), steps[4])
        _write_zip(folder, rdf, output)
    report(len(steps), len(steps), "done")
    return output


def package_description(details: ExportDetails, description: str, spec: ModelSpec, tensors, weights: dict,
                        folder: Path) -> dict:
    """The rdf.yaml content (format 0.5) with the sha256 of every file in `folder` it names."""
    step = size_multiple(spec)
    multi = spec.out_channels > 1
    channel_names = spec.classes.names if multi else [spec.classes.names[-1]]
    input_dtype = str(tensors.input.dtype)
    preprocessing = seglab_preprocessing(spec.normalisation, tensors.input.dtype)
    citation = CITATIONS.get(spec.architecture)

    def file(name: str) -> dict:
        return {"source": name, "sha256": hashlib.sha256((folder / name).read_bytes()).hexdigest()}

    return {
        "type": "model", "format_version": FORMAT_VERSION, "name": details.name, "description": description,
        "authors": [{"name": author.strip()} for author in details.authors if author.strip()],
        "license": details.license.strip(), "documentation": "README.md", "covers": ["cover.png"],
        "cite": [{"text": citation[0], "doi": citation[1]}] if citation else [
            {"text": "Ronneberger et al. U-Net, MICCAI 2015", "doi": "10.1007/978-3-319-24574-4_28"}],
        "tags": sorted({"segmentation", "semantic-segmentation", "2d", "seglab", "pytorch", "onnx",
                        spec.architecture, *details.tags}),
        "attachments": [file(SEGLAB_MODEL_ATTACHMENT)],
        "inputs": [{
            "id": "image", "description": "image, channels first; normalised per channel as SegLab does",
            "axes": [{"type": "batch"},
                     {"type": "channel", "channel_names": [f"channel{i}" for i in range(spec.in_channels)]},
                     {"type": "space", "id": "y", "size": {"min": step, "step": step}},
                     {"type": "space", "id": "x", "size": {"min": step, "step": step}}],
            "test_tensor": file("test_input.npy"), "data": {"type": input_dtype},
            "preprocessing": preprocessing}],
        "outputs": [{
            "id": "probabilities",
            "description": ("class probabilities; the class of a pixel is the argmax over the channels" if multi
                            else f"probability of {channel_names[0]}; foreground where it exceeds 0.5"),
            "axes": [{"type": "batch"}, {"type": "channel", "channel_names": channel_names},
                     {"type": "space", "id": "y", "size": {"tensor_id": "image", "axis_id": "y"}},
                     {"type": "space", "id": "x", "size": {"tensor_id": "image", "axis_id": "x"}}],
            "test_tensor": file("test_output.npy"), "data": {"type": "float32", "range": [0.0, 1.0]},
            "postprocessing": [{"id": "softmax", "kwargs": {"axis": "channel"}} if multi else {"id": "sigmoid"}]}],
        "weights": {name: {**file(entry.pop("source")), **entry} for name, entry in weights.items()},
        "config": {"bioimageio": {"reproducibility_tolerance": [TOLERANCE]},
                   "seglab": {"architecture": spec.architecture, "encoder": spec.encoder,
                              "classes": spec.classes.to_json(), "normalisation": spec.normalisation.to_json(),
                              "version": spec.versions.get("seglab", "")}},
    }


def _description(spec: ModelSpec) -> str:
    classes = ", ".join(spec.classes.names)
    return f"Semantic segmentation ({classes}) with a {spec.architecture} network trained in SegLab."


def _torchscript(model: torch.nn.Module, example: np.ndarray, path: Path) -> list[str]:
    """Trace the network; when the trace does not generalise to another tile size, leave it out and say so."""
    wrapped = MainOutput(model).eval()
    sample = torch.from_numpy(example.astype(np.float32))
    other = torch.randn(1, sample.shape[1], sample.shape[2] * 2, sample.shape[3], generator=torch.manual_seed(0))
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # torch marks tracing deprecated in favour of torch.export; TorchScript is what the format names.
            warnings.filterwarnings("ignore", category=FutureWarning, message=r".*torch\.jit\.trace.*")
            traced = torch.jit.trace(wrapped, sample, check_trace=False)
            difference = float((traced(other) - wrapped(other)).abs().max())
    except Exception as exc:  # tracing raises many types for dynamic models
        return [f"TorchScript weights left out: tracing failed ({type(exc).__name__}: {exc})"]
    if not difference <= TRACE_CHECK:
        return [f"TorchScript weights left out: the traced network differs by {difference:.2g} on another size"]
    traced.save(str(path))
    return []


def _weights(model: torch.nn.Module, spec: ModelSpec, folder: Path, notes: list[str]) -> dict:
    """Weight entries (sources relative to `folder`): the state dict is the parent when the spec can hold it."""
    version = torch.__version__.split("+")[0]
    weights: dict[str, dict] = {}
    parent = None
    if model_info(spec.architecture).family == "smp":
        torch.save(model.state_dict(), folder / "weights_state_dict.pt")
        weights["pytorch_state_dict"] = {
            "source": "weights_state_dict.pt", "pytorch_version": version,
            "architecture": {"callable": "create_model", "import_from": "segmentation_models_pytorch",
                             "kwargs": {"arch": spec.architecture, "encoder_name": spec.encoder,
                                        "encoder_weights": None, "in_channels": spec.in_channels,
                                        "classes": spec.out_channels}}}
        parent = "pytorch_state_dict"
    else:
        notes.append(f"No pytorch_state_dict weights: the {spec.architecture} network is defined in SegLab's code, "
                     f"which the format cannot reference; SegLab's model file ({SEGLAB_MODEL_ATTACHMENT}) is attached")
    if (folder / "weights_torchscript.pt").is_file():
        weights["torchscript"] = {"source": "weights_torchscript.pt", "pytorch_version": version,
                                  **({"parent": parent} if parent else {})}
        parent = parent or "torchscript"
    weights["onnx"] = {"source": "weights.onnx", "opset_version": OPSET, **({"parent": parent} if parent else {})}
    return weights


def _write_zip(folder: Path, rdf: dict, output: Path) -> None:
    import yaml

    (folder / "rdf.yaml").write_text(yaml.safe_dump(rdf, sort_keys=False, allow_unicode=True), "utf-8")
    output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(output) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, path.name)
