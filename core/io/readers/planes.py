"""Files as the planes a person labels: `list_planes(path)` lists them from metadata alone, `read_plane_image`
reads one. Plain PNG/JPEG/BMP and single-plane TIFF keep core.io.images' whole-file fast path (address None);
every other plane is read lazily through `open_source`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import ConfigError, SegLabError
from core.io.images import (
    COLOUR_PHOTO_NOTE,
    IMAGE_EXTENSIONS,
    TIFF_EXTENSIONS,
    channel_count,
    channel_index,
    is_colour_photo,
    match_channels,
    read_image,
)
from core.io.readers import SOURCE_EXTENSIONS, PlaneAddress, open_source
from core.io.readers.source import default_channel_names

_COLOUR_NAMES = ("Red", "Green", "Blue", "Alpha")
_PLAIN_EXTENSIONS = tuple(e for e in IMAGE_EXTENSIONS if e not in TIFF_EXTENSIONS)  # one plane, never opened


@dataclass(frozen=True)
class PlaneMetadata:
    """What a file's metadata says of a plane: (H, W), channel names, pixel size (y, x) in µm or None."""

    shape: tuple[int, int]
    channel_names: tuple[str, ...]
    pixel_size_um: tuple[float, float] | None


@dataclass(frozen=True)
class ImagePlane:
    """One plane of one file: what gets labelled, and one predicted mask, named `name` (stem + plane suffix).

    `address` is None for a file read whole by core.io.images (PNG, JPEG, BMP, single-plane TIFF)."""

    path: Path
    address: PlaneAddress | None = None
    metadata: PlaneMetadata | None = None

    @property
    def name(self) -> str:
        return self.path.stem + (self.address.suffix if self.address is not None else "")

    @property
    def label(self) -> str:
        """e.g. "T1 Z2"; empty for a file with one plane."""
        return self.address.label if self.address is not None else ""

    @property
    def channel_names(self) -> tuple[str, ...]:
        return self.metadata.channel_names if self.metadata is not None else ()

    def read(self) -> np.ndarray:
        return read_plane_image(self.path, self.address)

    def read_for_model(self, in_channels: int, channel: int | str | None) -> tuple[np.ndarray, str | None]:
        """The plane as a model with `in_channels` channels reads it, and a note to tell the user once (see
        `model_channels`)."""
        return model_channels(self.read(), in_channels, channel, self.channel_names, self)

    def __str__(self) -> str:
        return f"{self.path} ({self.label})" if self.label else str(self.path)


def is_plane_source(path: Path) -> bool:
    """A file (or .zarr folder) whose name says SegLab reads it."""
    return path.suffix.lower() in SOURCE_EXTENSIONS


def list_planes(path: str | Path) -> list[ImagePlane]:
    """Every plane of the file, from metadata only. PNG/JPEG/BMP are not opened. A file whose metadata cannot
    be read counts as one plane read whole, so reading it later reports the problem (as for any image)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in _PLAIN_EXTENSIONS:
        return [ImagePlane(path)]
    try:
        with open_source(path) as source:
            planes = [(address, source.scene(address)) for address in source.planes]
    except SegLabError:
        planes = []
    if not planes:  # unreadable, or no image inside: reading it says why
        return [ImagePlane(path)] if suffix in TIFF_EXTENSIONS else [ImagePlane(path, PlaneAddress())]
    whole_file = suffix in TIFF_EXTENSIONS and len(planes) == 1
    return [ImagePlane(path, None if whole_file else address,
                       PlaneMetadata(scene.shape, scene.channel_names, scene.pixel_size_um))
            for address, scene in planes]


def read_plane_image(path: str | Path, address: PlaneAddress | None) -> np.ndarray:
    """The plane's pixels in their own dtype, (H, W) or (H, W, C). ImageReadError names the file."""
    if address is None:
        return read_image(path)
    with open_source(path) as source:
        return source.read_plane(address)


def model_channels(image: np.ndarray, in_channels: int, channel: int | str | None, names: tuple[str, ...],
                   where: object) -> tuple[np.ndarray, str | None]:
    """For a 1-channel model: the `channel` chosen (name or number from 0), else an 8-bit colour photo as
    gray (with COLOUR_PHOTO_NOTE to tell the user), else a ConfigError naming `where` and the channels.
    Other models get the image unchanged (the predictor repeats gray or drops extra channels)."""
    count = channel_count(image)
    if in_channels != 1 or count == 1:
        return image, None
    if len(names) != count:  # a file read whole: RGB(A) pictures have colour names
        names = default_channel_names(count, list(_COLOUR_NAMES) if count in (3, 4) else None)
    try:
        chosen = channel_index(channel, names, count)
        note = COLOUR_PHOTO_NOTE if chosen is None and is_colour_photo(image) else None
        return match_channels(image, 1, chosen, names), note
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc.reason}") from None
