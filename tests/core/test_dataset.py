"""Training samples: deterministic splits and patches, padding labeled as ignore, augmentation that moves
image and mask alike, foreground-centred sampling, and validation tiles that cover every pixel once."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from core.classes import IGNORE_INDEX
from core.data.augment import AugmentConfig, augment_pair
from core.data.dataset import LoadedSample, PatchDataset, ValidationTiles, crop_padded
from core.data.split import split_names
from core.errors import ConfigError
from core.io.images import Normalisation

RAW = Normalisation("dtype_range")  # x / 255: easy numbers to check
GEOMETRY_ONLY = AugmentConfig(flips=True, rotate90=True, scale=0.3, brightness=0.0, contrast=0.0)


def smooth_image(size: int, seed: int = 0) -> np.ndarray:
    """uint8 blobs: smooth enough that thresholding gives regions, not salt and pepper."""
    noise = np.random.default_rng(seed).random((size, size)).astype(np.float32)
    blurred = cv2.GaussianBlur(noise, (0, 0), size / 16)
    blurred = (blurred - blurred.min()) / (blurred.max() - blurred.min())
    return (blurred * 255).astype(np.uint8)


def sample(name: str, image: np.ndarray, mask: np.ndarray, normalisation: Normalisation = RAW) -> LoadedSample:
    return LoadedSample.create(name, image, mask, normalisation)


# split -------------------------------------------------------------------------------------------

def test_split_is_deterministic_by_seed_and_independent_of_order():
    names = [f"img{i}" for i in range(20)]
    train, val = split_names(names, 0.2, seed=3)
    assert len(val) == 4 and len(train) == 16 and set(train) | set(val) == set(names)
    assert split_names(names, 0.2, seed=3) == (train, val)
    assert set(split_names(list(reversed(names)), 0.2, seed=3)[1]) == set(val)
    assert any(set(split_names(names, 0.2, seed=s)[1]) != set(val) for s in range(4, 8))
    assert train == [n for n in names if n in train], "input order is kept"


def test_split_edge_cases():
    assert split_names(["a", "b", "c"], 0.0) == (["a", "b", "c"], [])
    train, val = split_names(["a", "b"], 0.01)
    assert len(train) == 1 and len(val) == 1, "a positive fraction gives at least one validation image"
    train, val = split_names(["a", "b", "c"], 0.9)
    assert len(train) >= 1
    assert split_names(["only"], 0.5) == (["only"], [])
    with pytest.raises(ConfigError, match="between 0 and 1"):
        split_names(["a", "b"], 1.0)


def test_explicit_validation_names_win_and_unknown_ones_are_named():
    names = ["3", "17", "1", "2"]
    assert split_names(names, 0.5, seed=1, val_names=("17", "3")) == (["1", "2"], ["3", "17"])
    with pytest.raises(ConfigError, match="nope"):
        split_names(names, val_names=("3", "nope"))


# patches -----------------------------------------------------------------------------------------

def _dataset(samples, patch=32, augment=GEOMETRY_ONLY, length=8, seed=0) -> PatchDataset:
    return PatchDataset(samples, patch, augment, length, seed)


def test_patch_shapes_and_types():
    rgb = np.dstack([smooth_image(48, s) for s in range(3)])
    data = _dataset([sample("a", rgb, (rgb[:, :, 0] > 127).astype(np.uint8))])
    image, mask = data[0]
    assert image.shape == (3, 32, 32) and image.dtype == torch.float32
    assert mask.shape == (32, 32) and mask.dtype == torch.int64
    assert len(data) == 8
    with pytest.raises(ConfigError, match="no labeled images"):
        _dataset([])


def test_same_seed_epoch_and_item_give_the_same_patch():
    image = smooth_image(96)
    samples = [sample("a", image, (image > 127).astype(np.uint8))]
    first, second = _dataset(samples, seed=5), _dataset(samples, seed=5)
    for item in range(4):
        a, b = first[item], second[item]
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    first.set_epoch(1)
    assert not torch.equal(first[0][0], second[0][0]), "a new epoch draws new patches"
    second.set_epoch(1)
    assert torch.equal(first[0][0], second[0][0])
    assert not torch.equal(_dataset(samples, seed=6)[0][0], _dataset(samples, seed=5)[0][0])


def test_small_image_is_padded_with_ignore_in_the_mask():
    image = smooth_image(20)
    mask = np.zeros((20, 20), np.uint8)  # no foreground: the patch starts at the top-left corner
    patch_image, patch_mask = _dataset([sample("s", image, mask)], augment=AugmentConfig.none())[0]
    patch_mask = patch_mask.numpy()
    assert (patch_mask[:20, :20] == 0).all()
    assert (patch_mask[20:, :] == IGNORE_INDEX).all() and (patch_mask[:, 20:] == IGNORE_INDEX).all()
    np.testing.assert_allclose(patch_image[0, :20, :20].numpy(), image / 255, rtol=1e-6)
    np.testing.assert_allclose(patch_image[0, :20, 20:24].numpy(), image[:, ::-1][:, :4] / 255, rtol=1e-6)


def test_geometry_augmentation_moves_image_and_mask_alike():
    image = smooth_image(160)
    threshold = 127
    mask = (image > threshold).astype(np.uint8)
    data = _dataset([sample("a", image, mask)], patch=64, length=24)
    orientations = set()
    for item in range(len(data)):
        patch_image, patch_mask = (t.numpy() for t in data[item])
        labeled = patch_mask != IGNORE_INDEX
        expected = patch_image[0] > (threshold + 0.5) / 255
        wrong = labeled & (expected != (patch_mask == 1))
        assert wrong.mean() < 0.03, f"item {item}: {wrong.sum()} pixels disagree"
        edges = cv2.dilate((cv2.Canny(patch_mask.astype(np.uint8) * 100, 50, 150) > 0).astype(np.uint8),
                           np.ones((3, 3), np.uint8)) > 0
        assert not (wrong & ~edges).any(), f"item {item}: disagreement away from a region edge"
        orientations.add(patch_image[0, :2, :2].tobytes())
    assert len(orientations) > 12, "patches differ (positions, flips, rotations)"


@pytest.mark.parametrize("crop", range(24, 41))
def test_resampled_mask_stays_centred_on_its_image(crop):
    """Scale augmentation: nearest-neighbour for the mask and linear for the image sample the same positions."""
    image = np.zeros((1, crop, crop), np.float32)
    image[0, 9:19, 7:15] = 1.0
    mask = (image[0] > 0.5).astype(np.uint8)
    out_image, out_mask = augment_pair(image, mask, 32, AugmentConfig.none(), np.random.default_rng(0))
    assert out_image.shape == (1, 32, 32) and out_mask.shape == (32, 32)

    def centre(binary):
        ys, xs = np.nonzero(binary)
        return np.array([ys.mean(), xs.mean()])

    assert np.abs(centre(out_mask) - centre(out_image[0] > 0.5)).max() < 0.25


def test_nearest_neighbour_keeps_mask_values_in_the_class_set():
    rng = np.random.default_rng(1)
    image = smooth_image(80)
    mask = rng.choice(np.array([0, 1, 2, IGNORE_INDEX], np.uint8), size=(80, 80))
    data = _dataset([sample("a", image, mask)], patch=32, length=16,
                    augment=AugmentConfig(scale=0.4, brightness=0.2, contrast=0.2))
    seen = set()
    for item in range(len(data)):
        seen |= set(np.unique(data[item][1].numpy()).tolist())
    assert seen <= {0, 1, 2, IGNORE_INDEX} and {0, 1, 2} <= seen


def test_brightness_and_contrast_touch_the_image_only():
    image = np.linspace(0, 1, 32 * 32, dtype=np.float32).reshape(1, 32, 32)
    mask = (image[0] > 0.5).astype(np.uint8)
    config = AugmentConfig(flips=False, rotate90=False, scale=0.0, brightness=0.3, contrast=0.3)
    out_image, out_mask = augment_pair(image, mask, 32, config, np.random.default_rng(0))
    np.testing.assert_array_equal(out_mask, mask)
    gain = np.polyfit(image.ravel(), out_image.ravel(), 1)[0]
    assert not np.allclose(out_image, image) and 0.7 <= gain <= 1.3


def test_foreground_centred_sampling_finds_a_rare_class():
    image = smooth_image(256)
    mask = np.zeros((256, 256), np.uint8)
    mask[200:204, 40:44] = 2  # 16 of 65,536 pixels
    data = _dataset([sample("a", image, mask)], patch=32, length=120, augment=AugmentConfig.none())
    hits = sum(bool((data[i][1] == 2).any()) for i in range(len(data)))
    assert hits / len(data) > 0.2, f"rare class in {hits} of {len(data)} patches (uniform sampling: about 2%)"
    points = data.samples[0].foreground_points()
    assert len(points) == 16 and {tuple(p) for p in points} == {(y, x) for y in range(200, 204)
                                                                for x in range(40, 44)}


def test_foreground_points_skip_background_and_ignore():
    mask = np.array([[0, 1, IGNORE_INDEX], [2, 0, 0]], np.uint8)
    points = sample("a", np.zeros((2, 3), np.uint8), mask).foreground_points()
    assert sorted(map(tuple, points.tolist())) == [(0, 1), (1, 0)]


def test_percentile_levels_come_from_the_whole_image():
    image = np.arange(100, dtype=np.uint8).reshape(10, 10)
    loaded = sample("a", image, np.zeros((10, 10), np.uint8), Normalisation("percentile", 1, 99))
    assert loaded.image.shape == (10, 10, 1)
    np.testing.assert_array_equal(loaded.levels, [[0, 98]])


# validation tiles --------------------------------------------------------------------------------

def test_validation_tiles_cover_every_pixel_exactly_once():
    shapes = [(50, 70), (64, 64), (20, 33)]
    samples = [sample(f"s{i}", smooth_image(max(s), i)[: s[0], : s[1]],
                      np.random.default_rng(i).integers(0, 3, s).astype(np.uint8)) for i, s in enumerate(shapes)]
    tiles = ValidationTiles(samples, 32)
    assert len(tiles) == 2 * 3 + 2 * 2 + 1 * 2
    labeled = 0
    rebuilt = [np.full(s, -1, np.int64) for s in shapes]
    for item in range(len(tiles)):
        image, mask = tiles[item]
        assert image.shape == (1, 32, 32) and mask.shape == (32, 32) and mask.dtype == torch.int64
        labeled += int((mask != IGNORE_INDEX).sum())
        which, top, left = tiles.tiles[item]
        height, width = shapes[which]
        inside = mask.numpy()[: height - top, : width - left]
        target = rebuilt[which][top: top + 32, left: left + 32]
        assert (target == -1).all(), "a pixel is in two tiles"
        target[...] = inside
        np.testing.assert_allclose(image[0, : height - top, : width - left].numpy(),
                                   samples[which].image[top: top + 32, left: left + 32, 0] / 255, rtol=1e-6)
    assert labeled == sum(h * w for h, w in shapes)
    for rebuilt_mask, loaded in zip(rebuilt, samples, strict=True):
        np.testing.assert_array_equal(rebuilt_mask, loaded.mask)


def test_crop_padded_mirrors_images_and_fills_masks():
    array = np.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(crop_padded(array, -1, 2, 3, None), [[2, 3, 3], [2, 3, 3], [6, 7, 7]])
    np.testing.assert_array_equal(crop_padded(array, 1, -1, 3, 99), [[99, 4, 5], [99, 8, 9], [99, 99, 99]])
    assert crop_padded(array, 0, 0, 2, None).base is not None, "no copy when nothing is padded"


# augmentation settings ---------------------------------------------------------------------------

def test_augment_config_round_trip_and_crop_sizes():
    config = AugmentConfig(flips=False, scale=0.25, brightness=0.05)
    assert AugmentConfig.from_json(config.to_json()) == config
    assert AugmentConfig.from_json({"flips": False, "unknown": 1}) == AugmentConfig(flips=False)
    rng = np.random.default_rng(0)
    sizes = [AugmentConfig(scale=0.2).crop_size(64, rng) for _ in range(200)]
    assert 0.8 * 64 - 1 <= min(sizes) < 60 and 68 < max(sizes) <= 1.25 * 64 + 1
    assert AugmentConfig.none().crop_size(64, rng) == 64


@pytest.mark.parametrize("changes", [{"scale": 1.0}, {"scale": -0.1}, {"brightness": -1}, {"contrast": -0.5}])
def test_unusable_augment_settings_are_config_errors(changes):
    with pytest.raises(ConfigError):
        AugmentConfig(**changes)
