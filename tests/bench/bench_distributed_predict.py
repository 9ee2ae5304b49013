"""Folder prediction on local Dask workers vs one process, run by hand:
`python tests/bench/bench_distributed_predict.py [--count 200] [--workers 1 2]`.

The model is bench_predict's (smp Unet resnet18, 1 input channel, 2 classes, random init, seed 0), saved as a
SegLab model file; the images are the 30 ISBI 2012 test images (512 x 512), turned and mirrored into --count
distinct images. Every mode runs the network the same way (ONNX Runtime, 32-bit, the ONNX model already
cached; with precision "auto" each worker would pick its own fastest path on its own timings):
  single     predict_folder in this process (torch's default threads: every core);
  N workers  predict_folder_on_dask on a local cluster of N worker processes with one thread each.
Each run's images/s includes loading the model (in every worker); starting the cluster is printed apart.
The masks of every mode must equal the single process's, file for file.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.bench.bench_predict import build_model, build_spec  # noqa: E402


def make_images(source: Path, folder: Path, count: int) -> None:
    """`count` 512 x 512 images: the source images in their 8 orientations (90-degree turns, mirrored)."""
    originals = [np.asarray(Image.open(p)) for p in sorted(source.glob("*.png"))]
    for index in range(count):
        turn, image = divmod(index, len(originals))
        pixels = np.rot90(originals[image], turn % 4)
        Image.fromarray(pixels[:, ::-1] if turn >= 4 else pixels).save(folder / f"isbi_{index:04d}.png")


def same_masks(first: Path, second: Path) -> int:
    """How many masks of `first` have a twin with equal pixels in `second`."""
    return sum(np.array_equal(np.asarray(Image.open(path)), np.asarray(Image.open(second / path.name)))
               for path in sorted(first.iterdir()) if (second / path.name).is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200, help="images to predict (default 200)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="local worker counts (1 2)")
    args = parser.parse_args()

    import os

    import torch

    from core.inference import PredictOptions, predict_folder
    from core.inference.distributed_predict import dask_client, predict_folder_on_dask
    from core.models.model_file import save_model_file
    from tests.conftest import shared_data_dir

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["SEGLAB_ONNX_CACHE"] = str(tmp / "onnx")  # the workers inherit it
        images = tmp / "images"
        images.mkdir()
        make_images(shared_data_dir() / "isbi2012" / "test", images, args.count)
        model = save_model_file(tmp / "unet", build_model(), build_spec("dtype_range"))
        options = PredictOptions(backend="onnx", precision="exact")
        predict_folder(model, sorted(images.iterdir())[:1], tmp / "warm-up", options)  # ONNX export, cached
        print(f"{args.count} images of 512 x 512; {os.cpu_count()} cores; torch {torch.__version__}")

        single = predict_folder(model, images, tmp / "single", options)
        print(f"single process ({torch.get_num_threads()} threads)   {single.images_per_s:6.2f} images/s  "
              f"{single.seconds:6.1f} s")
        for workers in args.workers:
            start = time.perf_counter()
            with dask_client(workers=workers) as client:
                started = time.perf_counter() - start
                result = predict_folder_on_dask(client, model, images, tmp / f"dask-{workers}", options)
            equal = same_masks(tmp / "single", tmp / f"dask-{workers}")
            print(f"{workers} Dask worker(s), 1 thread each {result.images_per_s:6.2f} images/s  "
                  f"{result.seconds:6.1f} s  {result.images_per_s / single.images_per_s:4.2f}x single  "
                  f"(cluster start {started:.1f} s; {equal}/{len(single.written)} masks equal; "
                  f"{result.backend_reason})")


if __name__ == "__main__":
    main()
