"""The one definition of how prediction and ground truth differ (missed / extra / wrong class): a code, a
name, its meaning and its colour. The window's difference overlay and legend and the report's pictures and
notes all read it, so a colour means the same thing everywhere."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.classes import RGB


@dataclass(frozen=True)
class DifferenceKind:
    code: int  # value in a difference mask (0: agreement or unlabeled truth)
    name: str
    short: str  # a few words for a legend
    meaning: str  # one line for a tooltip or a report's note
    colour: RGB


MISSED = DifferenceKind(1, "missed", "in the truth only", "a ground-truth object predicted as background",
                        (255, 0, 255))
EXTRA = DifferenceKind(2, "extra", "in the prediction only", "a predicted object on ground-truth background",
                       (0, 229, 255))
WRONG_CLASS = DifferenceKind(3, "wrong class", "both, other class", "an object found but given another class",
                             (255, 235, 59))
DIFFERENCE_KINDS = (MISSED, EXTRA, WRONG_CLASS)


def difference_codes(truth: np.ndarray, prediction: np.ndarray, ignore_index: int) -> np.ndarray:
    """uint8 (H, W): each pixel's DifferenceKind code, 0 where the masks agree or the truth is unlabeled.
    An unlabeled predicted pixel (e.g. a NaN image pixel) counts as background."""
    counted = truth != ignore_index
    truth_object = counted & (truth != 0)
    predicted_object = (prediction != 0) & (prediction != ignore_index)
    codes = np.zeros(truth.shape, np.uint8)
    codes[truth_object & ~predicted_object] = MISSED.code
    codes[counted & (truth == 0) & predicted_object] = EXTRA.code
    codes[truth_object & predicted_object & (truth != prediction)] = WRONG_CLASS.code
    return codes
