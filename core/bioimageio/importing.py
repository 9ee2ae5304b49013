"""Running a BioImage.IO package on SegLab's tiled engine, and opening whatever the user names as a model.

    predictor = load_predictor("unet2d_nuclei_broad/bioimageio.yaml")   # or a .zip, a folder, a .safetensors
    mask = predictor.predict(image)

The package's own preprocessing is applied over the whole image (as SegLab does for its models), its ONNX or
TorchScript weights run tile by tile with blended seams, and its output becomes classes (a one-channel
probability: background and foreground; several channels: the argmax).
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

from core.bioimageio.package import Package, is_package, read_package
from core.classes import ClassTable
from core.errors import ConfigError, ModelFileError
from core.inference import PredictOptions, Predictor
from core.models.spec import ModelSpec

SEGLAB_MODEL_ATTACHMENT = "seglab_model.safetensors"
"""The SegLab model file inside packages SegLab exports: what fine-tuning starts from."""


def load_predictor(path: str | Path, options: PredictOptions | None = None) -> Predictor:
    """A Predictor for a SegLab model file or a BioImage.IO package (rdf.yaml, bioimageio.yaml, folder, .zip)."""
    if is_package(path):
        return package_predictor(path, options)
    return Predictor.from_file(path, options)


def package_predictor(path: str | Path, options: PredictOptions | None = None,
                      classes: ClassTable | None = None) -> Predictor:
    """A Predictor running the package; `classes` renames and recolours its outputs (same count)."""
    package = read_package(path)
    spec = package_spec(package, classes)
    return Predictor(package.network(), spec, fitted_options(package, options or PredictOptions()))


def package_spec(package: Package, classes: ClassTable | None = None) -> ModelSpec:
    """The ModelSpec SegLab shows and predicts with for a package (its preprocessing as normalisation)."""
    table = classes or package.classes
    wanted = 2 if package.out_channels == 1 else package.out_channels
    if len(table) != wanted:
        raise ConfigError(f"{package.name} predicts {wanted} classes but {len(table)} class names were given")
    return ModelSpec(architecture="bioimageio", in_channels=package.in_channels, classes=table,
                     out_channels=package.out_channels, normalisation=package.preprocessing,
                     training={"bioimageio_package": str(package.path), "name": package.name})


def fitted_options(package: Package, options: PredictOptions) -> PredictOptions:
    """Tiles no larger than a fixed network input, and overlapping by at least both halos."""
    tile = options.tile_size
    if package.size_y.step == 0 or package.size_x.step == 0:
        tile = min(tile, *(s.minimum for s in (package.size_y, package.size_x) if s.step == 0))
    overlap = min(max(options.overlap, 2 * package.halo), tile // 2)
    return dataclasses.replace(options, tile_size=tile, overlap=overlap)


def seglab_model_from_package(path: str | Path, folder: str | Path | None = None) -> Path:
    """The SegLab model file a package carries (SegLab's own exports do), written to `folder` (default: a new
    temporary folder), to fine-tune from. Packages from elsewhere carry only their network as ONNX or
    TorchScript, which SegLab can run but not train: ModelFileError says so."""
    package = read_package(path)
    attachments = [str(a.get("source", "")) for a in package.rdf.get("attachments") or []]
    if SEGLAB_MODEL_ATTACHMENT not in attachments:
        described = ((package.rdf.get("config") or {}).get("seglab") or {}).get("architecture")
        raise ModelFileError(
            f"cannot be fine-tuned: its network ({described or 'an architecture SegLab does not know'}) comes "
            f"only as {' and '.join(package.formats)} weights, which SegLab runs but cannot train; train a SegLab "
            "model on your data instead", package.path)
    target = Path(folder or tempfile.mkdtemp(prefix="seglab-package-")) / SEGLAB_MODEL_ATTACHMENT
    target.write_bytes(package.files.read(SEGLAB_MODEL_ATTACHMENT))
    return target
