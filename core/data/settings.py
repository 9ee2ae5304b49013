"""Per-dataset settings saved beside the data as versioned JSON (seglab.json): classes and mask encoding."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from core.classes import ClassTable
from core.errors import ConfigError, DatasetError
from core.io.atomic import write_error, write_json_atomic
from core.io.masks import MaskEncoding

SETTINGS_FILE = "seglab.json"
SETTINGS_VERSION = 1


@dataclass(frozen=True)
class DatasetSettings:
    classes: ClassTable = field(default_factory=lambda: ClassTable.default(2))
    encoding: MaskEncoding = field(default_factory=MaskEncoding)

    def to_json(self) -> dict:
        return {"version": SETTINGS_VERSION, "classes": self.classes.to_json(), "mask_encoding": self.encoding.to_json()}

    @classmethod
    def from_json(cls, data: dict) -> DatasetSettings:
        if not isinstance(data, dict):
            raise ConfigError("the settings must be a JSON object")
        version = data.get("version")
        if not isinstance(version, int) or version > SETTINGS_VERSION:
            raise ConfigError(f"settings version {version!r} is not supported (this SegLab reads up to {SETTINGS_VERSION})")
        return cls(ClassTable.from_json(data.get("classes")), MaskEncoding.from_json(data.get("mask_encoding")))

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
