"""Accuracy per minute: SegLab's `train --minutes` against the plain loop, on held-out images at full resolution.

Run by hand:
  python tests/bench/bench_time_budget.py                        # plain loop, then SegLab at its wall time
  python tests/bench/bench_time_budget.py --table 1 2 5 10       # and the quality-versus-time table
  python tests/bench/bench_time_budget.py --recipes --minutes 2  # the automatic recipe's candidates

Data: ISBI 2012 (train on images 0-23, score 24-29) and BBBC039 (train on the first 30 names, score the other
10; nucleus = mask R > 0), both scored at full resolution: mIoU of the two ISBI classes, IoU of the nucleus class.
Plain loop: as bench_train.py defines it (whole images read with cv2 and scaled to 0..1, batch 4, shuffle, smp
U-Net resnet18 in fp32, Adam 1e-3, cross-entropy), for --plain-epochs epochs; its weights are also kept at each
--table minute. SegLab: `main.py train DATA --minutes T` with the automatic recipe, T = the plain loop's wall time.
Throughput: bench_train.py's two loops at the same 512 x 512 patches, images/s and the ratio.
"""

from __future__ import annotations

import argparse
import copy
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from tests.conftest import shared_data_dir  # noqa: E402

BATCH = 4
RECIPES = {  # the candidates the automatic recipe was chosen from (extra `train` options)
    "unet-r18 256px b4 lr1e-3": ["--arch", "unet", "--encoder", "resnet18", "--patch-size", "256",
                                 "--batch-size", "4", "--lr", "0.001"],
    "unet-r18 256px b8 lr2e-3": ["--arch", "unet", "--encoder", "resnet18", "--patch-size", "256",
                                 "--batch-size", "8", "--lr", "0.002"],
    "unet-r18 256px b8 lr2e-3 ce+dice": ["--arch", "unet", "--encoder", "resnet18", "--patch-size", "256",
                                         "--batch-size", "8", "--lr", "0.002", "--loss", "ce_dice"],
    "linknet-r18 256px b8 lr2e-3": ["--arch", "linknet", "--encoder", "resnet18", "--patch-size", "256",
                                    "--batch-size", "8", "--lr", "0.002"],
    "linknet-r18 256px b8 lr2e-3 ce+dice": ["--arch", "linknet", "--encoder", "resnet18", "--patch-size", "256",
                                            "--batch-size", "8", "--lr", "0.002", "--loss", "ce_dice"],
    "linknet-r18 256px b8 lr2e-3 geometry only": ["--arch", "linknet", "--encoder", "resnet18", "--patch-size",
                                                  "256", "--batch-size", "8", "--lr", "0.002", "--augment",
                                                  "geometry"],
    "linknet-r18 512px b4 lr2e-3": ["--arch", "linknet", "--encoder", "resnet18", "--patch-size", "512",
                                    "--batch-size", "4", "--lr", "0.002"],
    "fpn-r18 256px b8 lr2e-3": ["--arch", "fpn", "--encoder", "resnet18", "--patch-size", "256",
                                "--batch-size", "8", "--lr", "0.002"],
}


# data -----------------------------------------------------------------------------------------------
def prepare_isbi(source: Path, folder: Path) -> list[tuple[Path, np.ndarray]]:
    """images/ + masks/ of ISBI 0-23 linked into `folder`; returns the held-out 24-29 (image, truth 0/1)."""
    for sub in ("images", "masks"):
        (folder / sub).mkdir(parents=True)
    held_out = []
    for index in range(30):
        image, mask = source / "images" / f"{index}.png", source / "masks" / f"{index}.png"
        if index < 24:
            (folder / "images" / image.name).symlink_to(image)
            (folder / "masks" / mask.name).symlink_to(mask)
        else:
            held_out.append((image, (cv2.imread(str(mask), cv2.IMREAD_GRAYSCALE) > 127).astype(np.uint8)))
    return held_out


def prepare_bbbc(source: Path, folder: Path) -> list[tuple[Path, np.ndarray]]:
    """The first 30 BBBC039 images with binary masks (R > 0 = nucleus) in `folder`; returns the other 10."""
    for sub in ("images", "masks"):
        (folder / sub).mkdir(parents=True)
    held_out = []
    for number, image in enumerate(sorted((source / "images").glob("*.tif"))):
        red = cv2.imread(str(source / "masks" / f"{image.stem}.png"), cv2.IMREAD_UNCHANGED)[:, :, 2]
        truth = (red > 0).astype(np.uint8)
        if number < 30:
            (folder / "images" / image.name).symlink_to(image)
            cv2.imwrite(str(folder / "masks" / f"{image.stem}.png"), truth)
        else:
            held_out.append((image, truth))
    return held_out


DATASETS = {"isbi": ("isbi2012", prepare_isbi), "bbbc039": ("bbbc039", prepare_bbbc)}


def plain_image(path: Path) -> np.ndarray:
    """The plain loop's input: cv2 as read, scaled by the dtype's range (12-bit BBBC039 by 4095)."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED).astype(np.float32)
    return image / (4095.0 if path.suffix == ".tif" else 255.0)


def pad32(array: np.ndarray) -> np.ndarray:
    height, width = array.shape[:2]
    return cv2.copyMakeBorder(array, 0, -height % 32, 0, -width % 32, cv2.BORDER_REFLECT)


# scores ---------------------------------------------------------------------------------------------
def iou_scores(predictions: list[np.ndarray], truths: list[np.ndarray]) -> tuple[float, float]:
    """(mean IoU of background and foreground, foreground IoU) over all held-out pixels together."""
    matrix = np.zeros((2, 2), np.int64)
    for prediction, truth in zip(predictions, truths, strict=True):
        matrix += np.bincount(truth.ravel() * 2 + prediction.ravel(), minlength=4).reshape(2, 2)
    ious = [matrix[c, c] / (matrix[c, :].sum() + matrix[:, c].sum() - matrix[c, c]) for c in (0, 1)]
    return float(np.mean(ious)), float(ious[1])


def score_plain(model: torch.nn.Module, held_out) -> tuple[float, float]:
    model.eval()
    predictions = []
    with torch.inference_mode():
        for path, truth in held_out:
            image = pad32(plain_image(path))
            logits = model(torch.from_numpy(image)[None, None])
            predictions.append(logits.argmax(1)[0].numpy()[: truth.shape[0], : truth.shape[1]].astype(np.uint8))
    return iou_scores(predictions, [truth for _, truth in held_out])


def score_seglab(model_path: Path, held_out) -> tuple[float, float]:
    """The model file on each whole image (padded to a multiple of 32) in fp32, scaled as SegLab scales."""
    from core.data.dataset import LoadedSample, crop_padded, normalise_region
    from core.io.images import read_image
    from core.models.model_file import load_model_file
    from core.models.outputs import main_output

    model, spec = load_model_file(model_path, "cpu")
    model.eval()
    predictions = []
    with torch.inference_mode():
        for path, truth in held_out:
            sample = LoadedSample.create(path.stem, read_image(path), truth, spec.normalisation)
            height, width = truth.shape
            size = max(height, width) + -max(height, width) % 32
            x = normalise_region(sample, crop_padded(sample.image, 0, 0, size, None))
            logits = main_output(model(torch.from_numpy(x)[None]))
            predictions.append((logits.argmax(1)[0, :height, :width].numpy() > 0).astype(np.uint8))
    return iou_scores(predictions, [truth for _, truth in held_out])


# the two trainers -----------------------------------------------------------------------------------
def plain_loop(folder: Path, held_out, epochs: int, snapshot_minutes: list[float]) -> tuple[float, dict]:
    """Train the plain loop; returns its wall time and {minute: scores} of the weights at each snapshot minute
    reached (and at the end). Scoring is done afterwards, outside the timed part."""
    import segmentation_models_pytorch as smp

    torch.manual_seed(0)
    images = sorted((folder / "images").iterdir())
    pairs = [(pad32(plain_image(p)), pad32((cv2.imread(str(folder / "masks" / f"{p.stem}.png"),
                                                      cv2.IMREAD_GRAYSCALE) > 0).astype(np.uint8)))
             for p in images]
    model = smp.Unet("resnet18", encoder_weights=None, in_channels=1, classes=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = torch.nn.CrossEntropyLoss()
    snapshots, pending = {}, sorted(snapshot_minutes)
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(pairs)).tolist()
        for first in range(0, len(order) - BATCH + 1, BATCH):
            batch = [pairs[i] for i in order[first:first + BATCH]]
            x = torch.from_numpy(np.stack([b[0] for b in batch]))[:, None]
            y = torch.from_numpy(np.stack([b[1] for b in batch]).astype(np.int64))
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            loss.item()
            while pending and time.perf_counter() - start >= pending[0] * 60:
                snapshots[pending.pop(0)] = copy.deepcopy(model.state_dict())
    wall = time.perf_counter() - start
    scores = {"end": score_plain(model, held_out)}  # before the snapshots replace the final weights
    for minute, state in snapshots.items():
        model.load_state_dict(state)
        scores[minute] = score_plain(model, held_out)
    return wall, scores


def seglab_run(folder: Path, out: Path, minutes: float, extra: list[str]) -> tuple[float, str]:
    """`main.py train` with a budget; returns its wall time (process start to end) and its last lines."""
    command = [sys.executable, str(REPO / "main.py"), "train", str(folder), "--out", str(out),
               "--minutes", f"{minutes:.3f}", *extra]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode not in (0, 1):
        raise RuntimeError(result.stderr[-2000:])
    return wall, result.stdout


def budget_line(stdout: str) -> str:
    lines = [line for line in stdout.splitlines() if line.startswith(("precision:", "Training "))]
    return " | ".join(lines)


# the benchmark --------------------------------------------------------------------------------------
def run_dataset(name: str, args, work: Path) -> None:
    folder_name, prepare = DATASETS[name]
    train_dir = work / name
    held_out = prepare(shared_data_dir() / folder_name, train_dir)
    metric = "mIoU" if name == "isbi" else "nucleus IoU"
    pick = 0 if name == "isbi" else 1
    if args.recipes:
        for title, extra in RECIPES.items():
            out = work / f"{name}_{len(os.listdir(work))}.safetensors"
            wall, stdout = seglab_run(train_dir, out, args.minutes, extra)
            print(f"[{name}] {title}: {metric} {score_seglab(out, held_out)[pick]:.3f} in {wall:.0f} s wall  "
                  f"({budget_line(stdout)})", flush=True)
        return
    plain_wall, plain_scores = plain_loop(train_dir, held_out, args.plain_epochs, args.table)
    print(f"[{name}] plain loop, {args.plain_epochs} epochs: {metric} {plain_scores['end'][pick]:.3f} "
          f"in {plain_wall:.0f} s", flush=True)
    out = work / f"{name}_budget.safetensors"
    wall, stdout = seglab_run(train_dir, out, plain_wall / 60, [])
    ours = score_seglab(out, held_out)[pick]
    print(f"[{name}] SegLab --minutes {plain_wall / 60:.2f}: {metric} {ours:.3f} ({ours - plain_scores['end'][pick]:+.3f}"
          f" vs plain), process wall {wall:.0f} s  ({budget_line(stdout)})", flush=True)
    if args.table:
        print(f"[{name}] {metric} after      " + "  ".join(f"{m:>6g} min" for m in args.table))
        rows = {"plain loop": [plain_scores.get(m) for m in args.table], "SegLab auto": []}
        for minutes in args.table:
            table_out = work / f"{name}_{minutes}min.safetensors"
            seglab_run(train_dir, table_out, minutes, [])
            rows["SegLab auto"].append(score_seglab(table_out, held_out))
        for title, scores in rows.items():
            cells = [f"{s[pick]:10.3f}" if s is not None else f"{'(not run)':>10}" for s in scores]
            print(f"[{name}] {title:<16}" + "".join(cells), flush=True)


def throughput(batches: int) -> None:
    """bench_train.py's comparison at 512 x 512: plain loop vs SegLab, images/s, in fresh processes."""
    from bench_train import measure_in_subprocess

    folder = shared_data_dir() / "isbi2012"
    plain = measure_in_subprocess("plain", folder, batches)
    ours = measure_in_subprocess("seglab", folder, batches)
    print(f"throughput 512x512 batch 4: plain {plain:.2f} images/s, SegLab {ours:.2f} images/s, "
          f"ratio {ours / plain:.2f}x (target 2.5x with bf16)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS), choices=list(DATASETS),
                        help="none: only the throughput comparison")
    parser.add_argument("--plain-epochs", type=int, default=20)
    parser.add_argument("--table", nargs="*", type=float, default=[], metavar="MINUTES")
    parser.add_argument("--recipes", action="store_true", help="compare the recipe candidates instead")
    parser.add_argument("--minutes", type=float, default=2.0, help="budget of each recipe candidate")
    parser.add_argument("--throughput-batches", type=int, default=6, help="0: skip the throughput comparison")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, torch {torch.__version__}", flush=True)
    if args.throughput_batches and not args.recipes:
        throughput(args.throughput_batches)
    with tempfile.TemporaryDirectory(prefix="seglab-budget-bench-") as work:
        for name in args.datasets:
            run_dataset(name, args, Path(work))
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
