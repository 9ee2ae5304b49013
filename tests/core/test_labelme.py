"""labelme JSON: reading hand-written files, writing files labelme opens, exact mask round trips."""

from __future__ import annotations

import base64
import io
import json

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from core.classes import IGNORE_INDEX, ClassTable
from core.errors import ConfigError, MaskFormatError, UnknownLabelsError
from core.io.labelme import (
    labelme_labels,
    labelme_to_mask,
    mask_to_labelme,
    read_labelme,
    unknown_labels,
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
        shape("nucleus", [[4, 3], [4, 3.4], [3.6, 3.4]]),  # labelme truncates: the pixels (4, 3) and (3, 3)
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
    expected[3, 3:5] = 2                                    # the later shape wins
    np.testing.assert_array_equal(mask, expected)
    assert labelme_labels(document) == ["cell", "nucleus"]


def test_circles_lines_and_points_are_painted_as_labelme_paints_them(tmp_path):
    path = labelme_file(tmp_path / "a.json", [
        shape("cell", [[30, 30], [30, 35]], "circle"),
        shape("nucleus", [[15, 12], [40, 12]], "line"),
        shape("nucleus", [[3, 3]], "point"),
        shape("cell", [[45, 5], [55, 15]], "cuboid"),  # a type labelme cannot export
    ], width=60, height=60)
    document = read_labelme(path)
    mask = labelme_to_mask(document, CLASSES)
    rows, columns = np.nonzero(mask == 1)
    assert (rows.min(), rows.max(), columns.min(), columns.max()) == (25, 35, 25, 35)  # radius 5 about (30, 30)
    rows, columns = np.nonzero(mask[:, 12:] == 2)
    assert (rows.min(), rows.max(), columns.min() + 12, columns.max() + 12) == (8, 17, 15, 40)  # 10 px wide
    rows, columns = np.nonzero(mask[:, :12] == 2)
    assert (rows.min(), rows.max(), columns.min(), columns.max()) == (0, 8, 0, 8)  # a disc of radius 5
    assert not mask[:, 44:].any()
    assert [s.shape_type for s in document.skipped_shapes] == ["cuboid"]
    assert "1 shape(s)" in document.skipped_message() and "cuboid 'cell'" in document.skipped_message()
    assert labelme_labels(document) == ["cell", "nucleus"]


def test_ignore_shapes_paint_the_ignore_value_over_classes(tmp_path):
    path = labelme_file(tmp_path / "a.json", [shape("cell", [[0, 0], [9, 9]], "rectangle"),
                                              shape("__ignore__", [[2, 2], [4, 4]], "rectangle")])
    document = read_labelme(path)
    mask = labelme_to_mask(document, CLASSES)
    assert mask[3, 3] == IGNORE_INDEX and mask[0, 0] == 1 and (mask == IGNORE_INDEX).sum() == 9
    assert labelme_labels(document) == ["cell"]  # __ignore__ is not a class to create
    wide = ClassTable.from_names([f"c{i}" for i in range(300)]).renamed(1, "cell")
    assert labelme_to_mask(document, wide)[3, 3] == 65535
    assert labelme_to_mask(document, CLASSES.with_added("__ignore__"))[3, 3] == IGNORE_INDEX


def mask_shape(label, points, pixels, channels=None):
    buffer = io.BytesIO()
    image = Image.fromarray(np.asarray(pixels, np.uint8) * 255)
    (image.convert("RGB") if channels == 3 else image).save(buffer, format="PNG")
    return shape(label, points, "mask") | {"mask": base64.b64encode(buffer.getvalue()).decode()}


def test_mask_shapes_are_pasted_at_their_box_and_clipped_at_the_image_edge(tmp_path):
    pixels = np.array([[1, 0, 1], [1, 1, 0]])
    path = labelme_file(tmp_path / "a.json", [mask_shape("cell", [[2, 1], [4, 2]], pixels),
                                              mask_shape("nucleus", [[-1, 10], [1, 11]], pixels),
                                              mask_shape("nucleus", [[17.6, 4.4], [19.6, 5.4]], pixels)])
    mask = labelme_to_mask(read_labelme(path), CLASSES)
    np.testing.assert_array_equal(mask[1:3, 2:5], pixels)
    np.testing.assert_array_equal(mask[10:12, 0:2], 2 * pixels[:, 1:])           # column -1 is cut off
    np.testing.assert_array_equal(mask[4:6, 18:20], 2 * pixels[:, :2])           # box rounded to (18, 4)
    assert mask.sum() == pixels.sum() + 2 * (pixels[:, 1:].sum() + pixels[:, :2].sum())


@pytest.mark.parametrize("entry, problem", [
    (shape("cell", [[0, 0], [2, 1]], "mask") | {"mask": "not base64!"}, '"mask" is not a base64 PNG'),
    (shape("cell", [[0, 0], [2, 1]], "mask"), '"mask" is not a base64 PNG'),
    (mask_shape("cell", [[0, 0], [2, 1]], [[1, 0, 1], [1, 1, 0]], channels=3), "PNG has 3 channels"),
])
def test_broken_mask_shapes_name_the_shape_and_the_problem(tmp_path, entry, problem):
    path = labelme_file(tmp_path / "a.json", [entry])
    with pytest.raises(MaskFormatError) as caught:
        read_labelme(path)
    assert problem in str(caught.value) and "shape 1 ('cell')" in str(caught.value) and caught.value.path == path


def test_mask_shape_smaller_than_its_box_is_refused(tmp_path):
    path = labelme_file(tmp_path / "a.json", [mask_shape("cell", [[0, 0], [5, 5]], [[1, 1], [1, 1]])])
    with pytest.raises(MaskFormatError, match="is 2x2 but its box is 6x6"):
        labelme_to_mask(read_labelme(path), CLASSES)


def test_labels_match_names_ignoring_case_and_labelme_background(tmp_path):
    path = labelme_file(tmp_path / "a.json", [shape(" Cell ", [[0, 0], [9, 0], [9, 9]]),
                                              shape("_background_", [[5, 5], [5, 6], [6, 6]])])
    mask = labelme_to_mask(read_labelme(path), CLASSES)
    assert mask[0, 9] == 1 and mask[6, 6] == 0 and mask[5, 5] == 0


def test_unknown_labels_are_listed_to_be_added_as_classes(tmp_path):
    path = labelme_file(tmp_path / "a.json", [shape("dendrite", [[0, 0], [3, 0], [3, 3]]),
                                              shape("cell", [[0, 0], [3, 0], [3, 3]]),
                                              shape("axon", [[0, 1], [3, 1]], "line"),
                                              shape("__ignore__", [[0, 0], [3, 0], [3, 3]])])
    document = read_labelme(path)
    with pytest.raises(UnknownLabelsError) as caught:
        labelme_to_mask(document, CLASSES)
    message = str(caught.value)
    assert "a.json" in message and "'axon', 'dendrite'" in message and "background, cell, nucleus" in message
    assert caught.value.labels == ("axon", "dendrite") and unknown_labels(document, CLASSES) == ["axon", "dendrite"]
    grown = CLASSES.with_added("axon").with_added("dendrite")
    assert unknown_labels(document, grown) == []
    mask = labelme_to_mask(document, grown)
    assert mask[0, 3] == IGNORE_INDEX and mask[3, 0] == grown.names.index("axon")  # the line, 10 px wide


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
    np.testing.assert_array_equal(labelme_to_mask(document, CLASSES), mask)  # unlabeled: __ignore__ shapes
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
    assert (redrawn & disc).sum() / (redrawn | disc).sum() > 0.96  # the outline moves by at most a pixel


def test_polygon_class_outside_the_table_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="class 7"):
        write_labelme(tmp_path / "a.json", [Polygon(((0, 0), (2, 0), (2, 2)), 7)], CLASSES, "a.png", (4, 4))
    assert not (tmp_path / "a.json").exists()
