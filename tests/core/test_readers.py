"""The reader layer: every sample in shared/data/formats opens with the planes, channels, sizes and pixel
sizes its SOURCE.md gives, and reads the right pixels, checked against the source images and other readers."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import tifffile

from core.errors import ConfigError, ImageReadError
from core.io.readers import PlaneAddress, open_source
from tests.conftest import REPO, shared_data_dir

BBBC_A02 = "IXMtest_A02_s1_w1051DAA7C-7042-435F-99F0-1E847D9B42CB.tif"
BBBC_MULTIPAGE = [BBBC_A02, "IXMtest_A16_s2_w15AF20A10-82AE-48FA-AC50-7AE8AC3AA544.tif",
                  "IXMtest_A22_s8_w1E2AFE190-831D-4D9C-961E-3AA2ECB3599D.tif"]

# file: (planes, channel names or count, (H, W) of scene 0, dtype, pixel size (y, x) µm, z step µm)
EXPECTED = {
    "czi/czitools_DAPI_GFP.czi": (1, 2, (640, 640), "uint8", None, None),
    "czi/czitools_CellDivision_T3_Z5_CH2_X240_Y170.czi": (15, ("LED555", "LED470"), (170, 240), "uint16", 0.0906, 0.32),
    "czi/czitools_CellDivision_T3_Z5_CH2_X240_Y170_comp1.czi": (15, 2, (170, 240), "uint16", None, None),
    "czi/neubias_xyz__multiple_images.czi": (4, ("ChA",), (251, 251), "uint16", 0.1956, 0.3),
    "nd2/arcadia_example-multichannel.nd2": (1, ("Mono", "DAPI", "FITC BP", "TRITC BP"), (256, 256), "uint16",
                                             0.3234, None),
    "nd2/arcadia_example-zstack.nd2": (11, ("FITC BP",), (128, 128), "uint16", 0.3234, 6.0),
    "lif/PR2729_frameOrderCombinedScanTypes.lif": (2 * 3 * 4, ("Green", "Red"), (64, 64), "uint8", 3.968, 6.23),
    "lif/xz-example.lif": (20 + 23 + 1, ("Green", "Red"), (128, 128), "uint8", 0.1403, None),
    "ome-tiff/aics_s_1_t_1_c_1_z_1.ome.tiff": (1, ("Bright",), (325, 475), "uint16", 1.0833, None),
    "ome-tiff/170918_tn_neutrophil_migration_wave.ome.tif": (1, ("488 TIRF left",), (1024, 1024), "uint16", 1.0, None),
    "ome-tiff/neubias_spots_ZCYX.ome.tif": (17, 2, (88, 89), "uint16", 0.09413, 0.4),
    "ome-tiff/bbbc039_pyramid_subifds.ome.tif": (1, ("Hoechst",), (520, 696), "uint16", 0.65, None),
    "tiff/neubias_xyzc_16bit__spots.tif": (17, 2, (88, 89), "uint16", 0.09413, 0.4),
    "tiff/bbbc039_imagej_hyperstack_TZCYX.tif": (6, 2, (128, 128), "uint16", 0.65, 2.0),
    "tiff/bbbc039_lzw.tif": (1, 1, (520, 696), "uint16", None, None),
    "tiff/bbbc039_deflate_predictor.tif": (1, 1, (520, 696), "uint16", None, None),
    "tiff/bbbc039_jpeg_8bit.tif": (1, 1, (520, 696), "uint8", None, None),
    "tiff/bbbc039_tiled256.tif": (1, 1, (520, 696), "uint16", None, None),
    "tiff/bbbc039_multipage_3frames.tif": (3, 1, (520, 696), "uint16", None, None),
    "ome-zarr/bbbc039_nuclei.ome.zarr": (1, 1, (520, 696), "uint16", 0.65, None),
}


@pytest.fixture(scope="module")
def bbbc_image():
    return lambda name: tifffile.imread(shared_data_dir() / "bbbc039" / "images" / name)


def test_every_sample_in_the_formats_folder_is_covered(formats_dir):
    samples = {p.relative_to(formats_dir).as_posix() for p in formats_dir.glob("*/*")
               if p.parent.name not in ("bioimageio", "licenses")}
    assert samples == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_opens_with_its_planes_channels_and_calibration(formats_dir, name):
    planes, channels, shape, dtype, pixel_size, z_step = EXPECTED[name]
    with open_source(formats_dir / name) as source:
        assert len(source.planes) == planes
        assert len({plane.suffix for plane in source.planes}) == planes  # masks of two planes never collide
        if isinstance(channels, int):
            assert source.channel_names == tuple(f"Channel {i + 1}" for i in range(channels))
        else:
            assert source.channel_names == channels
        assert source.shape == shape and source.dtype == np.dtype(dtype)
        if pixel_size is None:
            assert source.pixel_size_um is None
        else:
            assert source.pixel_size_um == pytest.approx((pixel_size, pixel_size), rel=2e-3)
        assert source.z_step_um == (None if z_step is None else pytest.approx(z_step, rel=2e-3))
        for plane in (source.planes[0], source.planes[-1]):
            pixels = source.read_plane(plane)
            scene = source.scene(plane)
            count = len(scene.channel_names)
            assert pixels.shape == scene.shape + ((count,) if count > 1 else ())
            assert pixels.dtype == scene.dtype and pixels.any()


@pytest.mark.parametrize("name", ["tiff/bbbc039_lzw.tif", "tiff/bbbc039_deflate_predictor.tif",
                                  "tiff/bbbc039_tiled256.tif", "ome-tiff/bbbc039_pyramid_subifds.ome.tif",
                                  "ome-zarr/bbbc039_nuclei.ome.zarr"])
def test_lossless_samples_give_the_source_pixels(formats_dir, bbbc_image, name):
    with open_source(formats_dir / name) as source:
        np.testing.assert_array_equal(source.read_plane(source.planes[0]), bbbc_image(BBBC_A02))


def test_pyramid_levels_of_ome_tiff_and_ome_zarr_agree_and_serve_the_display(formats_dir, bbbc_image):
    with open_source(formats_dir / "ome-tiff/bbbc039_pyramid_subifds.ome.tif") as tiff, \
            open_source(formats_dir / "ome-zarr/bbbc039_nuclei.ome.zarr") as zarr:
        assert tiff.levels == zarr.levels == ((520, 696), (260, 348), (130, 174))
        plane = tiff.planes[0]
        assert tiff.display_level(plane, 200, 300) == 1 and tiff.display_level(plane, 1000, 1000) == 0
        for level in (1, 2):
            np.testing.assert_array_equal(tiff.read_plane(plane, level=level), zarr.read_plane(plane, level=level))
        halved = bbbc_image(BBBC_A02).reshape(260, 2, 348, 2).mean(axis=(1, 3))
        assert np.abs(tiff.read_plane(plane, level=1) - halved).max() <= 1  # a 2x2 mean, rounded


def test_every_page_of_a_multipage_tiff_is_a_plane(formats_dir, bbbc_image):
    with open_source(formats_dir / "tiff/bbbc039_multipage_3frames.tif") as source:
        assert [p.label for p in source.planes] == ["Page 1", "Page 2", "Page 3"]
        assert [p.suffix for p in source.planes] == ["_page1", "_page2", "_page3"]
        for plane, name in zip(source.planes, BBBC_MULTIPAGE, strict=True):
            np.testing.assert_array_equal(source.read_plane(plane), bbbc_image(name))


@pytest.mark.parametrize("name", ["tiff/bbbc039_imagej_hyperstack_TZCYX.tif", "tiff/neubias_xyzc_16bit__spots.tif",
                                  "ome-tiff/neubias_spots_ZCYX.ome.tif"])
def test_hyperstack_planes_match_tifffiles_full_read(formats_dir, name):
    whole = tifffile.imread(formats_dir / name)  # TZCYX or ZCYX
    whole = whole if whole.ndim == 5 else whole[None]
    with open_source(formats_dir / name) as source:
        for plane in source.planes:
            expected = np.moveaxis(whole[plane.time, plane.z], 0, -1)
            np.testing.assert_array_equal(source.read_plane(plane), expected)
            np.testing.assert_array_equal(source.read_plane(plane, channel=1), expected[:, :, 1])


def test_hyperstack_labels_name_time_and_slice(formats_dir):
    with open_source(formats_dir / "tiff/bbbc039_imagej_hyperstack_TZCYX.tif") as source:
        assert [p.label for p in source.planes] == ["T1 Z1", "T1 Z2", "T1 Z3", "T2 Z1", "T2 Z2", "T2 Z3"]
        assert source.planes[4].suffix == "_t2_z2"


# Sums of planes from czifile 2019.7.2's whole-file read, a reader independent of libCZI.
CZI_PLANE_SUMS = {
    ("czitools_CellDivision_T3_Z5_CH2_X240_Y170.czi", PlaneAddress(time=1, z=3), 1): 79230690,
    ("czitools_CellDivision_T3_Z5_CH2_X240_Y170.czi", PlaneAddress(time=2, z=4), 0): 12173916,
    ("neubias_xyz__multiple_images.czi", PlaneAddress(scene=0, z=0), None): 864150952,
    ("neubias_xyz__multiple_images.czi", PlaneAddress(scene=1, z=1), None): 765210567,
    ("czitools_DAPI_GFP.czi", PlaneAddress(), 1): 8587250,
}


@pytest.mark.parametrize("key", list(CZI_PLANE_SUMS), ids=lambda key: f"{key[0]}-{key[1]}-{key[2]}")
def test_czi_planes_match_an_independent_reader(formats_dir, key):
    name, address, channel = key
    with open_source(formats_dir / "czi" / name) as source:
        assert int(source.read_plane(address, channel=channel).sum(dtype=np.int64)) == CZI_PLANE_SUMS[key]


def test_zstd_compressed_czi_gives_the_same_pixels_as_the_uncompressed_one(formats_dir):
    stem = "czi/czitools_CellDivision_T3_Z5_CH2_X240_Y170"
    with open_source(formats_dir / f"{stem}.czi") as plain, open_source(formats_dir / f"{stem}_comp1.czi") as zstd:
        assert [p.label for p in plain.planes][:6] == ["T1 Z1", "T1 Z2", "T1 Z3", "T1 Z4", "T1 Z5", "T2 Z1"]
        for plane in plain.planes:
            np.testing.assert_array_equal(plain.read_plane(plane), zstd.read_plane(plane))


def test_czi_mosaic_tiles_are_stitched_and_large_planes_get_display_levels(tmp_path):
    from pylibCZIrw import czi as pyczi

    rng = np.random.default_rng(0)
    left, right = rng.integers(0, 60000, (2, 300, 200), dtype=np.uint16)
    large = rng.integers(0, 255, (2600, 3000), dtype=np.uint8)
    with pyczi.create_czi(str(tmp_path / "mosaic.czi")) as writer:
        writer.write(left, plane={"C": 0, "T": 0, "Z": 0}, location=(0, 0), scene=0)
        writer.write(right, plane={"C": 0, "T": 0, "Z": 0}, location=(200, 0), scene=0)
    with pyczi.create_czi(str(tmp_path / "large.czi")) as writer:
        writer.write(large, plane={"C": 0, "T": 0, "Z": 0}, location=(0, 0))
    with open_source(tmp_path / "mosaic.czi") as source:
        assert len(source.planes) == 1
        np.testing.assert_array_equal(source.read_plane(source.planes[0]), np.hstack([left, right]))
    with open_source(tmp_path / "large.czi") as source:
        plane = source.planes[0]
        assert source.levels == ((2600, 3000), (1300, 1500))
        assert source.display_level(plane, 1000, 1200) == 1
        np.testing.assert_array_equal(source.read_plane(plane, level=1), large[::2, ::2])  # no pyramid: subsampled


def test_nd2_planes_match_the_libraries_full_read(formats_dir):
    import nd2

    for name in ("arcadia_example-zstack.nd2", "arcadia_example-multichannel.nd2"):
        whole = nd2.imread(formats_dir / "nd2" / name)  # ZYX or CYX
        with open_source(formats_dir / "nd2" / name) as source:
            if len(source.planes) > 1:
                for plane in source.planes:
                    np.testing.assert_array_equal(source.read_plane(plane), whole[plane.z])
            else:
                np.testing.assert_array_equal(source.read_plane(source.planes[0]), np.moveaxis(whole, 0, -1))


def test_lif_mosaic_tiles_and_xz_scans_are_planes_of_the_right_frames(formats_dir):
    import liffile

    with liffile.LifFile(formats_dir / "lif/PR2729_frameOrderCombinedScanTypes.lif") as lif:
        whole = lif.images[0].asarray()  # TMZCYX
    with open_source(formats_dir / "lif/PR2729_frameOrderCombinedScanTypes.lif") as source:
        assert source.planes[-1].label == "T2 Z3 Tile 4" and source.planes[-1].suffix == "_t2_z3_tile4"
        for plane in source.planes:
            np.testing.assert_array_equal(source.read_plane(plane), np.moveaxis(whole[plane.time, plane.tile, plane.z], 0, -1))
    with liffile.LifFile(formats_dir / "lif/xz-example.lif") as lif:
        xzy = lif.images[1].asarray()  # YCZX: a stack of XZ frames stepped along Y
    with open_source(formats_dir / "lif/xz-example.lif") as source:
        assert [scene.shape for scene in source.scenes] == [(128, 128), (128, 128), (512, 512)]
        assert source.scenes[1].z_step_um == pytest.approx(0.229, rel=2e-3)
        stepped = [p for p in source.planes if p.scene == 1]
        assert [p.label for p in stepped[:2]] == ["S2 Y1", "S2 Y2"]
        np.testing.assert_array_equal(source.read_plane(stepped[7]), np.moveaxis(xzy[7], 0, -1))


def test_tiff_resolution_counts_only_when_it_is_a_calibration(tmp_path):
    image = np.arange(64 * 48, dtype=np.uint16).reshape(64, 48)
    cases = {"screen_inch.tif": ({"resolution": (72, 72), "resolutionunit": 2}, None),
             "no_unit.tif": ({"resolution": (72, 72), "resolutionunit": 1}, None),
             "centimetre.tif": ({"resolution": (20000, 40000), "resolutionunit": 3}, (0.25, 0.5)),
             "imagej_nm.tif": ({"resolution": (0.01, 0.02), "imagej": True, "metadata": {"unit": "nm"}}, (0.05, 0.1))}
    for name, (options, expected) in cases.items():
        tifffile.imwrite(tmp_path / name, image, **options)
        with open_source(tmp_path / name) as source:
            assert source.pixel_size_um == (None if expected is None else pytest.approx(expected)), name
            np.testing.assert_array_equal(source.read_plane(source.planes[0]), image)


def test_contiguous_imagej_stack_with_one_page_header_reads_each_plane(tmp_path):
    stack = np.random.default_rng(1).integers(0, 4000, (4, 2, 32, 40), dtype=np.uint16)  # ZCYX
    tifffile.imwrite(tmp_path / "big.tif", stack, imagej=True, truncate=True, metadata={"axes": "ZCYX"})
    with open_source(tmp_path / "big.tif") as source:
        assert [p.label for p in source.planes] == ["Z1", "Z2", "Z3", "Z4"]
        for plane in source.planes:
            np.testing.assert_array_equal(source.read_plane(plane), np.moveaxis(stack[plane.z], 0, -1))


@pytest.mark.parametrize("suffix", [".czi", ".nd2", ".lif", ".tif"])
def test_a_broken_file_raises_an_image_read_error_naming_it(tmp_path, suffix):
    path = tmp_path / f"broken{suffix}"
    path.write_bytes(b"this is not a micrograph" * 50)
    with pytest.raises(ImageReadError) as caught:
        open_source(path)
    assert caught.value.path == path and f"broken{suffix}" in str(caught.value)


def test_a_truncated_tiff_names_the_file_when_read(tmp_path, formats_dir):
    data = (formats_dir / "tiff/bbbc039_multipage_3frames.tif").read_bytes()
    path = tmp_path / "cut.tif"
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ImageReadError, match="cut.tif"):
        with open_source(path) as source:
            for plane in source.planes:
                source.read_plane(plane)


def test_missing_files_foreign_formats_and_bad_addresses_are_explained(tmp_path, formats_dir):
    with pytest.raises(ImageReadError, match="file not found"):
        open_source(tmp_path / "gone.czi")
    with pytest.raises(ImageReadError, match="does not read .txt files"):
        open_source(tmp_path / "notes.txt")
    with open_source(formats_dir / "tiff/bbbc039_lzw.tif") as source:
        with pytest.raises(ConfigError, match="no plane"):
            source.read_plane(PlaneAddress(z=5))
        with pytest.raises(ConfigError, match="channel 3 does not exist"):
            source.read_plane(source.planes[0], channel=3)


def test_importing_the_reader_layer_loads_no_format_library():
    code = ("import sys, core.io.readers\n"
            "print(sorted(m for m in ('tifffile', 'zarr', 'nd2', 'liffile', 'pylibCZIrw', 'dask') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def write_ngff_05(folder, data: np.ndarray, names: tuple[str, ...]) -> None:
    """An NGFF 0.5 image (Zarr v3, metadata under "ome") of CZYX `data`, two levels, y/x in nanometres."""
    import zarr

    group = zarr.open_group(str(folder), mode="w", zarr_format=3)
    group.create_array("0", data=data, chunks=(1, 1, 16, 16))
    group.create_array("1", data=np.ascontiguousarray(data[:, :, ::2, ::2]), chunks=(1, 1, 16, 16))
    axes = [{"name": "c", "type": "channel"}, {"name": "z", "type": "space", "unit": "micrometer"},
            {"name": "y", "type": "space", "unit": "nanometer"}, {"name": "x", "type": "space", "unit": "nanometer"}]
    group.attrs["ome"] = {"version": "0.5", "omero": {"channels": [{"label": name} for name in names]},
                          "multiscales": [{"axes": axes, "datasets": [
                              {"path": str(level), "coordinateTransformations": [
                                  {"type": "scale", "scale": [1, 2.0, 650 * 2**level, 650 * 2**level]}]}
                              for level in (0, 1)]}]}


def test_ngff_05_on_zarr_v3_reads_its_planes_channels_and_calibration(tmp_path):
    data = np.random.default_rng(0).integers(0, 4096, (2, 3, 40, 50), dtype=np.uint16)
    write_ngff_05(tmp_path / "cells.ome.zarr", data, ("DAPI", "GFP"))
    with open_source(tmp_path / "cells.ome.zarr") as source:
        (scene,) = source.scenes
        assert scene.channel_names == ("DAPI", "GFP") and source.levels == ((40, 50), (20, 25))
        assert scene.pixel_size_um == pytest.approx((0.65, 0.65)) and scene.z_step_um == 2.0
        assert len(source.planes) == 3
        for z, plane in enumerate(source.planes):
            np.testing.assert_array_equal(source.read_plane(plane), np.moveaxis(data[:, z], 0, -1))
        np.testing.assert_array_equal(source.read_plane(source.planes[2], level=1)[:, :, 1], data[1, 2, ::2, ::2])


def test_a_bioformats2raw_folder_gives_each_series_as_a_scene(tmp_path):
    import zarr

    root = zarr.open_group(str(tmp_path / "plate.ome.zarr"), mode="w", zarr_format=2)
    root.attrs["bioformats2raw.layout"] = 3
    series = [np.full((1, 1, 30, 20), 7, np.uint8), np.arange(24 * 32, dtype=np.uint8).reshape(1, 1, 24, 32)]
    for number, data in enumerate(series):
        image = root.create_group(str(number))
        image.create_array("0", data=data)
        image.attrs["multiscales"] = [{"version": "0.4", "name": f"well {number}", "axes": [
            {"name": "t", "type": "time"}, {"name": "c", "type": "channel"}, {"name": "y", "type": "space"},
            {"name": "x", "type": "space"}], "datasets": [{"path": "0"}]}]
    with open_source(tmp_path / "plate.ome.zarr") as source:
        assert [scene.name for scene in source.scenes] == ["well 0", "well 1"]
        assert [scene.shape for scene in source.scenes] == [(30, 20), (24, 32)]
        assert len(source.planes) == 2
        for plane, data in zip(source.planes, series, strict=True):
            np.testing.assert_array_equal(source.read_plane(plane), data[0, 0])
