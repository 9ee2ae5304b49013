"""Training speed: SegLab's trainer against the plain loop the seed articles teach, same data, model and sizes.

Run by hand:  python tests/bench/bench_train.py [--data DIR] [--batches 8] [--rounds 2]

Plain loop: a Dataset that reads image and mask with cv2 in __getitem__, scales by 255, a DataLoader with
shuffle, an smp U-Net (resnet18) in fp32, Adam and cross-entropy, loss.item() every batch.
SegLab: core.training.loop.Trainer with the same model, batch size and 512 x 512 patches (whole ISBI images),
augmentation off. Both are timed on the same number of batches after one warm-up batch, each in a fresh
process (so one cannot inherit the other's memory state); rounds alternate so that machine load hits both
alike. Prints images/s of each and the ratio (target >= 1.2).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from tests.conftest import shared_data_dir  # noqa: E402

BATCH, SIZE = 4, 512


class PlainDataset(torch.utils.data.Dataset):
    def __init__(self, folder: Path):
        self.images = sorted((folder / "images").glob("*.png"))
        self.masks = [folder / "masks" / p.name for p in self.images]

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        image = cv2.imread(str(self.images[i]), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0
        mask = (cv2.imread(str(self.masks[i]), cv2.IMREAD_GRAYSCALE) > 127).astype(np.int64)
        return torch.from_numpy(image)[None], torch.from_numpy(mask)


def plain_loop(folder: Path, batches: int) -> float:
    import segmentation_models_pytorch as smp

    torch.manual_seed(0)
    model = smp.Unet("resnet18", encoder_weights=None, in_channels=1, classes=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = torch.nn.CrossEntropyLoss()
    loader = torch.utils.data.DataLoader(PlainDataset(folder), batch_size=BATCH, shuffle=True, drop_last=True)
    model.train()
    seen, start = 0, None
    for step, (images, masks) in enumerate(loader):
        optimizer.zero_grad()
        loss = criterion(model(images), masks)
        loss.backward()
        optimizer.step()
        loss.item()
        if step == 0:
            start = time.perf_counter()  # after one warm-up batch
        else:
            seen += len(images)
        if step == batches:
            break
    return seen / (time.perf_counter() - start)


def seglab_loop(folder: Path, batches: int) -> float:
    from core.data.augment import AugmentConfig
    from core.training.config import TrainConfig
    from core.training.loop import Trainer
    from core.training.reports import BatchReport

    with tempfile.TemporaryDirectory() as out:
        config = TrainConfig(data_dir=str(folder), output=str(Path(out) / "m.safetensors"), architecture="unet",
                             encoder="resnet18", epochs=1, batch_size=BATCH, patch_size=SIZE,
                             patches_per_epoch=BATCH * (batches + 1), val_fraction=0.0, device="cpu",
                             augment=AugmentConfig.none(), learning_rate=1e-3)
        trainer = Trainer(config)
        start = None
        seen = 0
        for report in trainer.run():
            if isinstance(report, BatchReport):
                if report.batch == 1:
                    start = time.perf_counter()
                else:
                    seen += BATCH
                if report.batch == batches + 1:
                    elapsed = time.perf_counter() - start
                    trainer.request_stop()
        return seen / elapsed


def measure_in_subprocess(which: str, folder: Path, batches: int) -> float:
    command = [sys.executable, __file__, "--one", which, "--data", str(folder), "--batches", str(batches)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return float(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="default: shared/data/isbi2012")
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--one", choices=("plain", "seglab"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    folder = args.data or shared_data_dir() / "isbi2012"
    if args.one:
        print((plain_loop if args.one == "plain" else seglab_loop)(folder, args.batches))
        return
    print(f"data {folder}, smp Unet(resnet18), batch {BATCH}, {SIZE}x{SIZE}, {args.batches} timed batches, "
          f"{torch.get_num_threads()} threads")
    plain, ours = [], []
    for round_index in range(args.rounds):
        plain.append(measure_in_subprocess("plain", folder, args.batches))
        ours.append(measure_in_subprocess("seglab", folder, args.batches))
        print(f"round {round_index + 1}: plain {plain[-1]:.2f} images/s, SegLab {ours[-1]:.2f} images/s")
    p, s = statistics.median(plain), statistics.median(ours)
    print(f"median: plain loop {p:.2f} images/s, SegLab trainer {s:.2f} images/s, ratio {s / p:.2f}x (target 1.2x)")


if __name__ == "__main__":
    main()
