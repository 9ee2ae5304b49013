"""Durations in words, one style everywhere (CLI, progress bars, the training panel)."""

from __future__ import annotations


def format_duration(seconds: float) -> str:
    """'4.2 s', '45 s', '38 min', '2 h 05 min'; '' when unknown (negative)."""
    seconds = float(seconds)
    if seconds < 0:
        return ""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 90:
        return f"{round(seconds)} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"
