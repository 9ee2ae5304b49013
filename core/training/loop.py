"""The training loop in plain torch. `Trainer.run()` yields plain reports (core.training.reports) for every
batch and epoch, honours a stop request within one batch, writes the best model file and a resumable
checkpoint every epoch, and resumes from that checkpoint after a stop, crash or kill. With a time budget
(config.minutes) an epoch is a round between validations of a fixed tile sample and the learning rate follows
the budget's plan (core.training.budget); steps run in the precision measured fastest here (precision.py)."""

from __future__ import annotations

import functools
import json
import math
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace

import numpy as np
import torch

from core.allocator import retained_allocations
from core.classes import IGNORE_INDEX
from core.data.dataset import PatchDataset, ValidationTiles
from core.data.index import DatasetIndex
from core.device import select_device
from core.errors import TrainingError
from core.losses import create_loss
from core.metrics import ConfusionMatrix
from core.models.outputs import main_output, to_labels
from core.training.budget import MIN_VAL_TILES as MIN_BUDGET_VAL_TILES
from core.training.budget import BudgetPlan, validation_sample
from core.training.checkpoint import disk_error, load_checkpoint, save_checkpoint
from core.training.config import TrainConfig
from core.training.data_setup import prepare_training_data
from core.training.distributed import SingleProcess
from core.training.interrupted import stops_early
from core.training.precision import choose_precision
from core.training.preview import make_preview
from core.training.reports import BatchReport, EpochReport, TrainingFinished, TrainingReport, TrainingStarted
from core.training.run_state import TrainingRun, checkpoint_state, model_spec, restore
from core.training.setup import (
    build_model,
    build_optimizer,
    build_schedule,
    check_model_choice,
    init_model_spec,
)

MIN_BATCHES_PER_EPOCH = 4
BUDGET_EPOCH_PATCHES = 1 << 24  # with a time budget an epoch is a round between validations, ended by the plan


class Trainer:
    """One training run. Call run() (in a worker thread for the GUI) and read its reports."""

    def __init__(self, config: TrainConfig, stop_event: threading.Event | None = None,
                 index: DatasetIndex | None = None, processes: SingleProcess | None = None):
        """index: config.data_dir as already scanned (the window's open folder); scanned when not given.
        processes: the torchrun group this process trains in (core.training.distributed); alone when not given."""
        self.config = config
        self._stop = stop_event or threading.Event()
        self._index = index
        self._processes = processes or SingleProcess()

    def request_stop(self) -> None:
        """Ask the run to stop after the current batch; the best model and last checkpoint are kept."""
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def run(self) -> Iterator[TrainingReport]:
        try:
            with retained_allocations():
                yield from self._run()
        except torch.cuda.OutOfMemoryError:
            raise TrainingError(f"the GPU ran out of memory with batch size {self.config.batch_size} and patch size "
                                f"{self.config.patch_size}; try a smaller batch size or patch size") from None
        except RuntimeError as exc:
            if "out of memory" in str(exc).lower():
                raise TrainingError("the device ran out of memory; try a smaller batch size or patch size") from None
            raise

    def _run(self) -> Iterator[TrainingReport]:
        started = time.perf_counter()
        run = self._prepare()
        if run is None:  # stopped while the images were loading
            yield TrainingFinished("stopped", 0, 0, None, None, str(self.config.checkpoint_path),
                                   time.perf_counter() - started)
            return
        # the training time starts now (a time budget leaves out reading the data and building the model);
        # a resumed run's time counts every part
        started = run.started = time.perf_counter() - run.earlier_seconds
        config = run.config
        yield TrainingStarted(
            device=run.device.describe(), device_note=run.device.note, epochs=run.epochs,
            start_epoch=run.start_epoch, batches_per_epoch=self._batches_per_epoch(run),
            train_images=tuple(s.name for s in run.data.train), val_images=tuple(s.name for s in run.data.val),
            skipped=run.data.skipped, class_names=tuple(run.data.classes.names),
            parameters=sum(p.numel() for p in run.model.parameters()), weights_note=run.setup.weights_note,
            history=tuple(run.history), precision=run.precision.describe(), minutes=config.minutes)
        reason, epochs_done = "completed", run.start_epoch - 1
        for epoch in run.epoch_numbers():
            epoch_start = time.perf_counter()
            train_loss, patches_per_s = yield from self._train_epoch(run, epoch)
            if self._stop.is_set():
                reason = "stopped"
                break
            val_start = time.perf_counter()
            val_loss, matrix = self._validate(run) if run.val_tiles is not None else (None, None)
            if self._stop.is_set():
                reason = "stopped"
                break
            run.val_seconds = time.perf_counter() - val_start
            if run.budget is not None:
                run.budget.record_validation(run.val_seconds, run.elapsed, config.batch_size)
            report = self._finish_epoch(run, epoch, train_loss, val_loss, matrix, patches_per_s, epoch_start, started)
            epochs_done = epoch
            yield report
            if run.budget is not None and run.budget.finished:
                reason = "budget"
                break
            if run.budget is None and stops_early(config, epoch, run.best_epoch):
                reason = "early_stopping"
                break
        seconds = time.perf_counter() - started
        if run.model_path is not None and self._processes.is_main:
            self._record_full_history(run, seconds)
        yield TrainingFinished(reason, epochs_done, run.best_epoch,
                               run.best_metrics.get("mean_iou") if run.best_metrics else None,
                               run.model_path, str(config.checkpoint_path), seconds, run.best_metrics)

    def _prepare(self) -> TrainingRun | None:
        config, state = self._resolve_resume()
        base = init_model_spec(config)
        check_model_choice(config, base)
        processes = self._processes
        device = processes.place(select_device(config.device))
        torch.manual_seed(config.seed)
        if base is not None:  # a fine-tuned model keeps the input scaling it learned with
            config = replace(config, normalisation=base.normalisation)
        data = prepare_training_data(config, base.in_channels if base else None, cancel=self._stop.is_set,
                                     index=self._index)
        if data is None:
            return None
        setup = build_model(config, data.classes, data.in_channels)
        precision = processes.decided_by_main(lambda: choose_precision(
            device, setup.model, data.in_channels, f"{setup.spec.architecture}/{setup.spec.encoder}",
            config.batch_size, config.patch_size, allow_reduced=config.amp))
        setup.model.to(device.torch_device, memory_format=precision.memory_format)
        optimizer = build_optimizer(config, setup.model)
        budgeted = config.minutes is not None or self.config.minutes is not None
        if budgeted:  # rounds end when the plan says, not when the patches run out
            per_epoch = BUDGET_EPOCH_PATCHES
        else:
            per_epoch = config.patches_per_epoch or _default_patches(data.train, config.patch_size)
            per_epoch = max(per_epoch, config.batch_size * MIN_BATCHES_PER_EPOCH * processes.world_size)
        train_set = PatchDataset(data.train, config.patch_size, config.augment, per_epoch, config.seed)
        val_tiles = ValidationTiles(data.val, config.patch_size) if data.val else None
        run = TrainingRun(
            config=config, device=device, data=data, setup=setup, optimizer=optimizer,
            schedule=None if budgeted else build_schedule(config, optimizer),
            loss_fn=create_loss(config.loss, out_channels=setup.spec.out_channels, class_weights=config.class_weights,
                                ignore_index=IGNORE_INDEX).to(device.torch_device),
            train_set=train_set,
            loader=torch.utils.data.DataLoader(train_set, batch_size=config.batch_size, drop_last=True,
                                               sampler=processes.sampler(len(train_set))),
            network=processes.wrap(setup.model, config.batch_size),
            val_tiles=val_tiles,
            val_loader=self._val_loader(val_tiles, range(len(val_tiles)), config.batch_size)
            if val_tiles is not None and not budgeted else None,
            precision=precision,
            scaler=torch.amp.GradScaler(device.kind, enabled=precision.autocast and precision.dtype == "float16"))
        if state is not None:
            restore(run, state)
        run.budget = self._budget_plan(run, state)
        if run.budget is not None:
            run.config = replace(run.config, minutes=run.budget.total_minutes)
        return run

    def _budget_plan(self, run: TrainingRun, state: dict | None) -> BudgetPlan | None:
        """The time budget of this run. Resuming a budgeted run keeps the budget it had left (a different
        --minutes sets a new total); minutes given to a finished run, or to one trained by epochs, are added
        to it as a new, gentler cycle from its last weights."""
        requested = self.config.minutes
        stored = json.loads(state["budget"]) if state is not None and state.get("budget") else None
        if stored is not None and not stored["finished"]:
            plan = BudgetPlan.from_json(stored)
            if requested is not None:
                plan.end_seconds = requested * 60
            return plan
        if requested is None:
            return BudgetPlan.from_json(stored) if stored is not None else None
        if state is None:
            return BudgetPlan.start(requested, run.config.learning_rate)
        return BudgetPlan.start(requested, run.config.learning_rate, elapsed=run.earlier_seconds,
                                steps_done=stored["steps_done"] if stored else 0, rounds_done=len(run.history))

    def _resolve_resume(self) -> tuple[TrainConfig, dict | None]:
        """On resume, the stored settings win, except the epoch count, device and output, which may change."""
        if not self.config.resume:
            return self.config, None
        state = load_checkpoint(self.config.checkpoint_path)
        stored = TrainConfig.from_json(json.loads(state["config"]))
        config = replace(stored, epochs=self.config.epochs, device=self.config.device, output=self.config.output,
                         checkpoint_dir=self.config.checkpoint_dir, resume=True)
        return config, state

    def _train_epoch(self, run: TrainingRun, epoch: int):
        """Train one epoch, yielding a BatchReport per batch; returns (mean loss, patches per second)."""
        config, device, plan = run.config, run.device, run.budget
        run.train_set.set_epoch(epoch)
        run.network.train()
        start = previous = time.perf_counter()
        total_loss, seen = 0.0, 0
        for index, (images, targets) in enumerate(run.loader, start=1):
            if plan is not None:
                for group in run.optimizer.param_groups:
                    group["lr"] = plan.learning_rate()
            images = images.to(device.torch_device, non_blocking=True, memory_format=run.memory_format)
            targets = targets.to(device.torch_device, non_blocking=True)
            with torch.autocast(device_type=device.kind, dtype=run.precision.torch_dtype,
                                enabled=run.precision.autocast):
                outputs = run.network(images)
            loss = run.loss_fn(_float32(outputs), targets)  # the loss in full precision, whatever the network's
            run.optimizer.zero_grad(set_to_none=True)
            run.scaler.scale(loss).backward()
            run.scaler.step(run.optimizer)
            run.scaler.update()
            value = float(loss.detach())
            if not math.isfinite(value):
                raise TrainingError(f"the loss became {value} at epoch {epoch}; lower the learning rate "
                                    f"(now {config.learning_rate:g})")
            total_loss += value * len(images)
            seen += len(images)
            now = time.perf_counter()
            if plan is not None:
                plan.record_step(now - previous if run.stepped else None, run.elapsed, config.batch_size,
                                 len(run.val_tiles) if run.val_tiles is not None else 0)
            run.stepped, previous, elapsed = True, now, now - start
            batches = self._batches_per_epoch(run)
            if plan is not None:
                eta = plan.seconds_left(run.elapsed)
            else:
                remaining_batches = (batches - index) + batches * (config.epochs - epoch)
                eta = remaining_batches * elapsed / index + run.val_seconds * (config.epochs - epoch + 1)
            yield BatchReport(epoch, run.epochs, index, max(batches, index), value,
                              run.optimizer.param_groups[0]["lr"], seen / elapsed, elapsed, eta, run.elapsed)
            if self._stop.is_set():
                break
            if plan is not None:  # every process follows the main one's plan: the same rates, rounds and end
                run.budget, round_over = self._processes.decided_by_main(
                    functools.partial(_round_decision, plan, index, run.elapsed, config.batch_size))
                plan = run.budget
                if round_over:
                    break
        total_loss, seen = self._processes.sum(np.array([total_loss, seen], dtype=np.float64)).tolist()
        return total_loss / max(seen, 1), seen / max(time.perf_counter() - start, 1e-9)

    @staticmethod
    def _batches_per_epoch(run: TrainingRun) -> int:
        """Batches in an epoch; with a budget, the steps planned for this round (as far as known)."""
        if run.budget is None:
            return len(run.loader)
        steps = run.budget.steps_per_round
        return steps if steps < len(run.loader) else 0

    def _validate(self, run: TrainingRun) -> tuple[float | None, ConfusionMatrix | None]:
        """Validation loss and the confusion matrix over every validation tile (with a time budget, over its fixed
        sample of tiles); (None, None) if stopped."""
        model, device = run.model, run.device
        if run.val_loader is None:  # a budget's sample, sized once the first steps were timed
            tiles = validation_sample(len(run.val_tiles), run.budget.val_tiles or MIN_BUDGET_VAL_TILES)
            run.val_loader = self._val_loader(run.val_tiles, tiles, run.config.batch_size)
        model.eval()
        matrix = ConfusionMatrix(len(run.data.classes))
        total, count = 0.0, 0
        with torch.inference_mode():
            for images, targets in run.val_loader:
                if self._stop.is_set():
                    return None, None
                images = images.to(device.torch_device, memory_format=run.memory_format)
                targets = targets.to(device.torch_device)
                with torch.autocast(device_type=device.kind, dtype=run.precision.torch_dtype,
                                    enabled=run.precision.autocast):
                    logits = main_output(model(images)).float()
                total += float(run.loss_fn(logits, targets)) * len(images)
                count += len(images)
                matrix.update(to_labels(logits), targets)
        matrix.counts = self._processes.sum(matrix.counts)  # each process validated its share of the tiles
        total, count = self._processes.sum(np.array([total, count], dtype=np.float64)).tolist()
        return total / max(count, 1), matrix

    def _val_loader(self, tiles: ValidationTiles, indices: Sequence[int], batch_size: int):
        """The tiles at `indices` that this process validates."""
        subset = torch.utils.data.Subset(tiles, self._processes.shard(indices))
        return torch.utils.data.DataLoader(subset, batch_size=batch_size)

    def _finish_epoch(self, run: TrainingRun, epoch, train_loss, val_loss, matrix, patches_per_s, epoch_start, started) -> EpochReport:
        """Score the epoch, keep the best model, step the schedule and write the checkpoint."""
        config = run.config
        metrics = matrix.summary(run.data.classes.names) if matrix is not None else {}
        mean_iou = metrics.get("mean_iou")
        score = mean_iou if mean_iou is not None else -train_loss
        is_best = score > run.best_score
        seconds = time.perf_counter() - epoch_start
        eta = seconds * (config.epochs - epoch) if run.budget is None else run.budget.seconds_left(run.elapsed)
        report = EpochReport(
            epoch, run.epochs, train_loss, val_loss, mean_iou, metrics, run.optimizer.param_groups[0]["lr"],
            patches_per_s, seconds, eta, is_best, epoch if is_best else run.best_epoch,
            make_preview(run.model, run.data.val, config.patch_size, run.device.torch_device)
            if self._processes.is_main else None, run.elapsed)
        run.history.append(report.history_entry())
        if is_best:
            run.best_score, run.best_epoch, run.best_metrics = score, epoch, metrics
            self._save_model(run, time.perf_counter() - started)
        if run.schedule is not None:
            run.schedule.step(score) if config.schedule == "plateau" else run.schedule.step()
        if self._processes.is_main:
            save_checkpoint(config.checkpoint_path, checkpoint_state(run, epoch, time.perf_counter() - started))
        self._processes.barrier()  # every process ends the epoch with its checkpoint written
        return report

    def _save_model(self, run: TrainingRun, seconds: float) -> None:
        from core.models.model_file import model_file_path, save_model_file

        if not self._processes.is_main:  # the main process writes it
            run.model_path = str(model_file_path(run.config.output))
            return
        try:
            run.model_path = str(save_model_file(run.config.output, run.model, model_spec(run, seconds)))
        except OSError as exc:
            raise disk_error(exc, run.config.output) from None

    def _record_full_history(self, run: TrainingRun, seconds: float) -> None:
        """The model file keeps the best epoch's weights but gets the curves of every epoch run."""
        from core.models.model_file import rewrite_model_spec

        try:
            rewrite_model_spec(run.model_path, model_spec(run, seconds))
        except OSError as exc:
            raise disk_error(exc, run.model_path) from None


def _float32(outputs):
    """A network's output (a tensor, or a list of them for deep supervision) as float32."""
    if isinstance(outputs, (list, tuple)):
        return type(outputs)(output.float() for output in outputs)
    return outputs.float()


def _round_decision(plan: BudgetPlan, steps: int, elapsed: float, batch_size: int) -> tuple[BudgetPlan, bool]:
    """The plan after a step and whether the budget's round ends with it (and the training, plan.finished)."""
    if plan.round_is_over(steps, elapsed, batch_size):
        plan.finished = plan.training_is_over(elapsed, batch_size)
        return plan, True
    return plan, False


def _default_patches(samples, patch_size: int) -> int:
    """Enough patches to cover every training image about once per epoch."""
    area = sum(s.mask.size for s in samples)
    return math.ceil(area / (patch_size * patch_size))
