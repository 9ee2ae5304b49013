"""Class table: index, name and colour of each class; palettes; versioned JSON round trip."""

from __future__ import annotations

import colorsys
import json
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from core.errors import ConfigError
from core.resources import resource_path

IGNORE_INDEX = 255
"""Mask value for unlabeled pixels: excluded from losses and metrics."""

RGB = tuple[int, int, int]


def parse_colour(value: str | list | tuple) -> RGB:
    """'#RRGGBB' or [r, g, b] -> (r, g, b)."""
    if isinstance(value, str):
        text = value.strip().lstrip("#")
        if len(text) != 6:
            raise ConfigError(f"colour {value!r} is not of the form #RRGGBB")
        try:
            return (int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16))
        except ValueError:
            raise ConfigError(f"colour {value!r} is not of the form #RRGGBB") from None
    if not isinstance(value, list | tuple | np.ndarray) or len(value) != 3 or not all(
            isinstance(c, int | np.integer) and not isinstance(c, bool) and 0 <= c <= 255 for c in value):
        raise ConfigError(f"colour {value!r} must be #RRGGBB or three integers 0-255")
    return (int(value[0]), int(value[1]), int(value[2]))


def colour_hex(colour: RGB) -> str:
    return "#{:02X}{:02X}{:02X}".format(*colour)


@lru_cache(maxsize=1)
def _palette_file_colours() -> tuple[RGB, ...]:
    path = resource_path("palette.json")
    try:
        return tuple(parse_colour(c) for c in json.loads(path.read_text())["colours"])
    except (OSError, ValueError, KeyError):
        return ((0, 0, 0),)


def default_colour(index: int) -> RGB:
    """The default colour of class `index`: the bundled palette, then evenly spread hues."""
    palette = _palette_file_colours()
    if index < len(palette):
        return palette[index]
    hue = (index * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.75, 0.95)
    return (round(r * 255), round(g * 255), round(b * 255))


@dataclass(frozen=True)
class ClassSpec:
    index: int
    name: str
    colour: RGB

    def to_json(self) -> dict:
        return {"index": self.index, "name": self.name, "colour": colour_hex(self.colour)}

    @classmethod
    def from_json(cls, data: dict) -> ClassSpec:
        try:
            return cls(int(data["index"]), str(data["name"]), parse_colour(data["colour"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"class entry {data!r} needs index, name and colour ({exc})") from None


@dataclass(frozen=True)
class ClassTable:
    """An immutable, ordered set of classes with indices 0..n-1. Edits return a new table."""

    classes: tuple[ClassSpec, ...]

    def __post_init__(self):
        indices = [c.index for c in self.classes]
        if indices != list(range(len(indices))):
            raise ConfigError(f"class indices must be 0..{len(indices) - 1} in order, got {indices}")
        if len(indices) > 65535:
            raise ConfigError("at most 65535 classes are supported")

    # construction -----------------------------------------------------------------------------
    @classmethod
    def from_names(cls, names: list[str]) -> ClassTable:
        return cls(tuple(ClassSpec(i, n, default_colour(i)) for i, n in enumerate(names)))

    @classmethod
    def default(cls, count: int) -> ClassTable:
        """'background', 'class 1', ... for `count` classes (at least 2)."""
        count = max(count, 2)
        return cls.from_names(["background"] + [f"class {i}" for i in range(1, count)])

    # queries ----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.classes)

    def __iter__(self):
        return iter(self.classes)

    def __getitem__(self, index: int) -> ClassSpec:
        return self.classes[index]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.classes]

    def colours_array(self) -> np.ndarray:
        """(n, 3) uint8 colours in class order."""
        return np.array([c.colour for c in self.classes], dtype=np.uint8).reshape(-1, 3)

    def lookup_table(self, size: int = 256) -> np.ndarray:
        """(size, 3) uint8 RGB for every possible mask value; values past the table stay black."""
        lut = np.zeros((max(size, len(self)), 3), dtype=np.uint8)
        lut[: len(self)] = self.colours_array()
        return lut

    def colourise(self, mask: np.ndarray) -> np.ndarray:
        """Index mask (H, W) -> RGB image (H, W, 3) in the class colours."""
        return self.lookup_table(int(mask.max(initial=0)) + 1)[mask]

    # edits ------------------------------------------------------------------------------------
    def renamed(self, index: int, name: str) -> ClassTable:
        return self._with(index, name=name)

    def recoloured(self, index: int, colour: RGB) -> ClassTable:
        return self._with(index, colour=parse_colour(colour))

    def with_added(self, name: str | None = None, colour: RGB | None = None) -> ClassTable:
        index = len(self)
        spec = ClassSpec(index, name or f"class {index}", default_colour(index) if colour is None else parse_colour(colour))
        return ClassTable(self.classes + (spec,))

    def _with(self, index: int, **changes) -> ClassTable:
        if not 0 <= index < len(self):
            raise ConfigError(f"no class with index {index}; valid 0..{len(self) - 1}")
        classes = list(self.classes)
        classes[index] = replace(classes[index], **changes)
        return ClassTable(tuple(classes))

    # JSON -------------------------------------------------------------------------------------
    def to_json(self) -> list[dict]:
        return [c.to_json() for c in self.classes]

    @classmethod
    def from_json(cls, data: list[dict]) -> ClassTable:
        if not isinstance(data, list) or not data:
            raise ConfigError("the class list must be a non-empty JSON list")
        specs = sorted((ClassSpec.from_json(d) for d in data), key=lambda c: c.index)
        return cls(tuple(specs))
