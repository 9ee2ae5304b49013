"""OME-Zarr (NGFF 0.4 and 0.5) folders, read with zarr: each multiscales image is a scene (also the numbered
series of a bioformats2raw layout); its datasets are the resolution levels; one plane reads only its chunks."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.errors import ImageReadError
from core.io.readers.calibration import pixel_pair, to_micrometres
from core.io.readers.source import ImageSource, PlaneAddress, Scene, default_channel_names, plane_grid


def _ome_attributes(group) -> dict:
    """NGFF 0.5 keeps its metadata under "ome"; 0.4 at the top level."""
    attributes = dict(group.attrs)
    return attributes.get("ome", attributes)


def _image_groups(root) -> list:
    """The groups that hold a multiscales image: the root, or bioformats2raw's series 0, 1, ..."""
    if "multiscales" in _ome_attributes(root):
        return [root]
    groups = []
    while str(len(groups)) in root and "multiscales" in _ome_attributes(root[str(len(groups))]):
        groups.append(root[str(len(groups))])
    return groups


class _ZarrImage:
    """One multiscales image: its level arrays and which axis is which."""

    def __init__(self, group):
        attributes = _ome_attributes(group)
        multiscale = attributes["multiscales"][0]
        self.name = multiscale.get("name") or group.name
        axes = multiscale.get("axes") or [{"name": n} for n in "tczyx"[-group[multiscale["datasets"][0]["path"]].ndim:]]
        self.axis_names = [axis["name"].lower() if isinstance(axis, dict) else str(axis).lower() for axis in axes]
        self.units = [axis.get("unit") if isinstance(axis, dict) else None for axis in axes]
        self.arrays = [group[dataset["path"]] for dataset in multiscale["datasets"]]
        first_scale = [t for t in multiscale["datasets"][0].get("coordinateTransformations", [])
                       if t.get("type") == "scale"]
        self.scale = first_scale[0]["scale"] if first_scale else None
        self.channel_labels = [c.get("label") for c in attributes.get("omero", {}).get("channels", [])]

    def size(self, axis: str, level: int = 0) -> int:
        return self.arrays[level].shape[self.axis_names.index(axis)] if axis in self.axis_names else 1

    def spacing(self, axis: str) -> float | None:
        if self.scale is None or axis not in self.axis_names:
            return None
        index = self.axis_names.index(axis)
        return to_micrometres(self.scale[index], self.units[index])

    def scene(self) -> Scene:
        channels = self.size("c")
        levels = tuple((self.size("y", level), self.size("x", level)) for level in range(len(self.arrays)))
        z_step = self.spacing("z") if self.size("z") > 1 else None
        return Scene(self.name, levels[0], np.dtype(self.arrays[0].dtype),
                     default_channel_names(channels, self.channel_labels),
                     pixel_pair(self.spacing("y"), self.spacing("x")), z_step, levels)

    def read(self, address: PlaneAddress, level: int) -> np.ndarray:
        index = {"t": address.time, "z": address.z}
        selection = tuple(index.get(name, slice(None)) for name in self.axis_names)
        kept = [name for name in self.axis_names if name not in index]
        data = np.asarray(self.arrays[level][selection])
        if "c" not in kept:
            return data[:, :, None]
        return np.moveaxis(data, kept.index("c"), -1)


class ZarrSource(ImageSource):
    """An OME-Zarr folder; see the module note."""

    format_name = "OME-Zarr"

    def __init__(self, path: Path):
        import zarr

        root = zarr.open_group(str(path), mode="r")
        groups = _image_groups(root)
        if not groups:
            raise ImageReadError("this Zarr folder has no OME multiscales image (is it an OME-Zarr?)", path)
        self._images = [_ZarrImage(group) for group in groups]
        planes = plane_grid(len(self._images), [im.size("t") for im in self._images],
                            [im.size("z") for im in self._images], [1] * len(self._images))
        super().__init__(path, tuple(image.scene() for image in self._images), planes)

    def _read(self, address: PlaneAddress, level: int) -> np.ndarray:
        return self._images[address.scene].read(address, level)
