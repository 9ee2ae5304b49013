"""What every reader returns: an ImageSource that lists its planes and reads one of them lazily.

A plane is what a person labels: one scene/series, time point, z slice and (where the library does not stitch)
mosaic tile, with all its channels. Pixels come back in the file's own dtype, (H, W) or (H, W, C).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.errors import ConfigError, ImageReadError


@dataclass(frozen=True)
class PlaneAddress:
    """One plane of a file. `axes` (letters of S, T, Z, M that vary in its scene) only shapes the label.

    `z_name` names the stacking axis: "Z" for z slices, "Y" for Leica XZ scans stepped along Y, "Page" for
    the pages of a plain multi-page TIFF.
    """

    scene: int = 0
    time: int = 0
    z: int = 0
    tile: int = 0
    axes: str = field(default="", compare=False)
    z_name: str = field(default="Z", compare=False)

    def _parts(self) -> list[tuple[str, int]]:
        names = {"S": ("S", self.scene), "T": ("T", self.time), "Z": (self.z_name, self.z), "M": ("Tile", self.tile)}
        return [names[letter] for letter in "STZM" if letter in self.axes]

    @property
    def label(self) -> str:
        """What a person reads, e.g. "S1 T2 Z3"; empty for a file with one plane."""
        return " ".join(f"{name} {index + 1}" if len(name) > 1 else f"{name}{index + 1}"
                        for name, index in self._parts())

    @property
    def suffix(self) -> str:
        """Filename-safe, e.g. "_s1_t2_z3" for the predicted mask of this plane; empty for one plane."""
        return "".join(f"_{name.lower()}{index + 1}" for name, index in self._parts())


@dataclass(frozen=True)
class Scene:
    """One scene/series: every plane of it shares size, dtype, channels and calibration.

    Pixel size is (y, x) in µm as the file states it, None when the file states none; a nominal value a file
    carries cannot be told from a measured one. `levels` lists (H, W) per resolution level, full first.
    """

    name: str
    shape: tuple[int, int]
    dtype: np.dtype
    channel_names: tuple[str, ...]
    pixel_size_um: tuple[float, float] | None
    z_step_um: float | None
    levels: tuple[tuple[int, int], ...]


def default_channel_names(count: int, names: list[str | None] | None = None) -> tuple[str, ...]:
    """Names from the metadata where present, else "Channel 1", "Channel 2", ..."""
    names = list(names or []) + [None] * count
    return tuple((names[i] or "").strip() or f"Channel {i + 1}" for i in range(count))


def plane_grid(scene_count: int, times: list[int], zs: list[int], tiles: list[int],
               z_names: list[str] | None = None) -> tuple[PlaneAddress, ...]:
    """Every (scene, time, z, tile) address; `times`, `zs`, `tiles` and `z_names` are per scene."""
    z_names = z_names or ["Z"] * scene_count
    planes = []
    for s in range(scene_count):
        axes = "".join(letter for letter, count in zip("STZM", (scene_count, times[s], zs[s], tiles[s]), strict=True)
                       if count > 1)
        planes += [PlaneAddress(s, t, z, m, axes, z_names[s])
                   for t in range(times[s]) for z in range(zs[s]) for m in range(tiles[s])]
    return tuple(planes)


class ImageSource:
    """A file opened for reading planes. Keep it open while browsing; `close()` (or `with`) when done.

    Reads are serialised by a lock, so worker threads may share one source. Readers subclass this and
    implement `_read(address, level)` returning (H, W, C) in native dtype, reading no more than the plane.
    """

    format_name = "image"

    def __init__(self, path: Path, scenes: tuple[Scene, ...], planes: tuple[PlaneAddress, ...]):
        self.path = path
        self.scenes = scenes
        self.planes = planes
        self._plane_set = frozenset(planes)
        self._lock = threading.Lock()

    # The first scene's properties: all scenes are alike in most files; `scenes` has each one.
    @property
    def shape(self) -> tuple[int, int]:
        return self.scenes[0].shape

    @property
    def dtype(self) -> np.dtype:
        return self.scenes[0].dtype

    @property
    def channel_names(self) -> tuple[str, ...]:
        return self.scenes[0].channel_names

    @property
    def pixel_size_um(self) -> tuple[float, float] | None:
        return self.scenes[0].pixel_size_um

    @property
    def z_step_um(self) -> float | None:
        return self.scenes[0].z_step_um

    @property
    def levels(self) -> tuple[tuple[int, int], ...]:
        return self.scenes[0].levels

    def scene(self, address: PlaneAddress) -> Scene:
        return self.scenes[address.scene]

    def display_level(self, address: PlaneAddress, view_height: int, view_width: int) -> int:
        """The coarsest level still at least as large as the view (level 0 when none is)."""
        fitting = [i for i, (h, w) in enumerate(self.scene(address).levels) if h >= view_height and w >= view_width]
        return fitting[-1] if fitting else 0

    def read_plane(self, address: PlaneAddress, level: int = 0, channel: int | None = None) -> np.ndarray:
        """The plane at `address`: (H, W) for one channel (or when `channel` is given), else (H, W, C)."""
        scene = self._checked(address, level, channel)
        with self._lock:
            try:
                pixels = self._read(address, level)
            except (ImageReadError, ConfigError):
                raise
            except Exception as exc:  # each library raises its own types for broken data
                where = f" at {address.label}" if address.label else ""
                raise ImageReadError(f"the {self.format_name} plane{where} cannot be read "
                                     f"(corrupt or truncated file?): {exc}", self.path) from None
        expected = scene.levels[level] + (len(scene.channel_names),)
        if pixels.shape != expected:
            raise ImageReadError(f"the {self.format_name} reader returned {pixels.shape} pixels where the "
                                 f"metadata promises {expected}; the file is inconsistent", self.path)
        if channel is not None:
            return np.ascontiguousarray(pixels[:, :, channel])
        return np.ascontiguousarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)

    def _checked(self, address: PlaneAddress, level: int, channel: int | None) -> Scene:
        if address not in self._plane_set:
            raise ConfigError(f"this file has no plane {address}; it has {len(self.planes)} "
                              f"(first {self.planes[0].label or 'the only one'})", self.path)
        scene = self.scene(address)
        if not 0 <= level < len(scene.levels):
            raise ConfigError(f"resolution level {level} does not exist; levels 0-{len(scene.levels) - 1}", self.path)
        if channel is not None and not 0 <= channel < len(scene.channel_names):
            raise ConfigError(f"channel {channel} does not exist; channels 0-{len(scene.channel_names) - 1} "
                              f"({', '.join(scene.channel_names)})", self.path)
        return scene

    def _read(self, address: PlaneAddress, level: int) -> np.ndarray:
        raise NotImplementedError

    def close(self) -> None:
        """Release the file; subclasses that hold a handle close it here."""

    def __enter__(self) -> ImageSource:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
