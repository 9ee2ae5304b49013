"""Uncertainty and Label next on ISBI 2012, run by hand: `python tests/bench/bench_uncertainty.py`.

1. Is the uncertainty map informative? A model trained on images 0-23 predicts 24-29; prints the AUROC of
   the map (normalised entropy, and 1 - max probability) for telling wrong pixels from right ones, without
   and with flip test-time augmentation (target >= 0.80).
2. Do suggestions help? A model trained on two images (0 and 1, then 12 and 13) predicts the other images
   of 0-23; 4 of them are added by Label next (core.label_next) or at random (3 draws), the model is
   fine-tuned on its 6 images with the same budget in every arm, and scored on the held-out 24-29 (mIoU).
   Also prints the arms that rank by uncertainty alone and by the plain mean score, to show what the
   choices in core.label_next are worth.
Small CPU settings (classic U-Net, 16 base channels, 128-pixel patches); about 20 minutes on 2 busy cores.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import core.label_next as label_next  # noqa: E402
from core.data.augment import AugmentConfig  # noqa: E402
from core.data.index import DatasetIndex  # noqa: E402
from core.inference import PredictOptions, Predictor  # noqa: E402
from core.inference.uncertainty import image_score, pixel_uncertainty  # noqa: E402
from core.metrics import ConfusionMatrix  # noqa: E402
from core.training.config import TrainConfig  # noqa: E402
from core.training.loop import Trainer  # noqa: E402
from tests.conftest import shared_data_dir  # noqa: E402

HELD_OUT = [str(i) for i in range(24, 30)]
STARTS = [("0", "1"), ("12", "13")]  # the two labeled images each experiment starts from
POOL = [str(i) for i in range(24)]  # less the starting pair: the unlabeled images to choose from
LABEL_NEXT = "label next (top-5% score + diversity)"
ADDED = 4
RANDOM_SEEDS = (0, 1, 2)


def train(index: DatasetIndex, names: list[str], out: Path, epochs: int, init: Path | None = None) -> Path:
    """Train (or fine-tune from `init`) on `names` only, no validation split: the last epoch's best loss."""
    subset = replace(index, samples=tuple(s for s in index.samples if s.name in set(names)))
    config = TrainConfig(
        data_dir=str(index.root), output=str(out), architecture="unet_classic", encoder=None,
        model_options={"base_channels": 16, "bilinear": True}, epochs=epochs, batch_size=8, patch_size=128,
        patches_per_epoch=64, learning_rate=3e-3 if init else 1e-2, val_fraction=0.0, device="cpu",
        early_stopping=0, augment=AugmentConfig(scale=0.0), init_model=str(init) if init else None,
        schedule="none")
    for _ in Trainer(config, index=subset).run():
        pass
    return out


def probabilities(model: Path, index: DatasetIndex, names: list[str], tta: bool = False) -> dict[str, np.ndarray]:
    predictor = Predictor.from_file(model, PredictOptions(return_probabilities=True, tta=tta, backend="torch"))
    return {name: predictor.predict(index.load_image(index.sample(name)))[1] for name in names}


def auroc(wrong: np.ndarray, values: np.ndarray) -> float:
    """Probability that a wrong pixel is more uncertain than a right one (ties count half)."""
    from scipy.stats import rankdata

    ranks = rankdata(values)
    positives = int(wrong.sum())
    negatives = wrong.size - positives
    return float((ranks[wrong].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def held_out_miou(model: Path, index: DatasetIndex) -> float:
    predictor = Predictor.from_file(model, PredictOptions(backend="torch"))
    matrix = ConfusionMatrix(2)
    for name in HELD_OUT:
        sample = index.sample(name)
        matrix.update(predictor.predict(index.load_image(sample)), index.load_mask(sample))
    return matrix.mean_iou()


def informative(index: DatasetIndex, work: Path, epochs: int) -> None:
    started = time.perf_counter()
    model = train(index, [str(i) for i in range(24)], work / "all.safetensors", epochs)
    print(f"trained on 0-23 in {time.perf_counter() - started:.0f} s; held-out mIoU {held_out_miou(model, index):.3f}")
    truths = [index.load_mask(index.sample(name)) for name in HELD_OUT]
    for tta in (False, True):
        probs = probabilities(model, index, HELD_OUT, tta)
        wrong = np.concatenate([(p.argmax(0) != t).ravel() for p, t in zip(probs.values(), truths, strict=True)])
        for measure in ("entropy", "margin"):
            values = np.concatenate([pixel_uncertainty(p, measure).ravel() for p in probs.values()])
            print(f"AUROC wrong vs right pixels, {measure:7s}{' + flip TTA' if tta else '':12s}: "
                  f"{auroc(wrong, values):.3f}   ({wrong.mean():.1%} of the pixels wrong)")


def suggestions_help(index: DatasetIndex, work: Path, epochs: int, tune_epochs: int) -> dict[str, float]:
    """Held-out mIoU of each arm, for every starting pair."""
    results: dict[str, list[float]] = {}
    for start_names in STARTS:
        pool = [name for name in POOL if name not in start_names]
        start = train(index, list(start_names), work / f"start{start_names[0]}.safetensors", epochs)
        print(f"model on images {', '.join(start_names)}: held-out mIoU {held_out_miou(start, index):.3f}")
        maps = {name: pixel_uncertainty(p) for name, p in probabilities(start, index, pool).items()}
        features = {name: label_next.image_features(index.load_image(index.sample(name))) for name in pool}
        labeled = [label_next.image_features(index.load_image(index.sample(name))) for name in start_names]
        top = {name: image_score(m) for name, m in maps.items()}
        mean = {name: image_score(m, 1.0) for name, m in maps.items()}
        arms = {LABEL_NEXT: label_next.rank_for_labeling(top, features, labeled, ADDED)}
        diversity, label_next.DIVERSITY = label_next.DIVERSITY, 0.0
        arms["uncertainty alone (top-5% score)"] = label_next.rank_for_labeling(top, features, labeled, ADDED)
        label_next.DIVERSITY = diversity
        arms["label next with the mean score"] = label_next.rank_for_labeling(mean, features, labeled, ADDED)
        rng = np.random.default_rng(int(start_names[0]))
        for seed in RANDOM_SEEDS:
            arms[f"random {seed}"] = sorted(rng.choice(pool, ADDED, replace=False), key=int)
        for arm, added in arms.items():
            model = train(index, [*start_names, *added], work / "arm.safetensors", tune_epochs, init=start)
            results.setdefault(arm, []).append(held_out_miou(model, index))
            print(f"  {arm:36s} adds {', '.join(added):14s} held-out mIoU {results[arm][-1]:.3f}", flush=True)
    randoms = [v for arm, values in results.items() if arm.startswith("random") for v in values]
    print(f"mean over the starting pairs {', '.join('+'.join(s) for s in STARTS)}:")
    for arm, values in results.items():
        if not arm.startswith("random"):
            print(f"  {arm:36s} {statistics.mean(values):.3f}")
    print(f"  {'random (' + str(len(RANDOM_SEEDS)) + ' seeds each)':36s} {statistics.mean(randoms):.3f}")
    chosen = statistics.mean(results[LABEL_NEXT])
    print(f"label next {chosen:.3f} vs random {statistics.mean(randoms):.3f}: "
          f"{chosen - statistics.mean(randoms):+.3f} mIoU")
    return {arm: statistics.mean(values) for arm, values in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8, help="epochs of 64 patches for a model from scratch")
    parser.add_argument("--tune-epochs", type=int, default=6, help="epochs of fine-tuning in each arm")
    parser.add_argument("--part", choices=("all", "auroc", "suggest"), default="all")
    args = parser.parse_args()
    index = DatasetIndex.scan(shared_data_dir() / "isbi2012")
    with tempfile.TemporaryDirectory(prefix="seglab-bench-uncertainty-") as work:
        if args.part in ("all", "auroc"):
            informative(index, Path(work), args.epochs)
        if args.part in ("all", "suggest"):
            suggestions_help(index, Path(work), args.epochs, args.tune_epochs)


if __name__ == "__main__":
    main()
