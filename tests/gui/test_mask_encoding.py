"""Setting how masks are read: BBBC039's RGBA masks become one 'nucleus' class once the user picks
'black and white on the red channel', and the choice is saved beside the data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.data.settings import SETTINGS_FILE
from core.errors import ConfigError
from core.io.masks import MaskEncoding, read_raw_mask
from gui.mask_encoding_dialog import MaskEncodingDialog, parse_value_map
from tests.gui.conftest import LOAD_TIMEOUT_MS, copy_pairs


@pytest.fixture
def bbbc_without_settings(bbbc_dir, tmp_path):
    stems = sorted(p.stem for p in (bbbc_dir / "images").glob("*.tif"))[:3]
    return copy_pairs(bbbc_dir, tmp_path / "bbbc", stems, ".tif", ".png")


def test_value_map_text_is_parsed_or_refused():
    assert parse_value_map("0:1, 255:0") == ((0, 1), (255, 0))
    assert parse_value_map("") == ()
    with pytest.raises(ConfigError, match="255-0"):
        parse_value_map("255-0")


def test_dialog_previews_the_decoded_mask(qtbot, bbbc_without_settings):
    from core.classes import ClassTable

    mask_path = sorted((bbbc_without_settings / "masks").iterdir())[0]
    dialog = MaskEncodingDialog(MaskEncoding(), ClassTable.default(2), mask_path)
    qtbot.addWidget(dialog)
    assert "not a class" in dialog.preview.text()  # auto reads the red values 2 and 3 as classes
    dialog.mode.setCurrentIndex(2)  # black and white
    dialog.channel.setCurrentIndex(1)  # red
    red = read_raw_mask(mask_path)[:, :, 0]
    assert f"1 (class 1): {int((red > 0).sum()):,} px" in dialog.preview.text()
    assert dialog.encoding() == MaskEncoding(mode="binary", channel=0, threshold=0)


def test_choosing_an_encoding_fixes_the_problems_and_is_saved(qtbot, main_window, show_folder,
                                                              bbbc_without_settings):
    state = main_window.state
    with qtbot.waitSignal(main_window.datasets.validated, timeout=LOAD_TIMEOUT_MS):
        show_folder(main_window, bbbc_without_settings)
    assert any(p.kind == "bad_values" for p in state.problems)
    assert main_window.problems.encoding_button.isVisible()
    with qtbot.waitSignal(main_window.datasets.validated, timeout=LOAD_TIMEOUT_MS):
        assert main_window.datasets.set_mask_encoding(MaskEncoding(mode="binary", channel=0))
    qtbot.waitUntil(lambda: state.document is not None, timeout=LOAD_TIMEOUT_MS)
    assert state.index.settings.encoding.mode == "binary"
    assert not any(p.kind == "bad_values" for p in state.problems)
    assert not main_window.problems.encoding_button.isVisible()
    saved = json.loads((bbbc_without_settings / SETTINGS_FILE).read_text())
    assert saved["mask_encoding"]["mode"] == "binary" and saved["mask_encoding"]["channel"] == 0
    red = read_raw_mask(bbbc_without_settings / "masks" / f"{state.current_name}.png")[:, :, 0]
    assert np.array_equal(state.document.mask, (red > 0).astype(np.uint8))


def test_the_sample_opens_as_a_writable_copy(qtbot, main_window, tmp_path, monkeypatch):
    """File > Open Sample Dataset: eight BBBC039 fields, six labeled, read as one 'nucleus' class, from a copy
    in the user's data folder, so labeling it never changes the installed files."""
    from core.resources import resource_path

    monkeypatch.setenv("SEGLAB_DATA_HOME", str(tmp_path / "data-home"))
    main_window.open_sample()
    state = main_window.state
    qtbot.waitUntil(lambda: state.document is not None, timeout=LOAD_TIMEOUT_MS)
    assert state.index.root == (tmp_path / "data-home" / "sample").resolve()
    assert (len(state.index.samples), len(state.index.labeled)) == (8, 6)
    assert state.classes.names == ["background", "nucleus"] and set(np.unique(state.document.mask)) == {0, 1}
    assert not (resource_path("sample") / ".seglab").exists()
