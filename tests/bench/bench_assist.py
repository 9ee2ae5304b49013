"""Assisted drawing tools (GrabCut box, intelligent scissors, magic wand) on BBBC039 nuclei, run by hand:
`python tests/bench/bench_assist.py [--nuclei 200]`.

A simulated user labels each nucleus from its ground truth (instances: the connected pieces of each value
of the masks' red channel), on the image as the viewer shows it (16-bit through the automatic levels):
- interaction 1: GrabCut: the nucleus's bounding box with 3 pixels of margin; wand: a click at the point
  deepest inside the nucleus with the automatic tolerance; scissors: 4 anchors spread evenly along its
  outline, then closed.
- interaction 2: one corrective click at the centre (deepest point) of the largest wrong region: GrabCut
  marks it foreground or background; the wand changes its tolerance just enough to take the point in or
  leave it out (Shift+click); scissors insert an anchor at the outline point nearest to it.
Prints the IoU against the ground truth after 1 and 2 interactions (median, 10th percentile, share >= 0.9,
share reaching 0.9 within 2), and the time of each call, also on a 2048 x 2048 image (target < 200 ms).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from core.assist.grabcut import grabcut_box  # noqa: E402
from core.assist.magic_wand import auto_tolerance, magic_wand, tolerance_to_flip  # noqa: E402
from core.assist.scissors import IntelligentScissors, polygon_crop  # noqa: E402
from core.io.images import display_view, percentile_levels, read_image  # noqa: E402
from tests.conftest import shared_data_dir  # noqa: E402

BOX_MARGIN = 3
MIN_AREA = 30
TARGET_IOU = 0.9


def nuclei(folder: Path, stem: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """The displayed uint8 image and one bool mask per nucleus away from the image border."""
    image = read_image(folder / "images" / f"{stem}.tif")
    shown = display_view(image, percentile_levels(image))
    red = cv2.imread(str(folder / "masks" / f"{stem}.png"), cv2.IMREAD_UNCHANGED)[:, :, 2]
    found = []
    for value in (1, 2, 3):
        count, pieces = cv2.connectedComponents((red == value).astype(np.uint8), connectivity=4)
        for label in range(1, count):
            piece = pieces == label
            x, y, w, h = cv2.boundingRect(piece.view(np.uint8))
            inside = x > BOX_MARGIN and y > BOX_MARGIN and x + w < red.shape[1] - BOX_MARGIN \
                and y + h < red.shape[0] - BOX_MARGIN
            if piece.sum() >= MIN_AREA and inside:
                found.append(piece)
    return shown, found


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def deepest(mask: np.ndarray) -> tuple[int, int]:
    """(x, y) of the pixel farthest from the mask's border."""
    distance = cv2.distanceTransform(np.pad(mask.view(np.uint8), 1), cv2.DIST_L2, 3)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(distance)), distance.shape)
    return int(x), int(y)


def correction(result: np.ndarray, truth: np.ndarray) -> tuple[tuple[int, int], bool]:
    """The corrective click: the centre of the largest wrong region, and whether it is missed foreground."""
    wrong = result != truth
    count, pieces, stats, _ = cv2.connectedComponentsWithStats(wrong.view(np.uint8), connectivity=4)
    if count <= 1:
        return deepest(truth), True
    largest = pieces == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y = deepest(largest)
    return (x, y), bool(truth[y, x])


def outline(truth: np.ndarray) -> np.ndarray:
    contours, _ = cv2.findContours(truth.view(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    return max(contours, key=len).reshape(-1, 2)


def run_grabcut(shown, truth, times):
    x, y, w, h = cv2.boundingRect(truth.view(np.uint8))
    box = (y - BOX_MARGIN, x - BOX_MARGIN, y + h + BOX_MARGIN, x + w + BOX_MARGIN)
    start = time.perf_counter()
    first = grabcut_box(shown, box)
    times.append(time.perf_counter() - start)
    point, missed = correction(first, truth)
    start = time.perf_counter()
    second = grabcut_box(shown, box, [point] if missed else [], [] if missed else [point])
    times.append(time.perf_counter() - start)
    return first, second


def run_wand(shown, truth, times):
    seed = deepest(truth)
    start = time.perf_counter()
    tolerance = auto_tolerance(shown, seed)
    first = magic_wand(shown, seed, tolerance)
    times.append(time.perf_counter() - start)
    point, _ = correction(first, truth)
    start = time.perf_counter()
    second = magic_wand(shown, seed, tolerance_to_flip(shown, seed, tolerance, point))
    times.append(time.perf_counter() - start)
    return first, second


def run_scissors(shown, truth, times):
    contour = outline(truth)
    positions = [i * len(contour) // 4 for i in range(4)]
    first = trace(shown, contour, positions, times)
    point, _ = correction(first, truth)
    nearest = int(np.argmin(((contour - point) ** 2).sum(axis=1)))
    second = trace(shown, contour, sorted(set(positions) | {nearest}), times)
    return first, second


def trace(shown, contour, positions, times) -> np.ndarray:
    start = time.perf_counter()
    scissors = IntelligentScissors(shown)
    for position in positions:
        scissors.add_anchor(tuple(int(v) for v in contour[position]))
    mask = polygon_crop(scissors.close(), shown.shape).full(shown.shape)
    times.append((time.perf_counter() - start) / len(positions))  # per click
    return mask


TOOLS = {"GrabCut box": run_grabcut, "magic wand": run_wand, "scissors": run_scissors}


def big_image_times(shown: np.ndarray, truth: np.ndarray) -> None:
    """Each tool on a 2048 x 2048 image (the BBBC039 field tiled) for one nucleus."""
    reps = (2048 // shown.shape[0] + 1, 2048 // shown.shape[1] + 1)
    big, big_truth = np.tile(shown, reps)[:2048, :2048], np.tile(truth, reps)[:2048, :2048]
    for name, run in TOOLS.items():
        times: list[float] = []
        for _ in range(3):
            run(big, big_truth & _first_piece(big_truth), times)
        print(f"  {name:12s} on 2048 x 2048: median {statistics.median(times) * 1000:.1f} ms, "
              f"max {max(times) * 1000:.1f} ms per call")


def _first_piece(mask: np.ndarray) -> np.ndarray:
    _, pieces = cv2.connectedComponents(mask.view(np.uint8))
    return pieces == 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nuclei", type=int, default=200, help="how many nuclei (default 200)")
    parser.add_argument("--images", type=int, default=10, help="spread over at least this many images (default 10)")
    args = parser.parse_args()
    folder = shared_data_dir() / "bbbc039"
    stems = sorted(p.stem for p in (folder / "images").glob("*.tif"))
    rng = np.random.default_rng(0)
    picked, quota = [], -(-args.nuclei // args.images)
    for stem in stems[1::2]:  # every other image until enough nuclei (some fields have few or none)
        shown, found = nuclei(folder, stem)
        chosen = rng.choice(len(found), min(len(found), quota), replace=False)
        picked += [(shown, found[i]) for i in chosen]
        if len(picked) >= args.nuclei:
            break
    picked = picked[:args.nuclei]
    print(f"{len(picked)} nuclei, at most {quota} per BBBC039 image (areas: median "
          f"{statistics.median(int(t.sum()) for _, t in picked)} px)")
    for name, run in TOOLS.items():
        times: list[float] = []
        results = np.array([[iou(r, truth) for r in run(shown, truth, times)] for shown, truth in picked])
        within = np.maximum(results[:, 0], results[:, 1])
        print(f"{name:12s} IoU after 1: median {np.median(results[:, 0]):.3f}, p10 "
              f"{np.percentile(results[:, 0], 10):.3f}, >= {TARGET_IOU}: {np.mean(results[:, 0] >= TARGET_IOU):.0%}"
              f" | after 2: median {np.median(results[:, 1]):.3f}, p10 {np.percentile(results[:, 1], 10):.3f}, "
              f">= {TARGET_IOU}: {np.mean(results[:, 1] >= TARGET_IOU):.0%} | within 2: "
              f"{np.mean(within >= TARGET_IOU):.0%} | per call median {statistics.median(times) * 1000:.1f} ms, "
              f"max {max(times) * 1000:.1f} ms")
    big_image_times(*picked[0])


if __name__ == "__main__":
    main()
