"""Prediction speed and memory, run by hand: `python tests/bench/bench_predict.py [--data DIR]`.

Same model (smp Unet resnet18, 1 input channel, 2 classes, random init, seed 0) and the same 512 x 512 images:
  baseline   the seed articles' loop: cv2.imread, /255, model(x) one image at a time under no_grad, argmax,
             cv2.imwrite;
  seglab     predict_folder with the "auto" backend, plus each backend on its own for comparison, and the
             "auto" precision (the fastest path measured here, reduced precision only where its masks agree
             with 32-bit on 99.9% of the pixels of the first images).
Then the peak resident memory of predicting one 8192 x 8192 uint16 image, in a fresh subprocess.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

MEMORY_TARGET_MB = 2048
SPEED_TARGET = 2.0


def build_model():
    import segmentation_models_pytorch as smp
    import torch

    torch.manual_seed(0)
    return smp.Unet("resnet18", encoder_weights=None, in_channels=1, classes=2).eval()


def build_spec(normalisation: str):
    from core.classes import ClassTable
    from core.io.images import Normalisation
    from core.models.spec import ModelSpec

    return ModelSpec("unet", 1, ClassTable.default(2), 2, encoder="resnet18",
                     normalisation=Normalisation(normalisation), patch_size=512)


def baseline(model, paths: list[Path], output: Path) -> float:
    """The plain loop of the seed articles; returns images per second."""
    import cv2
    import torch

    def one(path: Path) -> None:
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) / 255.0
        x = torch.from_numpy(image).float()[None, None]
        with torch.no_grad():
            mask = model(x).argmax(dim=1)[0].numpy().astype(np.uint8)
        cv2.imwrite(str(output / path.name), mask)

    one(paths[0])  # warm-up, as SegLab's setup is not counted either
    start = time.perf_counter()
    for path in paths:
        one(path)
    return len(paths) / (time.perf_counter() - start)


def seglab(model, paths: list[Path], output: Path, backend: str, precision: str) -> tuple[float, float, str]:
    """predict_folder with one backend; returns (images per second, setup seconds, backend used)."""
    from core.inference import PredictOptions, Predictor, predict_folder

    start = time.perf_counter()
    predictor = Predictor(model, build_spec("dtype_range"), PredictOptions(backend=backend, precision=precision))
    if predictor.needs_calibration:  # setup, like the ONNX export: the choice and the agreement check
        predictor.calibrate([read_gray(p) for p in paths[:4]])
    setup = time.perf_counter() - start
    predictor.predict(np.zeros((512, 512), np.uint8))  # warm-up
    result = predict_folder(predictor, paths, output)
    if result.failures:
        raise RuntimeError(f"prediction failed: {result.failures}")
    return result.images_per_s, setup, predictor.backend


def read_gray(path: Path) -> np.ndarray:
    from core.io.images import read_image

    return read_image(path)


def agreement(first: Path, second: Path) -> float:
    """Share of pixels with the same class in two folders of masks (stored values, palettes ignored)."""
    from PIL import Image

    equal = total = 0
    for path in sorted(first.iterdir()):
        a, b = np.asarray(Image.open(path)), np.asarray(Image.open(second / path.name))
        equal += int((a == b).sum())
        total += a.size
    return equal / total


def memory_child(size: int) -> None:
    """Predict one size x size uint16 image and print peak memory as JSON (run in a fresh process)."""
    from core.inference import PredictOptions, Predictor

    predictor = Predictor(build_model(), build_spec("percentile"), PredictOptions(backend="auto"))
    rng = np.random.default_rng(0)
    image = rng.integers(0, 4096, (size, size), dtype=np.uint16)
    shown = [0]

    def progress(done: int, total: int) -> None:
        if done * 10 // total > shown[0]:
            shown[0] = done * 10 // total
            print(f"  memory run: {done}/{total} tiles", file=sys.stderr, flush=True)

    start = time.perf_counter()
    mask = predictor.predict(image, progress=progress)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux
    print(json.dumps({"peak_mb": peak_mb, "seconds": seconds, "backend": predictor.backend,
                      "mask_shape": list(mask.shape)}))


def measure_memory(size: int) -> None:
    print(f"\npeak memory predicting one {size} x {size} uint16 image (fresh process, everything included):")
    done = subprocess.run([sys.executable, __file__, "--memory-child", str(size)], capture_output=False,
                          stdout=subprocess.PIPE, text=True, check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    verdict = "within" if report["peak_mb"] < MEMORY_TARGET_MB else "OVER"
    print(f"  peak RSS {report['peak_mb']:.0f} MB ({verdict} the {MEMORY_TARGET_MB} MB target), "
          f"{report['seconds']:.0f} s with {report['backend']}")


def default_images() -> Path:
    from tests.conftest import shared_data_dir

    return shared_data_dir() / "isbi2012" / "images"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="folder of 512 x 512 images (default: shared isbi2012/images)")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N images")
    parser.add_argument("--memory-size", type=int, default=8192, help="side of the memory test image (0 skips)")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return

    import torch

    folder = args.data or default_images()
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".png")[: args.limit or None]
    print(f"{len(paths)} images from {folder}; torch {torch.__version__}, {torch.get_num_threads()} threads")
    model = build_model()
    with tempfile.TemporaryDirectory() as tmp:
        runs = (("torch", "exact"), ("onnx", "exact"), ("auto", "exact"), ("auto", "auto"))
        outputs = {name: Path(tmp) / name for name in ["baseline"] + [f"{b}-{p}" for b, p in runs]}
        for output in outputs.values():
            output.mkdir()
        base = baseline(model, paths, outputs["baseline"])
        print(f"baseline (seed articles' loop)                {base:6.2f} images/s")
        rates = {}
        for backend, precision in runs:
            name = f"{backend}-{precision}"
            rate, setup, used = seglab(model, paths, outputs[name], backend, precision)
            rates[name] = rate
            same = agreement(outputs["baseline"], outputs[name])
            print(f"seglab backend={backend:<5} {precision:<5} ({used:<9}) {rate:6.2f} images/s  {rate / base:4.2f}x "
                  f"baseline  setup {setup:4.1f} s  masks equal to baseline {same:.4%}")
    for name in ("auto-exact", "auto-auto"):
        verdict = "meets" if rates[name] / base >= SPEED_TARGET else "MISSES"
        print(f"seglab {name} is {rates[name] / base:.2f}x the baseline ({verdict} the {SPEED_TARGET:.0f}x target)")
    if args.memory_size:
        measure_memory(args.memory_size)


if __name__ == "__main__":
    main()
