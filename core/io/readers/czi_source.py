"""Zeiss CZI, read with ZEISS's pylibCZIrw (libCZI): every compression (JPG XR, Zstd), scenes, and mosaics
stitched by the library, so a plane is a scene's whole mosaic at one time point and z slice. Lower levels
for display are read with libCZI's zoom, which uses the file's pyramid where it has one."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.errors import ImageReadError
from core.io.readers.calibration import pixel_pair, to_micrometres
from core.io.readers.source import ImageSource, PlaneAddress, Scene, default_channel_names, plane_grid

_DTYPES = {"Gray8": "uint8", "Gray16": "uint16", "Gray32Float": "float32", "Bgr24": "uint8",
           "Bgr48": "uint16", "Bgr96Float": "float32"}
_LEVEL_MIN_SIDE = 2048  # display levels halve the mosaic while it is larger than this


def _as_list(value) -> list:
    return value if isinstance(value, list) else [] if value is None else [value]


def _levels(height: int, width: int) -> tuple[tuple[int, int], ...]:
    levels = [(height, width)]
    while max(levels[-1]) > _LEVEL_MIN_SIDE:
        factor = 2 ** len(levels)
        levels.append((height // factor, width // factor))
    return tuple(levels)


class CziSource(ImageSource):
    """A CZI file kept open; see the module note."""

    format_name = "CZI"

    def __init__(self, path: Path):
        from pylibCZIrw import czi as pyczi

        self._czi = pyczi.CziReader(str(path))
        try:
            box = self._czi.total_bounding_box
            scene_rectangles = self._czi.scenes_bounding_rectangle
            self._rectangles = list(scene_rectangles.values()) or [self._czi.total_bounding_rectangle]
            self._scene_indices = list(scene_rectangles) or [None]
            dtype = _common_dtype(self._czi.pixel_types, path)
            self._colour = any(t.startswith("Bgr") for t in self._czi.pixel_types.values())
            self._channel_count = _size(box, "C")
            metadata = self._czi.metadata["ImageDocument"]["Metadata"]
            scenes = tuple(self._scene(i, rectangle, metadata, dtype, box)
                           for i, rectangle in enumerate(self._rectangles))
        except Exception:
            self._czi.close()
            raise
        self._offsets = {axis: box.get(axis, (0, 1))[0] for axis in "TZC"}
        count = len(self._rectangles)
        planes = plane_grid(count, [_size(box, "T")] * count, [_size(box, "Z")] * count, [1] * count)
        super().__init__(path, scenes, planes)

    def _scene(self, index: int, rectangle, metadata: dict, dtype: str, box: dict) -> Scene:
        image_info = (metadata.get("Information") or {}).get("Image") or {}
        channels = _as_list(((image_info.get("Dimensions") or {}).get("Channels") or {}).get("Channel"))
        names = [channel.get("@Name") for channel in channels if isinstance(channel, dict)]
        if self._colour:
            names, count = ["Red", "Green", "Blue"], 3 * self._channel_count
        else:
            count = self._channel_count
        scaling_items = (metadata.get("Scaling") or {}).get("Items") or {}
        distances = {item.get("@Id"): item.get("Value") for item in _as_list(scaling_items.get("Distance"))}
        size = pixel_pair(to_micrometres(distances.get("Y"), "m"), to_micrometres(distances.get("X"), "m"))
        z_step = to_micrometres(distances.get("Z"), "m") if _size(box, "Z") > 1 else None
        levels = _levels(rectangle.h, rectangle.w)
        return Scene(f"Scene {index + 1}", levels[0], np.dtype(dtype), default_channel_names(count, names),
                     size, z_step, levels)

    def _read(self, address: PlaneAddress, level: int) -> np.ndarray:
        rectangle = self._rectangles[address.scene]
        height, width = self.scenes[address.scene].levels[level]
        channels = []
        for channel in range(self._channel_count):
            plane = {"T": address.time + self._offsets["T"], "Z": address.z + self._offsets["Z"],
                     "C": channel + self._offsets["C"]}
            data = self._czi.read(plane=plane, roi=(rectangle.x, rectangle.y, rectangle.w, rectangle.h),
                                  scene=self._scene_indices[address.scene], zoom=1.0 / 2 ** level)
            data = data[:height, :width]
            channels.append(data[:, :, ::-1] if self._colour else data)  # libCZI gives BGR
        return np.concatenate(channels, axis=2)

    def close(self) -> None:
        self._czi.close()


def _common_dtype(pixel_types: dict[int, str], path: Path) -> str:
    """The one numpy dtype of all channels; mixed or exotic pixel types are refused."""
    dtypes = {_DTYPES.get(pixel_type) for pixel_type in pixel_types.values()}
    if len(dtypes) != 1 or None in dtypes:
        raise ImageReadError(f"channels of pixel types {sorted(set(pixel_types.values()))} are not supported; "
                             "export the image from ZEN as OME-TIFF", path)
    return dtypes.pop()


def _size(box: dict, axis: str) -> int:
    start, end = box.get(axis, (0, 1))
    return end - start
