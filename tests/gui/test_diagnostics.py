"""Diagnostics in the window: the device in the status bar and Help > Run Self-Test…, run for real on this machine."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QGuiApplication

from core.device import DeviceInfo, select_device
from gui.diagnostics import device_status
from gui.diagnostics.device_status import DeviceStatusLabel, device_text
from gui.workers import TaskRunner

SELF_TEST_TIMEOUT_MS = 120_000


@pytest.fixture(autouse=True)
def throwaway_data_home(tmp_path, monkeypatch):
    """The self-test's write test of the data and recovery folder goes to tmp_path, not the user's folder."""
    monkeypatch.setenv("SEGLAB_DATA_HOME", str(tmp_path / "data-home"))


def test_status_bar_shows_the_device_training_will_use(main_window, qtbot):
    label = main_window.diagnostics.device_label
    assert label in main_window.statusBar().findChildren(DeviceStatusLabel)
    qtbot.waitUntil(lambda: label.detected, timeout=60_000)
    expected = select_device("auto")
    assert label.text() == device_text(expected)
    if expected.kind == "cpu" and expected.note is None:  # this machine: no GPU at all
        assert label.text().startswith("CPU: ") and label.text().endswith(" cores")
    assert label.isVisible()
    assert "Self-Test" in label.toolTip()


def test_an_unused_gpu_is_flagged_with_the_reason_as_tooltip(qtbot, monkeypatch):
    reason = "an NVIDIA GPU is present but PyTorch cannot use it (the driver is too old)"
    info = DeviceInfo("cpu", "cpu", "Test CPU, 2 cores", note=reason)
    monkeypatch.setattr(device_status, "detect_device", lambda _ctx: info)
    tasks = TaskRunner(1)
    label = DeviceStatusLabel(tasks)
    qtbot.addWidget(label)
    with qtbot.waitSignal(label.device_found, timeout=10_000) as found:
        pass
    assert found.args == [info]
    assert label.text() == "CPU: Test CPU, 2 cores (GPU not used)"
    assert reason in label.toolTip()
    assert tasks.shutdown()


def test_a_failed_detection_says_so(qtbot, monkeypatch):
    def broken(_ctx):
        raise RuntimeError("CUDA driver initialisation failed")

    monkeypatch.setattr(device_status, "detect_device", broken)
    tasks = TaskRunner(1)
    label = DeviceStatusLabel(tasks)
    qtbot.addWidget(label)
    qtbot.waitUntil(lambda: label.detected, timeout=10_000)
    assert label.text() == "Device: unknown"
    assert "CUDA driver initialisation failed" in label.toolTip()
    assert tasks.shutdown()


def test_self_test_dialog_streams_the_report_and_passes_here(main_window, qtbot):
    main_window.self_test_action.trigger()
    dialog = main_window.diagnostics.self_test_dialog
    assert dialog.isVisible()
    # lines arrive while the test still runs (the timed pass takes seconds)
    qtbot.waitUntil(lambda: dialog.text().startswith("SegLab ") and dialog.running, timeout=30_000)
    assert dialog.exit_code is None and not dialog.run_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.exit_code is not None, timeout=SELF_TEST_TIMEOUT_MS)

    lines = dialog.text().splitlines()
    assert dialog.exit_code == 0, dialog.text()
    assert lines[-1] == "All checks passed."
    assert dialog.status_label.text() == "All checks passed."
    device_lines = [line for line in lines if line.startswith("device: ")]
    assert device_lines == [f"device: {select_device('auto').describe()}"]
    rates = [line for line in lines if line.startswith("timed pass")]
    assert len(rates) == 1 and "images/s" in rates[0]
    assert sum(line.startswith("write test") and line.endswith(": ok") for line in lines) == 3
    assert dialog.run_button.isEnabled()

    dialog.copy_button.click()
    assert QGuiApplication.clipboard().text() == dialog.text()


def test_closing_the_dialog_stops_a_running_self_test(main_window, qtbot):
    main_window.self_test_action.trigger()
    dialog = main_window.diagnostics.self_test_dialog
    qtbot.waitUntil(lambda: "device: " in dialog.text(), timeout=60_000)
    dialog.close()
    assert not dialog.running
    assert main_window.tasks.pool.waitForDone(SELF_TEST_TIMEOUT_MS)
    qtbot.wait(50)  # let queued lines from the cancelled run arrive: they must be ignored
    assert dialog.exit_code is None
    assert "All checks passed." not in dialog.text()
    assert "write test" not in dialog.text()  # it stopped at the first line after the timed pass
