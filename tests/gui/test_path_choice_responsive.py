"""The window keeps painting while a segmentation job chooses how a network runs (exporting it to ONNX and
quantizing it, steps that hold Python's GIL for up to seconds, happen in a helper process), and says that it
is choosing."""

from __future__ import annotations

import threading
import time

import numpy as np
from PySide6.QtCore import QTimer

LONGEST_GAP_S = 0.3
"""The GUI thread's timer (every 10 ms) may wait this long at most. Exporting in the window's process stalled
it 0.15-0.47 s on an idle 2-core Xeon and up to 2.9 s on a busy one; with the helper process the longest gap
was 0.03 s idle, and 0.3 s leaves room for a busy machine's scheduling."""


def test_choosing_the_path_of_a_new_network_never_stalls_the_gui_thread(qtbot, tmp_path, monkeypatch):
    import segmentation_models_pytorch as smp
    import torch

    from core.classes import ClassTable
    from core.inference import PredictOptions
    from core.inference.path_choice import MEASURING, choose_path
    from core.models.spec import ModelSpec

    monkeypatch.setenv("SEGLAB_DATA_HOME", str(tmp_path / "data"))  # nothing timed on this machine yet
    torch.manual_seed(0)
    model = smp.Unet("resnet18", encoder_weights=None, in_channels=1, classes=2).eval()
    spec = ModelSpec("unet", 1, ClassTable.default(2), 2, encoder="resnet18")
    tiles = np.random.default_rng(0).standard_normal((4, 1, 128, 128), dtype=np.float32)
    # the choice on a CPU: a fresh ONNX export for ONNX Runtime and OpenVINO (and, without native bfloat16,
    # an 8-bit copy calibrated on the tiles)
    options = PredictOptions(tile_size=128, overlap=32, onnx_cache_dir=str(tmp_path / "onnx"))
    ticks = [time.perf_counter()]
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    phases, outcome = [], {}

    def choose():
        try:
            outcome["path"] = choose_path(model, spec, options, tiles, phases.append)
        except Exception as exc:
            outcome["error"] = exc

    timer.start()
    worker = threading.Thread(target=choose)
    worker.start()
    qtbot.waitUntil(lambda: not worker.is_alive(), timeout=300_000)
    timer.stop()
    assert "error" not in outcome, outcome.get("error")
    path = outcome["path"]
    assert phases == [MEASURING]
    assert list((tmp_path / "onnx").glob("*.opset*.onnx"))  # the export really happened, and was kept
    assert path.runner(tiles[:1]).shape == (1, 2, 128, 128), path.reason
    longest = max(np.diff(ticks))
    assert longest < LONGEST_GAP_S, f"the GUI thread waited {longest:.2f} s while the path was chosen"


def test_the_first_segmentation_with_a_network_says_that_the_way_to_run_it_is_chosen(qtbot, main_window,
                                                                                      show_folder, isbi_copy,
                                                                                      tmp_path, monkeypatch):
    import torch

    from core.classes import ClassTable
    from core.inference.path_choice import MEASURING
    from core.models.model_file import save_model_file
    from core.models.registry import build_from_spec
    from core.models.spec import ModelSpec

    monkeypatch.setenv("SEGLAB_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("SEGLAB_ONNX_CACHE", str(tmp_path / "onnx"))
    torch.manual_seed(0)
    spec = ModelSpec("unet_classic", 1, ClassTable.default(2), 2, options={"base_channels": 4})
    model_file = save_model_file(tmp_path / "tiny.safetensors", build_from_spec(spec).eval(), spec)
    window, state = main_window, main_window.state
    show_folder(window, isbi_copy, "0")
    messages = []
    state.message.connect(messages.append)

    def segment_all():
        state.request_segmentation(str(model_file), None)
        qtbot.waitUntil(lambda: not window.segmentation.running, timeout=300_000)

    segment_all()
    assert MEASURING in messages and len(state.predictions) == 3
    messages.clear()
    segment_all()  # measured once: the second run goes straight to work
    assert MEASURING not in messages and any(message.startswith("Segmentation done") for message in messages)
