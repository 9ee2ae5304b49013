"""Owns the window's diagnostics: the status bar's device label and the self-test dialog (made on first use).

With SEGLAB_QUIT_AFTER_START=1 in the environment the window reports how long after the process started it
was shown and the device was known, then quits: the start-up check of installer/README.md."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication

from gui.diagnostics.device_status import DeviceStatusLabel
from gui.diagnostics.self_test_dialog import SelfTestDialog
from gui.workers import TaskRunner

QUIT_AFTER_START = "SEGLAB_QUIT_AFTER_START"


def process_age_seconds() -> float | None:
    """Seconds since this process started (Linux), else None."""
    try:
        ticks_per_second = os.sysconf("SC_CLK_TCK")
        started = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19]) / ticks_per_second
        return float(Path("/proc/uptime").read_text().split()[0]) - started
    except (OSError, ValueError, IndexError, AttributeError):
        return None


class DiagnosticsController(QObject):
    def __init__(self, tasks: TaskRunner, parent=None):
        super().__init__(parent)
        self._tasks = tasks
        self.device_label = DeviceStatusLabel(tasks)
        self.self_test_dialog: SelfTestDialog | None = None
        if os.environ.get(QUIT_AFTER_START):
            QTimer.singleShot(0, self, self._report_window_shown)

    def show_self_test(self) -> None:
        """Open the self-test dialog and run it (again, unless a run is still going)."""
        if self.self_test_dialog is None:
            self.self_test_dialog = SelfTestDialog(self._tasks, self.parent())
        dialog = self.self_test_dialog
        if not dialog.running:
            dialog.start()
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()

    def _report_window_shown(self) -> None:
        """First turn of the event loop: the window is on screen."""
        self._say_startup("window shown")
        if self.device_label.detected:
            self._on_device_found()
        else:
            self.device_label.device_found.connect(self._on_device_found)

    def _on_device_found(self, *_):
        self._say_startup(f"device known ({self.device_label.text()})")
        QApplication.quit()

    @staticmethod
    def _say_startup(event: str) -> None:
        age = process_age_seconds()
        print(f"start-up: {event} {age:.2f} s after the process started" if age is not None else
              f"start-up: {event}", file=sys.stderr, flush=True)
