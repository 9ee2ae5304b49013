"""Small images of one size share network calls: the same masks as one by one, fewer and fuller batches."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from core.errors import ConfigError
from core.inference import PredictOptions, Predictor, predict_folder
from core.inference.uncertainty_files import map_path_for_mask, read_map
from core.io.images import read_image
from core.io.masks import read_mask
from tests.core.test_inference import smooth_image, tiny_model, torch_options


def count_batches(predictor: Predictor, monkeypatch) -> list[int]:
    """The number of tiles of every network call the predictor makes from now on."""
    batches: list[int] = []
    runner = predictor._runner

    def counting(inputs: np.ndarray) -> np.ndarray:
        batches.append(len(inputs))
        return runner(inputs)

    monkeypatch.setattr(predictor, "_runner", counting)
    return batches


def varied_images(height: int, width: int) -> list[np.ndarray]:
    """Images of one size whose normalisation levels differ, one of them with NaN pixels."""
    images = [smooth_image(height, width, seed=seed) for seed in range(4)]
    images[1] = images[1] // 3  # dim: its own levels stretch it again
    with_nan = images[2].astype(np.float32)
    with_nan[10:20, 5:9] = np.nan
    images[2] = with_nan
    return images


@pytest.mark.parametrize("uncertainty", [False, True])
def test_grouped_prediction_equals_one_by_one_bit_for_bit(uncertainty, monkeypatch):
    images = varied_images(64, 100)  # two 64-pixel tiles each: alone a batch of 2, two images fill one of 4
    model, spec = tiny_model(images[0])
    predictor = Predictor(model, spec, torch_options(tile_size=64, overlap=16, batch_size=4))
    assert predictor.group_size(64, 100) == 2
    alone = [predictor.predict_uncertain(image) if uncertainty else (predictor.predict_mask(image), None)
             for image in images]
    batches = count_batches(predictor, monkeypatch)
    progress = []
    grouped = predictor.predict_group(images, lambda *a: progress.append(a), uncertainty=uncertainty)
    assert batches == [4, 4] and progress == [(4, 8), (8, 8)]
    for (mask, uncertain), (single_mask, single_uncertain) in zip(grouped, alone, strict=True):
        assert len(np.unique(mask)) >= 3
        np.testing.assert_array_equal(mask, single_mask)
        if uncertainty:
            assert uncertain.dtype == np.float32 and uncertain.tobytes() == single_uncertain.tobytes()
        else:
            assert uncertain is None
    assert (grouped[2][0][10:20, 5:9] == 255).all()  # NaN pixels unlabeled in their own image only
    assert (grouped[3][0][10:20, 5:9] != 255).all()
    if uncertainty:
        assert np.isnan(grouped[2][1][10:20, 5:9]).all() and not np.isnan(grouped[3][1]).any()


def test_images_of_different_sizes_are_refused_as_a_group():
    model, spec = tiny_model(smooth_image(64, 64))
    predictor = Predictor(model, spec, torch_options(tile_size=64, overlap=16))
    with pytest.raises(ConfigError, match=r"one height and width.*one by one"):
        predictor.predict_group([smooth_image(64, 64), smooth_image(64, 60)])


def test_large_images_are_not_grouped():
    model, spec = tiny_model(smooth_image(64, 64))
    predictor = Predictor(model, spec, PredictOptions(backend="torch", precision="exact"))
    assert predictor.group_size(512, 512) == 4
    assert predictor.group_size(512, 900) == 2
    assert predictor.group_size(1024, 1024) == 1  # 9 tiles: streamed band by band


def test_a_folder_of_equal_small_images_fills_every_batch(tmp_path, monkeypatch):
    """Default options: twelve 512 x 512 images went through in twelve calls of one tile; now three of four."""
    for index in range(12):
        Image.fromarray(smooth_image(512, 512, seed=index)).save(tmp_path / f"isbi_{index:02}.png")
    model, spec = tiny_model(smooth_image(512, 512))
    predictor = Predictor(model, spec, PredictOptions(backend="torch", precision="exact"))
    batches = count_batches(predictor, monkeypatch)
    result = predict_folder(predictor, tmp_path, tmp_path / "masks")
    assert batches == [4, 4, 4]
    assert [p.name for p in result.written] == [f"isbi_{index:02}.png" for index in range(12)]


def write_mixed_folder(folder) -> None:
    """70 x 90 images, a truncated PNG among them, one of another size, and float images with NaN pixels."""
    folder.mkdir()
    for index in (0, 1, 2, 4, 6):
        Image.fromarray(smooth_image(70, 90, seed=index)).save(folder / f"img_{index}.png")
    (folder / "img_3_corrupt.png").write_bytes((folder / "img_0.png").read_bytes()[:100])
    Image.fromarray(smooth_image(100, 60, seed=5)).save(folder / "img_5_other_size.png")
    tifffile.imwrite(folder / "img_7_all_nan.tif", np.full((70, 90), np.nan, np.float32))
    partly = smooth_image(70, 90, seed=8).astype(np.float32)
    partly[:5] = np.nan
    tifffile.imwrite(folder / "img_8_nan_rows.tif", partly)


def test_a_mixed_folder_writes_every_mask_and_names_the_files_it_could_not_read(tmp_path, monkeypatch):
    source = tmp_path / "images"
    write_mixed_folder(source)
    model, spec = tiny_model(smooth_image(70, 90))
    predictor = Predictor(model, spec, torch_options(tile_size=128, overlap=16, batch_size=4))
    batches = count_batches(predictor, monkeypatch)
    progress, results = [], []
    result = predict_folder(predictor, source, tmp_path / "masks", uncertainty=True,
                            progress=lambda *a: progress.append(a),
                            on_result=lambda image, mask: results.append(image.name))
    expected = ["img_0", "img_1", "img_2", "img_4", "img_5_other_size", "img_6", "img_8_nan_rows"]
    assert [p.stem for p in result.written] == expected  # input order
    assert sorted(name.rsplit(".", 1)[0] for name in results) == expected
    assert [path.name for path, _ in result.failures] == ["img_3_corrupt.png", "img_7_all_nan.tif"]
    assert "img_3_corrupt.png" in result.failures[0][1] and "NaN" in result.failures[1][1]
    assert [(path.name, "NaN" in note) for path, note in result.warnings] == [("img_8_nan_rows.tif", True)]
    assert [done for done, _, _ in progress] == list(range(1, 10)) and progress[-1] == (9, 9, 0.0)
    # 0, 1, 2, 4 together (the corrupt file in between is skipped); 5 alone (another size); 6 alone (the next
    # image is float); 7 and 8 together failed on 7, so each alone: 7 fails before the network, 8 runs
    assert batches == [4, 1, 1, 1]
    for mask_path in result.written:
        image_path = next(source.glob(f"{mask_path.stem}.*"))
        mask, uncertainty = predictor.predict_uncertain(read_image(image_path))
        np.testing.assert_array_equal(read_mask(mask_path), mask)
        # alone, a one-tile image is a batch of one, which PyTorch's CPU convolution rounds differently
        np.testing.assert_allclose(read_map(map_path_for_mask(mask_path)), uncertainty, rtol=0, atol=1e-6)
    assert (read_mask(tmp_path / "masks" / "img_8_nan_rows.png")[:5] == 255).all()


def test_cancel_during_a_group_keeps_the_masks_already_predicted(tmp_path, monkeypatch):
    for index in range(8):
        Image.fromarray(smooth_image(70, 90, seed=index)).save(tmp_path / f"img_{index}.png")
    model, spec = tiny_model(smooth_image(70, 90))
    predictor = Predictor(model, spec, torch_options(tile_size=128, overlap=16, batch_size=4))
    batches = count_batches(predictor, monkeypatch)
    progress = []
    result = predict_folder(predictor, tmp_path, tmp_path / "masks", progress=lambda *a: progress.append(a),
                            cancel=lambda: len(progress) >= 1)
    assert result.cancelled and batches == [4]
    assert [p.name for p in result.written] == [f"img_{index}.png" for index in range(4)]
    assert sorted((tmp_path / "masks").iterdir()) == result.written
    for mask_path in result.written:
        np.testing.assert_array_equal(read_mask(mask_path),
                                      predictor.predict_mask(read_image(tmp_path / mask_path.name)))


def test_masks_are_reported_while_the_next_group_is_read(tmp_path, monkeypatch):
    """The window shows each mask once it is written, not only after the next group's network call."""
    import time

    import core.inference.folder as folder_run

    for index in range(8):
        Image.fromarray(smooth_image(70, 90, seed=index)).save(tmp_path / f"img_{index}.png")
    model, spec = tiny_model(smooth_image(70, 90))
    predictor = Predictor(model, spec, torch_options(tile_size=128, overlap=16, batch_size=4))
    events = []
    runner = predictor._runner
    monkeypatch.setattr(predictor, "_runner", lambda inputs: (events.append("network"), runner(inputs))[1])
    slow_read = folder_run.read_image
    monkeypatch.setattr(folder_run, "read_image", lambda item: (time.sleep(0.2), slow_read(item))[1])
    predict_folder(predictor, tmp_path, tmp_path / "masks", on_result=lambda image, _: events.append(image.stem))
    assert events[:6] == ["network", "img_0", "img_1", "img_2", "img_3", "network"]
    assert sorted(events[6:]) == ["img_4", "img_5", "img_6", "img_7"]
