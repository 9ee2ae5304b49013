"""Physical units to micrometres, and pixel sizes from TIFF resolution tags and ImageJ metadata."""

from __future__ import annotations

import math

_MICROMETRES_PER_UNIT = {
    "m": 1e6, "meter": 1e6, "metre": 1e6, "cm": 1e4, "centimeter": 1e4, "mm": 1e3, "millimeter": 1e3,
    "µm": 1.0, "μm": 1.0, "um": 1.0, "micron": 1.0, "microns": 1.0, "micrometer": 1.0, "micrometre": 1.0,
    "nm": 1e-3, "nanometer": 1e-3, "pm": 1e-6, "å": 1e-4, "angstrom": 1e-4,
}
_TIFF_RESOLUTION_UNIT_CM = 3


def to_micrometres(value: float | None, unit: str | None) -> float | None:
    """`value` in `unit` as µm; None when the value is missing, zero, not finite or the unit unknown."""
    if value is None or unit is None:
        return None
    unit = unit.strip().replace("\\u00B5", "µ").replace("\\u00b5", "µ").lower()
    factor = _MICROMETRES_PER_UNIT.get(unit)
    try:
        value = abs(float(value))
    except (TypeError, ValueError):
        return None
    if factor is None or not math.isfinite(value) or value == 0:
        return None
    return value * factor


def pixel_pair(y: float | None, x: float | None) -> tuple[float, float] | None:
    """(y, x) when both sizes are known, else None."""
    return (y, x) if y is not None and x is not None else None


def _pixels_per_unit(page, tag_name: str) -> float | None:
    tag = page.tags.get(tag_name)
    if tag is None:
        return None
    numerator, denominator = tag.value
    return numerator / denominator if denominator else None


def _size_from_resolution(page, tag_name: str, unit: str) -> float | None:
    per_unit = _pixels_per_unit(page, tag_name)
    return to_micrometres(1.0 / per_unit, unit) if per_unit else None


def tiff_pixel_size(page, imagej_metadata: dict | None) -> tuple[float, float] | None:
    """(y, x) µm from X/YResolution: in ImageJ's unit, or in centimetres per ResolutionUnit.

    No unit or inches means a screen or print resolution (72 dpi), not a calibration: None.
    """
    if imagej_metadata and imagej_metadata.get("unit"):
        unit = str(imagej_metadata["unit"])
    elif int(getattr(page, "resolutionunit", 0)) == _TIFF_RESOLUTION_UNIT_CM:
        unit = "cm"
    else:
        return None
    return pixel_pair(_size_from_resolution(page, "YResolution", unit), _size_from_resolution(page, "XResolution", unit))
