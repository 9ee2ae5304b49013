"""Training losses by name, for logits (N, C, H, W) and index targets (N, H, W) with an ignore value.

Every loss accepts deep-supervised output: a tuple/list (main, side_1, ..., side_k) is scored entry by entry
and the values are added up. A one-channel model is binary (sigmoid; core.models.outputs), so "ce" on it is
binary cross-entropy. Means are taken over labeled pixels only; a batch with no labeled pixel gives 0 (no nan).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from core.classes import IGNORE_INDEX
from core.errors import ConfigError, unknown_name_error
from core.models.outputs import to_probabilities


@dataclass(frozen=True)
class LossInfo:
    name: str
    title: str
    description: str
    binary_only: bool = False


class SegmentationLoss(nn.Module):
    """Base class: forward(output, target) adds `single` over every output of a deep-supervised model."""

    def __init__(self, out_channels: int, class_weights: Sequence[float] | None, ignore_index: int):
        super().__init__()
        self.out_channels = out_channels
        self.ignore_index = ignore_index
        weights = _weights_tensor(class_weights, max(out_channels, 2))
        self.register_buffer("class_weights", weights, persistent=False)

    def forward(self, output: torch.Tensor | tuple | list, target: torch.Tensor) -> torch.Tensor:
        outputs = output if isinstance(output, (tuple, list)) else (output,)
        if not outputs:
            raise ValueError("the model returned an empty tuple of outputs")
        target = target.long()
        total = None
        for logits in outputs:
            self._check(logits, target)
            value = self.single(logits.float(), target)  # float32: pixel sums overflow float16
            total = value if total is None else total + value
        return total

    def single(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The loss of one (N, C, H, W) float32 output against (N, H, W) long targets (shapes checked)."""
        raise NotImplementedError

    def _check(self, logits: torch.Tensor, target: torch.Tensor) -> None:
        if logits.ndim != 4 or logits.shape[1] != self.out_channels:
            raise ValueError(f"expected logits (N, {self.out_channels}, H, W), got {tuple(logits.shape)}")
        if target.shape != (logits.shape[0], *logits.shape[2:]):
            raise ValueError(f"target shape {tuple(target.shape)} does not match logits {tuple(logits.shape)}")

    def _weights(self, like: torch.Tensor) -> torch.Tensor | None:
        weights = self.class_weights
        return None if weights is None else weights.to(device=like.device, dtype=like.dtype)


class CrossEntropy(SegmentationLoss):
    """Softmax cross-entropy; with class weights the mean is weighted as in torch (sum w*l / sum w)."""

    def single(self, logits, target):
        weights = self._weights(logits)
        losses = F.cross_entropy(logits, target, weight=weights, ignore_index=self.ignore_index, reduction="none")
        labeled = target != self.ignore_index
        if weights is None:
            denominator = labeled.sum().to(losses.dtype)
        else:
            denominator = (weights[torch.where(labeled, target, 0)] * labeled).sum()
        return losses.sum() / _nonzero(denominator)


class BinaryCrossEntropy(SegmentationLoss):
    """BCE-with-logits for a one-channel model; targets 0/1. Class weights (w0, w1) give pos_weight = w1 / w0."""

    def __init__(self, out_channels: int, class_weights: Sequence[float] | None, ignore_index: int):
        super().__init__(out_channels, class_weights, ignore_index)
        if self.class_weights is not None and self.class_weights.min() <= 0:
            raise ConfigError(f"binary cross-entropy needs two positive class weights (background, foreground); "
                              f"got {self.class_weights.tolist()}")

    def single(self, logits, target):
        labeled = target != self.ignore_index
        truth = torch.where(labeled, target, 0).to(logits.dtype)
        weights = self._weights(logits)
        pos_weight = None if weights is None else weights[1] / weights[0]
        losses = F.binary_cross_entropy_with_logits(logits[:, 0], truth, pos_weight=pos_weight, reduction="none")
        return (losses * labeled).sum() / _nonzero(labeled.sum().to(losses.dtype))


class SoftDice(SegmentationLoss):
    """1 - soft Dice per class over the batch, averaged over the classes present in the target.

    Classes absent from a batch's labels are left out of the mean (their Dice is undefined); predicting them
    is still penalised through the present classes, whose probabilities it lowers. Class weights weigh the
    per-class terms. A one-channel model is scored as two classes (1 - p, p).
    """

    def single(self, logits, target):
        probabilities = to_probabilities(logits)
        labeled = (target != self.ignore_index).unsqueeze(1)
        one_hot = F.one_hot(torch.where(labeled[:, 0], target, 0), probabilities.shape[1])
        truth = one_hot.permute(0, 3, 1, 2).to(probabilities.dtype) * labeled
        probabilities = probabilities * labeled
        intersection = (probabilities * truth).sum(dim=(0, 2, 3))
        truth_sum = truth.sum(dim=(0, 2, 3))
        cardinality = probabilities.sum(dim=(0, 2, 3)) + truth_sum
        dice = 2 * intersection / _nonzero(cardinality)
        weights = (truth_sum > 0).to(dice.dtype)
        class_weights = self._weights(dice)
        if class_weights is not None:
            weights = weights * class_weights
        return (weights * (1 - dice)).sum() / _nonzero(weights.sum())


class LossSum(SegmentationLoss):
    """The sum of several losses (e.g. cross-entropy + Dice)."""

    def __init__(self, parts: Sequence[SegmentationLoss]):
        first = parts[0]
        super().__init__(first.out_channels, None, first.ignore_index)
        self.parts = nn.ModuleList(parts)

    def single(self, logits, target):
        total = self.parts[0].single(logits, target)
        for part in self.parts[1:]:
            total = total + part.single(logits, target)
        return total


def _nonzero(denominator: torch.Tensor) -> torch.Tensor:
    """The denominator, with 0 replaced by 1 (the numerator is then 0 too): no nan and no host sync."""
    return torch.where(denominator > 0, denominator, torch.ones_like(denominator))


def _weights_tensor(class_weights: Sequence[float] | None, class_count: int) -> torch.Tensor | None:
    if class_weights is None:
        return None
    weights = torch.as_tensor([float(w) for w in class_weights], dtype=torch.float32)
    if weights.numel() != class_count:
        raise ConfigError(f"{weights.numel()} class weights given; the model has {class_count} classes, give one each")
    if not torch.isfinite(weights).all() or (weights < 0).any() or weights.max() <= 0:
        raise ConfigError(f"class weights must be finite, not negative, and not all zero; got {weights.tolist()}")
    return weights


# registry ---------------------------------------------------------------------------------------

Builder = Callable[[int, Sequence[float] | None, int], SegmentationLoss]


def _cross_entropy(out_channels, class_weights, ignore_index) -> SegmentationLoss:
    loss_class = BinaryCrossEntropy if out_channels == 1 else CrossEntropy
    return loss_class(out_channels, class_weights, ignore_index)


def _binary_cross_entropy(out_channels, class_weights, ignore_index) -> SegmentationLoss:
    if out_channels != 1:
        raise ConfigError(
            f"the 'bce' loss is for a model with one output channel (background vs. one class), but this model "
            f"has {out_channels}; use 'ce' (cross-entropy), which works for any number of classes"
        )
    return BinaryCrossEntropy(out_channels, class_weights, ignore_index)


def _cross_entropy_dice(out_channels, class_weights, ignore_index) -> SegmentationLoss:
    return LossSum([_cross_entropy(out_channels, class_weights, ignore_index),
                    SoftDice(out_channels, class_weights, ignore_index)])


_LOSSES: dict[str, tuple[LossInfo, Builder]] = {
    "ce": (LossInfo("ce", "Cross-entropy",
                    "Scores every pixel's predicted class; the standard choice for any number of classes."),
           _cross_entropy),
    "bce": (LossInfo("bce", "Binary cross-entropy",
                     "Scores every pixel of a one-output model that separates one class from the background.",
                     binary_only=True),
            _binary_cross_entropy),
    "dice": (LossInfo("dice", "Dice",
                      "Scores how well predicted and true regions overlap; less swayed by a large background."),
             SoftDice),
    "ce_dice": (LossInfo("ce_dice", "Cross-entropy + Dice",
                         "Pixel-wise cross-entropy plus region overlap (Dice); good for small or thin structures."),
                _cross_entropy_dice),
    "u2net": (LossInfo("u2net", "U²-Net deep supervision",
                       "Cross-entropy on U²-Net's final output and on each of its six side outputs, added up."),
              _cross_entropy),
}


def list_losses() -> list[str]:
    return list(_LOSSES)


def loss_info(name: str) -> LossInfo:
    return _lookup(name)[0]


def create_loss(name: str, *, out_channels: int, class_weights: Sequence[float] | None = None,
                ignore_index: int = IGNORE_INDEX) -> SegmentationLoss:
    """The loss `name` for a model with `out_channels` outputs (1 = binary); forward(output, target) -> scalar.

    class_weights has one value per class (two for a one-channel model); None weighs classes equally.
    """
    builder = _lookup(name)[1]
    if out_channels < 1:
        raise ConfigError(f"a model needs at least one output channel, got {out_channels}")
    return builder(out_channels, class_weights, ignore_index)


def _lookup(name: str) -> tuple[LossInfo, Builder]:
    if name not in _LOSSES:
        raise unknown_name_error("loss", name, list_losses())
    return _LOSSES[name]
