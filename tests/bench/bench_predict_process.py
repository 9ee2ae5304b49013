"""Whole-process folder prediction, run by hand: `python tests/bench/bench_predict_process.py [--copies 4]`.

120 images of 512 x 512 (the 30 ISBI test images copied four times), one model file (smp Unet resnet18, one
input channel, two classes, random weights with seed 0, inputs scaled by the dtype range like the plain loop):
  plain    a fresh `python` running the seed articles' loop: cv2.imread, /255, eager fp32 model(x) one image
           at a time under no_grad, argmax, cv2.imwrite; the whole process is timed, imports included;
  seglab   a fresh `python main.py predict MODEL DIR OUT`, timed the same way (after one run on three images
           that fills this machine's caches, started empty: the measured choice of path and the exports).
Then the masks' agreement, the chosen path (the CLI's reason line), and the network's speed against a
4096 x 4096 matrix product in the chosen precision measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

SPEED_TARGET = 4.0
CEILING_TARGET = 0.5


def plain_loop(input_dir: str, output_dir: str) -> None:
    """The plain loop, run as its own process (--plain); the same weights as the model file (seed 0)."""
    import cv2
    import segmentation_models_pytorch as smp
    import torch

    torch.manual_seed(0)
    model = smp.Unet("resnet18", encoder_weights=None, in_channels=1, classes=2).eval()
    for path in sorted(Path(input_dir).iterdir()):
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) / 255.0
        x = torch.from_numpy(image).float()[None, None]
        with torch.no_grad():
            mask = model(x).argmax(dim=1)[0].numpy().astype(np.uint8)
        cv2.imwrite(str(Path(output_dir) / path.name), mask)


def timed(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return seconds, done.stdout


def matmul_gflops(dtype) -> float:
    import torch

    a, b = torch.randn(4096, 4096).to(dtype), torch.randn(4096, 4096).to(dtype)
    a @ b
    best = min(_seconds(lambda: a @ b) for _ in range(3))
    return 2 * 4096**3 / best / 1e9


def _seconds(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def network_gflops(model_file: Path, images: list[Path]) -> tuple[str, float, float]:
    """(chosen path, GFLOP per 512 x 512 image, GFLOP/s of the chosen runner on batches of 4 tiles)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from core.inference import PredictOptions
    from core.inference.path_choice import choose_path
    from core.inference.path_timings import seconds_per_tile
    from core.io.images import read_image
    from core.models.model_file import load_model_file

    model, spec = load_model_file(model_file, "cpu")
    tiles = np.stack([spec.normalisation.apply(read_image(path), spec.normalisation.levels(read_image(path)))
                      for path in images[:4]]).astype(np.float32)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.from_numpy(tiles[:1]))
    gflop = counter.get_total_flops() / 1e9
    path = choose_path(model, spec, PredictOptions(), tiles)
    return path.name, gflop, gflop / seconds_per_tile(path.runner, tiles)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=4, help="copies of the 30 ISBI test images (default 4)")
    parser.add_argument("--plain", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain:
        plain_loop(*args.plain)
        return

    import torch

    from core.models.model_file import save_model_file
    from tests.bench.bench_predict import agreement, build_model, build_spec
    from tests.conftest import shared_data_dir

    sources = sorted((shared_data_dir() / "isbi2012" / "test").glob("*.png"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        images = folder / "images"
        images.mkdir()
        for copy in range(args.copies):
            for source in sources:
                shutil.copyfile(source, images / f"{copy}_{source.name}")
        warm = folder / "warm"
        warm.mkdir()
        for source in sources[:3]:
            shutil.copyfile(source, warm / source.name)
        model_file = save_model_file(folder / "unet_resnet18.safetensors", build_model(), build_spec("dtype_range"))
        os.environ["SEGLAB_DATA_HOME"] = str(folder / "data")  # this machine's timings and exports start empty
        os.environ["SEGLAB_ONNX_CACHE"] = str(folder / "onnx")
        count = len(list(images.iterdir()))
        print(f"{count} images of 512 x 512; torch {torch.__version__}, {torch.get_num_threads()} threads; "
              f"load average before: {os.getloadavg()[0]:.1f}")
        main_py = [sys.executable, str(REPO / "main.py"), "predict", str(model_file)]
        first, _ = timed(main_py + [str(warm), str(folder / "warm_out")])
        print(f"first `predict` on 3 images (fills this machine's empty caches): {first:.1f} s")
        start_up, _ = timed(main_py + [str(warm), str(folder / "warm_out2")])
        print(f"`predict` on 3 images, caches filled: {start_up:.1f} s")
        (folder / "plain").mkdir()
        plain, _ = timed([sys.executable, __file__, "--plain", str(images), str(folder / "plain")])
        ours, out = timed(main_py + [str(images), str(folder / "seglab")])
        reason = next(line for line in out.splitlines() if line.startswith("prediction: "))
        print(f"plain loop (whole process)      {plain:6.1f} s  {count / plain:5.2f} images/s")
        print(f"python main.py predict          {ours:6.1f} s  {count / ours:5.2f} images/s  "
              f"{plain / ours:.2f}x the plain loop ({'meets' if plain / ours >= SPEED_TARGET else 'MISSES'} "
              f"the {SPEED_TARGET:.0f}x target)")
        print(f"  {reason}")
        print(f"  masks equal to the plain loop's on {agreement(folder / 'plain', folder / 'seglab'):.4%} of pixels")
        name, gflop, rate = network_gflops(model_file, sorted(images.iterdir()))
        dtype = torch.bfloat16 if name.endswith("bf16") else torch.float32
        ceiling = matmul_gflops(dtype)
        print(f"network: {gflop:.1f} GFLOP per image; {name} at {rate:.0f} GFLOP/s against a 4096 x 4096 "
              f"{str(dtype).removeprefix('torch.')} matrix product at {ceiling:.0f} GFLOP/s: {rate / ceiling:.0%} "
              f"of the ceiling (target {CEILING_TARGET:.0%})")
        print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
