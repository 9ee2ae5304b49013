"""The per-epoch preview: the model's prediction on a fixed crop of the first validation image."""

from __future__ import annotations

import numpy as np
import torch

from core.classes import IGNORE_INDEX
from core.data.dataset import LoadedSample, crop_padded, normalise_region
from core.io.images import to_display
from core.models.outputs import main_output, to_labels
from core.training.reports import Preview

PREVIEW_MAX = 512


def preview_window(sample: LoadedSample, patch_size: int) -> tuple[int, int, int]:
    """(top, left, size): a centred square, a multiple of 32, at most 512 px or the patch size if larger."""
    height, width = sample.mask.shape
    size = min(max(PREVIEW_MAX, patch_size), max(height, width))
    size = max(32, 32 * ((size + 31) // 32))
    return (height - size) // 2, (width - size) // 2, size


def make_preview(model: torch.nn.Module, val_samples: list[LoadedSample], patch_size: int,
                 device: str) -> Preview | None:
    if not val_samples:
        return None
    sample = val_samples[0]
    top, left, size = preview_window(sample, patch_size)
    region = crop_padded(sample.image, top, left, size, None)
    truth = crop_padded(sample.mask, top, left, size, IGNORE_INDEX)
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        tensor = torch.from_numpy(normalise_region(sample, region))[None].to(device)
        prediction = to_labels(main_output(model(tensor)))[0].cpu().numpy().astype(np.uint8)
    model.train(was_training)
    display = to_display(region if region.shape[2] in (1, 3) else region[:, :, :3], sample.levels)
    if display.ndim == 3 and display.shape[2] == 1:
        display = display[:, :, 0]
    return Preview(sample.name, display, truth, prediction)

