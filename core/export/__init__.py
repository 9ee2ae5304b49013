"""Exports of masks for other tools: index/label/colour masks, overlays for slides, labelme, COCO and
ImageJ ROI polygons, and per-image measurements. exporter.export_masks writes any set of them at once."""
