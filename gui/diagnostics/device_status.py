"""The status bar's device label: the device training and prediction use, found in a background task so the
window opens before torch is imported. A GPU that is present but unused is flagged, with the reason as tooltip."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QLabel, QWidget

from core.device import DeviceInfo
from gui.workers import BackgroundTask, TaskContext, TaskRunner

DETECT_DELAY_MS = 300
"""torch's import holds the interpreter for a while; starting it a moment later lets the window paint first."""


def detect_device(_ctx: TaskContext) -> DeviceInfo:
    """Runs on a pool thread: the device select_device('auto') picks."""
    from core.device import select_device

    return select_device("auto")


def device_text(info: DeviceInfo) -> str:
    """'CPU: <model>, 2 cores' or 'CUDA: <GPU>, 80 GB'; '(GPU not used)' is added when a GPU sits idle."""
    text = dataclasses.replace(info, note=None).describe()
    return f"{text} (GPU not used)" if info.note else text


class DeviceStatusLabel(QLabel):
    """Shows 'Device: checking…' until the background detection reports, then the device."""

    device_found = Signal(object)  # DeviceInfo, or None when detection failed

    def __init__(self, tasks: TaskRunner, parent: QWidget | None = None):
        super().__init__("Device: checking…", parent)
        self.setObjectName("device_status")
        self.setToolTip("Finding the device that training and prediction will use…")
        self.info: DeviceInfo | None = None
        self.detected = False
        self._tasks = tasks
        self._task: BackgroundTask | None = None
        QTimer.singleShot(DETECT_DELAY_MS, self, self._start_detection)

    def _start_detection(self) -> None:
        self._task = self._tasks.start(detect_device)
        self._task.signals.finished.connect(self._on_task_finished)
        self._task.signals.failed.connect(self._on_task_failed)

    def _on_task_finished(self, info: DeviceInfo) -> None:
        self.info = info
        self.setText(device_text(info))
        if info.note:
            self.setToolTip(f"{info.note}.\nTraining and prediction run on the CPU, which is much slower. "
                            "Help > Run Self-Test… shows the details.")
            self.setStyleSheet("color: #b35900;")
        else:
            self.setToolTip("Training and prediction run on this device. Help > Run Self-Test… times it.")
        self._finish(info)

    def _on_task_failed(self, message: str, _details: str) -> None:
        self.setText("Device: unknown")
        self.setToolTip(f"The device could not be determined: {message}\n"
                        "Help > Run Self-Test… shows what is wrong.")
        self._finish(None)

    def _finish(self, info: DeviceInfo | None) -> None:
        self.detected = True
        self._task = None
        self.device_found.emit(info)
