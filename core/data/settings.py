"""Per-dataset settings saved beside the data as versioned JSON (seglab.json): classes, mask encoding, and
for microscope images the channel a 1-channel model reads and the pixel size where the metadata lacks it.

Version 1 files have classes and encoding only; version 2 adds "channel" and "pixel_size_um". A file is
written as version 1 while those are unset, so older SegLab versions keep reading it."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from core.classes import ClassTable
from core.errors import ConfigError, DatasetError
from core.io.atomic import write_error, write_json_atomic
from core.io.masks import MaskEncoding

SETTINGS_FILE = "seglab.json"
SETTINGS_VERSION = 2
_CHANNEL_PIXEL_VERSION = 2  # the first version with channel and pixel_size_um


@dataclass(frozen=True)
class DatasetSettings:
    classes: ClassTable = field(default_factory=lambda: ClassTable.default(2))
    encoding: MaskEncoding = field(default_factory=MaskEncoding)
    channel: str | int | None = None  # name or 0-based number of the channel a 1-channel model reads
    pixel_size_um: float | None = None  # replaces the pixel size the files state (or lack)

    def __post_init__(self):
        if self.channel is not None and not (isinstance(self.channel, str) and self.channel.strip()
                                             or isinstance(self.channel, int) and self.channel >= 0):
            raise ConfigError(f"the channel must be a channel name or a number from 0, not {self.channel!r}")
        size = self.pixel_size_um
        if size is not None and (isinstance(size, bool) or not isinstance(size, (int, float))
                                 or not math.isfinite(size) or size <= 0):
            raise ConfigError(f"the pixel size must be a positive number of micrometres, not {size!r}")

    def to_json(self) -> dict:
        data = {"version": 1, "classes": self.classes.to_json(), "mask_encoding": self.encoding.to_json()}
        if self.channel is not None or self.pixel_size_um is not None:
            data.update(version=_CHANNEL_PIXEL_VERSION, channel=self.channel, pixel_size_um=self.pixel_size_um)
        return data

    @classmethod
    def from_json(cls, data: dict) -> DatasetSettings:
        if not isinstance(data, dict):
            raise ConfigError("the settings must be a JSON object")
        version = data.get("version")
        if not isinstance(version, int) or version > SETTINGS_VERSION:
            raise ConfigError(f"settings version {version!r} is not supported (this SegLab reads up to {SETTINGS_VERSION})")
        return cls(ClassTable.from_json(data.get("classes")), MaskEncoding.from_json(data.get("mask_encoding")),
                   data.get("channel"), data.get("pixel_size_um"))

    def save(self, folder: str | Path) -> Path:
        """Write seglab.json into `folder`; WriteError (an OSError) naming it when it cannot be written."""
        path = Path(folder) / SETTINGS_FILE
        try:
            write_json_atomic(path, self.to_json())
        except OSError as exc:
            raise write_error(exc, path) from None
        return path

    @classmethod
    def load(cls, folder: str | Path) -> DatasetSettings | None:
        """The folder's settings, or None when it has none. A broken file raises DatasetError naming it."""
        path = Path(folder) / SETTINGS_FILE
        if not path.is_file():
            return None
        try:
            return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, ConfigError) as exc:
            raise DatasetError(f"the dataset settings cannot be read ({exc}); fix or delete the file", path) from None
