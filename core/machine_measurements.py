"""Timings measured once per machine (how fast each way of training or predicting runs here), kept in a JSON
file in the user's data folder under a key that says in words what they depend on (versions, processor,
network, sizes). A cache that cannot be read or written only means measuring again."""

from __future__ import annotations

import json
import logging
import time

from core.io.atomic import write_json_atomic
from core.user_folders import user_data_dir

log = logging.getLogger(__name__)


def read_measurements(file_name: str, key: str) -> dict[str, float]:
    """Seconds measured before under `key` (empty when none, or the file is unreadable)."""
    try:
        entry = json.loads((user_data_dir() / file_name).read_text()).get(key, {})
        return {name: float(seconds) for name, seconds in entry.get("seconds", {}).items()}
    except (OSError, ValueError, AttributeError, TypeError):
        return {}


def store_measurements(file_name: str, key: str, seconds: dict[str, float]) -> None:
    """Add `seconds` under `key`, beside what was measured before."""
    path = user_data_dir() / file_name
    try:
        cache = json.loads(path.read_text())
        if not isinstance(cache, dict):
            cache = {}
    except (OSError, ValueError):
        cache = {}
    entry = cache.setdefault(key, {})
    entry["seconds"] = {**entry.get("seconds", {}), **seconds}
    entry["measured"] = time.strftime("%Y-%m-%d %H:%M:%S")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, cache)
    except OSError as exc:
        log.warning("timings not kept in %s (%s); they are measured again next run", path, exc)
