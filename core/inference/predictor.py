"""Predictor: tiled sliding-window segmentation of one image of any size, with blended seams.

The image is normalised with levels computed once over the whole image, cut into overlapping tiles that are
reflect-padded to the network's size multiple, run in batches, and blended band by band: only the rows that a
tile row still covers are held as float sums, so a 10000 x 10000 image needs memory for a band, not the whole.
Small images of one size can go through together (predict_group): their tiles share the network calls.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np

from core.errors import Cancelled, ConfigError, ImageReadError
from core.inference.image_blend import ImageBlend
from core.inference.options import CancelCheck, PhaseCallback, PredictOptions, TileProgress
from core.inference.tiling import TileGrid
from core.io.images import channel_count, match_channels, non_finite_pixels
from core.io.masks import MAX_PNG_CLASSES
from core.models.spec import ModelSpec

log = logging.getLogger(__name__)

DEFAULT_SIZE_MULTIPLE = 32
CALIBRATION_TILES = 8
CALIBRATION_IMAGES = 4


class Predictor:
    """Runs one model on whole images. Build it once and reuse it: setup (device copy, the choice of how the
    network runs) costs time.

    With precision "auto" that choice waits for the first images (calibrate, or the first predict): the fastest
    way on this machine whose masks agree with 32-bit on them (core.inference.path_choice). `backend` names it
    ("openvino-bf16", "torch-fp32", ...); `backend_reason` says why, with the measured speeds and the agreement.
    """

    def __init__(self, model, spec: ModelSpec, options: PredictOptions | None = None):
        from core.inference.external_runner import ExternalNetwork

        self.spec = spec
        self.options = options = options or PredictOptions()
        self.classes = 2 if spec.out_channels == 1 else spec.out_channels
        self.size_multiple = size_multiple(spec)
        self._model = model
        self._runner = None
        self.backend = "undecided"
        self.backend_reason = "chosen on the first images"
        if options.precision == "exact" or isinstance(model, ExternalNetwork):
            self._choose(self._sample_tiles(), options)

    @classmethod
    def from_file(cls, model_path: str | Path, options: PredictOptions | None = None) -> Predictor:
        """Load a SegLab model file (raises ModelFileError for a bad file)."""
        from core.models.model_file import load_model_file

        model, spec = load_model_file(Path(model_path), "cpu")
        return cls(model, spec, options)

    @property
    def needs_calibration(self) -> bool:
        """How the network runs is chosen on the first images to segment, and they have not come yet."""
        return self._runner is None

    def calibrate(self, images: list[np.ndarray], tiles_wanted: int = CALIBRATION_TILES,
                  on_phase: PhaseCallback | None = None) -> None:
        """Choose how the network runs, checking reduced precision on tiles of these images (the first few to
        be segmented). Without an image, 32-bit only. Called by predict when nobody did before. on_phase(text)
        hears when the ways to run it are timed now (once per machine and network, seconds)."""
        if not self.needs_calibration:
            return
        tiles = []
        for image in images:
            source, levels = self._prepare(image)
            grid = TileGrid.for_image(*source.shape[:2], self.options.tile_size, self.options.overlap,
                                      self.size_multiple)
            for row, col in grid.tiles()[: max(1, tiles_wanted // len(images))]:
                tiles.append(self._tile_input(source, levels, grid, *grid.origin(row, col)))
        if not tiles:
            self._choose(self._sample_tiles(), replace(self.options, precision="exact"), on_phase)
            self.backend_reason += "; 32-bit only: there was no image to check reduced precision on"
            return
        self._choose(np.stack([tile for tile in tiles if tile.shape == tiles[0].shape]), self.options, on_phase)

    def _choose(self, tiles: np.ndarray, options: PredictOptions, on_phase: PhaseCallback | None = None) -> None:
        from core.inference.path_choice import choose_path

        chosen = choose_path(self._model, self.spec, options, tiles, on_phase)
        self._runner, self.backend, self.backend_reason = chosen.runner, chosen.name, chosen.reason
        self._model = None  # the chosen runner holds its own copy
        log.info("predictor for %s uses %s", self.spec.architecture, self.backend_reason)

    def _sample_tiles(self) -> np.ndarray:
        """A batch of random tiles of the prediction's size, to time the candidates on when no image is needed."""
        side = -(-self.options.tile_size // self.size_multiple) * self.size_multiple
        shape = (self.options.batch_size, self.spec.in_channels, side, side)
        return np.random.default_rng(0).standard_normal(shape, dtype=np.float32)

    @property
    def mask_dtype(self) -> type:
        return np.uint8 if self.classes <= MAX_PNG_CLASSES else np.uint16

    def predict(self, image: np.ndarray, progress: TileProgress | None = None, cancel: CancelCheck | None = None):
        """(H, W[, C]) image of any dtype -> (H, W) class-index mask (uint8; uint16 past 255 classes).

        NaN and infinite pixels enter the network as the image's low level (they change no other pixel's
        prediction) and are unlabeled in the mask; an image without a finite pixel raises ImageReadError.
        With options.return_probabilities, returns (mask, probabilities) with probabilities float32 (K, H, W).
        progress(done_tiles, total_tiles) follows every batch; cancel() is checked before every batch and
        raises Cancelled when it returns True.
        """
        mask, probabilities = self._predict(image, progress, cancel, self.options.return_probabilities)
        return (mask, probabilities) if self.options.return_probabilities else mask

    def predict_mask(self, image: np.ndarray, progress: TileProgress | None = None,
                     cancel: CancelCheck | None = None) -> np.ndarray:
        """Like predict, always returning the mask alone (no probability map is kept)."""
        return self._predict(image, progress, cancel, False)[0]

    def predict_uncertain(self, image: np.ndarray, progress: TileProgress | None = None,
                          cancel: CancelCheck | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(mask, uncertainty): the mask and its (H, W) float32 uncertainty map (core.inference.uncertainty:
        0 certain, 1 most uncertain; NaN where the pixel was NaN or infinite), made band by band."""
        return self._predict(image, progress, cancel, False, want_uncertainty=True)

    def group_size(self, height: int, width: int) -> int:
        """How many images of this size predict_group runs through the network together: as many as fill one
        batch of tiles; 1 for images of batch_size tiles or more (they stream band by band)."""
        grid = TileGrid.for_image(height, width, self.options.tile_size, self.options.overlap, self.size_multiple)
        return max(1, self.options.batch_size // grid.count)

    def predict_group(self, images: list[np.ndarray], progress: TileProgress | None = None,
                      cancel: CancelCheck | None = None, *,
                      uncertainty: bool = False) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """(mask, uncertainty map or None) per image, as predict_uncertain (uncertainty) or predict_mask give
        for each image alone (a network may round a batch of one tile differently in the last float bit), for
        images of one height and width (at most group_size of them fill one network call). Tiles of all of
        them share the batches; each image keeps its own levels, blend and NaN handling.
        progress(done_tiles, total_tiles) counts the tiles of the whole group."""
        sizes = {np.asarray(image).shape[:2] for image in images}
        if len(sizes) > 1:
            raise ConfigError(f"images predicted together must have one height and width, got {sorted(sizes)}; "
                              "predict them one by one")
        return self._predict_many(images, progress, cancel, False, uncertainty)

    # ------------------------------------------------------------------------------------------
    def _predict(self, image, progress, cancel, want_probabilities: bool, want_uncertainty: bool = False):
        """(mask, probabilities or None), or (mask, uncertainty) when want_uncertainty."""
        return self._predict_many([image], progress, cancel, want_probabilities, want_uncertainty)[0]

    def _predict_many(self, images, progress, cancel, want_probabilities: bool, want_uncertainty: bool):
        """One _predict result per image; the tiles of all images go through the network in shared batches."""
        images = [np.asarray(image) for image in images]
        unusable = [non_finite_pixels(image) for image in images]
        if any(pixels is not None and pixels.all() for pixels in unusable):
            raise ImageReadError("every pixel is NaN or infinite: there is nothing to segment")
        if self.needs_calibration:
            self.calibrate(images)
        blends = [self._start_blend(image, pixels, want_probabilities, want_uncertainty)
                  for image, pixels in zip(images, unusable, strict=True)]
        tiles = [(blend, row, col) for blend in blends for row, col in blend.grid.tiles()]
        batch_size = self.options.batch_size
        for first in range(0, len(tiles), batch_size):
            if cancel is not None and cancel():
                raise Cancelled("prediction cancelled")
            batch = tiles[first:first + batch_size]
            inputs = np.stack([self._tile_input(blend.source, blend.levels, blend.grid, *blend.grid.origin(r, c))
                               for blend, r, c in batch])
            for (blend, row, col), output in zip(batch, self._infer(inputs), strict=True):
                blend.add(row, col, output)
            for blend in dict.fromkeys(blend for blend, _, _ in batch):
                blend.release_final_rows()
            if progress is not None:
                progress(first + len(batch), len(tiles))
        return [blend.result() for blend in blends]

    def _start_blend(self, image: np.ndarray, unusable, want_probabilities: bool,
                     want_uncertainty: bool) -> ImageBlend:
        source, levels = self._prepare(image)
        grid = TileGrid.for_image(*source.shape[:2], self.options.tile_size, self.options.overlap,
                                  self.size_multiple)
        return ImageBlend(source, levels, grid, self.classes, self.mask_dtype, unusable, want_probabilities,
                          want_uncertainty)

    def _prepare(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The image with at most the model's channel count, and normalisation levels for every model
        channel, computed once over the whole image."""
        image = np.asarray(image)
        if image.ndim == 3 and image.shape[2] == 1:
            image = image[:, :, 0]
        if image.ndim not in (2, 3) or image.size == 0:
            raise ConfigError(f"expected an (H, W) or (H, W, C) image, got shape {image.shape}")
        wanted = self.spec.in_channels
        have = channel_count(image)
        if have > wanted:
            image = match_channels(image, wanted)
        elif 1 < have < wanted:
            match_channels(image[:1, :1], wanted)  # raises the ConfigError that explains the mismatch
        levels = self.spec.normalisation.levels(image)
        if len(levels) < wanted:  # gray repeated into every channel, per tile
            levels = np.repeat(levels, wanted, axis=0)
        return image, levels

    def _tile_input(self, source: np.ndarray, levels: np.ndarray, grid: TileGrid, y: int, x: int) -> np.ndarray:
        """Normalised (C, padded_h, padded_w) float32 network input for the tile at (y, x)."""
        tile = match_channels(source[y:y + grid.tile_h, x:x + grid.tile_w], self.spec.in_channels)
        planes = self.spec.normalisation.apply(tile, levels)
        pad_h, pad_w = grid.padded_h - grid.tile_h, grid.padded_w - grid.tile_w
        if pad_h or pad_w:
            planes = np.pad(planes, ((0, 0), (0, pad_h), (0, pad_w)), mode="reflect")
        return planes

    def _infer(self, inputs: np.ndarray) -> np.ndarray:
        """Class probabilities (N, K, h, w); with TTA the mean over the tile and its two flips."""
        if not self.options.tta:
            return self._runner(inputs)
        n = len(inputs)
        flipped = np.concatenate([inputs, inputs[:, :, :, ::-1], inputs[:, :, ::-1, :]])
        outputs = self._runner(np.ascontiguousarray(flipped))
        return (outputs[:n] + outputs[n:2 * n, :, :, ::-1] + outputs[2 * n:, :, ::-1, :]) / 3


def non_finite_warning(image: np.ndarray) -> str | None:
    """What to tell the user about an image with NaN or infinite pixels (prediction leaves them unlabeled)."""
    unusable = non_finite_pixels(image)
    if unusable is None:
        return None
    return (f"{int(np.count_nonzero(unusable)):,} pixels are NaN or infinite; they are left unlabeled in the "
            "mask and do not change the prediction of the others")


def first_readable(load, items, count: int = CALIBRATION_IMAGES) -> list[np.ndarray]:
    """The first `count` items that load(item) reads (what calibrate checks reduced precision on); unreadable
    ones are skipped here: the run that follows reports them."""
    from core.errors import SegLabError

    images = []
    for item in items:
        try:
            images.append(load(item))
        except SegLabError:
            continue
        if len(images) == count:
            break
    return images


def size_multiple(spec: ModelSpec) -> int:
    """Height and width the architecture needs to be divisible by; 32 for a model outside the registry."""
    from core.models.registry import model_info

    try:
        return model_info(spec.architecture).size_multiple
    except ConfigError:
        return DEFAULT_SIZE_MULTIPLE
