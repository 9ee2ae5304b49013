"""Model output conventions shared by losses, training and inference.

A model returns logits (N, out_channels, H, W). Deep-supervised models (U²-Net) return, in training mode,
a tuple (main, side_1, ..., side_k), all at input resolution; the first entry is always the prediction.
"""

from __future__ import annotations

import torch


def main_output(output: torch.Tensor | tuple | list) -> torch.Tensor:
    return output[0] if isinstance(output, (tuple, list)) else output


def to_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """Logits -> class probabilities (N, C, H, W); a one-channel (sigmoid) model gives C = 2."""
    if logits.shape[1] == 1:
        foreground = torch.sigmoid(logits)
        return torch.cat([1 - foreground, foreground], dim=1)
    return torch.softmax(logits, dim=1)


def to_labels(logits: torch.Tensor) -> torch.Tensor:
    """Logits -> class indices (N, H, W)."""
    if logits.shape[1] == 1:
        return (logits[:, 0] > 0).long()
    return logits.argmax(dim=1)
