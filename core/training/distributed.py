"""Training on several processes started by torchrun: one process per GPU (NCCL), or CPU processes (gloo).

The Trainer talks to a `SingleProcess` (alone: every method does what one process needs, nothing is shared) or
to a `ProcessGroup` found in torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK): each rank trains on its own
share of an epoch's seeded patches, gradients are averaged by DistributedDataParallel, validation counts are
summed over the ranks, decisions that depend on timing (precision, a time budget's plan) are rank 0's, and only
rank 0 prints and writes files."""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import TypeVar

import numpy as np
import torch

from core.device import DeviceInfo
from core.errors import ConfigError, TrainingError

SYNC_BATCH_NORM_BELOW = 16  # per-GPU batches smaller than this give noisy batch-norm statistics: share them
T = TypeVar("T")


class SingleProcess:
    """Training alone: nothing to share, this process prints and writes."""

    rank = 0
    world_size = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def place(self, device: DeviceInfo) -> DeviceInfo:
        """The device this process trains on."""
        return device

    def wrap(self, model: torch.nn.Module, batch_size: int) -> torch.nn.Module:
        """The module to run training steps through."""
        return model

    def sampler(self, length: int) -> torch.utils.data.Sampler | None:
        """Which of an epoch's `length` patches this process draws (None: all, in order)."""
        return None

    def shard(self, items: Sequence[T]) -> Sequence[T]:
        """This process's share of `items` (validation tiles)."""
        return items

    def sum(self, values: np.ndarray) -> np.ndarray:
        """`values` summed over the processes."""
        return values

    def decided_by_main(self, decide: Callable[[], T]) -> T:
        """decide() as run by the main process, the same on every process."""
        return decide()

    def barrier(self) -> None:
        """Wait until every process got here."""

    def printing(self) -> contextlib.AbstractContextManager:
        """A context in which only the main process's output is shown."""
        return contextlib.nullcontext()

    def close(self) -> None:
        """Leave the process group."""


class RankSampler(torch.utils.data.Sampler[int]):
    """Patches rank, rank + world, rank + 2 world, ... of an epoch: each patch is drawn by one rank, and with the
    dataset's seeded patches a rerun draws the same ones. Every rank gets the same count (DDP needs equal steps)."""

    def __init__(self, length: int, rank: int, world_size: int):
        self.rank, self.world_size, self.count = rank, world_size, length // world_size

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.count * self.world_size, self.world_size))

    def __len__(self) -> int:
        return self.count


class ProcessGroup(SingleProcess):
    """One rank of a torchrun job; the process group is already joined."""

    def __init__(self, rank: int, world_size: int, local_rank: int, backend: str):
        self.rank, self.world_size, self.local_rank, self.backend = rank, world_size, local_rank, backend
        self._tensor_device = torch.device("cpu")  # NCCL shares CUDA tensors only: set by place()

    def place(self, device: DeviceInfo) -> DeviceInfo:
        """On CUDA, the GPU numbered LOCAL_RANK (one process per GPU)."""
        if device.kind != "cuda":
            return device
        count = torch.cuda.device_count()
        if self.local_rank >= count:
            raise ConfigError(f"torchrun started process {self.local_rank} on a node with {count} GPU(s); "
                              f"start at most {count} processes per node (--nproc_per_node)")
        torch.cuda.set_device(self.local_rank)
        props = torch.cuda.get_device_properties(self.local_rank)
        self._tensor_device = torch.device("cuda", self.local_rank)
        return replace(device, torch_device=f"cuda:{self.local_rank}", name=props.name,
                       memory_gb=props.total_memory / 1024**3)

    def wrap(self, model: torch.nn.Module, batch_size: int) -> torch.nn.Module:
        """DistributedDataParallel; on GPUs with small batches, batch norm computes its statistics over all
        ranks' batches (SyncBatchNorm swaps the model's layers in place, keeping their parameters)."""
        from torch.nn.parallel import DistributedDataParallel

        if self._tensor_device.type == "cuda":
            if batch_size < SYNC_BATCH_NORM_BELOW:
                for name, child in list(model.named_children()):
                    setattr(model, name, torch.nn.SyncBatchNorm.convert_sync_batchnorm(child))
            return DistributedDataParallel(model, device_ids=[self.local_rank])
        return DistributedDataParallel(model)

    def sampler(self, length: int) -> RankSampler:
        return RankSampler(length, self.rank, self.world_size)

    def shard(self, items: Sequence[T]) -> Sequence[T]:
        return items[self.rank::self.world_size]

    def sum(self, values: np.ndarray) -> np.ndarray:
        tensor = torch.as_tensor(np.asarray(values)).to(self._tensor_device)
        torch.distributed.all_reduce(tensor, op=torch.distributed.ReduceOp.SUM)
        return tensor.cpu().numpy()

    def decided_by_main(self, decide: Callable[[], T]) -> T:
        box = [decide() if self.is_main else None]
        torch.distributed.broadcast_object_list(box, src=0, device=self._tensor_device)
        return box[0]

    def barrier(self) -> None:
        if self._tensor_device.type == "cuda":
            torch.distributed.barrier(device_ids=[self.local_rank])
        else:
            torch.distributed.barrier()

    def printing(self) -> contextlib.AbstractContextManager:
        if self.is_main:
            return contextlib.nullcontext()
        stack = contextlib.ExitStack()
        devnull = stack.enter_context(open(os.devnull, "w"))
        stack.enter_context(contextlib.redirect_stdout(devnull))
        stack.enter_context(contextlib.redirect_stderr(devnull))
        return stack

    def close(self) -> None:
        """Leave the group while the interpreter is whole: collect the finished run's DistributedDataParallel
        (it holds the group) first, or gloo's threads are torn down at exit and abort the process."""
        gc.collect()
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        gc.collect()


def join_from_environment(device_choice: str = "auto") -> SingleProcess:
    """The process group torchrun set up for this process (NCCL when it trains on CUDA, else gloo), or
    SingleProcess when not started by torchrun with two or more processes."""
    if "RANK" not in os.environ or int(os.environ.get("WORLD_SIZE", "1")) < 2:
        return SingleProcess()
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    choice = (device_choice or "auto").lower()
    backend = "nccl" if choice not in ("cpu", "mps") and torch.cuda.is_available() else "gloo"
    try:
        torch.distributed.init_process_group(backend, rank=rank, world_size=world_size)
    except (RuntimeError, ValueError) as exc:
        raise TrainingError(f"process {rank} of {world_size} could not join the others ({exc}); start every "
                            "process with torchrun, e.g. torchrun --nproc_per_node 2 main.py train ...") from None
    return ProcessGroup(rank, world_size, local_rank, backend)
