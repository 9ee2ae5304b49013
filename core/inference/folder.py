"""Folder prediction: one mask per image, written while the next images are read and the current ones predicted.

Reading and writing run in small thread pools so disk and PNG work overlap the network; a file that cannot be
read is reported and skipped; cancel stops between images and between tile batches, keeping finished masks.
Consecutive small images of one size go through the network together (Predictor.predict_group), so a folder of
one-tile images fills every batch instead of sending one tile per call.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.errors import Cancelled, ConfigError, SegLabError
from core.inference.options import CancelCheck, PhaseCallback, PredictOptions
from core.inference.predictor import Predictor, first_readable, non_finite_warning
from core.inference.uncertainty import image_score
from core.inference.uncertainty_files import SCORES_FILE, map_path_for_mask, write_map, write_scores
from core.io.masks import mask_suffix, write_mask
from core.io.readers.planes import ImagePlane, is_plane_source, list_planes, model_channels

READ_AHEAD = 2
"""Images read ahead of the one being predicted: enough to hide reading, little memory. Small images that are
predicted in groups are read a group ahead (Predictor.group_size, at most the batch size)."""

FolderProgress = Callable[[float, int, float], None]
"""progress(done_images, total_images, eta_seconds), after every image (failed ones included); with
within_images also after every batch of tiles, done_images then counting the finished part of the image being
predicted (2.25: two images and a quarter of the third)."""

ResultCallback = Callable[[Path, Path], None]
"""on_result(image_path, mask_path), called on the caller's thread once a mask is on disk."""


@dataclass(frozen=True)
class FolderResult:
    written: list[Path]
    failures: list[tuple[Path, str]]
    cancelled: bool
    seconds: float
    images_per_s: float
    warnings: list[tuple[Path, str]] = field(default_factory=list)  # written, but e.g. NaN pixels left unlabeled
    scores: dict[str, float] = field(default_factory=dict)  # with uncertainty: mask name -> image score


def list_images(inputs: str | Path | Iterable[str | Path | ImagePlane]) -> list[ImagePlane]:
    """Every plane of a folder's images (sorted, not recursive; .zarr folders count as images), or of the
    given files; given ImagePlanes are kept as they are. A file listed twice counts once."""
    if isinstance(inputs, (str, Path)):
        folder = Path(inputs)
        if not folder.is_dir():
            raise ConfigError("the input folder does not exist", folder)
        inputs = sorted(p for p in folder.iterdir() if is_plane_source(p) and (p.is_file() or p.suffix == ".zarr"))
    items: dict[object, None] = {}
    for given in inputs:
        items.update(dict.fromkeys([given] if isinstance(given, ImagePlane) else list_planes(Path(given))))
    return list(items)


def read_image(item: ImagePlane):
    """One plane's pixels, all channels (on a reader thread)."""
    return item.read()


def predict_folder(model: str | Path | Predictor, inputs: str | Path | Iterable[str | Path | ImagePlane],
                   output_dir: str | Path, options: PredictOptions | None = None,
                   progress: FolderProgress | None = None, cancel: CancelCheck | None = None,
                   on_result: ResultCallback | None = None, *, within_images: bool = False,
                   channel: int | str | None = None, uncertainty: bool = False,
                   on_phase: PhaseCallback | None = None) -> FolderResult:
    """Predict every plane of every image and write `<output_dir>/<stem><plane suffix>.png` (paletted, value =
    class index; .tif past 255 classes). `model` is a model file (loaded with `options`) or a ready Predictor
    (its own options apply). `channel` (name or number from 0): what a 1-channel model reads of multi-channel
    images; without it such an image fails, but 8-bit colour photos are read as gray (said once in warnings).
    Unreadable images are listed in failures (by file; the message names the plane) and the rest carry on;
    images with NaN or infinite pixels (unlabeled in their masks) in warnings. Cancel returns early with
    cancelled=True; masks already written stay. within_images: progress follows every batch of tiles too.
    uncertainty: also write `uncertainty/<name>.tif` per mask and the scores to `uncertainty.csv` (updated, not
    replaced: core.inference.uncertainty_files), also when cancelled. on_phase(text) hears about a slow step
    before the first image (the first run of a network on this machine times the ways to run it)."""
    predictor = model if isinstance(model, Predictor) else Predictor.from_file(model, options or PredictOptions())
    paths = list_images(inputs)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    targets, problems = mask_paths(paths, output_dir, mask_suffix(len(predictor.spec.classes)))
    notes: dict[str, Path] = {}  # said once per run: the first image it concerns

    def read_plane(item: ImagePlane):
        image, note = model_channels(read_image(item), predictor.spec.in_channels, channel, item.channel_names, item)
        if note is not None:
            notes.setdefault(note, item.path)
        return image

    if predictor.needs_calibration:
        predictor.calibrate(first_readable(read_plane, [p for p in paths if p in targets]), on_phase=on_phase)
    run = _FolderRun(predictor, len(paths), progress, on_result, within_images, uncertainty)
    with ThreadPoolExecutor(READ_AHEAD, thread_name_prefix="seglab-read") as readers, \
            ThreadPoolExecutor(1, thread_name_prefix="seglab-write") as writer, \
            closing(run.image_groups(paths, problems, read_plane, readers, cancel)) as groups:
        for group in groups:
            try:
                run.predict([(item.path, image, targets[item]) for item, image in group], writer, cancel)
            except Cancelled:
                run.cancelled = True
                break
        run.collect_writes(wait=True)
    run.write_scores(output_dir)
    seconds = time.perf_counter() - run.start
    written = [targets[p] for p in paths if p in targets and targets[p] in run.written]
    warnings = [(path, note) for note, path in notes.items()] + run.warnings
    return FolderResult(written, run.failures, run.cancelled, seconds, len(written) / seconds if seconds else 0.0,
                        warnings, dict(run.scores))


def mask_paths(items: list[ImagePlane], output_dir: Path,
               suffix: str) -> tuple[dict[ImagePlane, Path], dict[ImagePlane, str]]:
    """Mask path of each plane (<stem><plane suffix><suffix>), and for planes that get none, why (it would
    overwrite an input image or the mask of an image with the same stem)."""
    inputs = {item.path.resolve() for item in items}
    targets: dict[ImagePlane, Path] = {}
    problems: dict[ImagePlane, str] = {}
    owners: dict[Path, ImagePlane] = {}
    for item in items:
        target = output_dir / f"{item.name}{suffix}"
        where = f"{item.label}: " if item.label else ""
        if target.resolve() in inputs:
            problems[item] = f"{where}its mask would overwrite the image {target.name}; choose another output folder"
        elif target in owners:
            problems[item] = f"{where}{owners[target].path.name} has the same name stem and already gets {target.name}"
        else:
            targets[item] = target
            owners[target] = item
    return targets, problems


class _FolderRun:
    """Book-keeping of one folder run: failures, finished writes, progress with an ETA."""

    def __init__(self, predictor: Predictor, total: int, progress, on_result, within_images: bool,
                 uncertainty: bool = False):
        self.predictor = predictor
        self.uncertainty = uncertainty
        self.scores: dict[str, float] = {}  # mask name -> uncertainty score, once both files are written
        self.total = total
        self.progress = progress
        self.within_images = within_images and progress is not None
        self.on_result = on_result
        self.failures: list[tuple[Path, str]] = []
        self.warnings: list[tuple[Path, str]] = []
        self.written: set[Path] = set()
        self.cancelled = False
        self.done = 0
        self.start = time.perf_counter()
        self._writes: list[tuple[Path, Path, Future]] = []

    def image_groups(self, items: list[ImagePlane], problems: dict[ImagePlane, str], read,
                     readers: ThreadPoolExecutor, cancel) -> Iterator[list[tuple[ImagePlane, np.ndarray]]]:
        """The readable items and their pixels in input order, in runs of one shape and dtype that the
        predictor takes together (at most Predictor.group_size); items with a problem and unreadable files are
        reported as they come. Reads run READ_AHEAD images, or a group, ahead. Stops early on cancel."""
        readable = iter([item for item in items if item not in problems])
        pending: deque[Future] = deque()
        group: list[tuple[ImagePlane, np.ndarray]] = []
        ahead = READ_AHEAD
        try:
            for item in items:
                self.collect_writes(wait=False)  # on_result for masks written while images were read
                if cancel is not None and cancel():
                    self.cancelled = True
                    return
                if item in problems:
                    self.fail(item.path, ConfigError(problems[item], item.path))
                    continue
                while len(pending) <= ahead and (upcoming := next(readable, None)) is not None:
                    pending.append(readers.submit(read, upcoming))
                try:
                    image = pending.popleft().result()
                except SegLabError as exc:
                    self.fail(item.path, exc)
                    continue
                if group and (group[0][1].shape, group[0][1].dtype) != (image.shape, image.dtype):
                    yield group
                    group = []
                group.append((item, image))
                size = self.predictor.group_size(*image.shape[:2])
                ahead = max(READ_AHEAD, size)
                if len(group) >= size:
                    yield group
                    group = []
            if group:
                yield group
        finally:
            for reading in pending:
                reading.cancel()

    def predict(self, group: list[tuple[Path, np.ndarray, Path]], writer: ThreadPoolExecutor, cancel) -> None:
        """Predict (source, image, target) images of one shape together and queue their writes; when that
        fails, each alone, so the failure is reported for the image it concerns."""
        tiles = self._report_tiles if self.within_images else None
        try:
            results = self.predictor.predict_group([image for _, image, _ in group], tiles, cancel,
                                                   uncertainty=self.uncertainty)
        except SegLabError as exc:
            if len(group) == 1:
                self.fail(group[0][0], exc)
                return
            for one in group:
                self.predict([one], writer, cancel)
            return
        for (source, image, target), (mask, uncertainty) in zip(group, results, strict=True):
            warning = non_finite_warning(image)
            if warning is not None:
                self.warnings.append((source, warning))
            self._writes.append((source, target, writer.submit(self._write, target, mask, uncertainty)))
            self.collect_writes(wait=False)
            self._advance()

    def _write(self, target: Path, mask, uncertainty) -> None:
        """On the writer thread: the mask, and its uncertainty map and score when asked for."""
        write_mask(target, mask, self.predictor.spec.classes)
        if uncertainty is not None:
            write_map(map_path_for_mask(target), uncertainty)
            self.scores[target.stem] = image_score(uncertainty)

    def write_scores(self, output_dir: Path) -> None:
        """Add this run's scores to `uncertainty.csv` (a failure is listed, the masks stay)."""
        if not self.scores:
            return
        try:
            write_scores(output_dir, self.scores)
        except (SegLabError, OSError) as exc:
            self.failures.append((output_dir / SCORES_FILE, f"uncertainty scores not written: {exc}"))

    def fail(self, source: Path, error: Exception) -> None:
        self.failures.append((source, str(error)))
        self._advance()

    def collect_writes(self, wait: bool) -> None:
        """Record finished writes (all of them when wait) as written or failed."""
        running = []
        for source, target, future in self._writes:
            if not wait and not future.done():
                running.append((source, target, future))
                continue
            try:
                future.result()
            except (SegLabError, OSError) as exc:
                self.failures.append((source, f"mask not written to {target}: {exc}"))
            else:
                self.written.add(target)
                if self.on_result is not None:
                    self.on_result(source, target)
        self._writes = running

    def _advance(self) -> None:
        self.done += 1
        self._report(self.done)

    def _report_tiles(self, done_tiles: int, total_tiles: int) -> None:
        if done_tiles < total_tiles:  # a group fills one batch: only an image predicted alone gets here
            self._report(self.done + done_tiles / total_tiles)

    def _report(self, done: float) -> None:
        if self.progress is not None:
            elapsed = time.perf_counter() - self.start
            self.progress(done, self.total, elapsed / done * (self.total - done))
