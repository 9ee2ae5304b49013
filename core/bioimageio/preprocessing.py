"""Input preprocessing between SegLab and BioImage.IO (format 0.5) in both directions.

SegLab -> package: percentile normalisation becomes `scale_range` (the same percentiles over y and x, per
channel); dtype-range scaling becomes `scale_linear` with gain 1 / dtype maximum.

Package -> SegLab: every supported step is linear per channel (zero_mean_unit_variance, scale_range,
scale_linear, fixed_zero_mean_unit_variance), so a chain of them folds into one (offset, span) per channel,
computed once over the whole image as SegLab does for its own models; an optional final `clip` follows.
PackagePreprocessing has the levels/apply interface of core.io.images.Normalisation, so the tiled predictor
uses it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import ConfigError
from core.io.images import Normalisation, replace_non_finite

STAT_SAMPLES = 4_000_000
"""Pixels per channel used for means and percentiles: exact up to 2000 x 2000, sampled beyond."""
SUPPORTED_STEPS = ("ensure_dtype", "zero_mean_unit_variance", "scale_range", "scale_linear",
                   "fixed_zero_mean_unit_variance", "clip")


def seglab_preprocessing(normalisation: Normalisation, input_dtype: np.dtype) -> list[dict]:
    """The package preprocessing that reproduces a SegLab normalisation (input of `input_dtype`)."""
    steps: list[dict] = [{"id": "ensure_dtype", "kwargs": {"dtype": "float32"}}]
    if normalisation.mode == "percentile":
        steps.append({"id": "scale_range", "kwargs": {
            "axes": ["y", "x"], "min_percentile": normalisation.low, "max_percentile": normalisation.high}})
    else:
        top = float(np.iinfo(input_dtype).max) if np.issubdtype(input_dtype, np.integer) else 1.0
        steps.append({"id": "scale_linear", "kwargs": {"gain": 1.0 / top, "offset": 0.0}})
    return steps


@dataclass(frozen=True)
class PackagePreprocessing:
    """A package's preprocessing steps (rdf dicts), checked by from_rdf."""

    steps: tuple[dict, ...]

    @classmethod
    def from_rdf(cls, steps: list[dict] | None) -> PackagePreprocessing:
        """Raises ConfigError naming the first step SegLab cannot reproduce."""
        steps = tuple(steps or ())
        for position, step in enumerate(steps):
            name = step.get("id")
            kwargs = step.get("kwargs") or {}
            if name not in SUPPORTED_STEPS:
                raise ConfigError(f"its preprocessing step {name!r} is not supported (SegLab supports: "
                                  f"{', '.join(SUPPORTED_STEPS)})")
            if name == "ensure_dtype" and not str(kwargs.get("dtype", "float32")).startswith("float"):
                raise ConfigError(f"its preprocessing converts to {kwargs.get('dtype')}; SegLab feeds float32")
            if name == "clip" and position != len(steps) - 1 - _trailing_casts(steps):
                raise ConfigError("its preprocessing clips before another step; SegLab supports clip last only")
            if name in ("zero_mean_unit_variance", "scale_range"):
                axes = set(kwargs.get("axes") or ("y", "x"))
                if not {"x", "y"} <= axes:
                    raise ConfigError(f"its {name} step normalises along {sorted(axes)}; SegLab normalises over "
                                      "whole images (axes y and x)")
                if kwargs.get("reference_tensor") not in (None, "") and name == "scale_range":
                    raise ConfigError("its scale_range refers to another tensor; SegLab models have one input")
        return cls(steps)

    def to_json(self) -> dict:
        return {"mode": "bioimageio", "steps": [dict(step) for step in self.steps]}

    def levels(self, image: np.ndarray) -> np.ndarray:
        """Per-channel (offset, offset + span), shape (C, 2): the folded linear steps for this image."""
        planes = image[:, :, None] if image.ndim == 2 else image
        channels = planes.shape[2]
        step = max(1, (planes.shape[0] * planes.shape[1]) // STAT_SAMPLES)
        sample = planes.reshape(-1, channels)[::step].astype(np.float64).T  # (C, n)
        sample = np.where(np.isfinite(sample), sample, np.nan)
        offset, span = np.zeros(channels), np.ones(channels)
        for entry in self.steps:
            name, kwargs = entry["id"], entry.get("kwargs") or {}
            if name in ("ensure_dtype", "clip"):
                continue
            low, width = _step_levels(name, kwargs, sample)
            sample = (sample - low[:, None]) / width[:, None]
            offset, span = offset + low * span, span * width
        return np.stack([offset, offset + span], axis=1)

    def apply(self, image: np.ndarray, levels: np.ndarray | None = None) -> np.ndarray:
        """(H, W[, C]) image -> float32 (C, H, W) network input."""
        levels = self.levels(image) if levels is None else levels
        planes = image[:, :, None] if image.ndim == 2 else image
        out = np.empty((planes.shape[2],) + planes.shape[:2], dtype=np.float32)
        for c in range(planes.shape[2]):
            low, high = levels[c]
            np.subtract(planes[:, :, c], np.float32(low), out=out[c], dtype=np.float32)
            out[c] *= np.float32(1.0 / (high - low))
        clip = next((s.get("kwargs") or {} for s in self.steps if s["id"] == "clip"), None)
        if clip is not None:
            np.clip(out, clip.get("min", -np.inf), clip.get("max", np.inf), out=out)
        return replace_non_finite(out)


def _trailing_casts(steps: tuple[dict, ...]) -> int:
    count = 0
    for step in reversed(steps):
        if step.get("id") != "ensure_dtype":
            break
        count += 1
    return count


def _step_levels(name: str, kwargs: dict, sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(low, width) per channel of one linear step: its output is (x - low) / width."""
    channels = sample.shape[0]
    joint = "channel" in (kwargs.get("axes") or ())
    pooled = sample.reshape(1, -1) if joint else sample
    eps = float(kwargs.get("eps", 1e-6))
    if name == "zero_mean_unit_variance":
        low, width = np.nanmean(pooled, axis=1), np.nanstd(pooled, axis=1) + eps
    elif name == "scale_range":
        percentiles = [float(kwargs.get("min_percentile", 0.0)), float(kwargs.get("max_percentile", 100.0))]
        low, high = np.nanpercentile(pooled, percentiles, axis=1)
        width = high - low + eps
    elif name == "fixed_zero_mean_unit_variance":
        low = np.asarray(kwargs.get("mean", 0.0), dtype=np.float64)
        width = np.asarray(kwargs.get("std", 1.0), dtype=np.float64) + eps
    else:  # scale_linear: x * gain + offset
        gain = np.asarray(kwargs.get("gain", 1.0), dtype=np.float64)
        if np.any(gain == 0):
            raise ConfigError("its scale_linear step has a gain of 0, which erases the image")
        low, width = -np.asarray(kwargs.get("offset", 0.0), dtype=np.float64) / gain, 1.0 / gain
    return np.broadcast_to(low, (channels,)).astype(np.float64), np.broadcast_to(width, (channels,)).astype(
        np.float64)
