"""No file stops a run: every compressed TIFF opens, every broken file is a named ImageReadError that the
scanner, the reader and the CLI agree on, and NaN pixels are left out without changing other pixels."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from core.classes import IGNORE_INDEX, ClassTable
from core.cli import run_cli
from core.data.augment import AugmentConfig
from core.data.dataset import LoadedSample, PatchDataset
from core.data.index import DatasetIndex
from core.errors import ImageReadError
from core.inference import PredictOptions, Predictor
from core.io import image_headers
from core.io.images import Normalisation, percentile_levels, read_image, read_image_info
from core.models.model_file import save_model_file
from core.models.registry import build_from_spec
from core.models.spec import ModelSpec
from tests.conftest import REPO
from tests.core.odd_images import bmp_header, broken_files, gradient, write_odd_folder

BBBC_SOURCE = "IXMtest_A02_s1_w1051DAA7C-7042-435F-99F0-1E847D9B42CB.tif"
TORCH_CPU = PredictOptions(tile_size=64, overlap=16, device="cpu", backend="torch")
PREDICT_TINY = ["--device", "cpu", "--backend", "torch", "--tile", "64", "--overlap", "16"]


@pytest.fixture(scope="module")
def tiny_model_file(tmp_path_factory):
    """A one-channel, two-class classic U-Net with random weights whose head is balanced so that both classes
    occur on plateau_image(), saved with the model-file API."""
    torch.manual_seed(0)
    spec = ModelSpec("unet_classic", 1, ClassTable.default(2), 2, options={"base_channels": 4})
    model = build_from_spec(spec).eval()
    head = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    with torch.no_grad():
        head.weight *= 20
        logits = model(torch.from_numpy(spec.normalisation.apply(plateau_image()[:96, :128]))[None])
        head.bias -= logits.median(dim=-1).values.median(dim=-1).values[0]
    return save_model_file(tmp_path_factory.mktemp("model") / "tiny", model, spec)


# compressed TIFF ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["bbbc039_lzw.tif", "bbbc039_deflate_predictor.tif", "bbbc039_tiled256.tif"])
def test_lossless_tiffs_equal_their_uncompressed_source(data_dir, name):
    source = read_image(data_dir / "bbbc039" / "images" / BBBC_SOURCE)
    image = read_image(data_dir / "formats" / "tiff" / name)
    assert image.dtype == np.uint16 and image.shape == (520, 696)
    np.testing.assert_array_equal(image, source)


def test_jpeg_compressed_tiff_reads_as_8bit(data_dir):
    path = data_dir / "formats" / "tiff" / "bbbc039_jpeg_8bit.tif"
    image = read_image(path)
    assert image.shape == (520, 696) and image.dtype == np.uint8 and image.std() > 5
    assert (read_image_info(path).width, read_image_info(path).dtype) == (696, "uint8")


def test_tiff_that_tifffile_cannot_decode_is_read_by_pillow(data_dir, monkeypatch):
    """tifffile without a codec for LZW (imagecodecs missing): the scanner still lists the file as fine, and
    Pillow reads the same pixels."""
    monkeypatch.setattr(tifffile.TIFF, "DECOMPRESSORS", {1: tifffile.tifffile.identityfunc})
    path = data_dir / "formats" / "tiff" / "bbbc039_lzw.tif"
    assert read_image_info(path).dtype == "uint16"
    np.testing.assert_array_equal(read_image(path), read_image(data_dir / "bbbc039" / "images" / BBBC_SOURCE))


# broken and odd files ----------------------------------------------------------------------------

def test_scanner_and_reader_agree_on_every_odd_file(tmp_path):
    expected = write_odd_folder(tmp_path)
    disagreements = []
    for name, readable in expected.items():
        outcomes = []
        for reader in (read_image_info, read_image):
            try:
                reader(tmp_path / name)
                outcomes.append(True)
            except ImageReadError as exc:
                assert exc.path == tmp_path / name and name in str(exc)
                outcomes.append(False)
        if outcomes != [readable, readable]:
            disagreements.append(f"{name}: header read {outcomes[0]}, pixels read {outcomes[1]}, want {readable}")
    assert not disagreements, "\n".join(disagreements)
    listed = {p.path.name for p in DatasetIndex.scan(tmp_path).validate() if p.kind == "unreadable"}
    assert listed == {name for name, readable in expected.items() if not readable}


def test_odd_files_keep_their_pixels(tmp_path):
    write_odd_folder(tmp_path)
    np.testing.assert_array_equal(read_image(tmp_path / "bmp_32bit_alpha.bmp"), gradient(3))
    assert set(np.unique(read_image(tmp_path / "tiff_ccitt_group4.tif")).tolist()) == {0, 255}
    assert read_image(tmp_path / "png_16bit.png").max() == 65535
    assert read_image(tmp_path / "tiff_lzw.tif").max() == 4095


def test_gigantic_header_is_refused_before_any_decoder_runs(tmp_path, monkeypatch):
    path = tmp_path / "giant.bmp"
    path.write_bytes(broken_files()["giant_bmp.bmp"])
    decoded = []
    monkeypatch.setattr(cv2, "imdecode", lambda *args: decoded.append("cv2"))
    monkeypatch.setattr(Image, "open", lambda *args, **kwargs: decoded.append("pillow"))
    with pytest.raises(ImageReadError, match=r"claims 524,288 x 524,287 = 274,877,382,656 pixels") as caught:
        read_image(path)
    assert caught.value.path == path and decoded == []


def test_image_larger_than_free_memory_is_refused_with_the_numbers(tmp_path, monkeypatch):
    path = tmp_path / "wide.bmp"
    path.write_bytes(bmp_header(20_000, 20_000, 24) + b"\0" * 64)
    monkeypatch.setattr(image_headers, "available_memory", lambda: 500_000_000)
    with pytest.raises(ImageReadError, match=r"needs about 2.4 GB of memory but 0.5 GB are free") as caught:
        read_image_info(path)
    assert "wide.bmp" in str(caught.value)


def test_valid_large_png_and_unusual_bmp_masks_are_not_listed_as_unreadable(tmp_path):
    """Pillow refuses these (decompression-bomb limit, unsupported bit-field layout); OpenCV reads them."""
    side = 13_400  # 179.6 M pixels, just over Pillow's limit
    cv2.imwrite(str(tmp_path / "large.png"), np.zeros((side, side), np.uint8))
    pixels = np.arange(6 * 8 * 4, dtype=np.uint8).reshape(6, 8, 4)
    masks = (0x0000FF00, 0x00FF0000, 0xFF000000, 0x000000FF)  # B, G, R, A from the top byte down
    (tmp_path / "argb.bmp").write_bytes(bmp_header(8, 6, 32, 3, 108, masks) + pixels.tobytes())
    assert DatasetIndex.scan(tmp_path).validate() == ()
    assert read_image(tmp_path / "large.png").shape == (side, side)
    assert read_image(tmp_path / "argb.bmp")[5, 0].tolist() == [1, 2, 3]  # bottom-up rows: the first is the last


def test_bmp_compressions_no_decoder_reads_are_refused_by_the_scanner_too(tmp_path):
    head = bmp_header(8, 6, 32, 6, 56, (0xFF0000, 0xFF00, 0xFF, 0xFF000000))  # BI_ALPHABITFIELDS
    path = tmp_path / "alpha_bitfields.bmp"
    path.write_bytes(head + bytes(8 * 6 * 4))
    for reader in (read_image_info, read_image):
        with pytest.raises(ImageReadError, match="BMP compression 6 cannot be decoded; save the image as PNG"):
            reader(path)


def test_predict_command_lists_broken_files_and_predicts_the_rest(tmp_path, tiny_model_file):
    expected = write_odd_folder(tmp_path / "odd")
    command = ["predict", str(tiny_model_file), str(tmp_path / "odd"), str(tmp_path / "out"), *PREDICT_TINY]
    result = subprocess.run([sys.executable, "main.py", *command], cwd=REPO, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    named = {line.split(":")[0].removeprefix("could not process ").strip()
             for line in result.stderr.splitlines() if line.startswith("could not process")}
    assert {p.split("/")[-1] for p in named} == {n for n, readable in expected.items() if not readable}
    masks = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert masks == sorted(f"{n.rsplit('.', 1)[0]}.png" for n, readable in expected.items() if readable)


def test_evaluate_and_train_skip_broken_images_and_masks(tmp_path, tiny_model_file, capsys):
    data = tmp_path / "data"
    for folder in ("images", "masks"):
        (data / folder).mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(3):
        cv2.imwrite(str(data / "images" / f"good{i}.png"), rng.integers(0, 255, (64, 64), dtype=np.uint8))
        cv2.imwrite(str(data / "masks" / f"good{i}.png"), (rng.random((64, 64)) > 0.5).astype(np.uint8) * 255)
    broken = broken_files()
    (data / "images" / "giant.bmp").write_bytes(broken["giant_bmp.bmp"])
    cv2.imwrite(str(data / "masks" / "giant.png"), np.zeros((64, 64), np.uint8))
    cv2.imwrite(str(data / "images" / "bad_mask.png"), np.zeros((64, 64), np.uint8))
    (data / "masks" / "bad_mask.bmp").write_bytes(broken["too_wide_bmp.bmp"])

    code = run_cli(["evaluate", str(tiny_model_file), str(data), "--report", str(tmp_path / "report"),
                    *PREDICT_TINY])
    err = capsys.readouterr().err
    assert code == 1 and "giant.bmp: the header claims" in err and "bad_mask.bmp: the header claims" in err
    code = run_cli(["train", str(data), "--out", str(tmp_path / "m.safetensors"), "--epochs", "1",
                    "--arch", "unet_classic", "--option", "base_channels=4", "--patch-size", "64",
                    "--batch-size", "2", "--patches-per-epoch", "4", "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 1 and (tmp_path / "m.safetensors").is_file()
    skipped = [line for line in err.splitlines() if line.startswith("skipped:")]
    assert len(skipped) == 2 and "giant.bmp" in skipped[0] + skipped[1] and "bad_mask.bmp" in skipped[0] + skipped[1]


# NaN and infinite pixels -------------------------------------------------------------------------

def plateau_image() -> np.ndarray:
    """float32 structures between two plateaus (0.2 and 0.8, a fifth of the pixels each), so the 1st and
    99th percentiles stay 0.2 and 0.8 whatever a few hundred pixels hold."""
    rng = np.random.default_rng(3)
    coarse = rng.random((30, 36))
    return np.clip(np.kron(coarse, np.ones((4, 4))), 0.2, 0.8).astype(np.float32)


def nan_corner(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The image with 300 NaN / +Inf / -Inf pixels in its top-left corner, and where they are."""
    corner = np.zeros(image.shape, bool)
    corner[:15, :20] = True
    spoiled = image.copy()
    spoiled[:15, :20] = np.nan
    spoiled[:5, :20] = np.inf
    spoiled[5:7, :20] = -np.inf
    return spoiled, corner


def test_nan_pixels_are_unlabeled_and_change_no_other_pixel(tiny_model_file):
    predictor = Predictor.from_file(tiny_model_file, TORCH_CPU)
    image = plateau_image()
    spoiled, corner = nan_corner(image)
    neutral = image.copy()
    neutral[corner] = 0.2  # the low level: what the network is shown instead
    np.testing.assert_array_equal(percentile_levels(spoiled, 1, 99), percentile_levels(neutral, 1, 99))
    reference = predictor.predict(neutral)
    assert len(np.unique(reference[:40, :50])) == 2, "the model must predict both classes near the corner"
    mask = predictor.predict(spoiled)
    assert (mask[corner] == IGNORE_INDEX).all()
    np.testing.assert_array_equal(mask[~corner], reference[~corner])


def test_cli_names_images_with_nan_pixels_and_refuses_an_all_nan_image(tmp_path, tiny_model_file, capsys):
    spoiled, _ = nan_corner(plateau_image())
    tifffile.imwrite(tmp_path / "corner.tif", spoiled)
    tifffile.imwrite(tmp_path / "all_nan.tif", np.full((40, 50), np.nan, np.float32))
    code = run_cli(["predict", str(tiny_model_file), str(tmp_path), str(tmp_path / "out"), *PREDICT_TINY])
    err = capsys.readouterr().err
    assert code == 1
    assert "warning: " in err and "corner.tif: 300 pixels are NaN or infinite" in err
    assert "all_nan.tif: every pixel is NaN or infinite" in err
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["corner.png"]
    assert (np.asarray(Image.open(tmp_path / "out" / "corner.png"))[:15, :20] == IGNORE_INDEX).all()


def test_training_patches_of_an_image_with_nan_pixels_are_finite_and_those_pixels_unlabeled():
    spoiled, corner = nan_corner(plateau_image())
    sample = LoadedSample.create("corner", spoiled, np.ones(spoiled.shape, np.uint8), Normalisation())
    assert (sample.mask[corner] == IGNORE_INDEX).all() and (sample.mask[~corner] == 1).all()
    patches = PatchDataset([sample], 32, AugmentConfig(), length=12)
    for item in range(len(patches)):
        image, _ = patches[item]
        assert torch.isfinite(image).all()


def test_evaluate_leaves_nan_pixels_out_of_the_scores_and_names_the_image(tmp_path, tiny_model_file, capsys):
    spoiled, corner = nan_corner(plateau_image())
    for folder in ("images", "masks"):
        (tmp_path / folder).mkdir()
    tifffile.imwrite(tmp_path / "images" / "corner.tif", spoiled)
    cv2.imwrite(str(tmp_path / "masks" / "corner.png"), (plateau_image() > 0.5).astype(np.uint8) * 255)
    code = run_cli(["evaluate", str(tiny_model_file), str(tmp_path), "--report", str(tmp_path / "report"),
                    *PREDICT_TINY])
    assert code == 0
    assert "corner.tif: 300 pixels are NaN or infinite" in capsys.readouterr().err
    matrix = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert sum(map(sum, matrix["images"][0]["confusion_matrix"])) == corner.size - 300
