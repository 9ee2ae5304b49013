"""ConfusionMatrix counts and reductions, checked against numbers worked out by hand."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from core.classes import IGNORE_INDEX
from core.metrics import ConfusionMatrix

N = IGNORE_INDEX  # short name so the arrays below stay aligned

# 4 classes: 0 and 1 ordinary, 2 in the truth but never predicted, 3 absent from truth and prediction.
# The ignored pixel is predicted as 2, which must not count.
TRUTH = np.array([[0, 0, 0, 1, 1],
                  [0, 2, 2, N, 1]], dtype=np.uint8)
PREDICTION = np.array([[0, 0, 1, 1, 1],
                       [0, 0, 0, 2, 0]], dtype=np.uint8)
EXPECTED_COUNTS = np.array([[3, 1, 0, 0],
                            [1, 2, 0, 0],
                            [2, 0, 0, 0],
                            [0, 0, 0, 0]])


@pytest.fixture
def example() -> ConfusionMatrix:
    return ConfusionMatrix(4).update(PREDICTION, TRUTH)


def test_counts_match_hand_computed_matrix(example):
    np.testing.assert_array_equal(example.counts, EXPECTED_COUNTS)
    assert example.counts.dtype == np.int64
    assert example.total == 9  # the ignored pixel is not counted
    np.testing.assert_array_equal(example.truth_pixels, [4, 3, 2, 0])
    np.testing.assert_array_equal(example.predicted_pixels, [6, 3, 0, 0])


def test_every_reduction_by_hand(example):
    assert example.pixel_accuracy() == pytest.approx(5 / 9)
    np.testing.assert_allclose(example.class_accuracy(), [3 / 4, 2 / 3, 0.0, np.nan])
    assert example.mean_pixel_accuracy() == pytest.approx((3 / 4 + 2 / 3 + 0) / 3)
    # IoU: class 0 -> 3 / (4 + 6 - 3); class 1 -> 2 / (3 + 3 - 2); never-predicted class 2 -> 0; absent class 3 -> nan
    np.testing.assert_allclose(example.iou(), [3 / 7, 1 / 2, 0.0, np.nan])
    assert example.mean_iou() == pytest.approx((3 / 7 + 1 / 2 + 0) / 3)  # nan excluded, not counted as 0
    assert example.frequency_weighted_iou() == pytest.approx((4 * 3 / 7 + 3 * 1 / 2 + 2 * 0) / 9)
    np.testing.assert_allclose(example.dice(), [6 / 10, 4 / 6, 0.0, np.nan])
    assert example.mean_dice() == pytest.approx((6 / 10 + 4 / 6 + 0) / 3)


def test_class_predicted_but_absent_from_truth_scores_zero_not_nan():
    matrix = ConfusionMatrix(3).update(np.array([0, 2, 1]), np.array([0, 0, 1]))
    np.testing.assert_allclose(matrix.iou(), [1 / 2, 1.0, 0.0])
    np.testing.assert_allclose(matrix.dice(), [2 / 3, 1.0, 0.0])
    np.testing.assert_allclose(matrix.class_accuracy(), [1 / 2, 1.0, np.nan])  # recall undefined without truth
    assert matrix.mean_pixel_accuracy() == pytest.approx(3 / 4)


def test_empty_matrix_is_nan_everywhere_without_warnings():
    matrix = ConfusionMatrix(2).update(np.full((3, 3), N, np.uint8), np.full((3, 3), N, np.uint8))
    with np.errstate(all="raise"):
        assert math.isnan(matrix.pixel_accuracy())
        assert math.isnan(matrix.mean_iou())
        assert math.isnan(matrix.frequency_weighted_iou())
        assert math.isnan(matrix.mean_dice())
        assert math.isnan(matrix.mean_pixel_accuracy())


def test_ignore_pixels_are_excluded_whatever_is_predicted_there():
    truth = np.array([[0, 1, N, N]])
    a = ConfusionMatrix(2).update(np.array([[0, 1, 0, 1]]), truth)
    b = ConfusionMatrix(2).update(np.array([[0, 1, 1, 200]]), truth)  # out-of-range value on an ignored pixel
    np.testing.assert_array_equal(a.counts, [[1, 0], [0, 1]])
    assert a == b


def test_custom_ignore_index():
    matrix = ConfusionMatrix(2, ignore_index=7).update(np.array([0, 1, 1]), np.array([0, 7, 1]))
    np.testing.assert_array_equal(matrix.counts, [[1, 0], [0, 1]])
    with pytest.raises(ValueError, match="also a class index"):
        ConfusionMatrix(300)  # 255 would be a class: past 255 classes the caller passes 65535


def test_accumulating_two_images_equals_their_concatenation_not_the_mean_of_their_scores():
    # A: 8 pixels, perfect (mIoU 1). B: 2 pixels, all wrong (mIoU 0).
    truth_a, prediction_a = np.array([0, 0, 0, 0, 0, 0, 1, 1]), np.array([0, 0, 0, 0, 0, 0, 1, 1])
    truth_b, prediction_b = np.array([0, 1]), np.array([1, 0])
    a = ConfusionMatrix(2).update(prediction_a, truth_a)
    b = ConfusionMatrix(2).update(prediction_b, truth_b)
    pooled = a + b
    concatenated = ConfusionMatrix(2).update(np.concatenate([prediction_a, prediction_b]),
                                             np.concatenate([truth_a, truth_b]))
    assert pooled == concatenated
    np.testing.assert_array_equal(pooled.counts, [[6, 1], [1, 2]])
    # IoU 0: 6 / (7 + 7 - 6); IoU 1: 2 / (3 + 3 - 2)
    assert pooled.mean_iou() == pytest.approx((6 / 8 + 2 / 4) / 2)  # 0.625
    assert (a.mean_iou() + b.mean_iou()) / 2 == pytest.approx(0.5)  # the per-image average differs
    # + leaves its operands alone; merge accumulates in place
    np.testing.assert_array_equal(a.counts, [[6, 0], [0, 2]])
    a.merge(b)
    assert a == pooled


DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU"))]


@pytest.mark.parametrize("device", DEVICES)
def test_torch_and_numpy_inputs_give_the_same_counts(device):
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, size=(2, 17, 13)).astype(np.uint8)
    truth[rng.random(truth.shape) < 0.2] = N
    prediction = rng.integers(0, 3, size=truth.shape)
    from_numpy = ConfusionMatrix(3).update(prediction, truth)
    from_torch = ConfusionMatrix(3).update(torch.from_numpy(prediction).to(device), torch.from_numpy(truth).to(device))
    mixed = ConfusionMatrix(3).update(torch.from_numpy(prediction).to(device), truth)
    assert from_numpy == from_torch == mixed
    assert from_numpy.total == int((truth != N).sum())


@pytest.mark.parametrize("as_tensor", [False, True], ids=["numpy", "torch"])
def test_values_outside_the_classes_are_rejected_with_the_values(as_tensor):
    convert = torch.as_tensor if as_tensor else np.asarray
    matrix = ConfusionMatrix(3)
    with pytest.raises(ValueError, match=r"truth \[5\], prediction \[\]"):
        matrix.update(convert([0, 1, 2]), convert([0, 5, 2]))
    with pytest.raises(ValueError, match=r"truth \[\], prediction \[-1, 3\]"):
        matrix.update(convert([-1, 3, 2]), convert([0, 1, 2]))
    with pytest.raises(ValueError, match="shape"):
        matrix.update(convert([0, 1]), convert([0, 1, 2]))
    with pytest.raises(ValueError, match="prediction must hold class indices"):
        matrix.update(convert([0.2, 0.9, 0.1]), convert([0, 1, 2]))  # probabilities instead of labels
    assert matrix.total == 0  # a rejected update adds nothing


def test_copy_from_counts_and_json_round_trip(example):
    copy = example.copy()
    copy.update(np.array([0]), np.array([0]))
    assert copy.total == example.total + 1  # independent of the original
    assert ConfusionMatrix.from_counts(EXPECTED_COUNTS) == example
    restored = ConfusionMatrix.from_json(json.loads(json.dumps(example.to_json())))
    assert restored == example and restored.class_count == 4
    with pytest.raises(ValueError):
        ConfusionMatrix.from_counts([[1, 2, 3]])
    with pytest.raises(ValueError):
        ConfusionMatrix.from_counts([[1, -2], [0, 0]])
    with pytest.raises(ValueError, match="merge"):
        example.merge(ConfusionMatrix(2))


def test_summary_is_json_safe_with_none_for_nan(example):
    summary = example.summary(["background", "cell", "membrane", "debris"])
    json.dumps(summary, allow_nan=False)
    assert summary["pixel_accuracy"] == pytest.approx(5 / 9)
    assert summary["mean_iou"] == pytest.approx(example.mean_iou())
    assert summary["frequency_weighted_iou"] == pytest.approx(example.frequency_weighted_iou())
    assert summary["confusion_matrix"] == EXPECTED_COUNTS.tolist()
    assert summary["per_class"][2] == {"index": 2, "name": "membrane", "iou": 0.0, "dice": 0.0, "accuracy": 0.0,
                                       "truth_pixels": 2, "predicted_pixels": 0}
    assert summary["per_class"][3] == {"index": 3, "name": "debris", "iou": None, "dice": None, "accuracy": None,
                                       "truth_pixels": 0, "predicted_pixels": 0}
    assert example.summary()["per_class"][1]["name"] == "class 1"
    with pytest.raises(ValueError, match="names"):
        example.summary(["only one"])


def test_importing_metrics_does_not_import_torch():
    import subprocess
    import sys
    from pathlib import Path

    code = "import sys, core.metrics; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.stdout.strip() == "False"
