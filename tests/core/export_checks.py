"""Readers independent of SegLab's writers, for checking exported files against the mask they came from:
polygons with pixel-corner vertices filled by the even-odd centre rule (ImageJ, COCO), COCO RLE decoded as
pycocotools does, ROI sets read with roifile, measurements compared with scipy's connected components."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import scipy.ndimage as ndi
from roifile import roiread

from core.classes import ClassTable
from core.export.outlines import mask_objects

EIGHT = np.ones((3, 3), bool)


def even_odd_fill(rings, shape) -> np.ndarray:
    """Pixels whose centre lies inside the rings (even-odd rule), for polygons with pixel-corner vertices:
    ImageJ's and COCO's convention. From the definition: every edge crossed by a row of pixel centres flips
    the pixels of that row whose centre lies left of the crossing (kept as a running parity per row)."""
    height, width = shape
    flips = np.zeros((height, width + 1), np.int64)
    for ring in rings:
        ring = np.asarray(ring, float).reshape(-1, 2)
        for (x0, y0), (x1, y1) in zip(ring, np.roll(ring, -1, axis=0), strict=True):
            if y0 == y1:
                continue
            rows = np.arange(np.ceil(min(y0, y1) - 0.5), np.ceil(max(y0, y1) - 0.5)).astype(int)
            rows = rows[(rows >= 0) & (rows < height)]
            crossing = x0 + (rows + 0.5 - y0) * (x1 - x0) / (y1 - y0)
            left_of = np.clip(np.ceil(crossing - 0.5), 0, width).astype(int)  # centres x + 0.5 < crossing
            np.add.at(flips, (rows, np.zeros_like(rows)), 1)
            np.add.at(flips, (rows, left_of), 1)
    return (np.cumsum(flips, axis=1)[:, :width] % 2).astype(bool)


def rle_to_mask(rle: dict) -> np.ndarray:
    """COCO's uncompressed RLE, decoded as pycocotools does: column-major runs, background first."""
    height, width = rle["size"]
    flat, value, position = np.zeros(height * width, bool), False, 0
    for count in rle["counts"]:
        flat[position:position + count] = value
        position, value = position + count, not value
    return flat.reshape((width, height)).T


def check_coco(path, truth, classes: ClassTable, file_name: str):
    coco = json.loads(path.read_text(encoding="utf-8"))
    assert [(c["id"], c["name"]) for c in coco["categories"]] == [(s.index, s.name) for s in classes.classes[1:]]
    (image,) = [entry for entry in coco["images"] if entry["file_name"] == file_name]
    assert (image["width"], image["height"]) == (truth.shape[1], truth.shape[0])
    painted = np.zeros(truth.shape, np.uint8)
    annotations = [a for a in coco["annotations"] if a["image_id"] == image["id"]]
    for annotation in annotations:
        segmentation = annotation["segmentation"]
        if isinstance(segmentation, dict):
            pixels = rle_to_mask(segmentation)
        else:
            pixels = even_odd_fill([np.reshape(p, (-1, 2)) for p in segmentation], truth.shape)
        assert not painted[pixels].any(), "objects overlap"
        painted[pixels] = annotation["category_id"]
        assert annotation["area"] == pixels.sum()
        rows, cols = np.nonzero(pixels)
        assert annotation["bbox"] == [cols.min(), rows.min(), np.ptp(cols) + 1, np.ptp(rows) + 1]
        assert annotation["iscrowd"] == 0
    np.testing.assert_array_equal(painted, truth)
    holes = [a for a in annotations if isinstance(a["segmentation"], dict)]
    assert len(holes) == sum(1 for obj in mask_objects(truth) if obj.holes)


def check_rois(path, truth, classes: ClassTable):
    rois = roiread(path)
    painted = np.zeros(truth.shape, np.uint8)
    for roi in rois:
        class_name, number = roi.name.rsplit("-", 1)
        class_index = classes.names.index(class_name)
        pixels = even_odd_fill(roi.coordinates(multi=True), truth.shape)
        assert pixels.any() and not painted[pixels].any()
        painted[pixels] = class_index
        assert number.isdigit() and roi.stroke_color == bytes((255, *classes[class_index].colour))
        assert (roi.left, roi.top) == (np.nonzero(pixels)[1].min(), np.nonzero(pixels)[0].min())
    np.testing.assert_array_equal(painted, truth)
    for class_index in range(1, len(classes)):
        _, objects = ndi.label(truth == class_index, structure=EIGHT)
        assert sum(1 for r in rois if r.name.startswith(classes[class_index].name + "-")) == objects


def check_measurements(path, mask, classes: ClassTable, image: str):
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["image"] == image]
    counts = np.bincount(mask.ravel(), minlength=256)
    assert [row["class"] for row in rows] == classes.names
    for row in rows:
        index = int(row["class_index"])
        assert int(row["area_px"]) == counts[index]
        assert float(row["area_fraction"]) == pytest.approx(counts[index] / mask.size)
        if index == 0:
            assert row["objects"] == row["mean_object_px"] == ""
            continue
        labels, objects = ndi.label(mask == index, structure=EIGHT)
        assert int(row["objects"]) == objects
        if objects:
            assert float(row["mean_object_px"]) == pytest.approx(counts[index] / objects)
