"""Segmentation metrics from a confusion matrix accumulated over a whole dataset.

Counts come first, reductions after (as in segmentation_models_pytorch.metrics): add every image's pixels to
one ConfusionMatrix, then reduce. Averaging per-image (or per-batch) mIoU instead weighs a tiny image as much as
a large one and lets classes absent from an image distort the mean.

Reductions return nan where a value is undefined (a class absent from both truth and prediction); means skip
those classes. numpy only at import time: torch is touched only when a tensor is passed in.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence

import numpy as np

from core.classes import IGNORE_INDEX


class ConfusionMatrix:
    """counts[t, p] = pixels of true class t predicted as class p (int64). Ignore pixels are never counted."""

    def __init__(self, class_count: int, ignore_index: int = IGNORE_INDEX):
        """Past 255 classes pass ignore_index=core.io.masks.ignore_index_for(class_count) (65535)."""
        if class_count < 1:
            raise ValueError(f"a confusion matrix needs at least one class, got {class_count}")
        if 0 <= ignore_index < class_count:
            raise ValueError(f"the ignore value {ignore_index} is also a class index (0..{class_count - 1})")
        self.class_count = int(class_count)
        self.ignore_index = int(ignore_index)
        self.counts = np.zeros((self.class_count, self.class_count), dtype=np.int64)

    # accumulation -----------------------------------------------------------------------------
    def update(self, prediction, truth) -> ConfusionMatrix:
        """Add the pixels of one prediction/truth pair (numpy arrays or torch tensors of equal shape).

        Pixels whose truth is the ignore index are skipped. Any other value outside 0..class_count-1
        (in truth, or in the prediction of a counted pixel) raises ValueError listing the values, and so do
        floating-point inputs (probabilities or logits instead of class indices).
        """
        torch = sys.modules.get("torch")  # a tensor can only exist if torch was imported by someone
        prediction, truth = _index_values(prediction, "prediction", torch), _index_values(truth, "truth", torch)
        if tuple(prediction.shape) != tuple(truth.shape):
            raise ValueError(f"prediction shape {tuple(prediction.shape)} differs from truth shape {tuple(truth.shape)}")
        if isinstance(prediction, np.ndarray) and isinstance(truth, np.ndarray):
            counts, bad_truth, bad_prediction = self._count_numpy(prediction, truth)
        else:
            counts, bad_truth, bad_prediction = self._count_torch(torch, prediction, truth)
        if bad_truth or bad_prediction:
            raise ValueError(
                f"values outside the classes 0..{self.class_count - 1} (ignore value {self.ignore_index}): "
                f"truth {bad_truth}, prediction {bad_prediction}"
            )
        self.counts += counts
        return self

    def _count_numpy(self, prediction: np.ndarray, truth: np.ndarray):
        truth = truth.reshape(-1).astype(np.int64, copy=False)
        prediction = prediction.reshape(-1).astype(np.int64, copy=False)
        counted = truth != self.ignore_index
        truth, prediction = truth[counted], prediction[counted]
        bad_truth = (truth < 0) | (truth >= self.class_count)
        bad_prediction = (prediction < 0) | (prediction >= self.class_count)
        if bad_truth.any() or bad_prediction.any():
            return None, _values(truth[bad_truth]), _values(prediction[bad_prediction])
        return self._fold(np.bincount(truth * self.class_count + prediction, minlength=self.class_count**2)), [], []

    def _count_torch(self, torch, prediction, truth):
        """bincount on the tensors' device; one transfer to the CPU (two when values are out of range)."""
        device = prediction.device if isinstance(prediction, torch.Tensor) else truth.device
        truth = torch.as_tensor(truth, device=device).reshape(-1).long()
        prediction = torch.as_tensor(prediction, device=device).reshape(-1).long()
        n = self.class_count
        counted = truth != self.ignore_index
        bad = counted & ((truth < 0) | (truth >= n) | (prediction < 0) | (prediction >= n))
        # Bin n*n collects skipped pixels, bin n*n+1 the out-of-range ones, so no data-dependent sync is needed.
        index = torch.where(counted, truth * n + prediction, n * n)
        index = torch.where(bad, n * n + 1, index)
        bins = torch.bincount(index, minlength=n * n + 2).cpu().numpy()
        if bins[n * n + 1]:
            bad_truth = truth[counted & ((truth < 0) | (truth >= n))].cpu().numpy()
            bad_prediction = prediction[counted & ((prediction < 0) | (prediction >= n))].cpu().numpy()
            return None, _values(bad_truth), _values(bad_prediction)
        return self._fold(bins[: n * n]), [], []

    def _fold(self, flat: np.ndarray) -> np.ndarray:
        return flat.astype(np.int64, copy=False).reshape(self.class_count, self.class_count)

    def merge(self, other: ConfusionMatrix) -> ConfusionMatrix:
        """Add another matrix's counts to this one (in place); returns self."""
        if other.class_count != self.class_count:
            raise ValueError(f"cannot merge a {other.class_count}-class matrix into a {self.class_count}-class one")
        self.counts += other.counts
        return self

    def __add__(self, other: ConfusionMatrix) -> ConfusionMatrix:
        return self.copy().merge(other)

    def copy(self) -> ConfusionMatrix:
        return ConfusionMatrix.from_counts(self.counts, self.ignore_index)

    def __eq__(self, other) -> bool:
        if not isinstance(other, ConfusionMatrix):
            return NotImplemented
        return self.ignore_index == other.ignore_index and np.array_equal(self.counts, other.counts)

    def __repr__(self) -> str:
        return f"ConfusionMatrix(class_count={self.class_count}, pixels={self.total})"

    # construction and JSON --------------------------------------------------------------------
    @classmethod
    def from_counts(cls, counts, ignore_index: int = IGNORE_INDEX) -> ConfusionMatrix:
        """A matrix holding a copy of `counts` (square, non-negative integers)."""
        array = np.asarray(counts)
        if array.ndim != 2 or array.shape[0] != array.shape[1] or array.shape[0] < 1:
            raise ValueError(f"confusion counts must be a square matrix, got shape {array.shape}")
        if array.size and (not np.issubdtype(array.dtype, np.integer) or array.min() < 0):
            raise ValueError("confusion counts must be non-negative integers")
        matrix = cls(array.shape[0], ignore_index)
        matrix.counts[:] = array
        return matrix

    def to_json(self) -> dict:
        return {"class_count": self.class_count, "ignore_index": self.ignore_index, "counts": self.counts.tolist()}

    @classmethod
    def from_json(cls, data: dict) -> ConfusionMatrix:
        try:
            counts = np.asarray(data["counts"], dtype=np.int64).reshape(-1, int(data["class_count"]))
            return cls.from_counts(counts, int(data.get("ignore_index", IGNORE_INDEX)))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a confusion matrix: {exc}") from None

    # reductions -------------------------------------------------------------------------------
    @property
    def total(self) -> int:
        return int(self.counts.sum())

    @property
    def true_positives(self) -> np.ndarray:
        return np.diag(self.counts).copy()

    @property
    def truth_pixels(self) -> np.ndarray:
        """Pixels of each class in the truth (row sums)."""
        return self.counts.sum(axis=1)

    @property
    def predicted_pixels(self) -> np.ndarray:
        """Pixels predicted as each class (column sums)."""
        return self.counts.sum(axis=0)

    def pixel_accuracy(self) -> float:
        return _ratio(self.true_positives.sum(), self.total)

    def class_accuracy(self) -> np.ndarray:
        """Recall per class: correct pixels / true pixels of the class; nan for a class absent from the truth."""
        return _ratios(self.true_positives, self.truth_pixels)

    def mean_pixel_accuracy(self) -> float:
        return _nanmean(self.class_accuracy())

    def iou(self) -> np.ndarray:
        """Intersection over union per class; nan for a class absent from both truth and prediction."""
        tp = self.true_positives
        return _ratios(tp, self.truth_pixels + self.predicted_pixels - tp)

    def mean_iou(self) -> float:
        return _nanmean(self.iou())

    def frequency_weighted_iou(self) -> float:
        """IoU averaged with each class weighted by its share of the true pixels."""
        truth = self.truth_pixels
        present = truth > 0
        return _ratio((truth[present] * self.iou()[present]).sum(), truth.sum())

    def dice(self) -> np.ndarray:
        """Dice (F1) per class; nan for a class absent from both truth and prediction."""
        return _ratios(2 * self.true_positives, self.truth_pixels + self.predicted_pixels)

    def mean_dice(self) -> float:
        return _nanmean(self.dice())

    def summary(self, class_names: Sequence[str] | None = None) -> dict:
        """Every reduction as JSON-safe data (nan -> None), with per-class rows and the raw counts."""
        names = list(class_names) if class_names is not None else [f"class {i}" for i in range(self.class_count)]
        if len(names) != self.class_count:
            raise ValueError(f"{len(names)} class names given for a {self.class_count}-class matrix")
        iou, dice, accuracy = self.iou(), self.dice(), self.class_accuracy()
        truth, predicted = self.truth_pixels, self.predicted_pixels
        return {
            "pixel_accuracy": json_number(self.pixel_accuracy()),
            "mean_pixel_accuracy": json_number(self.mean_pixel_accuracy()),
            "mean_iou": json_number(self.mean_iou()),
            "frequency_weighted_iou": json_number(self.frequency_weighted_iou()),
            "mean_dice": json_number(self.mean_dice()),
            "per_class": [
                {
                    "index": i,
                    "name": names[i],
                    "iou": json_number(iou[i]),
                    "dice": json_number(dice[i]),
                    "accuracy": json_number(accuracy[i]),
                    "truth_pixels": int(truth[i]),
                    "predicted_pixels": int(predicted[i]),
                }
                for i in range(self.class_count)
            ],
            "confusion_matrix": self.counts.tolist(),
        }


def json_number(value) -> float | None:
    """A float for JSON: nan becomes None."""
    value = float(value)
    return None if math.isnan(value) else value


def _index_values(values, role: str, torch):
    """A tensor stays a tensor, anything else becomes a numpy array; either must hold integers."""
    if torch is not None and isinstance(values, torch.Tensor):
        integers = not (values.dtype.is_floating_point or values.dtype.is_complex)
    else:
        values = np.asarray(values)
        integers = np.issubdtype(values.dtype, np.integer) or values.dtype == np.bool_
    if not integers:
        raise ValueError(f"the {role} must hold class indices (integers), not {values.dtype} values")
    return values


def _values(array: np.ndarray, limit: int = 10) -> list:
    values = [int(v) for v in np.unique(array)]
    return values if len(values) <= limit else values[:limit] + ["..."]


def _ratio(numerator, denominator) -> float:
    return float(numerator) / float(denominator) if denominator else math.nan


def _ratios(numerators: np.ndarray, denominators: np.ndarray) -> np.ndarray:
    result = np.full(numerators.shape, np.nan)
    defined = denominators > 0
    result[defined] = numerators[defined] / denominators[defined]
    return result


def _nanmean(values: np.ndarray) -> float:
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if defined.size else math.nan
