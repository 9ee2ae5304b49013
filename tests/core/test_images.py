"""Reading micrographs: every format, bit depth and channel layout keeps its pixels; headers agree with
pixels; broken files raise ImageReadError naming the file; display and network normalisation numbers."""

from __future__ import annotations

import io

import numpy as np
import pytest
import tifffile
from PIL import Image

from core.errors import ConfigError, ImageReadError
from core.io.images import (
    Normalisation,
    display_view,
    is_image_file,
    match_channels,
    percentile_levels,
    read_image,
    read_image_info,
    to_display,
)

H, W = 24, 40


def gradient(dtype=np.uint8, top: int = 255) -> np.ndarray:
    """(H, W) values that differ from pixel to pixel, spanning 0..top."""
    values = np.linspace(0, top, H * W).reshape(H, W)
    return values.astype(dtype)


def noise(shape, dtype=np.uint16, top: int = 60000, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, top, shape).astype(dtype)


# gray, 8- and 16-bit, float ---------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif", ".tiff"])
def test_lossless_8bit_gray_keeps_values(tmp_path, suffix):
    data = gradient()
    path = tmp_path / f"gray{suffix}"
    Image.fromarray(data, "L").save(path)
    image = read_image(path)
    assert image.dtype == np.uint8 and image.shape == (H, W)
    np.testing.assert_array_equal(image, data)


def test_jpeg_gray_is_close_to_what_was_written(tmp_path):
    data = gradient()
    Image.fromarray(data, "L").save(tmp_path / "gray.jpg", quality=95)
    image = read_image(tmp_path / "gray.jpg")
    assert image.dtype == np.uint8 and image.shape == (H, W)
    assert np.abs(image.astype(int) - data).mean() < 2


def test_16bit_png_keeps_values_above_255(tmp_path):
    data = gradient(np.uint16, 65535)
    Image.fromarray(data).save(tmp_path / "deep.png")
    image = read_image(tmp_path / "deep.png")
    assert image.dtype == np.uint16
    np.testing.assert_array_equal(image, data)


def test_16bit_and_float_tiff_keep_dtype_and_values(tmp_path):
    deep = gradient(np.uint16, 65535)
    real = np.linspace(-1.5, 3.25, H * W, dtype=np.float32).reshape(H, W)
    tifffile.imwrite(tmp_path / "deep.tif", deep)
    tifffile.imwrite(tmp_path / "real.tif", real)
    assert read_image(tmp_path / "deep.tif").dtype == np.uint16
    np.testing.assert_array_equal(read_image(tmp_path / "deep.tif"), deep)
    assert read_image(tmp_path / "real.tif").dtype == np.float32
    np.testing.assert_array_equal(read_image(tmp_path / "real.tif"), real)


# colour order and alpha -------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".png", ".bmp", ".jpg", ".tif"])
def test_pure_red_reads_as_red_not_blue(tmp_path, suffix):
    red = np.zeros((H, W, 3), np.uint8)
    red[:, :, 0] = 255
    Image.fromarray(red, "RGB").save(tmp_path / f"red{suffix}")
    image = read_image(tmp_path / f"red{suffix}")
    assert image.shape == (H, W, 3)
    r, g, b = image.reshape(-1, 3).mean(axis=0)
    assert r > 240 and g < 15 and b < 15


def test_rgba_png_drops_alpha_and_keeps_colours(tmp_path):
    rgba = noise((H, W, 4), np.uint8, 255)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    image = read_image(tmp_path / "rgba.png")
    np.testing.assert_array_equal(image, rgba[:, :, :3])


def test_rgba_tiff_drops_the_sample_marked_alpha(tmp_path):
    rgba = noise((H, W, 4), np.uint8, 255)
    tifffile.imwrite(tmp_path / "rgba.tif", rgba, photometric="rgb", extrasamples=["unassalpha"])
    np.testing.assert_array_equal(read_image(tmp_path / "rgba.tif"), rgba[:, :, :3])


def test_gray_with_alpha_png_reads_as_gray(tmp_path):
    la = np.stack([gradient(), np.full((H, W), 7, np.uint8)], axis=2)
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    image = read_image(tmp_path / "la.png")
    assert image.shape == (H, W)
    np.testing.assert_array_equal(image, la[:, :, 0])


def test_paletted_png_reads_as_its_colours(tmp_path):
    indices = (np.arange(H * W) % 3).reshape(H, W).astype(np.uint8)
    pil = Image.fromarray(indices, "P")
    pil.putpalette([10, 20, 30, 200, 0, 0, 0, 0, 250] + [0] * 759)
    pil.save(tmp_path / "p.png")
    image = read_image(tmp_path / "p.png")
    colours = np.array([[10, 20, 30], [200, 0, 0], [0, 0, 250]], np.uint8)
    np.testing.assert_array_equal(image, colours[indices])


# multi-channel and hyperstack TIFF -------------------------------------------------------------

@pytest.mark.parametrize("channels", [2, 4, 5])
def test_channels_first_tiff_becomes_channels_last(tmp_path, channels):
    data = noise((channels, H, W), seed=channels)
    tifffile.imwrite(tmp_path / "cfirst.tif", data, photometric="minisblack")
    image = read_image(tmp_path / "cfirst.tif")
    assert image.shape == (H, W, channels) and image.dtype == np.uint16
    np.testing.assert_array_equal(image, np.moveaxis(data, 0, -1))


def test_channels_first_pages_without_metadata_are_channels(tmp_path):
    data = noise((3, H, W), np.uint8, 255)
    tifffile.imwrite(tmp_path / "pages.tif", data, photometric="minisblack", metadata=None)
    np.testing.assert_array_equal(read_image(tmp_path / "pages.tif"), np.moveaxis(data, 0, -1))


def test_channels_last_tiff_keeps_all_channels(tmp_path):
    data = noise((H, W, 5))
    tifffile.imwrite(tmp_path / "clast.tif", data, photometric="minisblack", planarconfig="contig")
    np.testing.assert_array_equal(read_image(tmp_path / "clast.tif"), data)


def test_imagej_cyx_hyperstack(tmp_path):
    data = noise((3, H, W))
    tifffile.imwrite(tmp_path / "cyx.tif", data, imagej=True, metadata={"axes": "CYX"})
    image = read_image(tmp_path / "cyx.tif")
    assert image.dtype == np.uint16
    np.testing.assert_array_equal(image, np.moveaxis(data, 0, -1))


def test_imagej_zcyx_hyperstack_reads_first_slice_all_channels(tmp_path, monkeypatch):
    data = noise((4, 3, H, W))
    tifffile.imwrite(tmp_path / "zcyx.tif", data, imagej=True, metadata={"axes": "ZCYX"})
    requested = []
    original = tifffile.TiffFile.asarray

    def spy(self, *args, **kwargs):
        requested.append(kwargs.get("key"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(tifffile.TiffFile, "asarray", spy)
    image = read_image(tmp_path / "zcyx.tif")
    assert image.shape == (H, W, 3) and image.dtype == np.uint16
    np.testing.assert_array_equal(image, np.moveaxis(data[0], 0, -1))
    assert requested == [[0, 1, 2]], "only the pages of the first slice are decoded"


def test_long_page_stack_reads_its_first_plane(tmp_path):
    data = noise((40, H, W), np.uint8, 255)
    tifffile.imwrite(tmp_path / "stack.tif", data, photometric="minisblack")
    image = read_image(tmp_path / "stack.tif")
    np.testing.assert_array_equal(image, data[0])
    assert read_image_info(tmp_path / "stack.tif").channels == 1


# real data -------------------------------------------------------------------------------------

def test_bbbc039_image_is_uint16_and_displays_visibly(bbbc_dir):
    path = sorted((bbbc_dir / "images").glob("*.tif"))[0]
    image = read_image(path)
    assert image.dtype == np.uint16 and image.shape == (520, 696)
    assert 100 < image.min() and image.max() <= 4095
    levels = percentile_levels(image)
    assert levels.shape == (1, 2) and 100 < levels[0, 0] < levels[0, 1] <= 4095
    shown = to_display(image)
    assert shown.dtype == np.uint8 and shown.mean() > 15, "12-bit data scaled by 65535 would look black"
    assert (image.astype(np.float64) / 65535 * 255).mean() < 5
    info = read_image_info(path)
    assert (info.width, info.height, info.channels, info.dtype) == (696, 520, 1, "uint16")


def test_isbi_image_is_8bit_gray(isbi_dir):
    image = read_image(isbi_dir / "images" / "0.png")
    assert image.dtype == np.uint8 and image.shape == (512, 512)
    assert read_image_info(isbi_dir / "images" / "0.png") == read_image_info(isbi_dir / "images" / "1.png")


# headers agree with pixels ---------------------------------------------------------------------

def _write_every_layout(folder):
    u8, u16 = noise((H, W, 4), np.uint8, 255), noise((5, H, W))
    writers = {
        "gray.png": lambda p: Image.fromarray(u8[:, :, 0], "L").save(p),
        "deep.png": lambda p: Image.fromarray(u16[0]).save(p),
        "rgb48.png": lambda p: _write_png48(p, np.moveaxis(u16[:3], 0, -1)),
        "rgb.png": lambda p: Image.fromarray(u8[:, :, :3], "RGB").save(p),
        "rgba.png": lambda p: Image.fromarray(u8, "RGBA").save(p),
        "la.png": lambda p: Image.fromarray(u8[:, :, :2], "LA").save(p),
        "pal.png": lambda p: Image.fromarray(u8[:, :, 0], "L").convert("P").save(p),
        "gray.jpg": lambda p: Image.fromarray(u8[:, :, 0], "L").save(p),
        "rgb.jpg": lambda p: Image.fromarray(u8[:, :, :3], "RGB").save(p),
        "cmyk.jpg": lambda p: Image.fromarray(u8[:, :, :3], "RGB").convert("CMYK").save(p),
        "gray.bmp": lambda p: Image.fromarray(u8[:, :, 0], "L").save(p),
        "rgb.bmp": lambda p: Image.fromarray(u8[:, :, :3], "RGB").save(p),
        "gray.tif": lambda p: tifffile.imwrite(p, u16[0]),
        "float.tif": lambda p: tifffile.imwrite(p, u16[0].astype(np.float32)),
        "rgb.tif": lambda p: tifffile.imwrite(p, u8[:, :, :3], photometric="rgb"),
        "rgba.tif": lambda p: tifffile.imwrite(p, u8, photometric="rgb", extrasamples=["unassalpha"]),
        "cfirst.tif": lambda p: tifffile.imwrite(p, u16, photometric="minisblack"),
        "clast.tif": lambda p: tifffile.imwrite(p, np.moveaxis(u16, 0, -1), photometric="minisblack",
                                                planarconfig="contig"),
        "cyx.tif": lambda p: tifffile.imwrite(p, u16[:3], imagej=True, metadata={"axes": "CYX"}),
        "zcyx.tif": lambda p: tifffile.imwrite(p, u16[:4].reshape(2, 2, H, W), imagej=True,
                                               metadata={"axes": "ZCYX"}),
    }
    for name, write in writers.items():
        write(folder / name)
    return sorted(writers)


def _write_png48(path, rgb16):
    import cv2

    cv2.imwrite(str(path), rgb16[:, :, ::-1])


def test_read_image_info_matches_read_image_for_every_layout(tmp_path):
    names = _write_every_layout(tmp_path)
    disagreements = []
    for name in names:
        image = read_image(tmp_path / name)
        info = read_image_info(tmp_path / name)
        seen = (image.shape[1], image.shape[0], 1 if image.ndim == 2 else image.shape[2], str(image.dtype))
        if (info.width, info.height, info.channels, info.dtype) != seen:
            disagreements.append(f"{name}: info {info} vs pixels {seen}")
    assert not disagreements, "\n".join(disagreements)
    assert read_image(tmp_path / "rgb48.png").dtype == np.uint16


# broken files ----------------------------------------------------------------------------------

def _encoded(fmt: str) -> bytes:
    buffer = io.BytesIO()
    data = noise((64, 80, 3), np.uint8, 255)
    if fmt == "TIFF":
        tifffile.imwrite(buffer, data)
    else:
        Image.fromarray(data).save(buffer, fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("name, content", [
    ("empty.png", b""),
    ("empty.tif", b""),
    ("text.png", b"this is a text file with a .png name\n"),
    ("text.tif", b"II*\x00 not really a tiff"),
    ("truncated.png", "PNG"),
    ("truncated.tif", "TIFF"),
    ("truncated.jpg", "JPEG"),
    ("corrupt.jpg", "JPEG-header"),
])
def test_broken_files_raise_image_read_error_naming_the_file(tmp_path, name, content):
    if isinstance(content, str):
        encoded = _encoded(content.split("-")[0])
        content = encoded[:20] + b"\x00" * 300 + encoded[320:] if content.endswith("header") \
            else encoded[: len(encoded) // 2]
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImageReadError) as caught:
        read_image(path)
    assert caught.value.path == path and name in str(caught.value)
    if not content:
        assert "empty" in str(caught.value)
        with pytest.raises(ImageReadError, match="empty"):
            read_image_info(path)


def test_missing_file_is_named(tmp_path):
    for reader in (read_image, read_image_info):
        with pytest.raises(ImageReadError, match="not found") as caught:
            reader(tmp_path / "nowhere.tif")
        assert caught.value.path == tmp_path / "nowhere.tif"


def test_header_of_a_non_image_is_refused(tmp_path):
    (tmp_path / "notes.png").write_text("hello")
    with pytest.raises(ImageReadError) as caught:
        read_image_info(tmp_path / "notes.png")
    assert "notes.png" in str(caught.value)


def test_is_image_file():
    assert is_image_file("a/b/cells.TIF") and is_image_file("x.jpeg") and is_image_file("x.bmp")
    assert not is_image_file("seglab.json") and not is_image_file("scan.czi")


# channels, normalisation, display --------------------------------------------------------------

def test_match_channels():
    gray = gradient()
    rgb = np.stack([gray, gray // 2, np.zeros_like(gray)], axis=2)
    assert match_channels(gray, 1) is gray
    three = match_channels(gray, 3)
    assert three.shape == (H, W, 3) and all(np.array_equal(three[:, :, c], gray) for c in range(3))
    luma = match_channels(rgb, 1)  # an 8-bit colour photo without a choice: luminance (callers warn)
    assert luma.dtype == np.uint8 and luma.shape == (H, W)
    np.testing.assert_array_equal(luma, np.rint(0.299 * gray + 0.587 * (gray // 2)).astype(np.uint8))
    np.testing.assert_array_equal(match_channels(rgb, 1, chosen=1), gray // 2)
    five = noise((H, W, 5))
    np.testing.assert_array_equal(match_channels(five, 3), five[:, :, :3])
    with pytest.raises(ConfigError, match="2-channel"):
        match_channels(five[:, :, :2], 4)
    two = np.stack([gray.astype(np.uint16), gray.astype(np.uint16) * 2], axis=2)  # a micrograph, not a photo
    with pytest.raises(ConfigError, match=r"2: 0: DAPI, 1: GFP; choose one with --channel"):
        match_channels(two, 1, names=("DAPI", "GFP"))


def test_percentile_normalisation_numbers():
    image = np.arange(100, dtype=np.uint8).reshape(10, 10)  # each value 0..99 once
    norm = Normalisation("percentile", 1.0, 99.0)
    levels = norm.levels(image)
    np.testing.assert_array_equal(levels, [[0.0, 98.0]])
    out = norm.apply(image)
    assert out.shape == (1, 10, 10) and out.dtype == np.float32
    assert out[0, 4, 9] == pytest.approx(49 / 98) and out[0, 9, 9] == pytest.approx(99 / 98)
    float_levels = percentile_levels(image.astype(np.float32), 1.0, 99.0)
    np.testing.assert_allclose(float_levels, [[0.99, 98.01]])


def test_dtype_range_normalisation_numbers():
    norm = Normalisation("dtype_range")
    eight = np.array([[0, 51], [255, 102]], np.uint8)
    np.testing.assert_allclose(norm.apply(eight)[0], [[0, 0.2], [1, 0.4]], rtol=1e-6)
    sixteen = np.array([[0, 65535]], np.uint16)
    np.testing.assert_allclose(norm.apply(sixteen)[0], [[0, 1]])
    real = np.array([[0.25, 2.0]], np.float32)
    np.testing.assert_allclose(norm.apply(real)[0], [[0.25, 2.0]])
    rgb = np.dstack([eight, eight // 2, eight // 3])
    assert norm.apply(rgb).shape == (3, 2, 2)
    assert norm.apply(rgb)[1, 1, 0] == pytest.approx(127 / 255)


def test_normalisation_json_round_trip_and_bad_mode():
    norm = Normalisation("dtype_range", 2.0, 98.0)
    assert Normalisation.from_json(norm.to_json()) == norm
    assert Normalisation.from_json({}) == Normalisation()
    with pytest.raises(ConfigError, match="minmax"):
        Normalisation.from_json({"mode": "minmax"})


def test_to_display_stretches_between_levels():
    image = np.array([[100, 1100, 2100, 5000]], np.uint16)
    shown = to_display(image, np.array([[100.0, 2100.0]]))
    np.testing.assert_array_equal(shown, [[0, 127, 255, 255]])
    real = np.array([[0.0, 0.5, np.nan, 2.0]], np.float32)
    np.testing.assert_array_equal(to_display(real, np.array([[0.0, 1.0]])), [[0, 127, 0, 255]])


def test_display_view_of_one_channel_and_of_many():
    image = np.zeros((4, 5, 5), np.uint16)
    for c in range(5):
        image[:, :, c] = 1000 * (c + 1)
    levels = np.array([[0.0, 1000.0 * (c + 2)] for c in range(5)])
    one = display_view(image, levels, channel=3)
    assert one.shape == (4, 5) and one.dtype == np.uint8
    assert one[0, 0] == int(4000 * 255 / 5000)
    many = display_view(image, levels)
    assert many.shape == (4, 5, 3)
    np.testing.assert_array_equal(many[0, 0], [int(1000 * 255 / 2000), int(2000 * 255 / 3000), int(3000 * 255 / 4000)])
    two = display_view(image[:, :, :2], levels[:2])
    assert two.shape == (4, 5) and two[0, 0] == 127
