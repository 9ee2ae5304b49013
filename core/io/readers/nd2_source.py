"""Nikon ND2, read with nd2 (Talley Lambert): one frame per (position, time, z) read on demand; positions of
a multipoint experiment are scenes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.io.readers.calibration import pixel_pair
from core.io.readers.source import ImageSource, PlaneAddress, Scene, default_channel_names, plane_grid


class Nd2Source(ImageSource):
    """An ND2 file kept open; see the module note."""

    format_name = "ND2"

    def __init__(self, path: Path):
        import nd2

        self._nd2 = nd2.ND2File(path)
        try:
            sizes = self._nd2.sizes
            self._frames = {(index.get("P", 0), index.get("T", 0), index.get("Z", 0)): frame
                            for frame, index in enumerate(self._nd2.loop_indices)}
            scene_count, times, zs = sizes.get("P", 1), sizes.get("T", 1), sizes.get("Z", 1)
            channels = sizes.get("C", 1) * sizes.get("S", 1)
            names = [channel.channel.name for channel in (self._nd2.metadata.channels or [])]
            if self._nd2.is_rgb and sizes.get("C", 1) == 1:
                names = ["Red", "Green", "Blue"]
            voxel = self._nd2.voxel_size()
            z_loops = [loop for loop in self._nd2.experiment if loop.type == "ZStackLoop"]
            z_step = abs(z_loops[0].parameters.stepUm) if z_loops and zs > 1 else None
            height, width = sizes["Y"], sizes["X"]
            scenes = tuple(Scene(f"Position {p + 1}", (height, width), np.dtype(self._nd2.dtype),
                                 default_channel_names(channels, names), _calibrated(voxel.y, voxel.x),
                                 z_step or None, ((height, width),)) for p in range(scene_count))
        except Exception:
            self._nd2.close()
            raise
        planes = plane_grid(scene_count, [times] * scene_count, [zs] * scene_count, [1] * scene_count)
        super().__init__(path, scenes, planes)

    def _read(self, address: PlaneAddress, level: int) -> np.ndarray:
        # a copy: nd2 returns a view of its memory map, which close() unmaps under the caller's array
        frame = np.array(self._nd2.read_frame(self._frames[(address.scene, address.time, address.z)]))
        height, width = self.scenes[address.scene].shape
        if frame.shape[:2] == (height, width):  # (Y, X[, S])
            return frame.reshape(height, width, -1)
        return np.moveaxis(frame, 0, -1).reshape(height, width, -1)  # (C, Y, X[, S])

    def close(self) -> None:
        self._nd2.close()


def _calibrated(y: float, x: float) -> tuple[float, float] | None:
    """nd2 reports 1.0 for an uncalibrated file."""
    return None if (y, x) == (1.0, 1.0) else pixel_pair(y, x)
