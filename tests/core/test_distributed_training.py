"""Training under torchrun: two gloo ranks train one model file whose metrics are summed over the ranks, a killed
job resumes from its checkpoint, only rank 0 writes, and on GPUs each rank takes the GPU of its LOCAL_RANK."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from core.classes import IGNORE_INDEX
from core.data.dataset import ValidationTiles
from core.device import DeviceInfo
from core.errors import ConfigError
from core.metrics import ConfusionMatrix
from core.models.model_file import load_model_file, read_model_spec
from core.models.outputs import main_output, to_labels
from core.training.config import TrainConfig
from core.training.data_setup import prepare_training_data
from core.training.distributed import ProcessGroup, RankSampler, SingleProcess, join_from_environment
from core.training.loop import Trainer
from core.training.reports import EpochReport, TrainingFinished
from tests.core.synthetic import write_dataset
from tests.core.test_training import tiny_config

REPO = Path(__file__).resolve().parents[2]
TINY = ["--arch", "unet_classic", "--option", "base_channels=8", "--batch-size", "4", "--patch-size", "32",
        "--device", "cpu", "--val-fraction", "0.34", "--no-amp", "--augment", "none", "--early-stopping", "0"]


def torchrun(data: Path, out: Path, *extra: str) -> subprocess.Popen:
    """`torchrun --nproc_per_node 2 main.py train DATA --out OUT ...` on one thread per rank."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "main.py",
               "train", str(data), "--out", str(out), *TINY, *extra]
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(process: subprocess.Popen) -> str:
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output
    return output


def evaluate_on_one_process(model_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The model file's confusion matrix over every validation tile, and the labeled pixels per class there."""
    model, spec = load_model_file(model_path)
    config = TrainConfig.from_json(spec.training["config"])
    data = prepare_training_data(config)
    assert [s.name for s in data.val] == spec.training["val_images"]
    matrix = ConfusionMatrix(len(data.classes))
    with torch.inference_mode():
        for images, targets in torch.utils.data.DataLoader(ValidationTiles(data.val, config.patch_size), 4):
            matrix.update(to_labels(main_output(model(images)).float()), targets)
    truth = np.bincount(np.concatenate([s.mask[s.mask != IGNORE_INDEX].ravel() for s in data.val]),
                        minlength=len(data.classes))
    return matrix.counts, truth


def test_two_ranks_write_one_model_whose_metrics_are_summed_over_the_ranks(tmp_path):
    data = write_dataset(tmp_path / "discs", count=6, size=64)
    out = tmp_path / "models" / "discs.safetensors"
    output = finish(torchrun(data, out, "--epochs", "2", "--patches-per-epoch", "32"))
    assert "processes: 2 (torchrun, gloo), each with batch size 4" in output
    assert output.count("epoch 1/2") == 1 and output.count("epoch 2/2") == 1  # rank 0 alone reports
    assert output.count("Training finished") == 1
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["discs.safetensors", "discs_training"]
    spec = read_model_spec(out)
    assert [h["epoch"] for h in spec.training["history"]] == [1, 2]
    recorded = np.array(spec.metrics["confusion_matrix"])
    counts, truth = evaluate_on_one_process(out)
    # every validation pixel counted once: summed over both ranks' tiles, not one rank's nor their average
    assert recorded.sum(axis=1).tolist() == truth.tolist()
    assert [row["truth_pixels"] for row in spec.metrics["per_class"]] == truth.tolist()
    assert np.abs(recorded - counts).sum() <= 0.001 * truth.sum()  # the weights saved are the ones scored
    summed = ConfusionMatrix(2)
    summed.counts = recorded
    assert spec.metrics["mean_iou"] == pytest.approx(summed.mean_iou())


def _worker_of_rank(launcher: int, rank: int) -> int | None:
    """The process id of the torchrun worker with RANK=rank started by `launcher`."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            environment = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if parent == launcher and f"RANK={rank}".encode() in environment:
            return int(entry.name)
    return None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the worker processes in /proc")
def test_a_killed_job_resumes_under_torchrun_from_its_checkpoint(tmp_path):
    data = write_dataset(tmp_path / "discs", count=6, size=64)
    out = tmp_path / "discs.safetensors"
    checkpoint = tmp_path / "discs_training" / "last.pt"
    launcher = torchrun(data, out, "--epochs", "200", "--patches-per-epoch", "64")
    deadline = time.monotonic() + 90
    while not checkpoint.is_file():
        assert launcher.poll() is None and time.monotonic() < deadline, launcher.communicate()[0]
        time.sleep(0.05)
    worker = _worker_of_rank(launcher.pid, 1)
    assert worker is not None
    os.killpg(worker, signal.SIGKILL)  # rank 1 dies as under the OOM killer; torchrun ends rank 0 and fails
    output, _ = launcher.communicate(timeout=60)
    assert launcher.returncode != 0
    done = int(torch.load(checkpoint, weights_only=True)["epoch"])
    assert 1 <= done < 200, output
    resumed = finish(torchrun(data, out, "--epochs", str(done + 1), "--patches-per-epoch", "64", "--resume"))
    epochs = [line.split()[1] for line in resumed.splitlines() if line.startswith("epoch ")]
    assert epochs == [f"{done + 1}/{done + 1}"]
    history = read_model_spec(out).training["history"]
    assert [h["epoch"] for h in history] == list(range(1, done + 2))


class NotMain(SingleProcess):
    """A rank other than 0 of a group of two, otherwise training alone."""

    rank, world_size = 1, 2


def test_a_rank_other_than_0_writes_no_file_and_shows_no_preview(tmp_path):
    data = write_dataset(tmp_path / "data", count=6)
    out = tmp_path / "model.safetensors"
    reports = list(Trainer(tiny_config(data, out), processes=NotMain()).run())
    assert not out.exists() and not (tmp_path / "model_training").exists()
    assert all(r.preview is None for r in reports if isinstance(r, EpochReport))
    finished = reports[-1]
    assert isinstance(finished, TrainingFinished) and finished.model_path == str(out)


def test_ranks_draw_disjoint_equal_shares_of_an_epochs_patches():
    shares = [list(RankSampler(103, rank, 4)) for rank in range(4)]
    assert [len(s) for s in shares] == [25] * 4
    drawn = sorted(i for share in shares for i in share)
    assert drawn == sorted(set(drawn)) and len(drawn) == 100


def test_without_torchrun_training_stays_in_one_process(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    assert type(join_from_environment("auto")) is SingleProcess
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert type(join_from_environment("auto")) is SingleProcess


@pytest.fixture
def second_gpu_rank(monkeypatch):
    """torchrun's environment for rank 1 of 2 on a node with CUDA; the group joined is recorded, not made."""
    joined = []
    for name, value in {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.distributed, "init_process_group", lambda backend, **kw: joined.append((backend, kw)))
    return joined


def test_on_cuda_each_rank_joins_with_nccl_and_trains_on_the_gpu_of_its_local_rank(second_gpu_rank, monkeypatch):
    selected = []
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", selected.append)
    monkeypatch.setattr(torch.cuda, "get_device_properties",
                        lambda index: SimpleNamespace(name=f"GPU {index}", total_memory=80 * 1024**3))
    processes = join_from_environment("auto")
    assert second_gpu_rank == [("nccl", {"rank": 1, "world_size": 2})]
    assert isinstance(processes, ProcessGroup) and not processes.is_main
    device = processes.place(DeviceInfo("cuda:0", "cuda", "GPU 0", 80.0, amp=True))
    assert (device.torch_device, device.name, selected) == ("cuda:1", "GPU 1", [1])


def test_a_rank_without_its_own_gpu_is_told_how_many_processes_fit(second_gpu_rank, monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    processes = join_from_environment("cuda")
    with pytest.raises(ConfigError, match="--nproc_per_node"):
        processes.place(DeviceInfo("cuda:0", "cuda", "GPU 0", amp=True))


def test_on_cuda_small_batches_share_batch_norm_statistics(monkeypatch):
    wrapped = []
    monkeypatch.setattr(torch.nn.parallel, "DistributedDataParallel",
                        lambda model, **kw: wrapped.append(kw) or model)
    processes = ProcessGroup(1, 2, 1, "nccl")
    processes._tensor_device = torch.device("cuda", 1)  # as place() leaves it on a GPU

    def layers(batch_size):
        model = processes.wrap(torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4)), batch_size)
        return [type(layer).__name__ for layer in model]

    assert layers(4) == ["Conv2d", "SyncBatchNorm"]
    assert layers(32) == ["Conv2d", "BatchNorm2d"]
    assert wrapped == [{"device_ids": [1]}] * 2


def test_on_the_cpu_ranks_join_with_gloo_even_where_cuda_exists(second_gpu_rank):
    processes = join_from_environment("cpu")
    assert second_gpu_rank[0][0] == "gloo"
    device = DeviceInfo("cpu", "cpu", "CPU")
    assert processes.place(device) is device


def test_under_torchrun_train_needs_out_so_every_process_writes_the_same_file(tmp_path, monkeypatch, capsys):
    from core.cli import run_cli
    from core.training import distributed

    closed = []
    group = NotMain()
    group.close = lambda: closed.append(True)
    monkeypatch.setattr(distributed, "join_from_environment", lambda device: group)
    assert run_cli(["train", str(write_dataset(tmp_path / "data", count=2)), "--device", "cpu"]) == 2
    assert "under torchrun give --out MODEL" in capsys.readouterr().err
    assert closed == [True]
