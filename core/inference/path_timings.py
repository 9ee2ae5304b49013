"""Seconds per tile of each way to run a network (runner_choice.py), measured once per machine and kept in the
user's data folder, keyed by the runtime versions, the processor or GPU, the thread count, the network's
architecture and size, and the tile shape: a new torch, onnxruntime or openvino measures again."""

from __future__ import annotations

import json
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from core.device import DeviceInfo
from core.machine_measurements import read_measurements, store_measurements
from core.models.spec import ModelSpec
from core.user_folders import user_data_dir

CACHE_NAME = "prediction_speed.json"
TIMED_CALLS = 2
"""At most this many calls timed after one warm-up call; the fastest counts (a busy machine only ever slows a
call down)."""
RUNTIMES = ("onnxruntime", "openvino")
"""Besides torch (its own version string names the CUDA build too)."""


def cache_path() -> Path:
    return user_data_dir() / CACHE_NAME


def cache_key(device: DeviceInfo, spec: ModelSpec, tiles_shape: tuple[int, ...]) -> str:
    """What the timings depend on, in words (also readable in the cache file)."""
    import torch

    versions = [f"torch {torch.__version__}"]
    for runtime in RUNTIMES:
        try:
            versions.append(f"{runtime} {version(runtime)}")
        except PackageNotFoundError:
            versions.append(f"no {runtime}")
    where = f"{device.name}, {torch.get_num_threads()} threads" if device.kind == "cpu" else device.name
    network = f"{spec.architecture}/{spec.encoder or '-'} {spec.in_channels}->{spec.out_channels} " \
              f"{json.dumps(spec.options, sort_keys=True, default=str)}"
    batch, _, height, width = tiles_shape
    return " | ".join([*versions, where, network, f"batch {batch} of {height}x{width}"])


def read_timings(key: str) -> dict[str, float]:
    """Seconds per tile measured before under `key`."""
    return read_measurements(CACHE_NAME, key)


def store_timings(key: str, timings: dict[str, float]) -> None:
    store_measurements(CACHE_NAME, key, timings)


def seconds_per_tile(runner, tiles: np.ndarray, deadline: float | None = None) -> float:
    """The fastest of up to TIMED_CALLS calls on `tiles` after a warm-up call, per tile; another call only
    while it would end before `deadline` (a time.perf_counter value)."""
    runner(tiles)
    best = float("inf")
    for _ in range(TIMED_CALLS):
        start = time.perf_counter()
        runner(tiles)
        took = time.perf_counter() - start
        best = min(best, took)
        if deadline is not None and time.perf_counter() + took > deadline:
            break
    return best / len(tiles)
