"""Tiled prediction, blending, normalisation over the whole image, progress/cancel, folder runs, ONNX."""

from __future__ import annotations

import logging
import tracemalloc
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from core.classes import ClassTable
from core.errors import Cancelled
from core.inference import PredictOptions, Predictor, predict_folder
from core.io.images import Normalisation, read_image
from core.models.model_file import save_model_file
from core.models.registry import build_from_spec
from core.models.spec import ModelSpec


def smooth_image(height: int, width: int, seed: int = 0, dtype=np.uint8) -> np.ndarray:
    """Blurred noise: structures a few pixels wide, so predictions vary across the image."""
    rng = np.random.default_rng(seed)
    noise = rng.random((height // 4 + 2, width // 4 + 2))
    image = np.kron(noise, np.ones((4, 4)))[:height, :width]
    top = np.iinfo(dtype).max
    return (image * top).astype(dtype)


class TinyNet(nn.Module):
    """Conv + BatchNorm at two scales: a small receptive field, and real BatchNorm statistics in eval mode."""

    def __init__(self, in_channels: int = 1, out_channels: int = 3):
        super().__init__()
        self.full = nn.Sequential(nn.Conv2d(in_channels, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.coarse = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                  nn.Upsample(scale_factor=2))
        self.head = nn.Conv2d(16, out_channels, 1)

    def forward(self, x):
        full = self.full(x)
        return self.head(torch.cat([full, self.coarse(full)], dim=1))


def tiny_model(calibration: np.ndarray, out_channels: int = 3) -> tuple[nn.Module, ModelSpec]:
    """A TinyNet with non-trivial BatchNorm statistics whose classes all occur on `calibration`."""
    torch.manual_seed(0)
    model = TinyNet(1, out_channels).eval()
    spec = ModelSpec("tiny", 1, ClassTable.default(max(out_channels, 2)), out_channels)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
        model.head.weight *= 20
        logits = model(torch.from_numpy(spec.normalisation.apply(calibration))[None])
        model.head.bias -= logits.mean(dim=(0, 2, 3))
    return model, spec


def pointwise_model(weights: list[float], biases: list[float], in_channels: int = 1) -> nn.Module:
    """1x1 convolution: every output pixel depends on its own input pixel only."""
    model = nn.Conv2d(in_channels, len(weights), 1)
    with torch.no_grad():
        model.weight.copy_(torch.tensor(weights, dtype=torch.float32).view(-1, 1, 1, 1).repeat(1, in_channels, 1, 1))
        model.bias.copy_(torch.tensor(biases, dtype=torch.float32))
    return model.eval()


def torch_options(**changes) -> PredictOptions:
    return PredictOptions(**{"backend": "torch", "precision": "exact", **changes})


# tiling and blending -----------------------------------------------------------------------------

def test_tiled_prediction_agrees_with_whole_image_prediction():
    image = smooth_image(320, 448)
    model, spec = tiny_model(image)
    whole = Predictor(model, spec, torch_options(tile_size=512, return_probabilities=True))
    tiled = Predictor(model, spec, torch_options(tile_size=128, overlap=32, batch_size=3,
                                                 return_probabilities=True))
    whole_mask, whole_probabilities = whole.predict(image)
    tiled_mask, tiled_probabilities = tiled.predict(image)
    assert len(np.unique(whole_mask)) == 3
    assert (tiled_mask == whole_mask).mean() > 0.999
    assert np.abs(tiled_probabilities - whole_probabilities).max() < 0.01
    np.testing.assert_allclose(tiled_probabilities.sum(axis=0), 1.0, atol=1e-5)


@pytest.mark.parametrize("shape, tiles", [((100, 77), 4), ((45, 30), 1), ((45, 200), 4)])
def test_tiles_land_exactly_where_they_belong(shape, tiles):
    """With a pointwise model, any misplaced, mis-cropped or mis-padded tile would change pixels."""
    image = smooth_image(*shape, seed=3)
    spec = ModelSpec("pointwise", 1, ClassTable.default(3), 3)
    model = pointwise_model([-10.0, 0.0, 10.0], [3.0, 0.0, -7.0])
    calls = []
    predictor = Predictor(model, spec, torch_options(tile_size=64, overlap=16, batch_size=4,
                                                     return_probabilities=True))
    mask, probabilities = predictor.predict(image, progress=lambda done, total: calls.append((done, total)))
    with torch.no_grad():
        logits = model(torch.from_numpy(spec.normalisation.apply(image))[None])
    expected = torch.softmax(logits, dim=1)[0].numpy()
    assert mask.shape == shape and mask.dtype == np.uint8
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    np.testing.assert_array_equal(mask, expected.argmax(axis=0))
    assert calls[-1] == (tiles, tiles)


def test_one_channel_sigmoid_model_gives_classes_zero_and_one():
    image = smooth_image(96, 130)
    spec = ModelSpec("pointwise", 1, ClassTable.default(2), 1)
    predictor = Predictor(pointwise_model([20.0], [-10.0]), spec, torch_options(tile_size=64, overlap=16,
                                                                                return_probabilities=True))
    mask, probabilities = predictor.predict(image)
    assert set(np.unique(mask).tolist()) == {0, 1}
    assert probabilities.shape == (2, 96, 130)
    np.testing.assert_array_equal(mask, spec.normalisation.apply(image)[0] > 0.5)


def test_uint16_image_is_normalised_by_percentiles_of_the_whole_image():
    """Left half dim, right half bright. Per-tile stretching would split every all-dim tile in two."""
    rng = np.random.default_rng(1)
    image = np.empty((128, 256), dtype=np.uint16)
    image[:, :128] = rng.integers(1000, 3000, (128, 128))
    image[:, 128:] = rng.integers(40000, 60000, (128, 128))
    spec = ModelSpec("pointwise", 1, ClassTable.default(2), 1, normalisation=Normalisation("percentile", 1, 99))
    predictor = Predictor(pointwise_model([20.0], [-10.0]), spec, torch_options(tile_size=64, overlap=16))
    mask = predictor.predict(image)
    expected = np.zeros(image.shape, dtype=np.uint8)
    expected[:, 128:] = 1
    np.testing.assert_array_equal(mask, expected)


def test_tta_keeps_shape_and_equals_plain_prediction_for_a_flip_invariant_model():
    image = smooth_image(90, 70)
    spec = ModelSpec("pointwise", 1, ClassTable.default(3), 3)
    model = pointwise_model([-10.0, 0.0, 10.0], [3.0, 0.0, -7.0])
    plain = Predictor(model, spec, torch_options(tile_size=64, overlap=16, return_probabilities=True))
    flipped = Predictor(model, spec, torch_options(tile_size=64, overlap=16, tta=True, return_probabilities=True))
    plain_mask, plain_probabilities = plain.predict(image)
    tta_mask, tta_probabilities = flipped.predict(image)
    assert tta_mask.shape == image.shape
    np.testing.assert_allclose(tta_probabilities, plain_probabilities, atol=1e-5)
    tiny, tiny_spec = tiny_model(image)
    assert Predictor(tiny, tiny_spec, torch_options(tile_size=64, overlap=16, tta=True)).predict(image).shape == image.shape


def test_channels_are_matched_to_the_model():
    gray = smooth_image(40, 50)
    rgb = np.stack([gray, gray, gray], axis=2)
    one = Predictor(pointwise_model([20.0], [-10.0]), ModelSpec("p", 1, ClassTable.default(2), 1), torch_options())
    three = Predictor(pointwise_model([20.0], [-10.0], in_channels=3), ModelSpec("p", 3, ClassTable.default(2), 1),
                      torch_options())
    np.testing.assert_array_equal(one.predict(rgb), one.predict(gray))
    np.testing.assert_array_equal(three.predict(gray), three.predict(rgb))


def test_memory_holds_a_band_of_rows_not_a_full_probability_map():
    image = smooth_image(3000, 128)
    model, spec = tiny_model(image)
    spec = replace(spec, normalisation=Normalisation("dtype_range"))  # no histogram: measure the tiling alone
    predictor = Predictor(model, spec, torch_options(tile_size=64, overlap=16))
    full_map_bytes = spec.out_channels * image.size * 4
    tracemalloc.start()
    try:
        mask = predictor.predict(image)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert mask.shape == image.shape
    assert peak < full_map_bytes / 3, f"peak {peak / 1e6:.1f} MB, a full probability map is {full_map_bytes / 1e6:.1f} MB"


def test_progress_reaches_total_and_cancel_stops_between_batches():
    image = smooth_image(200, 200)
    model, spec = tiny_model(image)
    predictor = Predictor(model, spec, torch_options(tile_size=64, overlap=16, batch_size=2))
    calls = []
    predictor.predict(image, progress=lambda done, total: calls.append((done, total)))
    total = calls[-1][1]
    assert calls[-1] == (total, total) and total == 16
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    calls.clear()
    with pytest.raises(Cancelled):
        predictor.predict(image, progress=lambda done, total: calls.append(done), cancel=lambda: len(calls) >= 2)
    assert calls == [2, 4]


# folder prediction -------------------------------------------------------------------------------

def write_images(folder, count: int) -> list:
    paths = []
    for i in range(count):
        path = folder / f"image_{i}.png"
        Image.fromarray(smooth_image(70, 90, seed=i)).save(path)
        paths.append(path)
    return paths


def test_predict_folder_writes_paletted_masks_and_skips_unreadable_files(tmp_path):
    source, output = tmp_path / "images", tmp_path / "masks"
    source.mkdir()
    images = write_images(source, 3)
    (source / "broken.png").write_bytes(images[0].read_bytes()[:120])
    (source / "notes.png").write_text("not an image")
    (source / "readme.txt").write_text("ignored: not an image extension")
    model, spec = tiny_model(smooth_image(70, 90))
    predictor = Predictor(model, spec, torch_options(tile_size=64, overlap=16))
    progress, results = [], []
    result = predict_folder(predictor, source, output, progress=lambda *a: progress.append(a),
                            on_result=lambda image, mask: results.append((image.name, mask.name)))
    assert [p.name for p in result.written] == ["image_0.png", "image_1.png", "image_2.png"]
    assert sorted(p.name for p, _ in result.failures) == ["broken.png", "notes.png"]
    assert all(path.name in message for path, message in result.failures)
    assert not result.cancelled and result.images_per_s > 0
    assert progress[-1] == (5, 5, 0.0)
    assert sorted(results) == [(f"image_{i}.png", f"image_{i}.png") for i in range(3)]
    for image_path, mask_path in zip(images, result.written, strict=True):
        with Image.open(mask_path) as saved:
            assert saved.mode == "P"
            palette = np.array(saved.getpalette()[:9], dtype=np.uint8).reshape(3, 3)
            values = np.asarray(saved)
        np.testing.assert_array_equal(palette, spec.classes.colours_array())
        np.testing.assert_array_equal(values, predictor.predict(read_image(image_path)))


def test_predict_folder_cancel_keeps_written_masks(tmp_path):
    images = write_images(tmp_path, 4)
    model, spec = tiny_model(smooth_image(70, 90))
    predictor = Predictor(model, spec, torch_options(tile_size=64, overlap=16))
    done = []
    result = predict_folder(predictor, images, tmp_path / "out", progress=lambda *a: done.append(a),
                            cancel=lambda: len(done) >= 1)
    assert result.cancelled
    assert [p.name for p in result.written] == ["image_0.png"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["image_0.png"]
    assert np.asarray(Image.open(result.written[0])).shape == (70, 90)


def test_predict_folder_reports_progress_within_large_images(tmp_path):
    images = write_images(tmp_path, 2)
    model, spec = tiny_model(smooth_image(70, 90))
    predictor = Predictor(model, spec, torch_options(tile_size=32, overlap=8, batch_size=2))  # 12 tiles an image
    progress = []
    result = predict_folder(predictor, images, tmp_path / "out", progress=lambda *a: progress.append(a),
                            within_images=True)
    assert len(result.written) == 2
    done = [d for d, _, _ in progress]
    assert done == sorted(done) and done[-1] == 2 and 1 in done
    assert [d for d in done if 0 < d < 1] == pytest.approx([1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6])
    assert all(total == 2 and left > 0 for d, total, left in progress if d < 2)
    whole = []
    predict_folder(predictor, images, tmp_path / "again", progress=lambda *a: whole.append(a))
    assert [d for d, _, _ in whole] == [1, 2]  # without within_images: once per image


def test_predict_folder_never_overwrites_an_image_or_another_mask(tmp_path):
    images = write_images(tmp_path, 1)
    Image.fromarray(smooth_image(70, 90)).save(tmp_path / "image_0.tif")
    model, spec = tiny_model(smooth_image(70, 90))
    predictor = Predictor(model, spec, torch_options(tile_size=64, overlap=16))
    before = images[0].read_bytes()
    result = predict_folder(predictor, [images[0], tmp_path / "image_0.tif"], tmp_path)
    assert result.written == [] and len(result.failures) == 2
    assert images[0].read_bytes() == before
    elsewhere = predict_folder(predictor, [images[0], tmp_path / "image_0.tif"], tmp_path / "masks")
    assert [p.name for p in elsewhere.written] == ["image_0.png"]
    assert [(p.name, "same name stem" in message) for p, message in elsewhere.failures] == [("image_0.tif", True)]


def test_predict_folder_from_a_model_file(tmp_path):
    """A registered architecture saved as a SegLab model file and loaded by path."""
    torch.manual_seed(0)
    spec = ModelSpec("unet_classic", 1, ClassTable.default(2), 2, options={"base_channels": 4})
    model_path = save_model_file(tmp_path / "model", build_from_spec(spec), spec)
    images = write_images(tmp_path, 2)
    options = torch_options(tile_size=64, overlap=16)
    result = predict_folder(model_path, images, tmp_path / "masks", options)
    assert [p.name for p in result.written] == ["image_0.png", "image_1.png"] and not result.failures
    predictor = Predictor.from_file(model_path, options)
    assert predictor.size_multiple == 16
    for image_path, mask_path in zip(images, result.written, strict=True):
        np.testing.assert_array_equal(np.asarray(Image.open(mask_path)), predictor.predict(read_image(image_path)))


# ONNX backend ------------------------------------------------------------------------------------

def test_onnx_backend_matches_torch_and_is_cached(tmp_path):
    image = smooth_image(150, 170)
    model, spec = tiny_model(image)
    options = dict(tile_size=64, overlap=16, return_probabilities=True, onnx_cache_dir=str(tmp_path),
                   precision="exact")
    onnx = Predictor(model, spec, PredictOptions(backend="onnx", **options))
    assert onnx.backend == "onnx-fp32", onnx.backend_reason
    onnx_mask, onnx_probabilities = onnx.predict(image)
    torch_mask, torch_probabilities = Predictor(model, spec, torch_options(**options)).predict(image)
    np.testing.assert_allclose(onnx_probabilities, torch_probabilities, atol=1e-4)
    assert (onnx_mask == torch_mask).mean() > 0.9999
    cached = list(tmp_path.glob("*.onnx"))
    assert len(cached) == 1
    stamp = cached[0].stat().st_mtime_ns
    assert Predictor(model, spec, PredictOptions(backend="onnx", **options)).backend == "onnx-fp32"
    assert cached[0].stat().st_mtime_ns == stamp
    cached[0].write_bytes(b"damaged")
    again = Predictor(model, spec, PredictOptions(backend="onnx", **options))
    assert again.backend == "onnx-fp32"
    np.testing.assert_allclose(again.predict(image)[1], torch_probabilities, atol=1e-4)


class ShapeBakingNet(nn.Module):
    """Its output depends on the input width through Python control flow, which tracing freezes."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding=1)

    def forward(self, x):
        return self.conv(x) if x.shape[-1] > 100 else -self.conv(x)


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")  # the frozen branch is what this test is about
def test_onnx_backend_falls_back_to_torch_when_outputs_disagree(tmp_path, caplog):
    spec = ModelSpec("shape_baking", 1, ClassTable.default(2), 2)
    with caplog.at_level(logging.WARNING, logger="core.inference"):
        predictor = Predictor(ShapeBakingNet().eval(), spec,
                              PredictOptions(backend="onnx", precision="exact", onnx_cache_dir=str(tmp_path)))
    assert predictor.backend == "torch-fp32"
    assert predictor.backend_reason.startswith("PyTorch 32-bit on CPU")
    assert "differs from torch" in predictor.backend_reason
    assert any("differs from torch" in record.message for record in caplog.records)
    assert list(tmp_path.iterdir()) == []  # a model that failed the check is not cached
    assert predictor.predict(smooth_image(40, 40)).shape == (40, 40)


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")
def test_onnx_export_of_an_unfusable_batchnorm_network_keeps_it_in_eval_mode(tmp_path):
    """unet_classic cannot be traced by torch.fx, so its BatchNorm stays; the export must not leave it
    training (which once made every check fail and sent prediction back to torch)."""
    from core.classes import ClassTable
    from core.models.registry import create_model

    model = create_model("unet_classic", in_channels=1, out_channels=2, options={"base_channels": 8}).eval()
    spec = ModelSpec(architecture="unet_classic", in_channels=1, classes=ClassTable.default(2), out_channels=2,
                     options={"base_channels": 8, "bilinear": True})
    image = smooth_image(96, 128)
    options = dict(tile_size=64, overlap=16, return_probabilities=True, onnx_cache_dir=str(tmp_path),
                   precision="exact")
    onnx = Predictor(model, spec, PredictOptions(backend="onnx", **options))
    assert onnx.backend == "onnx-fp32", onnx.backend_reason
    torch_probabilities = Predictor(model, spec, torch_options(**options)).predict(image)[1]
    np.testing.assert_allclose(onnx.predict(image)[1], torch_probabilities, atol=1e-4)
    assert not model.training


def test_the_8_bit_model_is_used_only_when_its_masks_agree(tmp_path, monkeypatch):
    """On the starter model, with 8-bit timed fastest: an 8-bit copy calibrated on the images to segment, used
    when its masks agree with 32-bit; refused (and its file removed) when the rule cannot be met."""
    import core.inference.path_choice as path_choice
    from core.resources import resource_path

    monkeypatch.setattr(path_choice, "read_timings", lambda key: {"onnx-int8": 0.001, "onnx-fp32": 1.0})
    monkeypatch.setattr(path_choice, "MIN_AGREEMENT", 0.99)  # this model's 8-bit copy reaches 99.8%, not 99.9%
    images = [read_image(p) for p in sorted(resource_path("sample", "images").iterdir())[:2]]
    options = dict(backend="onnx", onnx_cache_dir=str(tmp_path))
    model_file = resource_path("starter_model.safetensors")
    exact = Predictor.from_file(model_file, PredictOptions(precision="exact", **options))
    fast = Predictor.from_file(model_file, PredictOptions(**options))
    assert fast.needs_calibration and not exact.needs_calibration
    fast.calibrate(images)
    assert fast.backend == "onnx-int8" and "masks agree with 32-bit on" in fast.backend_reason, fast.backend_reason
    assert (fast.predict(images[1]) == exact.predict(images[1])).mean() > 0.99
    assert list(tmp_path.glob("*.int8.onnx"))

    monkeypatch.setattr(path_choice, "MIN_AGREEMENT", 1.01)  # nothing can pass: 32-bit stays
    strict = Predictor.from_file(model_file, PredictOptions(**options))
    strict.calibrate(images)
    assert strict.backend == "onnx-fp32" and "ONNX Runtime 8-bit refused" in strict.backend_reason
    assert np.array_equal(strict.predict(images[0]), exact.predict(images[0]))
    assert not list(tmp_path.glob("*.int8.onnx"))  # a refused 8-bit model is not kept


def test_folder_prediction_checks_reduced_precision_on_its_own_images(tmp_path, monkeypatch):
    import core.inference.path_choice as path_choice
    from core.resources import resource_path

    monkeypatch.setattr(path_choice, "read_timings", lambda key: {"onnx-int8": 0.001, "onnx-fp32": 1.0})
    monkeypatch.setattr(path_choice, "MIN_AGREEMENT", 0.99)
    predictor = Predictor.from_file(resource_path("starter_model.safetensors"),
                                    PredictOptions(backend="onnx", onnx_cache_dir=str(tmp_path)))
    sources = sorted(resource_path("sample", "images").iterdir())[:3]
    result = predict_folder(predictor, sources, tmp_path / "out")
    assert len(result.written) == 3 and predictor.backend == "onnx-int8"
    assert "masks agree with 32-bit on" in predictor.backend_reason
