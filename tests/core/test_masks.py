"""Masks: every stored encoding decodes to the right class indices; written masks read back exactly, with
the class colours as palette; writes are atomic and keep permissions; encodings round-trip through JSON."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
import tifffile
from PIL import Image

from core.classes import IGNORE_INDEX, ClassTable
from core.errors import ConfigError, MaskFormatError
from core.io.atomic import write_atomic
from core.io.masks import (
    UNLABELED_COLOUR,
    MaskEncoding,
    decode_mask,
    ignore_index_for,
    mask_suffix,
    out_of_range_values,
    read_mask,
    read_raw_mask,
    write_mask,
)

H, W = 12, 16


def classes_mask(count: int = 4, seed: int = 0) -> np.ndarray:
    """(H, W) uint8 with every value 0..count-1 present."""
    mask = np.random.default_rng(seed).integers(0, count, (H, W)).astype(np.uint8)
    mask.flat[:count] = np.arange(count)
    return mask


def save_l(path, array):
    Image.fromarray(array, "L").save(path)
    return path


# decoding what people store --------------------------------------------------------------------

def test_index_png_keeps_class_values(tmp_path):
    mask = classes_mask(4)
    decoded = read_mask(save_l(tmp_path / "m.png", mask))
    assert decoded.dtype == np.uint8
    np.testing.assert_array_equal(decoded, mask)


def test_0_255_png_is_binary_in_auto_mode(tmp_path):
    mask = classes_mask(2)
    decoded = read_mask(save_l(tmp_path / "m.png", mask * 255))
    np.testing.assert_array_equal(decoded, mask)


def test_one_bit_png_is_binary(tmp_path):
    mask = classes_mask(2)
    Image.fromarray(mask.astype(bool)).save(tmp_path / "m.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "m.png"), mask)


def test_paletted_png_gives_palette_indices_not_colours(tmp_path):
    mask = classes_mask(3)
    pil = Image.fromarray(mask, "P")
    pil.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [9] * 759)
    pil.save(tmp_path / "m.png")
    assert read_raw_mask(tmp_path / "m.png").ndim == 2
    np.testing.assert_array_equal(read_mask(tmp_path / "m.png"), mask)


def test_label_tiffs_8_and_16_bit(tmp_path):
    eight = classes_mask(5)
    tifffile.imwrite(tmp_path / "m8.tif", eight)
    np.testing.assert_array_equal(read_mask(tmp_path / "m8.tif"), eight)
    sixteen = eight.astype(np.uint16) * 100  # 0..400
    tifffile.imwrite(tmp_path / "m16.tif", sixteen)
    decoded = read_mask(tmp_path / "m16.tif")
    assert decoded.dtype == np.uint16
    np.testing.assert_array_equal(decoded, sixteen)


def test_16bit_masks_that_are_binary(tmp_path):
    mask = classes_mask(2)
    tifffile.imwrite(tmp_path / "full.tif", mask.astype(np.uint16) * 65535)
    tifffile.imwrite(tmp_path / "byte.tif", mask.astype(np.uint16) * 255)
    np.testing.assert_array_equal(read_mask(tmp_path / "full.tif"), mask)
    np.testing.assert_array_equal(read_mask(tmp_path / "byte.tif"), mask)


def test_rgb_colour_mask_through_the_class_table(tmp_path):
    table = ClassTable.from_names(["background", "a", "b"]).recoloured(1, (255, 0, 0)).recoloured(2, (0, 0, 255))
    mask = classes_mask(3)
    Image.fromarray(table.colourise(mask)).save(tmp_path / "c.png")
    for mode in ("auto", "colour"):
        decoded = read_mask(tmp_path / "c.png", MaskEncoding(mode), table)
        np.testing.assert_array_equal(decoded, mask)


def test_gray_class_colours_decode_in_colour_mode():
    table = ClassTable.from_names(["background", "white"]).recoloured(1, (255, 255, 255))
    mask = classes_mask(2)
    np.testing.assert_array_equal(decode_mask(table.colourise(mask), MaskEncoding("colour"), table), mask)


def test_unknown_colours_are_listed(tmp_path):
    table = ClassTable.from_names(["background", "a"]).recoloured(1, (255, 0, 0))
    rgb = table.colourise(classes_mask(2))
    rgb[0, 0] = (0x12, 0x34, 0x56)
    rgb[1, 1] = (0, 255, 0)
    Image.fromarray(rgb).save(tmp_path / "c.png")
    with pytest.raises(MaskFormatError) as caught:
        read_mask(tmp_path / "c.png", MaskEncoding("colour"), table)
    message = str(caught.value)
    assert "#123456" in message and "#00FF00" in message and "c.png" in message
    with pytest.raises(MaskFormatError, match="class table"):
        read_mask(tmp_path / "c.png", MaskEncoding("colour"), None)


def test_bbbc039_red_channel_binary_matches_raw_red(bbbc_dir):
    path = sorted((bbbc_dir / "masks").glob("*.png"))[0]
    raw = np.asarray(Image.open(path))
    assert raw.shape == (520, 696, 4)
    decoded = read_mask(path, MaskEncoding(mode="binary", channel=0))
    assert decoded.dtype == np.uint8 and set(np.unique(decoded)) == {0, 1}
    np.testing.assert_array_equal(decoded, (raw[:, :, 0] > 0).astype(np.uint8))
    np.testing.assert_array_equal(read_mask(path), raw[:, :, 0])  # auto: the only channel with values


def test_bbbc039_empty_field_is_all_background(bbbc_dir):
    path = next((bbbc_dir / "masks").glob("IXMtest_L10_s6_w12D12D64C*.png"))
    assert not read_mask(path, MaskEncoding(mode="binary", channel=0)).any()


def test_isbi_polarity_swap_with_value_map(isbi_dir):
    path = isbi_dir / "masks" / "0.png"
    raw = np.asarray(Image.open(path))
    assert set(np.unique(raw)) == {0, 255}
    membrane = (raw == 0).astype(np.uint8)
    np.testing.assert_array_equal(read_mask(path), (raw == 255).astype(np.uint8))  # as stored: interior = 1
    swap = {0: 1, 255: 0}
    for mode in ("auto", "index", "binary"):
        decoded = read_mask(path, MaskEncoding(mode=mode, value_map=swap))
        np.testing.assert_array_equal(decoded, membrane, err_msg=mode)
    fraction = membrane.mean()
    assert 0.15 < fraction < 0.3


def test_value_map_applies_to_stored_values_and_leaves_others():
    raw = np.array([[0, 1, 2, 3]], np.uint8)
    decoded = decode_mask(raw, MaskEncoding("index", value_map={3: 255, 1: 2}))
    np.testing.assert_array_equal(decoded, [[0, 2, 2, 255]])
    rgba = np.zeros((1, 4, 4), np.uint8)
    rgba[0, :, 0] = [0, 1, 2, 3]
    decoded = decode_mask(rgba, MaskEncoding("index", channel=0, value_map={2: 1, 3: 1}))
    np.testing.assert_array_equal(decoded, [[0, 1, 1, 1]])
    binary = decode_mask(np.array([[0, 10, 200]], np.uint8), MaskEncoding("binary", threshold=50, value_map={10: 100}))
    np.testing.assert_array_equal(binary, [[0, 1, 1]])
    wide = decode_mask(np.array([[0, 1]], np.uint8), MaskEncoding("index", value_map={1: 300}))
    assert wide.dtype == np.uint16 and wide.tolist() == [[0, 300]]


def test_gray_alpha_mask_uses_the_gray_channel(tmp_path):
    mask = classes_mask(3)
    Image.fromarray(np.dstack([mask, np.full_like(mask, 255)]), "LA").save(tmp_path / "la.png")
    assert read_raw_mask(tmp_path / "la.png").shape == (H, W, 2)
    np.testing.assert_array_equal(read_mask(tmp_path / "la.png"), mask)


def test_float_masks_need_whole_numbers(tmp_path):
    mask = classes_mask(3)
    tifffile.imwrite(tmp_path / "f.tif", mask.astype(np.float32))
    decoded = read_mask(tmp_path / "f.tif")
    assert decoded.dtype == np.uint8
    np.testing.assert_array_equal(decoded, mask)
    tifffile.imwrite(tmp_path / "half.tif", mask.astype(np.float32) + 0.5)
    with pytest.raises(MaskFormatError, match="whole"):
        read_mask(tmp_path / "half.tif")
    with pytest.raises(MaskFormatError, match="whole"):
        decode_mask(np.array([[0.0, np.nan]], np.float32))
    with pytest.raises(MaskFormatError, match="outside"):
        decode_mask(np.array([[0, -1]], np.int32))


def test_decode_errors_say_what_to_choose():
    gray = classes_mask(2)
    with pytest.raises(MaskFormatError, match="no channel 1"):
        decode_mask(gray, MaskEncoding("index", channel=1))
    with pytest.raises(MaskFormatError, match="colour mode needs an RGB mask"):
        decode_mask(gray, MaskEncoding("colour"))
    rgb = np.dstack([gray * 255, (1 - gray) * 255, gray * 0 + 7])
    with pytest.raises(MaskFormatError, match="choose colour mode"):
        decode_mask(rgb, MaskEncoding("binary"))


def test_red_only_rgb_mask_is_readable_in_binary_mode():
    rgb = np.zeros((H, W, 3), np.uint8)
    mask = classes_mask(2)
    rgb[:, :, 0] = mask * 200
    np.testing.assert_array_equal(decode_mask(rgb, MaskEncoding("binary")), mask)


def test_unreadable_mask_files_are_named(tmp_path):
    with pytest.raises(MaskFormatError, match="not found"):
        read_raw_mask(tmp_path / "none.png")
    (tmp_path / "bad.png").write_text("not a png")
    with pytest.raises(MaskFormatError) as caught:
        read_mask(tmp_path / "bad.png")
    assert caught.value.path == tmp_path / "bad.png"
    (tmp_path / "bad.tif").write_bytes(b"II*\x00\x08\x00\x00\x00broken")
    with pytest.raises(MaskFormatError):
        read_mask(tmp_path / "bad.tif")


# writing -----------------------------------------------------------------------------------------

def test_written_png_is_paletted_with_class_indices_and_colours(tmp_path):
    table = ClassTable.default(4)
    mask = classes_mask(4)
    mask[0, :3] = IGNORE_INDEX
    path = write_mask(tmp_path / "m.png", mask, table)
    with Image.open(path) as pil:
        assert pil.mode == "P"
        np.testing.assert_array_equal(np.asarray(pil), mask)
        palette = np.array(pil.getpalette(), np.uint8).reshape(-1, 3)
    np.testing.assert_array_equal(palette[:4], table.colours_array())
    np.testing.assert_array_equal(palette[IGNORE_INDEX], UNLABELED_COLOUR)  # not white: not a 0/255 mask
    np.testing.assert_array_equal(read_mask(path), mask)


def test_more_than_255_classes_write_16bit_tiff_and_refuse_png(tmp_path):
    table = ClassTable.default(300)
    mask = np.array([[0, 299, 65535], [256, 255, 1]], np.uint16)
    assert mask_suffix(300) == ".tif" and mask_suffix(255) == ".png"
    path = write_mask(tmp_path / "m.tif", mask, table)
    stored = tifffile.imread(path)
    assert stored.dtype == np.uint16
    np.testing.assert_array_equal(stored, mask)
    np.testing.assert_array_equal(read_mask(path, MaskEncoding("index")), mask)
    with pytest.raises(MaskFormatError, match=r"\.tif"):
        write_mask(tmp_path / "m.png", mask, table)
    assert not (tmp_path / "m.png").exists()


def test_8bit_tiff_for_few_classes(tmp_path):
    mask = classes_mask(3)
    path = write_mask(tmp_path / "m.tif", mask, ClassTable.default(3))
    assert tifffile.imread(path).dtype == np.uint8
    np.testing.assert_array_equal(read_mask(path), mask)


@pytest.mark.parametrize("mask, match", [
    (np.array([[0, 300]], np.uint16), "do not fit"),
    (np.array([[0, -1]], np.int16), "do not fit"),
    (np.zeros((2, 2), np.float32), "integers"),
    (np.zeros((2, 2, 3), np.uint8), "2-D"),
])
def test_values_that_cannot_be_stored_are_refused(tmp_path, mask, match):
    for name in ("m.tif", "m.png"):
        with pytest.raises(MaskFormatError, match=match):
            write_mask(tmp_path / name, mask, ClassTable.default(3))
    assert list(tmp_path.iterdir()) == []


def test_other_suffixes_are_refused(tmp_path):
    with pytest.raises(MaskFormatError, match=r"\.png or \.tif"):
        write_mask(tmp_path / "m.jpg", classes_mask(2), ClassTable.default(2))


def _fail_after_some_bytes(original_target_arg):
    def writer(*args, **kwargs):
        target = args[original_target_arg]
        with open(target, "wb") as handle:
            handle.write(b"\x89PNG half a file")
        raise OSError(28, "No space left on device")
    return writer


@pytest.mark.parametrize("name, patch", [("m.png", "pillow"), ("m.tif", "tifffile")])
def test_failed_write_keeps_the_previous_mask_and_leaves_no_temp_file(tmp_path, monkeypatch, name, patch):
    table = ClassTable.default(3)
    before = classes_mask(3, seed=1)
    path = write_mask(tmp_path / name, before, table)
    content = path.read_bytes()
    if patch == "pillow":
        monkeypatch.setattr(Image.Image, "save", lambda self, fp, *a, **k: _fail_after_some_bytes(0)(fp))
    else:
        monkeypatch.setattr(tifffile, "imwrite", _fail_after_some_bytes(0))
    with pytest.raises(OSError, match="No space"):
        write_mask(path, classes_mask(3, seed=2), table)
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    np.testing.assert_array_equal(read_mask(path), before)


def test_atomic_writes_use_usual_permissions_and_keep_existing_ones(tmp_path):
    umask = os.umask(0o022)
    try:
        fresh = tmp_path / "fresh.png"
        write_mask(fresh, classes_mask(2), ClassTable.default(2))
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o644, "readable by colleagues on a shared drive"
        os.chmod(fresh, 0o640)
        write_mask(fresh, classes_mask(2, seed=3), ClassTable.default(2))
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o640

        def recreate(tmp):  # a writer that deletes and recreates its file
            tmp.unlink()
            tmp.write_bytes(b"x")
            os.chmod(tmp, 0o600)

        write_atomic(fresh, recreate)
        assert fresh.read_bytes() == b"x" and stat.S_IMODE(fresh.stat().st_mode) == 0o640
    finally:
        os.umask(umask)


def test_out_of_range_values_and_ignore_values():
    mask = np.array([[0, 1, 2, 5, 7, 255]], np.uint8)
    assert out_of_range_values(mask, 3) == [5, 7]
    assert out_of_range_values(mask, 8) == []
    wide = np.array([[0, 255, 299, 300, 65535]], np.uint16)
    assert ignore_index_for(300) == 65535 and ignore_index_for(255) == IGNORE_INDEX
    assert out_of_range_values(wide, 300) == [300]


# encoding settings -------------------------------------------------------------------------------

def test_mask_encoding_json_round_trip():
    encoding = MaskEncoding(mode="index", channel=0, threshold=3, value_map={255: 0, 0: 1})
    assert encoding.value_map == ((0, 1), (255, 0))
    data = encoding.to_json()
    assert data["value_map"] == {"0": 1, "255": 0}
    assert MaskEncoding.from_json(data) == encoding
    assert hash(MaskEncoding.from_json(data)) == hash(encoding)
    assert MaskEncoding.from_json(None) == MaskEncoding()
    assert "mapping" in encoding.describe() and "channel R" in encoding.describe()
    assert "class 1" in MaskEncoding("binary", channel=0).describe()


@pytest.mark.parametrize("data", [
    {"mode": "palette"},
    {"mode": "index", "channel": "red"},
    {"mode": "index", "value_map": [1, 2]},
    {"mode": "index", "value_map": {"-1": 0}},
    {"mode": "index", "value_map": {"1": 70000}},
    {"mode": "colour", "value_map": {"1": 0}},
    {"mode": "index", "channel": -1},
])
def test_bad_mask_encodings_are_config_errors(data):
    with pytest.raises(ConfigError):
        MaskEncoding.from_json(data)
