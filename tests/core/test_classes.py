"""Class tables and per-dataset settings: JSON round trips, immutable edits, colours, broken files."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from core.classes import IGNORE_INDEX, ClassSpec, ClassTable, colour_hex, default_colour, parse_colour
from core.data.settings import SETTINGS_FILE, SETTINGS_VERSION, DatasetSettings
from core.errors import ConfigError, DatasetError
from core.io.masks import MaskEncoding


def test_json_round_trip_keeps_names_colours_and_order():
    table = ClassTable.from_names(["background", "nucleus", "débris"]).recoloured(2, "#12ab34")
    data = table.to_json()
    assert data[2] == {"index": 2, "name": "débris", "colour": "#12AB34"}
    again = ClassTable.from_json(json.loads(json.dumps(data)))
    assert again == table and again.names == ["background", "nucleus", "débris"]
    assert ClassTable.from_json(list(reversed(data))) == table  # listed out of order: sorted by index


def test_edits_return_new_tables_and_leave_the_old_one():
    table = ClassTable.default(2)
    renamed = table.renamed(1, "membrane")
    recoloured = table.recoloured(0, (1, 2, 3))
    added = table.with_added("debris", "#FF0000")
    assert table.names == ["background", "class 1"] and table[0].colour == default_colour(0)
    assert renamed.names == ["background", "membrane"]
    assert recoloured[0].colour == (1, 2, 3)
    assert len(added) == 3 and added[2] == ClassSpec(2, "debris", (255, 0, 0))
    assert table.with_added()[2].name == "class 2"
    with pytest.raises(ConfigError, match="no class with index 7"):
        table.renamed(7, "x")


def test_default_colours_of_the_first_16_classes_are_distinct():
    colours = [default_colour(i) for i in range(16)]
    assert len(set(colours)) == 16
    assert colours[0] == (0, 0, 0)
    generated = [default_colour(i) for i in range(16, 40)]
    assert len(set(colours + generated)) == 40
    assert all(0 <= c <= 255 for colour in generated for c in colour)


def test_default_table_has_at_least_two_classes():
    assert ClassTable.default(1).names == ["background", "class 1"]
    assert ClassTable.default(3).names == ["background", "class 1", "class 2"]


def test_lookup_table_and_colourise():
    table = ClassTable.from_names(["a", "b", "c"]).recoloured(1, (10, 20, 30)).recoloured(2, (200, 100, 0))
    lut = table.lookup_table()
    assert lut.shape == (256, 3) and lut.dtype == np.uint8
    np.testing.assert_array_equal(lut[:3], table.colours_array())
    assert not lut[3:].any(), "values past the table are black"
    mask = np.array([[0, 1], [2, IGNORE_INDEX]], np.uint8)
    rgb = table.colourise(mask)
    assert rgb.shape == (2, 2, 3)
    np.testing.assert_array_equal(rgb[0, 1], (10, 20, 30))
    np.testing.assert_array_equal(rgb[1, 0], (200, 100, 0))
    np.testing.assert_array_equal(rgb[1, 1], (0, 0, 0))
    wide = np.array([[0, 299]], np.uint16)
    assert ClassTable.default(300).colourise(wide).shape == (1, 2, 3)


@pytest.mark.parametrize("colour", ["#12345", "#GGHHII", "red", [1, 2], [0, 0, 256], [0.5, 0, 0], [True, 0, 0],
                                    None, 7])
def test_bad_colours_are_config_errors(colour):
    with pytest.raises(ConfigError):
        parse_colour(colour)
    with pytest.raises(ConfigError):
        ClassTable.default(2).recoloured(1, colour)


def test_good_colours():
    assert parse_colour("#00ff7F") == (0, 255, 127)
    assert parse_colour(" 0A0B0C ") == (10, 11, 12)
    assert parse_colour([1, 2, 3]) == (1, 2, 3)
    assert parse_colour(np.array([4, 5, 6], np.uint8)) == (4, 5, 6)
    assert colour_hex((255, 0, 16)) == "#FF0010"


@pytest.mark.parametrize("data", [
    [],
    {"index": 0},
    [{"index": 0, "name": "bg"}],
    [{"index": 0, "name": "bg", "colour": "#000000"}, {"index": 2, "name": "x", "colour": "#FFFFFF"}],
    [{"index": 0, "name": "bg", "colour": "#000000"}, {"index": 0, "name": "x", "colour": "#FFFFFF"}],
])
def test_bad_class_lists_are_config_errors(data):
    with pytest.raises(ConfigError):
        ClassTable.from_json(data)


# dataset settings ------------------------------------------------------------------------------

def test_settings_save_and_load_round_trip(tmp_path):
    settings = DatasetSettings(ClassTable.from_names(["background", "nucleus"]),
                               MaskEncoding(mode="binary", channel=0, threshold=2))
    path = settings.save(tmp_path)
    assert path == tmp_path / SETTINGS_FILE
    stored = json.loads(path.read_text(encoding="utf-8"))
    assert stored["version"] == 1 and stored["mask_encoding"]["channel"] == 0  # older SegLab reads it
    assert DatasetSettings.load(tmp_path) == settings
    chosen = dataclasses.replace(settings, channel="DAPI", pixel_size_um=0.65)
    chosen.save(tmp_path)
    assert json.loads(path.read_text(encoding="utf-8"))["version"] == SETTINGS_VERSION
    assert DatasetSettings.load(tmp_path) == chosen
    assert DatasetSettings.load(tmp_path / "elsewhere") is None
    assert [p.name for p in tmp_path.iterdir()] == [SETTINGS_FILE]


def test_settings_with_a_value_map_round_trip(tmp_path):
    settings = DatasetSettings(ClassTable.default(2), MaskEncoding("index", value_map={0: 1, 255: 0}))
    settings.save(tmp_path)
    assert DatasetSettings.load(tmp_path).encoding.value_map == ((0, 1), (255, 0))


@pytest.mark.parametrize("content, reason", [
    ("{not json", "Expecting"),
    ('{"version": 1, "classes": []}', "class list"),
    ('{"version": 1, "classes": [{"index": 0, "name": "a", "colour": "#00"}]}', "#RRGGBB"),
    ('{"version": 1, "classes": [{"index": 0, "name": "a", "colour": "#000000"}], '
     '"mask_encoding": {"mode": "magic"}}', "magic"),
    ('{"classes": []}', "version"),
    ("[1, 2]", "JSON object"),
    (b"\xff\xfe\x00garbage", "cannot be read"),
])
def test_broken_settings_raise_dataset_error_naming_the_file(tmp_path, content, reason):
    path = tmp_path / SETTINGS_FILE
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(DatasetError, match=reason) as caught:
        DatasetSettings.load(tmp_path)
    assert caught.value.path == path and SETTINGS_FILE in str(caught.value)
    assert "fix or delete" in str(caught.value)


def test_newer_settings_version_is_refused(tmp_path):
    data = DatasetSettings().to_json()
    data["version"] = SETTINGS_VERSION + 1
    (tmp_path / SETTINGS_FILE).write_text(json.dumps(data))
    with pytest.raises(DatasetError, match=f"version {SETTINGS_VERSION + 1}"):
        DatasetSettings.load(tmp_path)
