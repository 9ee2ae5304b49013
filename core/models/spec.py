"""ModelSpec: everything besides the weights that is needed to rebuild and use a model."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from core.classes import ClassTable
from core.errors import ConfigError
from core.io.images import Normalisation

SPEC_VERSION = 1
MAX_IN_CHANNELS = 512
"""Image channels a model may take (hyperspectral stacks included); more is a damaged or hostile header."""
MAX_PATCH_SIZE = 16384
MAX_OPTION_VALUE = 16384
"""Largest whole-number architecture option (widths such as base_channels, fc_channels)."""


@dataclass(frozen=True)
class ModelSpec:
    """Architecture, channels, classes and normalisation, plus provenance for reports.

    out_channels equals the class count, or 1 for a binary model trained with BCE (sigmoid output).
    options holds architecture arguments (e.g. base_channels, bilinear, variant).
    training holds a summary of the data and settings, and `history` (per-epoch metrics) when known.
    """

    architecture: str
    in_channels: int
    classes: ClassTable
    out_channels: int
    encoder: str | None = None
    options: dict = field(default_factory=dict)
    normalisation: Normalisation = field(default_factory=Normalisation)
    patch_size: int = 256
    training: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    created: str = field(default_factory=lambda: datetime.datetime.now().astimezone().isoformat(timespec="seconds"))

    def __post_init__(self):
        """Sizes are bounded, so a damaged or hostile model header cannot ask for absurd allocations."""
        _check_range("in_channels", self.in_channels, 1, MAX_IN_CHANNELS)
        if self.out_channels not in (1, len(self.classes)):
            raise ConfigError(f"out_channels {self.out_channels} must be the class count ({len(self.classes)}) "
                              "or 1 for a binary model")
        _check_range("patch_size", self.patch_size, 1, MAX_PATCH_SIZE)
        for name, value in self.options.items():
            if isinstance(value, int) and not isinstance(value, bool):
                _check_range(f"option {name}", value, 1, MAX_OPTION_VALUE)

    def to_json(self) -> dict:
        return {
            "version": SPEC_VERSION,
            "architecture": self.architecture,
            "encoder": self.encoder,
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "classes": self.classes.to_json(),
            "options": dict(self.options),
            "normalisation": self.normalisation.to_json(),
            "patch_size": self.patch_size,
            "training": self.training,
            "metrics": self.metrics,
            "versions": self.versions,
            "created": self.created,
        }

    @classmethod
    def from_json(cls, data: dict) -> ModelSpec:
        """Raises KeyError/TypeError/ValueError/ConfigError on malformed metadata (callers wrap it)."""
        return cls(
            architecture=str(data["architecture"]),
            encoder=data.get("encoder"),
            in_channels=int(data["in_channels"]),
            out_channels=int(data["out_channels"]),
            classes=ClassTable.from_json(data["classes"]),
            options=dict(data.get("options") or {}),
            normalisation=Normalisation.from_json(data.get("normalisation") or {}),
            patch_size=int(data.get("patch_size", 256)),
            training=dict(data.get("training") or {}),
            metrics=dict(data.get("metrics") or {}),
            versions=dict(data.get("versions") or {}),
            created=str(data.get("created", "")),
        )


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ConfigError(f"{name} {value} is outside {low}..{high}")
