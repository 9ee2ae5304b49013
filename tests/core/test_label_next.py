"""Label next: the ranking prefers uncertain images, spreads over different-looking ones, keeps away from
what is labeled, is deterministic, and suggestions name unlabeled images with their unsure region."""

from __future__ import annotations

import numpy as np

from core.data.index import DatasetIndex
from core.label_next import image_features, rank_for_labeling, suggest_next
from tests.core.synthetic import make_shapes, write_dataset


def unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


# A and its near-twin A2 are the most uncertain; B looks different and is a little less; C is easy.
FEATURES = {"A": unit(1, 0, 0), "A2": unit(1, 0.02, 0), "B": unit(0, 1, 0), "C": unit(0, 0, 1)}
SCORES = {"A": 0.9, "A2": 0.89, "B": 0.8, "C": 0.1}


def test_ranking_takes_the_most_uncertain_then_a_different_looking_image_before_its_twin():
    assert rank_for_labeling(SCORES, FEATURES) == ["A", "B", "A2", "C"]
    assert rank_for_labeling(SCORES, FEATURES, count=2) == ["A", "B"]


def test_ranking_keeps_away_from_images_already_labeled():
    """B looks like a labeled image: the twin of the first pick goes before it."""
    assert rank_for_labeling(SCORES, FEATURES, labeled_features=[unit(0, 1, 0.01)]) == ["A", "A2", "B", "C"]


def test_ranking_is_deterministic_and_breaks_ties_by_name():
    features = {name: unit(1, 0, 0) for name in ("b", "a", "c")}
    scores = {"c": 0.5, "b": 0.5, "a": 0.5}
    assert rank_for_labeling(scores, features) == ["a", "b", "c"]
    reordered = dict(reversed(list(SCORES.items())))
    assert rank_for_labeling(reordered, dict(reversed(list(FEATURES.items())))) == rank_for_labeling(SCORES, FEATURES)
    assert rank_for_labeling({"X": 1.0}, FEATURES) == []  # no features: not ranked


def test_features_tell_different_images_apart_and_ignore_brightness_scaling():
    image, _ = make_shapes(96, seed=0)
    other, _ = make_shapes(96, seed=5)
    same = image_features(image)
    assert same.dtype == np.float32 and abs(float(np.linalg.norm(same)) - 1) < 1e-5
    brighter = image_features(image.astype(np.uint16) * 200)  # 16-bit copy, scaled levels
    assert np.linalg.norm(same - brighter) < 0.05 < np.linalg.norm(same - image_features(other))


def test_suggestions_name_unlabeled_images_with_their_most_uncertain_region(tmp_path):
    root = write_dataset(tmp_path / "data", count=5, size=96)
    for name in ("img2", "img3", "img4"):
        (root / "masks" / f"{name}.png").unlink()
    index = DatasetIndex.scan(root)
    maps = {}
    for i, name in enumerate(("img2", "img3", "img4")):
        uncertainty = np.zeros((96, 96), np.float32)
        uncertainty[10 * i:10 * i + 20, 50:80] = 1.0
        maps[name] = uncertainty
    scores = {"img0": 0.99, "img2": 0.3, "img3": 0.6}  # img0 is labeled; img4 has no score
    suggestions = suggest_next(index, scores, maps.get)
    assert [s.name for s in suggestions] == ["img3", "img2"]
    assert suggestions[0].score == 0.6
    top, left, bottom, right = suggestions[0].region
    assert bottom - top == right - left == 64
    assert top <= 10 and bottom >= 30 and left <= 50 and right >= 80  # frames img3's hot patch
    assert suggest_next(index, scores, lambda name: None)[0].region is None
