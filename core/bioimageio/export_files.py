"""The content files of an exported package: the sample image, test tensors computed by SegLab's own
predictor, the cover (a real prediction overlay) and the README (training data, metrics, classes)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import ConfigError
from core.inference import PredictOptions, Predictor
from core.io.images import is_image_file, match_channels, to_display
from core.models.spec import ModelSpec

TEST_SIZE = 256
"""Side of the test crop: one tile, so the package's test output is exactly SegLab's prediction."""
COVER_OPACITY = 0.45


@dataclass(frozen=True)
class SampleTensors:
    """The (1, C, s, s) test input, the (1, K, s, s) test output, and SegLab's mask of the crop."""

    image: np.ndarray
    input: np.ndarray
    output: np.ndarray
    mask: np.ndarray


def training_image(spec: ModelSpec) -> Path:
    """An image the model was trained or validated on (validation first), found under its data folder."""
    training = spec.training or {}
    folder = Path(str(training.get("data_dir", "")))
    names = [*training.get("val_images", []), *training.get("train_images", [])]
    if folder.is_dir() and names:
        found = {p.stem: p for p in sorted(folder.rglob("*")) if is_image_file(p) and ".seglab" not in p.parts}
        for name in names:
            if Path(name).stem in found:
                return found[Path(name).stem]
    raise ConfigError("no training image of this model was found to compute the package's test tensors and "
                      "cover; choose a sample image (--sample IMAGE)")


def sample_tensors(model, spec: ModelSpec, image: np.ndarray, size_multiple: int) -> SampleTensors:
    """A centred crop of the image and SegLab's prediction of it (class probabilities, exact precision)."""
    height, width = image.shape[:2]
    side = min(TEST_SIZE, height, width) // size_multiple * size_multiple
    if side < size_multiple:
        raise ConfigError(f"the sample image ({width} x {height}) is smaller than the model's smallest input "
                          f"({size_multiple} pixels); choose a larger sample image")
    top, left = (height - side) // 2, (width - side) // 2
    crop = match_channels(image[top:top + side, left:left + side], spec.in_channels)
    if spec.normalisation.mode == "percentile":  # float input: the percentiles are interpolated alike
        crop = crop.astype(np.float32)
    options = PredictOptions(tile_size=side, overlap=0, backend="torch", return_probabilities=True)
    mask, probabilities = Predictor(model, spec, options).predict(crop)
    if spec.out_channels == 1:
        probabilities = probabilities[1:]
    planes = crop[:, :, None] if crop.ndim == 2 else crop
    return SampleTensors(crop, np.ascontiguousarray(planes.transpose(2, 0, 1)[None]),
                       np.ascontiguousarray(probabilities[None], dtype=np.float32), mask)


def write_cover(path: Path, spec: ModelSpec, tensors: SampleTensors) -> None:
    """The test crop beside its predicted classes over it, 2:1 as the model zoo shows covers."""
    from PIL import Image

    picture = to_display(tensors.image)
    picture = np.repeat(picture[:, :, None], 3, axis=2) if picture.ndim == 2 else picture[:, :, :3]
    colours = spec.classes.colourise(tensors.mask).astype(np.float32)
    labelled = (tensors.mask > 0)[:, :, None]
    blended = np.where(labelled, picture * (1 - COVER_OPACITY) + colours * COVER_OPACITY, picture)
    Image.fromarray(np.concatenate([picture, blended.astype(np.uint8)], axis=1)).save(path)


def readme(name: str, description: str, spec: ModelSpec, formats: list[str], notes: list[str]) -> str:
    """The package's documentation: use, classes, training data and settings, metrics."""
    training, metrics = spec.training or {}, spec.metrics or {}
    lines = [f"# {name}", "", description, "",
             "## Use",
             "Input `image`: one image, channels first, any size that is a multiple of the axis step "
             "(SegLab tiles larger images). Preprocessing: per-channel percentile scaling over the whole image "
             f"({spec.normalisation.low:g}th to {spec.normalisation.high:g}th percentile)"
             if spec.normalisation.mode == "percentile" else
             "Input `image`: one image, channels first. Preprocessing: divide by the maximum of the data type.",
             "",
             "Output `probabilities`: one channel per class, probabilities after the softmax (or the sigmoid of a "
             "one-channel model: the foreground probability). SegLab's mask is the argmax over the channels "
             "(one channel: foreground where the probability exceeds 0.5).", "",
             f"Weights: {', '.join(formats)}. Made with SegLab {spec.versions.get('seglab', '')}.", "",
             "## Classes", "", "| index | name | colour |", "| --- | --- | --- |"]
    lines += [f"| {c.index} | {c.name} | #{c.colour[0]:02X}{c.colour[1]:02X}{c.colour[2]:02X} |" for c in spec.classes]
    lines += ["", "## Training", ""]
    if training:
        config = training.get("config") or {}
        lines += [f"- data: folder `{Path(str(training.get('data_dir', '?'))).name}`, "
                  f"{len(training.get('train_images', []))} training and {len(training.get('val_images', []))} "
                  "validation images",
                  f"- architecture: {spec.architecture}" + (f" with encoder {spec.encoder}" if spec.encoder else ""),
                  f"- {training.get('epochs_done', '?')} epochs (best at epoch {training.get('best_epoch', '?')}), "
                  f"patch size {spec.patch_size}, loss {config.get('loss', '?')}, on {training.get('device', '?')}",
                  f"- initial weights: {training.get('weights', 'unknown')}"]
    else:
        lines.append("No training summary was stored with this model.")
    lines += ["", "## Validation metrics", ""]
    if metrics.get("per_class"):
        lines += [f"Mean IoU {metrics.get('mean_iou', float('nan')):.3f}, mean Dice "
                  f"{metrics.get('mean_dice', float('nan')):.3f}, pixel accuracy "
                  f"{metrics.get('pixel_accuracy', float('nan')):.3f}.", "",
                  "| class | IoU | Dice |", "| --- | --- | --- |"]
        lines += [f"| {row['name']} | {_number(row.get('iou'))} | {_number(row.get('dice'))} |"
                  for row in metrics["per_class"]]
    else:
        lines.append("No validation metrics were stored with this model.")
    if notes:
        lines += ["", "## Notes", "", *[f"- {note}" for note in notes]]
    return "\n".join(lines) + "\n"


def _number(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"
