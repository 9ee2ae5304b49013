"""Recommended settings (shared by the wizard and the CLI): CPU vs GPU, fine-tuning, crops that fit the images and
the network, and the named choices every TrainConfig value has."""

from __future__ import annotations

import pytest

from core.classes import ClassTable
from core.data.augment import AugmentConfig
from core.data.index import DatasetIndex
from core.device import DeviceInfo
from core.errors import ConfigError
from core.models.registry import model_info
from core.models.spec import ModelSpec
from core.training.choices import AUGMENT_PRESETS, OPTIMIZER_TITLES, SCHEDULE_TITLES, augment_preset
from core.training.config import OPTIMIZERS, SCHEDULES, TrainConfig
from core.training.recipe import DatasetFacts, recommend
from tests.core.synthetic import write_dataset

CPU = DeviceInfo("cpu", "cpu", "x86_64")
GPU = DeviceInfo("cuda:0", "cuda", "NVIDIA H100", memory_gb=80)


@pytest.fixture(scope="module")
def large_images(tmp_path_factory) -> DatasetFacts:
    return DatasetFacts.read(DatasetIndex.scan(write_dataset(tmp_path_factory.mktemp("large") / "d", count=3,
                                                             size=1024)))


def test_a_gpu_gets_larger_crops_and_batches_than_the_cpu(large_images):
    unet = model_info("unet")
    on_cpu, on_gpu = recommend(large_images, CPU, unet), recommend(large_images, GPU, unet)
    assert (on_cpu.patch_size, on_cpu.batch_size) == (256, 4)
    assert (on_gpu.patch_size, on_gpu.batch_size) == (512, 8)
    for recommendation in (on_cpu, on_gpu):
        assert (recommendation.epochs, recommendation.learning_rate, recommendation.loss) == (50, 0.001, "ce")
    assert recommend(large_images, None, unet) == on_cpu  # device not known yet: the safe choice


def test_fine_tuning_keeps_the_models_patch_size_and_takes_smaller_steps(large_images):
    base = ModelSpec(architecture="unet", in_channels=1, classes=ClassTable.default(2), out_channels=2,
                     encoder="resnet18", patch_size=384)
    tuned = recommend(large_images, GPU, model_info("unet"), base)
    assert (tuned.patch_size, tuned.epochs, tuned.learning_rate) == (384, 20, 0.0001)


def test_crops_fit_the_images_but_never_go_below_what_the_network_needs(tmp_path):
    facts = DatasetFacts.read(DatasetIndex.scan(write_dataset(tmp_path / "d", count=2, size=100)))
    assert (facts.image_info.width, facts.image_problem) == (100, None)
    assert recommend(facts, GPU, model_info("unet")).patch_size == 96  # a multiple of 32 inside 100 px
    assert recommend(facts, GPU, model_info("pan")).patch_size == 128  # PAN needs 128 px inputs


def test_deeply_supervised_networks_train_with_their_own_loss():
    assert recommend(None, CPU, model_info("u2net")).loss == "u2net"


def test_a_recommendation_is_a_valid_train_config(large_images):
    fields = recommend(large_images, GPU, model_info("unet")).config_fields()
    config = TrainConfig(data_dir="data", output="m.safetensors", **fields)
    assert config.augment == AugmentConfig() and config.patches_per_epoch is None and config.device == "auto"


def test_the_image_size_comes_from_the_first_readable_labeled_image(tmp_path):
    data = write_dataset(tmp_path / "d", count=3, size=64)
    index = DatasetIndex.scan(data)
    broken = index.labeled[0].image
    broken.write_bytes(b"not an image")
    assert DatasetFacts.read(index).image_info.width == 64
    for sample in index.labeled:
        sample.image.write_bytes(b"not an image")
    facts = DatasetFacts.read(index)
    assert facts.image_info is None and str(index.labeled[-1].image.name) in facts.image_problem


def test_every_optimiser_schedule_and_preset_has_a_name_people_read():
    assert set(OPTIMIZER_TITLES) == set(OPTIMIZERS) and set(SCHEDULE_TITLES) == set(SCHEDULES)
    assert augment_preset("none") == AugmentConfig.none() and set(AUGMENT_PRESETS) == {"standard", "geometry", "none"}
    with pytest.raises(ConfigError, match="geometry, none, standard"):
        augment_preset("strong")
