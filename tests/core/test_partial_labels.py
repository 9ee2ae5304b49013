"""Partial labels: unlabeled pixels (255) are saved and read back in every mask format that can hold them,
formats that cannot refuse with a message naming the file and the fix, and training and scoring leave
them out (a model trained on half-labeled masks learns the labeled half)."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from core.classes import IGNORE_INDEX, ClassTable
from core.data.augment import AugmentConfig
from core.data.dataset import LoadedSample, PatchDataset
from core.data.index import DatasetIndex
from core.data.mask_saving import save_annotation, write_labelme_annotation
from core.data.settings import DatasetSettings
from core.errors import MaskFormatError
from core.io.images import Normalisation
from core.io.labelme import labelme_to_mask, read_labelme
from core.io.mask_formats import detect_format, encode_mask, write_stored
from core.io.masks import UNLABELED_COLOUR, MaskEncoding, read_mask, write_mask
from core.metrics import ConfusionMatrix
from core.training.config import TrainConfig
from core.training.loop import Trainer
from core.training.reports import BatchReport
from tests.core.synthetic import make_shapes, write_dataset

THREE = ClassTable.from_names(["background", "nucleus", "membrane"])
SHAPE = (40, 50)


def partial_mask(classes: int = 3) -> np.ndarray:
    """Labeled left half (background and blocks), unlabeled right half."""
    mask = np.zeros(SHAPE, np.uint8)
    mask[5:15, 5:20] = 1
    if classes > 2:
        mask[20:35, 10:22] = 2
    mask[:, 25:] = IGNORE_INDEX
    return mask


def only_background_and_unlabeled() -> np.ndarray:
    mask = np.zeros(SHAPE, np.uint8)
    mask[:, 25:] = IGNORE_INDEX
    return mask


def _reference(kind: str, folder) -> tuple:
    """A mask file of one storage kind, as a dataset would have it: (path, encoding)."""
    blocks = partial_mask()
    blocks[blocks == IGNORE_INDEX] = 0
    if kind == "seglab_png":
        return write_mask(folder / "ref.png", blocks, THREE), MaskEncoding()
    if kind == "label_tiff":
        return write_mask(folder / "ref.tif", blocks, THREE), MaskEncoding()
    if kind == "gray_index_png":
        Image.fromarray(blocks).save(path := folder / "ref.png")
        return path, MaskEncoding()
    if kind == "foreign_tiff":
        tifffile.imwrite(path := folder / "ref.tif", blocks)
        return path, MaskEncoding()
    if kind == "red_channel":
        rgba = np.zeros(SHAPE + (4,), np.uint8)
        rgba[:, :, 0], rgba[:, :, 3] = blocks, 255
        Image.fromarray(rgba).save(path := folder / "ref.png")
        return path, MaskEncoding()
    if kind == "colour":
        Image.fromarray(THREE.colours_array()[blocks]).save(path := folder / "ref.png")
        return path, MaskEncoding("colour")
    if kind == "binary_0_255":
        Image.fromarray(np.where(blocks == 1, 255, 0).astype(np.uint8)).save(path := folder / "ref.png")
        return path, MaskEncoding()
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["seglab_png", "label_tiff", "gray_index_png", "foreign_tiff", "red_channel",
                                  "colour"])
@pytest.mark.parametrize("mask", [partial_mask(), only_background_and_unlabeled()], ids=["partial", "no_class"])
def test_unlabeled_pixels_round_trip_in_every_format_that_holds_them(tmp_path, kind, mask):
    reference, encoding = _reference(kind, tmp_path)
    fmt = detect_format(reference, encoding, THREE)
    target = tmp_path / f"edited{reference.suffix}"
    write_stored(target, encode_mask(mask, fmt, THREE, target), fmt, THREE)
    assert np.array_equal(read_mask(target, encoding, THREE), mask)  # background + 255 is not a 0/255 mask


def test_seglab_masks_store_unlabeled_as_255_with_its_own_palette_colour(tmp_path):
    path = write_mask(tmp_path / "m.png", partial_mask(), THREE)
    with Image.open(path) as image:
        assert image.mode == "P" and np.asarray(image)[0, 30] == 255
        assert tuple(image.getpalette()[255 * 3:256 * 3]) == UNLABELED_COLOUR
    colour = tmp_path / "c.png"
    Image.fromarray(np.where(partial_mask()[:, :, None] == 255, UNLABELED_COLOUR, (0, 0, 0)).astype(np.uint8)
                    ).save(colour)
    assert (read_mask(colour, MaskEncoding("colour"), THREE)[:, 25:] == 255).all()


def test_a_binary_dataset_refuses_unlabeled_pixels_saying_what_to_do(tmp_path):
    reference, encoding = _reference("binary_0_255", tmp_path)
    fmt = detect_format(reference, encoding, THREE)
    with pytest.raises(MaskFormatError, match="cannot hold unlabeled pixels; paint them with a class or the "
                                              r"Eraser \(background\)") as caught:
        encode_mask(partial_mask(classes=2), fmt, THREE, tmp_path / "edited.png")
    assert caught.value.path == tmp_path / "edited.png"


def _dataset(root, layout: str):
    (root / "images").mkdir(parents=True)
    Image.fromarray(np.full(SHAPE, 90, np.uint8)).save(root / "images" / "a.png")
    if layout == "class_folders":
        for name in ("nucleus", "membrane"):
            (root / "masks" / name).mkdir(parents=True)
            Image.fromarray(np.zeros(SHAPE, np.uint8)).save(root / "masks" / name / "a.png")
    DatasetSettings(THREE).save(root)
    return root


def test_class_folders_cannot_hold_unlabeled_pixels_and_say_so(tmp_path):
    root = _dataset(tmp_path / "d", "class_folders")
    index = DatasetIndex.scan(root)
    with pytest.raises(MaskFormatError, match="one mask folder per class.*cannot hold unlabeled pixels"):
        save_annotation(index, index.sample("a"), partial_mask())
    assert not np.asarray(Image.open(root / "masks" / "nucleus" / "a.png")).any()  # nothing written


def test_a_new_mask_and_labelme_files_keep_unlabeled_pixels(tmp_path):
    root = _dataset(tmp_path / "d", "images_only")
    index = DatasetIndex.scan(root)
    saved = save_annotation(index, index.sample("a"), partial_mask())
    rescanned = DatasetIndex.scan(root)
    assert np.array_equal(rescanned.load_mask(rescanned.sample("a")), partial_mask())
    assert saved.sample.mask.suffix == ".png"
    labelme = tmp_path / "a.json"  # unlabeled pixels become __ignore__ shapes
    write_labelme_annotation(labelme, partial_mask(), THREE, root / "images" / "a.png")
    assert np.array_equal(labelme_to_mask(read_labelme(labelme), THREE), partial_mask())


def test_metrics_leave_unlabeled_truth_out():
    truth = partial_mask(classes=2)
    prediction = np.where(truth == IGNORE_INDEX, 1, truth)  # "wrong" only where the truth is unlabeled
    matrix = ConfusionMatrix(2).update(prediction, truth)
    assert matrix.counts.sum() == np.count_nonzero(truth != IGNORE_INDEX)
    assert np.trace(matrix.counts) == matrix.counts.sum()


# training ---------------------------------------------------------------------------------------

def _half_labeled_dataset(root, count: int = 8, size: int = 64):
    """Synthetic discs whose masks are unlabeled (255) on the right half; one image entirely unlabeled."""
    write_dataset(root, count=count, size=size, binary_masks=False)
    classes = ClassTable.from_names(["background", "disc"])
    for i in range(count):
        mask = make_shapes(size, seed=i)[1]
        mask[:, size // 2:] = IGNORE_INDEX
        write_mask(root / "masks" / f"img{i}.png", mask, classes)
    write_mask(root / "masks" / "img0.png", np.full((size, size), IGNORE_INDEX, np.uint8), classes)
    DatasetSettings(classes).save(root)
    return root


def test_patches_of_partly_labeled_images_are_centred_on_labels():
    image, mask = make_shapes(128, seed=3)
    mask[:, 16:] = IGNORE_INDEX  # only a strip on the left is labeled
    sample = LoadedSample.create("a", image, mask, Normalisation())
    patches = PatchDataset([sample], 32, AugmentConfig(flips=False, rotate90=False, scale=0.0), length=40)
    labeled = [np.count_nonzero(patches[i][1].numpy() != IGNORE_INDEX) for i in range(len(patches))]
    assert min(labeled) > 0  # a uniform choice would give most patches no labeled pixel


def test_a_half_labeled_dataset_trains_on_its_labeled_half(tmp_path):
    data = _half_labeled_dataset(tmp_path / "data")
    config = TrainConfig(data_dir=str(data), output=str(tmp_path / "m.safetensors"), architecture="unet_classic",
                         encoder=None, model_options={"base_channels": 8, "bilinear": True}, epochs=5,
                         batch_size=4, patch_size=64, patches_per_epoch=32, learning_rate=3e-3,
                         val_fraction=0.3, device="cpu", early_stopping=0)
    reports = list(Trainer(config).run())
    started, finished = reports[0], reports[-1]
    assert any("img0.png" in note and "every pixel is unlabeled" in note for note in started.skipped)
    assert "img0" not in started.train_images + started.val_images
    losses = [r.loss for r in reports if isinstance(r, BatchReport)]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    assert finished.best_mean_iou > 0.85  # scored on the labeled half of the validation images
