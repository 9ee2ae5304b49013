"""How a network runs for prediction: the fastest way on this machine whose masks keep the 32-bit model's.

The candidates (runner_choice.py, the likely fastest first) are timed once per machine and network
(path_timings.py, each cached as it is timed) within a budget of seconds per run: a first run on a new
machine waits about BUDGET_S, candidates it did not reach are timed by later runs, and 32-bit candidates are
not timed once a reduced-precision one ran MUCH_FASTER times faster than the 32-bit ones timed. From the
fastest down, the first that can be built is used, provided that, when it computes in reduced precision
(bfloat16, float16, 8-bit), its masks agree with 32-bit PyTorch on at least MIN_AGREEMENT of the pixels of
the first images' tiles (check_agreement, the one rule for every reduced-precision path). A backend other
than auto that cannot be built falls back to 32-bit PyTorch; the reason always says what was chosen and why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.device import DeviceInfo, select_device
from core.inference.external_runner import ExternalNetwork
from core.inference.options import PredictOptions
from core.inference.path_timings import cache_key, read_timings, seconds_per_tile, store_timings
from core.inference.runner_choice import (
    TITLES,
    BuildContext,
    RunnerUnavailable,
    build_runner,
    candidate_names,
    discard,
    is_reduced,
    reference_runner,
)
from core.models.spec import ModelSpec

log = logging.getLogger(__name__)

MIN_AGREEMENT = 0.999
"""Share of pixels whose class must be the one 32-bit arithmetic gives."""
REFERENCE = "torch-fp32"
MEASURING = "Choosing the fastest way to run this model on this computer (once)…"
"""What on_phase hears while candidates are timed and exported."""
BUDGET_S = 15.0
"""Seconds one run spends building and timing candidates for a ResNet-18 U-Net (14.3 million parameters) on
batches of four 512 x 512 tiles; scaled by the network's parameters times the batch's pixels, at most
MAX_BUDGET_SCALE times. The candidate under way when it runs out is finished."""
REFERENCE_WORK = 14_322_082 * 4 * 512 * 512
MAX_BUDGET_SCALE = 4.0
MUCH_FASTER = 2.0
"""32-bit runtimes do the same arithmetic on the same cores (they ran within 1.3x of each other on a Xeon):
once a reduced-precision candidate ran this many times faster than the 32-bit ones timed, the other 32-bit
ones cannot win and are not timed."""


@dataclass(frozen=True)
class ChosenPath:
    runner: object
    name: str  # e.g. "openvino-bf16"
    reason: str  # what was chosen, how fast, how well it agrees, what was refused


def mask_agreement(reference: np.ndarray, candidate: np.ndarray) -> float:
    """Share of pixels with the same class in two (N, K, H, W) probability batches."""
    return float(np.mean(reference.argmax(axis=1) == candidate.argmax(axis=1)))


def check_agreement(name: str, reference: np.ndarray, candidate: np.ndarray) -> float:
    """The agreement of a reduced-precision candidate with 32-bit; raises RunnerUnavailable below MIN_AGREEMENT."""
    agreement = mask_agreement(reference, candidate)
    if agreement < MIN_AGREEMENT:
        raise RunnerUnavailable(f"{TITLES[name]} refused: its masks agree with 32-bit on only {agreement:.2%} of "
                                f"the pixels of the first images (at least {MIN_AGREEMENT:.1%} needed)")
    return agreement


def choose_path(model, spec: ModelSpec, options: PredictOptions, tiles: np.ndarray,
                on_phase: Callable[[str], None] | None = None) -> ChosenPath:
    """The runner for `model`: the fastest candidate that works and, in reduced precision, agrees with 32-bit on
    `tiles` (normalised tiles of the first images to segment; for exact precision any tiles of the right size).
    on_phase(MEASURING) is called when candidates are timed now (a first run on this machine)."""
    device = select_device(options.device)
    if isinstance(model, ExternalNetwork):  # a BioImage.IO package's network: its own ONNX or TorchScript weights
        runner, reason = model.runner(device, options.backend)
        return ChosenPath(runner, runner.name, reason)
    names = candidate_names(device, options)
    onnx_cache = Path(options.onnx_cache_dir) if options.onnx_cache_dir else None
    context = BuildContext(model, spec, device, onnx_cache, tiles)
    built: dict[str, object] = {}
    notes: list[str] = []
    timings = _timings(names, context, _timing_batch(tiles, options.batch_size), built, notes, on_phase)
    order = sorted(timings, key=timings.get) if len(names) > 1 else names
    reference: np.ndarray | None = None
    for name in order + ([REFERENCE] if REFERENCE not in order else []):
        try:
            runner = built[name] if name in built else build_runner(name, context)
            agreement = None
            if is_reduced(name):
                if reference is None:
                    reference = _in_batches(built.get(REFERENCE) or reference_runner(context), tiles,
                                            options.batch_size)
                try:
                    agreement = check_agreement(name, reference, _in_batches(runner, tiles, options.batch_size))
                except RunnerUnavailable:
                    discard(name, runner)
                    raise
        except RunnerUnavailable as exc:
            notes.append(str(exc))
            log.warning("%s", exc)
            continue
        reason = _describe(name, device, timings, agreement, len(tiles), notes)
        log.info("prediction path: %s", reason)
        return ChosenPath(runner, name, reason)
    raise AssertionError("32-bit PyTorch always builds")  # TorchRunner raises nothing RunnerUnavailable


def _timings(names: list[str], context: BuildContext, batch: np.ndarray, built: dict, notes: list,
             on_phase: Callable[[str], None] | None) -> dict[str, float]:
    """Seconds per tile of the candidates: cached, or measured now, in order, within the budget, each cached as
    it is measured. A single candidate needs no timing; one that cannot be built is left out (and not cached:
    it may build another time). `built` receives the 32-bit reference when it was built here."""
    if len(names) < 2:
        return {}
    key = cache_key(context.device, context.spec, batch.shape)
    cached = read_timings(key)
    timings = {name: cached[name] for name in names if name in cached}
    skipped, unreached = [], []
    deadline = None
    for name in (name for name in names if name not in timings):
        if _cannot_win(name, timings):
            skipped.append(name)
            continue
        if deadline is None:
            deadline = time.perf_counter() + measuring_budget(context.model, batch.shape)
            if on_phase is not None:
                on_phase(MEASURING)
        elif time.perf_counter() >= deadline:
            unreached.append(name)
            continue
        try:
            runner = build_runner(name, context)
        except RunnerUnavailable as exc:
            notes.append(str(exc))
            continue
        timings[name] = seconds_per_tile(runner, batch, deadline)
        log.info("%s: %.3f s per tile", name, timings[name])
        store_timings(key, {name: timings[name]})
        if name == REFERENCE:  # kept for the agreement check; the others are built again if chosen (cheap,
            built[name] = runner  # from the cached export), so that only one is in memory at a time
    if skipped:
        fastest = min(timings, key=timings.get)
        notes.append(f"not timed: {_titles(skipped)} ({TITLES[fastest]} ran more than {MUCH_FASTER:g}x faster "
                     f"than 32-bit)")
    if unreached:
        notes.append(f"not timed yet: {_titles(unreached)} (beyond this run's time for measuring; a later run "
                     f"times them)")
    return timings


def _cannot_win(name: str, timings: dict[str, float]) -> bool:
    """A 32-bit candidate, once a reduced-precision one ran MUCH_FASTER times faster than every 32-bit one timed."""
    reduced = [seconds for other, seconds in timings.items() if is_reduced(other)]
    exact = [seconds for other, seconds in timings.items() if not is_reduced(other)]
    return not is_reduced(name) and bool(reduced and exact) and min(reduced) * MUCH_FASTER <= min(exact)


def measuring_budget(model, batch_shape: tuple[int, ...]) -> float:
    """Seconds one run may spend timing candidates: BUDGET_S scaled by the network's parameters times the
    batch's pixels (relative to a ResNet-18 U-Net on four 512 x 512 tiles), from 1 to MAX_BUDGET_SCALE times."""
    batch, _, height, width = batch_shape
    work = sum(parameter.numel() for parameter in model.parameters()) * batch * height * width
    return BUDGET_S * min(MAX_BUDGET_SCALE, max(1.0, work / REFERENCE_WORK))


def _titles(names: list[str]) -> str:
    return ", ".join(TITLES[name] for name in names)


def _in_batches(runner, tiles: np.ndarray, batch_size: int) -> np.ndarray:
    """runner(tiles), a prediction batch at a time (8 tiles at once would double a big image's peak memory)."""
    return np.concatenate([runner(tiles[start:start + batch_size]) for start in range(0, len(tiles), batch_size)])


def _timing_batch(tiles: np.ndarray, batch_size: int) -> np.ndarray:
    """A batch of the prediction's batch size, made of the given tiles (repeated when there are fewer)."""
    return np.ascontiguousarray(np.resize(tiles, (batch_size, *tiles.shape[1:])), dtype=np.float32)


def _describe(name: str, device: DeviceInfo, timings: dict, agreement: float | None, tiles: int,
              notes: list[str]) -> str:
    text = f"{TITLES[name]} on {device.describe()}"
    if timings:
        ranked = sorted(timings, key=timings.get)
        text += " (seconds per tile measured on this machine: " + ", ".join(
            f"{TITLES[other]} {timings[other]:.3f}" for other in ranked) + ")"
    if agreement is not None:
        text += f"; masks agree with 32-bit on {agreement:.3%} of the pixels of the first {tiles} tile(s)"
    return "; ".join([text, *notes])
