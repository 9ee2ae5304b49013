"""Leica LIF, read with liffile (Christoph Gohlke): each image of the file is a scene; mosaic (TileScan)
tiles are planes of their own, as the library does not stitch them; a frame is read on demand. A plane is
the file's frame: XZ scans have Z as their rows, and an XZ stack stepped along Y has its planes labelled "Y"."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.errors import ImageReadError
from core.io.readers.calibration import pixel_pair, to_micrometres
from core.io.readers.source import ImageSource, PlaneAddress, Scene, default_channel_names, plane_grid


def _spacing(image, axis: str) -> float | None:
    """µm between neighbouring samples along `axis` (liffile's coordinates are in metres)."""
    coords = image.coords.get(axis) if axis in "XYZ" else None  # not T of a line scan (xt)
    if coords is None or len(coords) < 2:
        return None
    return to_micrometres((coords[-1] - coords[0]) / (len(coords) - 1), "m")


class LifSource(ImageSource):
    """A LIF file kept open; see the module note."""

    format_name = "LIF"

    def __init__(self, path: Path):
        import liffile

        self._lif = liffile.LifFile(path)
        try:
            self._images = [image for image in self._lif.images if image.ndim >= 2]
            if not self._images:
                raise ImageReadError("the LIF file holds no images", path)
            self._frame_axes = [[axis for axis in image.dims if axis != "S"][-2:] for image in self._images]
            self._stack_axes = [next((a for a in "ZY" if a in image.dims and a not in frame), "")
                                for image, frame in zip(self._images, self._frame_axes, strict=True)]
            scenes = tuple(self._scene(i, image) for i, image in enumerate(self._images))
        except Exception:
            self._lif.close()
            raise
        sizes = [image.sizes for image in self._images]
        times = [1 if "T" in frame else s.get("T", 1) for s, frame in zip(sizes, self._frame_axes, strict=True)]
        planes = plane_grid(len(self._images), times,
                            [s.get(axis, 1) for s, axis in zip(sizes, self._stack_axes, strict=True)],
                            [s.get("M", 1) for s in sizes], [axis or "Z" for axis in self._stack_axes])
        super().__init__(path, scenes, planes)

    def _scene(self, index: int, image) -> Scene:
        (row_axis, column_axis), stack_axis = self._frame_axes[index], self._stack_axes[index]
        shape = (image.sizes[row_axis], image.sizes[column_axis])
        names = [element.get("LUTName") for element in image.xml_element.iter("ChannelDescription")]
        channels = image.sizes.get("C", 1) * image.sizes.get("S", 1)
        z_step = _spacing(image, stack_axis) if stack_axis and image.sizes[stack_axis] > 1 else None
        return Scene(image.name, shape, np.dtype(image.dtype), default_channel_names(channels, names),
                     pixel_pair(_spacing(image, row_axis), _spacing(image, column_axis)), z_step, (shape,))

    def _read(self, address: PlaneAddress, level: int) -> np.ndarray:
        image = self._images[address.scene]
        index = {"T": address.time, self._stack_axes[address.scene]: address.z, "M": address.tile}
        index = {axis: value for axis, value in index.items()
                 if axis in image.sizes and axis not in self._frame_axes[address.scene]}
        frames = [image.frame(C=channel, **index).reshape(*self.scenes[address.scene].shape, -1)
                  for channel in range(image.sizes.get("C", 1))]
        return np.concatenate(frames, axis=2)

    def close(self) -> None:
        self._lif.close()
