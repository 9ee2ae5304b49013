"""Label next: which unlabeled images (and which region of each) are worth labeling most, from the model's
uncertainty and the images' diversity.

Greedy selection: each pick takes the image with the highest value = score * (1 - DIVERSITY * (1 - d)),
where score is its uncertainty score (core.inference.uncertainty.image_score) and d its feature distance to
the nearest image already labeled or picked, divided by the largest such distance among the candidates.
An image like one already chosen loses up to DIVERSITY of its value, so the picks spread over the kinds of
image in the folder instead of repeating the hardest-looking one. Features are cheap to compute from the
pixels: a histogram of the normalised intensities and a coarse thumbnail. On ISBI 2012, whose slices all
look alike, diversity costs a little (tests/bench/README.md): it is kept light, for folders that mix kinds
of image.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.errors import Cancelled, SegLabError
from core.io.images import percentile_levels

DIVERSITY = 0.25
HISTOGRAM_BINS = 16
THUMBNAIL_SIDE = 8
FEATURE_SIDE = 1024
MAX_CANDIDATES = 48  # the most uncertain unlabeled images considered (their pixels are read for features)
MAX_REFERENCES = 48  # labeled images whose features the picks keep their distance from

Region = tuple[int, int, int, int]


@dataclass(frozen=True)
class Suggestion:
    name: str
    score: float  # the image's uncertainty score
    region: Region | None  # (top, left, bottom, right) of its most uncertain square; None without a map


def image_features(image: np.ndarray) -> np.ndarray:
    """A unit-length float32 vector describing the image's look: the histogram of its intensities scaled by
    their percentile levels (channels averaged; read from a copy at most FEATURE_SIDE pixels wide) and a
    THUMBNAIL_SIDE² thumbnail of the same scaling."""
    image = np.asarray(image)
    gray = image.astype(np.float32) if image.ndim == 2 else image.astype(np.float32).mean(axis=2)
    gray = np.nan_to_num(gray, nan=0.0, posinf=0.0, neginf=0.0)
    factor = max(gray.shape) / FEATURE_SIDE
    if factor > 1:
        size = (max(1, round(gray.shape[1] / factor)), max(1, round(gray.shape[0] / factor)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    low, high = percentile_levels(gray)[0]
    scaled = np.clip((gray - low) / max(float(high - low), 1e-6), 0.0, 1.0)
    histogram = np.histogram(scaled, bins=HISTOGRAM_BINS, range=(0.0, 1.0))[0].astype(np.float32)
    histogram /= max(1.0, histogram.sum())
    thumbnail = cv2.resize(scaled, (THUMBNAIL_SIDE, THUMBNAIL_SIDE), interpolation=cv2.INTER_AREA).ravel()
    thumbnail = (thumbnail - thumbnail.mean()) / THUMBNAIL_SIDE
    vector = np.concatenate([histogram, thumbnail]).astype(np.float32)
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


def rank_for_labeling(scores: dict[str, float], features: dict[str, np.ndarray],
                      labeled_features: Iterable[np.ndarray] = (), count: int | None = None) -> list[str]:
    """The names of `scores` (those with features) in the order to label them, best first (see the module
    docstring). Deterministic: ties go to the name that sorts first."""
    names = sorted(name for name in scores if name in features)
    if not names:
        return []
    vectors = np.stack([features[name] for name in names]).astype(np.float64)
    values = np.array([scores[name] for name in names], dtype=np.float64)
    nearest = np.full(len(names), np.inf)
    for reference in labeled_features:
        nearest = np.minimum(nearest, np.linalg.norm(vectors - reference, axis=1))
    chosen: list[str] = []
    open_ = np.ones(len(names), dtype=bool)
    for _ in range(min(count or len(names), len(names))):
        spread = nearest[open_ & np.isfinite(nearest)]
        largest = spread.max() if spread.size else 0.0
        closeness = 0.0 if largest <= 0 else 1.0 - np.minimum(nearest / largest, 1.0)
        value = np.where(open_, values * (1.0 - DIVERSITY * closeness), -np.inf)
        pick = int(np.argmax(value))  # first of equal values: names are sorted
        chosen.append(names[pick])
        open_[pick] = False
        nearest = np.minimum(nearest, np.linalg.norm(vectors - vectors[pick], axis=1))
    return chosen


def suggest_next(index, scores: dict[str, float], read_map: Callable[[str], np.ndarray | None],
                 count: int = 10, cancel: Callable[[], bool] | None = None) -> list[Suggestion]:
    """Suggestions for a DatasetIndex: its unlabeled images with a score, ranked by rank_for_labeling against
    its labeled images, each with the most uncertain region of the map read_map(name) gives (None: no map).
    Images that cannot be read are left out. Raises Cancelled when cancel() turns true."""
    from core.inference.uncertainty import uncertain_region

    unlabeled = [s for s in index.samples if not s.labeled and s.name in scores]
    candidates = sorted(unlabeled, key=lambda s: (-scores[s.name], s.name))[:MAX_CANDIDATES]
    features = _features(index, candidates, cancel)
    references = _features(index, list(index.labeled)[:MAX_REFERENCES], cancel)
    order = rank_for_labeling({n: scores[n] for n in features}, features, references.values(), count)
    suggestions = []
    for name in order:
        _check(cancel)
        try:
            uncertainty = read_map(name)
        except SegLabError:
            uncertainty = None
        region = uncertain_region(uncertainty) if uncertainty is not None else None
        suggestions.append(Suggestion(name, scores[name], region))
    return suggestions


def _features(index, samples, cancel) -> dict[str, np.ndarray]:
    found = {}
    for sample in samples:
        _check(cancel)
        try:
            found[sample.name] = image_features(index.load_image(sample))
        except SegLabError:
            continue  # an unreadable image is listed in the Problems panel; it cannot be labeled anyway
    return found


def _check(cancel) -> None:
    if cancel is not None and cancel():
        raise Cancelled("label-next suggestions cancelled")


def maps_reader(folder: str | Path) -> Callable[[str], np.ndarray | None]:
    """read_map for suggest_next over a prediction folder's uncertainty maps (None where there is none)."""
    from core.inference.uncertainty_files import map_path, read_map

    def read(name: str) -> np.ndarray | None:
        path = map_path(folder, name)
        return read_map(path) if path.is_file() else None

    return read
