"""Keep freed memory in the process while training on Linux: glibc otherwise hands every large activation
buffer back to the system and takes it again on the next batch, paying page faults each time (on a 2-core
CPU about a quarter of a U-Net training step goes to the kernel zeroing pages). Other systems: no effect."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import sys
from collections.abc import Iterator

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_MMAP_MAX = -1, -3, -4
_GLIBC_DEFAULTS = {_M_TRIM_THRESHOLD: 128 * 1024, _M_MMAP_THRESHOLD: 128 * 1024, _M_MMAP_MAX: 65536}
_RETAINED = {_M_TRIM_THRESHOLD: 1 << 40, _M_MMAP_THRESHOLD: 1 << 30, _M_MMAP_MAX: 0}


def _glibc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


@contextlib.contextmanager
def retained_allocations() -> Iterator[bool]:
    """Within the block, freed memory stays in the process for reuse; afterwards glibc's defaults return
    and the spare memory is given back. Yields whether the tuning applies on this system."""
    libc = _glibc()
    if libc is None:
        yield False
        return
    for option, value in _RETAINED.items():
        libc.mallopt(option, value)
    try:
        yield True
    finally:
        for option, value in _GLIBC_DEFAULTS.items():
            libc.mallopt(option, value)
        libc.malloc_trim(0)
