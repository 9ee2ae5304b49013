"""labelme files become exactly the masks labelme's own conversion makes (tests/data/labelme/README.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.classes import IGNORE_INDEX, ClassTable
from core.io.labelme import labelme_to_mask, read_labelme

DATA = Path(__file__).resolve().parent.parent / "data" / "labelme"
VOC = ClassTable.from_names([  # examples/semantic_segmentation/labels.txt after __ignore__
    "_background_", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "potted plant", "sheep", "sofa", "train", "tv/monitor"])
PRIMITIVES = ClassTable.from_names(
    ["_background_", "rectangle", "circle", "polygon", "line", "point", "line_strip", "octagon"])
SHAPES = ClassTable.from_names(["background", "cell", "nucleus", "debris"])


def convert(name: str, classes: ClassTable) -> tuple[np.ndarray, np.ndarray]:
    """(SegLab's mask of <name>.json, labelme's <name>.png)."""
    mask = labelme_to_mask(read_labelme(DATA / f"{name}.json"), classes)
    return mask, np.asarray(Image.open(DATA / f"{name}.png"))


@pytest.mark.parametrize("name", ["2011_000003", "2011_000025"])
def test_labelme2voc_examples_are_reproduced_pixel_for_pixel(name):
    mask, labelme = convert(name, VOC)
    assert mask.shape == labelme.shape and mask.dtype == np.uint8
    np.testing.assert_array_equal(mask, labelme)


def test_labelme2voc_example_differs_only_where_pillow_changed_its_polygon_fill():
    mask, labelme = convert("2011_000006", VOC)  # labelme2voc ran on Pillow 10-11; 11.3 fills one pixel anew
    differing = np.argwhere(mask != labelme).tolist()
    assert differing in ([], [[290, 104]])
    assert labelme[290, 104] == VOC.names.index("sofa") and mask[290, 104] in (
        VOC.names.index("sofa"), VOC.names.index("person"))


def test_ignore_shapes_become_the_ignore_value_not_a_class():
    mask, labelme = convert("2011_000003", VOC)
    ignored = mask == IGNORE_INDEX
    assert 1000 < ignored.sum() and np.array_equal(ignored, labelme == 255)
    assert "__ignore__" not in VOC.names


def test_every_shape_type_of_labelmes_primitives_example_including_a_mask_shape():
    mask, labelme = convert("primitives", PRIMITIVES)
    assert set(np.unique(mask).tolist()) == set(range(len(PRIMITIVES)))  # none left out, the mask included
    np.testing.assert_array_equal(mask, labelme)


def test_fractional_reversed_and_out_of_image_shapes_of_every_type():
    document = read_labelme(DATA / "shapes.json")
    assert {s.shape_type for s in document.shapes} == {
        "polygon", "rectangle", "circle", "line", "linestrip", "point", "oriented_rectangle", "mask"}
    mask, labelme = convert("shapes", SHAPES)
    assert set(np.unique(mask).tolist()) == {0, 1, 2, 3, IGNORE_INDEX}
    np.testing.assert_array_equal(mask, labelme)


def test_past_255_classes_labelmes_pixels_come_out_in_a_sixteen_bit_mask():
    many = ClassTable.from_names(SHAPES.names + [f"extra {i}" for i in range(300)])
    mask = labelme_to_mask(read_labelme(DATA / "shapes.json"), many)
    _, labelme = convert("shapes", SHAPES)
    assert mask.dtype == np.uint16
    np.testing.assert_array_equal(mask, np.where(labelme == 255, 65535, labelme.astype(np.uint16)))
