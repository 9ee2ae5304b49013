"""labelme JSON: reading hand-written files, writing files labelme opens, exact mask round trips."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from core.classes import ClassTable
from core.errors import ConfigError, MaskFormatError
from core.io.labelme import (
    labelme_labels,
    labelme_to_mask,
    mask_to_labelme,
    read_labelme,
    write_labelme,
)
from core.io.polygons import Polygon, mask_to_polygons

CLASSES = ClassTable.from_names(["background", "cell", "nucleus"])


def labelme_file(path, shapes, width=20, height=12, **extra):
    data = {"version": "5.5.0", "flags": {}, "shapes": shapes, "imagePath": "a.png", "imageData": None,
            "imageHeight": height, "imageWidth": width, **extra}
    path.write_text(json.dumps(data))
    return path


def shape(label, points, shape_type="polygon"):
    return {"label": label, "points": points, "group_id": None, "shape_type": shape_type, "flags": {}}


def test_hand_written_rectangle_and_polygon_rasterise_to_expected_pixels(tmp_path):
    path = labelme_file(tmp_path / "a.json", [
        shape("cell", [[2, 1], [5, 3]], "rectangle"),
        shape("nucleus", [[10, 2], [14, 2], [10, 6]]),
        shape("nucleus", [[4, 3], [4, 3.4], [3.6, 3.4]]),  # a tiny triangle over the rectangle's corner pixel
    ])
    document = read_labelme(path)
    assert (document.width, document.height, document.image_path) == (20, 12, "a.png")
    assert [s.shape_type for s in document.shapes] == ["rectangle", "polygon", "polygon"]
    mask = labelme_to_mask(document, CLASSES)
    expected = np.zeros((12, 20), np.uint8)
    expected[1:4, 2:6] = 1                                 # rectangle corners are pixel centres, inclusive
    for x in range(10, 15):
        for y in range(2, 7):
            if (x - 10) + (y - 2) <= 4:
                expected[y, x] = 2                          # triangle: inside or on its edges
    expected[3, 4] = 2                                      # the later shape wins
    np.testing.assert_array_equal(mask, expected)
    assert labelme_labels(document) == ["cell", "nucleus"]


def test_circle_is_filled_and_lines_and_points_are_reported_and_skipped(tmp_path):
    path = labelme_file(tmp_path / "a.json", [
        shape("cell", [[30, 30], [30, 35]], "circle"),
        shape("nucleus", [[0, 0], [50, 50]], "line"),
        shape("nucleus", [[3, 3]], "point"),
        shape("nucleus", [[0, 59], [10, 50], [20, 59]], "linestrip"),
    ], width=60, height=60)
    document = read_labelme(path)
    mask = labelme_to_mask(document, CLASSES)
    assert set(np.unique(mask).tolist()) == {0, 1}
    assert mask[30, 30] == mask[35, 30] == mask[30, 25] == 1 and mask[36, 30] == 0 and mask[35, 35] == 0
    labelmes = Image.new("L", (60, 60))  # labelme draws circles with PIL, outline included
    ImageDraw.Draw(labelmes).ellipse(((25, 25), (35, 35)), outline=1, fill=1)
    assert (mask != np.asarray(labelmes)).sum() <= 0.05 * mask.sum()
    assert [s.shape_type for s in document.skipped_shapes] == ["line", "point", "linestrip"]
    message = document.skipped_message()
    assert "3 shape(s) have no area" in message and "line 'nucleus'" in message
    assert labelme_labels(document) == ["cell"]


def test_labels_match_names_ignoring_case_and_labelme_background(tmp_path):
    path = labelme_file(tmp_path / "a.json", [shape(" Cell ", [[0, 0], [9, 0], [9, 9]]),
                                              shape("_background_", [[5, 5], [5, 6], [6, 6]])])
    mask = labelme_to_mask(read_labelme(path), CLASSES)
    assert mask[0, 9] == 1 and mask[6, 6] == 0 and mask[5, 5] == 0


def test_unknown_labels_are_listed_with_the_valid_names(tmp_path):
    path = labelme_file(tmp_path / "a.json", [shape("axon", [[0, 0], [3, 0], [3, 3]]),
                                              shape("dendrite", [[0, 0], [3, 0], [3, 3]])])
    with pytest.raises(MaskFormatError) as caught:
        labelme_to_mask(read_labelme(path), CLASSES)
    message = str(caught.value)
    assert "a.json" in message and "'axon', 'dendrite'" in message and "background, cell, nucleus" in message


@pytest.mark.parametrize("content, problem", [
    ("{not json", "not valid JSON"),
    ('{"version": "5.5.0", "imageHeight": 4, "imageWidth": 4}', '"shapes"'),
    ('{"shapes": [], "imageWidth": 4}', '"imageHeight" is missing'),
    ('{"shapes": [{"label": "cell", "points": [[0, "x"]]}], "imageHeight": 4, "imageWidth": 4}',
     "points must be a list of [x, y] numbers"),
    ('{"shapes": [{"label": "cell", "points": [[0, 0], [1, 1], [2, 2]], "shape_type": "rectangle"}], '
     '"imageHeight": 4, "imageWidth": 4}', "a rectangle needs 2 point(s), it has 3"),
    ('{"shapes": [{"points": [[0, 0]]}], "imageHeight": 4, "imageWidth": 4}', "shape 1 has no text label"),
])
def test_broken_files_raise_errors_naming_file_and_problem(tmp_path, content, problem):
    path = tmp_path / "broken.json"
    path.write_text(content)
    with pytest.raises(MaskFormatError) as caught:
        read_labelme(path)
    assert problem in str(caught.value) and caught.value.path == path


def test_missing_file_is_a_mask_format_error(tmp_path):
    with pytest.raises(MaskFormatError, match="cannot be read"):
        read_labelme(tmp_path / "missing.json")


def nested_mask() -> np.ndarray:
    mask = np.zeros((40, 50), np.uint8)
    mask[2:30, 3:40] = 1
    mask[6:20, 8:25] = 0          # a background hole
    mask[9:15, 12:18] = 2         # with a nucleus in it
    mask[25, 42:49] = 2           # a one-pixel-wide line
    mask[35, 5] = 1               # a single pixel
    mask[33:39, 20:30] = 255      # unlabeled: not written, reads back as background
    return mask


def test_mask_round_trips_through_labelme_exactly(tmp_path):
    mask = nested_mask()
    image_path = tmp_path / "images" / "a.png"
    (tmp_path / "labels").mkdir()
    path = mask_to_labelme(tmp_path / "labels" / "a.json", mask, CLASSES, image_path)
    document = read_labelme(path)
    assert document.image_path == "../images/a.png"
    np.testing.assert_array_equal(labelme_to_mask(document, CLASSES), np.where(mask == 255, 0, mask))
    assert [p.name for p in path.parent.iterdir()] == ["a.json"]  # written atomically: no temporary files


def test_written_file_has_labelmes_format_and_labelmes_rasteriser_agrees(tmp_path):
    mask = nested_mask()
    path = write_labelme(tmp_path / "a.json", mask_to_polygons(mask, epsilon=0), CLASSES, "a.png", mask.shape)
    data = json.loads(path.read_text())
    assert set(data) == {"version", "flags", "shapes", "imagePath", "imageData", "imageHeight", "imageWidth"}
    assert data["imageData"] is None and (data["imageHeight"], data["imageWidth"]) == (40, 50)
    assert data["version"].startswith("5.")
    for entry in data["shapes"]:
        assert {"label", "points", "group_id", "shape_type", "flags"} <= set(entry)
        assert entry["shape_type"] == "polygon" and len(entry["points"]) >= 3  # labelme needs three points
        assert entry["label"] in CLASSES.names
    # labelme's own export (utils.shapes_to_label) draws each polygon with PIL, outline and fill, in order
    drawn = Image.new("L", (50, 40))
    for entry in data["shapes"]:
        value = CLASSES.names.index(entry["label"])
        ImageDraw.Draw(drawn).polygon([tuple(p) for p in entry["points"]], fill=value, outline=value)
    np.testing.assert_array_equal(np.asarray(drawn), np.where(mask == 255, 0, mask))


def test_simplified_export_stays_close(tmp_path):
    disc = np.zeros((60, 60), np.uint8)
    cv2.circle(disc, (30, 30), 20, 1, -1)
    path = mask_to_labelme(tmp_path / "a.json", disc, CLASSES, "a.png", epsilon=1.0)
    points = json.loads(path.read_text())["shapes"][0]["points"]
    assert len(points) < 40
    redrawn = labelme_to_mask(read_labelme(path), CLASSES)
    assert (redrawn & disc).sum() / (redrawn | disc).sum() > 0.97


def test_polygon_class_outside_the_table_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="class 7"):
        write_labelme(tmp_path / "a.json", [Polygon(((0, 0), (2, 0), (2, 2)), 7)], CLASSES, "a.png", (4, 4))
    assert not (tmp_path / "a.json").exists()
