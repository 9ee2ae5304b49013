"""Folder prediction on Dask workers: each worker loads the model once, predicts its share of the images and
writes their masks into the output folder; the client collects each file's outcome as it finishes.

    with dask_client(workers=2) as client:                 # or dask_client("tcp://host:8786")
        result = predict_folder_on_dask(client, "model.safetensors", "images/", "masks/", PredictOptions())

The loader (Predictor.from_file unless given, e.g. core.bioimageio.importing.load_predictor) runs on the
workers, so it must be a module-level function they can import.

The masks equal predict_folder's: every image goes through the same Predictor with the same options. The
workers must see the model, the images and the output folder at the same paths as the client (a shared disk).
Needs the `cluster` extra: pip install -e ".[cluster]".
"""

from __future__ import annotations

import hashlib
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from core.errors import Cancelled, ConfigError, SegLabError
from core.inference.folder import FolderProgress, FolderResult, ResultCallback, list_images, mask_paths
from core.inference.options import CancelCheck, PredictOptions
from core.inference.predictor import CALIBRATION_IMAGES, Predictor, first_readable, non_finite_warning
from core.io.masks import mask_suffix, write_mask
from core.io.readers.planes import ImagePlane, model_channels

ModelLoader = Callable[[str, PredictOptions], Predictor]

INSTALL_HINT = 'install the cluster extra: pip install -e ".[cluster]"'
WORKER_WAIT_S = 60
"""How long a run waits for the first worker to join a scheduler that has none."""
POLL_S = 0.1
"""How often the client checks cancel while it waits for results."""


@dataclass(frozen=True)
class ClusterResult(FolderResult):
    """A FolderResult, plus how the workers ran the model and how many there were."""

    backend_reason: str = ""
    workers: int = 0


@dataclass(frozen=True)
class ModelRecipe:
    """What a worker needs to build the Predictor; `key` names one model file version with these options."""

    model: str
    options: PredictOptions
    loader: ModelLoader
    channel: int | str | None  # what a 1-channel model reads of multi-channel images (see predict_folder)
    calibration: tuple[ImagePlane, ...]  # the first readable ones choose how the network runs (calibrate)
    key: str


@dataclass(frozen=True)
class ImageOutcome:
    """What happened to one image on a worker."""

    written: bool = False
    problem: str | None = None
    warning: str | None = None
    note: str | None = None  # said once per run, e.g. that colour photos are read as gray
    cancelled: bool = False
    backend_reason: str = ""


def _distributed():
    try:
        import distributed
    except ImportError:
        raise ConfigError(f"Dask distributed is not installed; {INSTALL_HINT}") from None
    return distributed


@contextmanager
def dask_client(address: str | None = None, workers: int | None = None) -> Iterator:
    """A Dask client of the scheduler at `address`, or of a local cluster of `workers` processes with one
    thread each (closed on exit, Ctrl+C included)."""
    distributed = _distributed()
    if (address is None) == (workers is None):
        raise ConfigError("give either a Dask scheduler address (--dask) or a number of local workers "
                          "(--workers)")
    if address is not None:
        try:
            client = distributed.Client(address, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {address} ({exc}); start it with "
                              "`dask scheduler` and check the address and port") from None
        with client:
            yield client
        return
    if workers < 1:
        raise ConfigError(f"--workers {workers}: use at least 1 worker process")
    with _workers_ignore_ctrl_c():
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
    with cluster, distributed.Client(cluster) as client:
        yield client


@contextmanager
def _workers_ignore_ctrl_c() -> Iterator[None]:
    """Worker processes started inside ignore Ctrl+C (they inherit it): the client stops them in order,
    instead of each dying with a traceback."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only change on the main thread, where Ctrl+C arrives anyway
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def predict_folder_on_dask(client, model: str | Path, inputs: str | Path | Iterable[str | Path | ImagePlane],
                           output_dir: str | Path, options: PredictOptions | None = None,
                           progress: FolderProgress | None = None, cancel: CancelCheck | None = None,
                           on_result: ResultCallback | None = None, *, channel: int | str | None = None,
                           loader: ModelLoader = Predictor.from_file) -> ClusterResult:
    """predict_folder on the client's workers, each loading the model once with `loader`. Unreadable
    images are listed in failures and the rest carry on; progress and on_result follow every finished image;
    cancel() stops the workers between tile batches (masks written stay). A model that a worker cannot load
    raises its SegLabError before any image is sent."""
    distributed = _distributed()
    start = time.perf_counter()
    options = options or PredictOptions()
    paths = list_images(inputs)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    workers = _wait_for_workers(client)
    class_count = client.submit(_class_count, _recipe(model, options, loader, channel), pure=False).result()
    targets, problems = mask_paths(paths, output_dir, mask_suffix(class_count))
    run = _ClusterRun(len(paths), progress, on_result, start)
    for item in paths:
        if item in problems:
            run.record(item.path, None, ImageOutcome(problem=f"{item.path}: {problems[item]}"))
    calibration = tuple(_absolute(item) for item in targets)  # the images predict_folder calibrates on
    recipe = client.scatter(_recipe(model, options, loader, channel, calibration), broadcast=True)
    stop = distributed.Event(f"seglab-cancel-{uuid.uuid4().hex}", client=client)
    futures = {client.submit(_predict_file, recipe, _absolute(item), str(target.absolute()), stop.name,
                             pure=False): (item.path, target)
               for item, target in targets.items()}
    finished = distributed.as_completed(futures)
    try:
        run.collect(finished, futures, cancel, stop)
    except BaseException:  # Ctrl+C or a lost scheduler: running images stop at their next tile batch,
        stop.set()  # and the scheduler forgets the queued ones once no future refers to them
        finished.clear()
        futures.clear()
        recipe.release()
        raise
    written = [targets[p] for p in paths if p in targets and targets[p] in run.written]
    seconds = time.perf_counter() - start
    warnings = [(path, note) for note, path in run.notes.items()] + run.warnings
    rate = len(written) / seconds if seconds else 0.0
    return ClusterResult(written, run.failures, run.cancelled, seconds, rate, warnings=warnings,
                         backend_reason=run.backend_reason, workers=workers)


def _absolute(item: ImagePlane) -> ImagePlane:
    """The plane with an absolute path, as the workers must see it."""
    return replace(item, path=item.path.absolute())


def _recipe(model: str | Path, options: PredictOptions, loader: ModelLoader, channel: int | str | None,
            calibration: tuple[ImagePlane, ...] = ()) -> ModelRecipe:
    model_path = Path(model).absolute()
    try:
        stat = model_path.stat()
    except OSError as exc:
        raise ConfigError(f"cannot read the model ({exc.strerror}); check the path", model_path) from None
    version = repr((str(model_path), stat.st_mtime_ns, stat.st_size, options, loader.__qualname__, channel,
                    calibration))
    return ModelRecipe(str(model_path), options, loader, channel, calibration,
                       hashlib.sha256(version.encode()).hexdigest())


def _wait_for_workers(client) -> int:
    """How many workers the scheduler has, after waiting for the first one to join."""
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT_S)
    except TimeoutError:
        address = client.scheduler.address
        raise ConfigError(f"no Dask worker joined the scheduler {address} within {WORKER_WAIT_S} s; start "
                          f"some with `dask worker {address}`") from None
    return len(client.nthreads())


class _ClusterRun:
    """The client's book-keeping: outcomes as they arrive, progress with an ETA, cancel."""

    def __init__(self, total: int, progress, on_result, start: float):
        self.total, self.progress, self.on_result, self.start = total, progress, on_result, start
        self.failures: list[tuple[Path, str]] = []
        self.warnings: list[tuple[Path, str]] = []
        self.written: set[Path] = set()
        self.notes: dict[str, Path] = {}  # said once per run: the first image it concerns
        self.cancelled = False
        self.done = 0
        self.backend_reason = ""

    def collect(self, finished, futures: dict, cancel: CancelCheck | None, stop) -> None:
        """Record every future's outcome; on cancel, tell the workers and keep what they finish."""
        while not finished.is_empty():
            if not self.cancelled and cancel is not None and cancel():
                self.cancelled = True
                stop.set()  # queued images return at once, running ones at their next tile batch
            batch = finished.next_batch(block=False)
            if not batch:
                time.sleep(POLL_S)
            for future in batch:
                path, target = futures[future]
                self.record(path, target, _outcome(future, path))

    def record(self, path: Path, target: Path | None, outcome: ImageOutcome) -> None:
        if outcome.cancelled:
            self.cancelled = True
            return
        if outcome.note is not None:
            self.notes.setdefault(outcome.note, path)
        if outcome.warning is not None:
            self.warnings.append((path, outcome.warning))
        if outcome.written:
            self.written.add(target)
            self.backend_reason = outcome.backend_reason
            if self.on_result is not None:
                self.on_result(path, target)
        else:
            self.failures.append((path, outcome.problem))
        self.done += 1
        if self.progress is not None:
            elapsed = time.perf_counter() - self.start
            self.progress(self.done, self.total, elapsed / self.done * (self.total - self.done))


def _outcome(future, path: Path) -> ImageOutcome:
    """The task's outcome; a task that raised (a worker lost, a model it cannot load) fails its image."""
    if future.status == "error":
        error = future.exception()
        return ImageOutcome(problem=f"{path}: {error}" if isinstance(error, SegLabError) else
                            f"{path}: the Dask worker failed ({type(error).__name__}: {error})")
    if future.status == "cancelled":
        return ImageOutcome(cancelled=True)
    return future.result()


# Run on the workers ------------------------------------------------------------------------------

class _WorkerModel:
    """The model this worker process holds: loaded on first use, kept while the recipe stays the same."""

    def __init__(self, recipe: ModelRecipe):
        from distributed import get_worker

        if get_worker().state.nthreads == 1:
            import torch

            torch.set_num_threads(1)  # onnxruntime sessions follow torch's thread count
        self.key = recipe.key
        self.predictor = recipe.loader(recipe.model, recipe.options)
        if self.predictor.needs_calibration and recipe.calibration:
            images = first_readable(lambda item: _read_for_model(item, self.predictor, recipe.channel)[0],
                                    recipe.calibration, CALIBRATION_IMAGES)
            self.predictor.calibrate(images)


_held: _WorkerModel | None = None
_holding = threading.Lock()


def _worker_model(recipe: ModelRecipe) -> Predictor:
    """This worker's Predictor for the recipe, loaded (and calibrated) on first use."""
    global _held
    with _holding:
        if _held is None or _held.key != recipe.key:
            _held = None  # free the previous model before loading the next
            _held = _WorkerModel(recipe)
        return _held.predictor


def _class_count(recipe: ModelRecipe) -> int:
    """Load the model on a worker (a model that cannot be loaded fails before any image is sent)."""
    return len(_worker_model(recipe).spec.classes)


def _predict_file(recipe: ModelRecipe, item: ImagePlane, target: str, stop_name: str) -> ImageOutcome:
    """Read, predict and write one image's mask, as predict_folder does."""
    from distributed import Event

    stop = Event(stop_name)
    if stop.is_set():
        return ImageOutcome(cancelled=True)
    predictor = _worker_model(recipe)
    try:
        image, note = _read_for_model(item, predictor, recipe.channel)
        mask = predictor.predict_mask(image, cancel=stop.is_set)
    except Cancelled:
        return ImageOutcome(cancelled=True)
    except SegLabError as exc:
        return ImageOutcome(problem=str(exc))
    warning = non_finite_warning(image)
    try:
        write_mask(target, mask, predictor.spec.classes)
    except (SegLabError, OSError) as exc:
        return ImageOutcome(problem=f"mask not written to {target}: {exc}", warning=warning, note=note)
    return ImageOutcome(written=True, warning=warning, note=note, backend_reason=predictor.backend_reason)


def _read_for_model(item: ImagePlane, predictor: Predictor, channel: int | str | None):
    """The plane as the model reads it, and a note to tell the user once (as predict_folder reads it)."""
    return model_channels(item.read(), predictor.spec.in_channels, channel, item.channel_names, item)
