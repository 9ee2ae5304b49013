"""TIFF in all its microscope forms, read with tifffile: plain and multi-page TIFF (every page a plane),
ImageJ hyperstacks, OME-TIFF with its pyramids (SubIFDs). Each series is a scene; one plane reads only its
pages (or, for a contiguous ImageJ file with one page header, a memory map of the file)."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile

from core.io.readers.calibration import pixel_pair, tiff_pixel_size, to_micrometres
from core.io.readers.source import ImageSource, PlaneAddress, Scene, default_channel_names, plane_grid

_RGB_NAMES = ("Red", "Green", "Blue", "Alpha")


@dataclass(frozen=True)
class _Layout:
    """Where a plane's pages sit in a series: the axes before the page axes, and how they map to T/Z/C."""

    page_axes: str             # the leading (one entry per page) axes, e.g. "TZC"
    page_shape: tuple[int, ...]
    stacked_as_pages: bool     # axes other than T/Z/C: all non-channel axes count together as "Page"
    samples: int               # samples per pixel (RGB: 3), channels of their own

    def count(self, axis: str) -> int:
        return self.page_shape[self.page_axes.index(axis)] if axis in self.page_axes else 1

    @property
    def stack_axes(self) -> str:
        return "".join(a for a in self.page_axes if a != "C")

    def times(self) -> int:
        return 1 if self.stacked_as_pages else self.count("T")

    def zs(self) -> int:
        return math.prod(self.count(a) for a in self.stack_axes) if self.stacked_as_pages else self.count("Z")

    def page_indices(self, address: PlaneAddress) -> list[int]:
        """Page numbers of the plane's channels, in channel order."""
        if self.stacked_as_pages:
            stack_shape = tuple(self.count(a) for a in self.stack_axes)
            stack_index = dict(zip(self.stack_axes, np.unravel_index(address.z, stack_shape), strict=True))
        else:
            stack_index = {"T": address.time, "Z": address.z}
        indices = []
        for channel in range(self.count("C")):
            index = [channel if axis == "C" else int(stack_index[axis]) for axis in self.page_axes]
            indices.append(int(np.ravel_multi_index(index, self.page_shape)) if index else 0)
        return indices


def _layout(series) -> _Layout:
    axes, shape = series.get_axes(False), series.get_shape(False)
    keyframe = series.keyframe
    first_page_axis = axes.index("Y")
    planar = keyframe.planarconfig == tifffile.PLANARCONFIG.SEPARATE
    if planar and first_page_axis > 0 and axes[first_page_axis - 1] == "S":
        first_page_axis -= 1  # the samples of a planar page come before its rows
    page_axes = axes[:first_page_axis]
    return _Layout(page_axes, tuple(shape[:first_page_axis]), not set(page_axes) <= set("TZC"),
                   int(keyframe.samplesperpixel))


class TiffSource(ImageSource):
    """A TIFF file kept open; see the module note."""

    def __init__(self, path: Path):
        self._tiff = tifffile.TiffFile(path)
        try:
            self.format_name = "OME-TIFF" if self._tiff.is_ome else "ImageJ TIFF" if self._tiff.is_imagej else "TIFF"
            self._layouts = [_layout(series) for series in self._tiff.series]
            self._memmaps: dict[int, np.ndarray] = {}
            ome_images = _ome_pixels(self._tiff.ome_metadata) if self._tiff.is_ome else []
            scenes = tuple(self._scene(i, series, ome_images[i] if i < len(ome_images) else None)
                           for i, series in enumerate(self._tiff.series))
        except Exception:
            self._tiff.close()
            raise
        layouts = self._layouts
        z_name = "Page" if any(layout.stacked_as_pages for layout in layouts) else "Z"
        planes = _planes(layouts, z_name)
        super().__init__(path, scenes, planes)

    def _scene(self, index: int, series, ome: ElementTree.Element | None) -> Scene:
        layout = self._layouts[index]
        channels = layout.count("C") * layout.samples
        levels = tuple(_height_width(level) for level in series.levels)
        if ome is not None:
            names = [c.get("Name") for c in ome if c.tag.endswith("}Channel")]
            size = pixel_pair(_ome_size(ome, "Y"), _ome_size(ome, "X"))
            z_step = _ome_size(ome, "Z") if layout.count("Z") > 1 else None
        else:
            imagej = self._tiff.imagej_metadata
            names = list(_RGB_NAMES) if layout.samples > 1 and layout.count("C") == 1 else None
            size = tiff_pixel_size(series.keyframe, imagej)
            z_step = to_micrometres(imagej.get("spacing"), imagej.get("unit")) \
                if imagej and layout.count("Z") > 1 else None
        return Scene(series.name or f"Series {index + 1}", levels[0], np.dtype(series.dtype),
                     default_channel_names(channels, names), size, z_step, levels)

    def _read(self, address: PlaneAddress, level: int) -> np.ndarray:
        layout = self._layouts[address.scene]
        stored = self._tiff.series[address.scene].levels[level]
        pages = stored.pages
        channels = []
        for page_index in layout.page_indices(address):
            if len(pages) == math.prod(layout.page_shape):
                data = self._tiff.asarray(key=page_index, series=address.scene, level=level)
            else:  # one header for a contiguous stack (ImageJ > 4 GB): map the file, read only this page
                data = self._contiguous_pages(address.scene)[page_index]
            channels.append(_samples_last(data, stored.keyframe))
        return np.concatenate(channels, axis=2)

    def _contiguous_pages(self, scene: int) -> np.ndarray:
        if scene not in self._memmaps:
            series = self._tiff.series[scene]
            self._memmaps[scene] = series.asarray(out="memmap").reshape((-1,) + series.keyframe.shape)
        return self._memmaps[scene]

    def close(self) -> None:
        self._memmaps.clear()
        self._tiff.close()


def _planes(layouts: list[_Layout], z_name: str) -> tuple[PlaneAddress, ...]:
    return plane_grid(len(layouts), [lay.times() for lay in layouts], [lay.zs() for lay in layouts],
                      [1] * len(layouts), [z_name] * len(layouts))


def _height_width(series) -> tuple[int, int]:
    axes, shape = series.get_axes(False), series.get_shape(False)
    return shape[axes.index("Y")], shape[axes.index("X")]


def _samples_last(data: np.ndarray, keyframe) -> np.ndarray:
    """One page as (H, W, S): planar (S, H, W) pages have their samples moved last."""
    if data.ndim == 2:
        return data[:, :, None]
    if keyframe.planarconfig == tifffile.PLANARCONFIG.SEPARATE and keyframe.samplesperpixel > 1:
        return np.moveaxis(data, 0, -1)
    return data


def _ome_pixels(ome_xml: str | None) -> list[ElementTree.Element]:
    """The Pixels element of every OME Image, in series order."""
    if not ome_xml:
        return []
    root = ElementTree.fromstring(ome_xml)
    return [pixels for image in root if image.tag.endswith("}Image")
            for pixels in image if pixels.tag.endswith("}Pixels")]


def _ome_size(pixels: ElementTree.Element, axis: str) -> float | None:
    return to_micrometres(pixels.get(f"PhysicalSize{axis}"), pixels.get(f"PhysicalSize{axis}Unit", "µm"))
