"""Guard against the PySide6 6.12.0 bug that made SegLab abort: on Python 3.11 every void Qt call and every
emit dropped a reference to None/True, and Python died with 'none_dealloc' after a few thousand calls."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    changed = Signal(int)


def test_void_calls_and_emits_keep_reference_counts():
    emitter = _Emitter()
    emitter.changed.connect(lambda value: None)
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(500):
        emitter.setObjectName("x")
        emitter.changed.emit(1)
        emitter.parent()
    assert abs(sys.getrefcount(None) - none_before) < 50
    assert abs(sys.getrefcount(True) - true_before) < 50
