"""Deterministic train/validation split of a dataset's labeled images (no torch: the wizard uses it live)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.errors import ConfigError


def split_names(names: Sequence[str], val_fraction: float = 0.2, seed: int = 0,
                val_names: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """Deterministic (train, validation) split: explicit names win, else a seeded shuffle of the sorted names."""
    if val_names:
        unknown = sorted(set(val_names) - set(names))
        if unknown:
            raise ConfigError(f"validation images not in the dataset: {', '.join(unknown)}")
        chosen = set(val_names)
        return [n for n in names if n not in chosen], [n for n in names if n in chosen]
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigError(f"the validation fraction must be between 0 and 1, got {val_fraction}")
    ordered = sorted(names)
    order = np.random.default_rng(seed).permutation(len(ordered))
    count = int(round(val_fraction * len(ordered)))
    if val_fraction > 0 and len(ordered) >= 2:
        count = min(max(count, 1), len(ordered) - 1)
    val = {ordered[i] for i in order[:count]}
    return [n for n in names if n not in val], [n for n in names if n in val]
