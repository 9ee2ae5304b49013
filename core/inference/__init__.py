"""Tiled sliding-window prediction with blended seams, and folder prediction with progress and cancel.

    predictor = Predictor.from_file("model.seglab", PredictOptions(tile_size=512, overlap=64))
    mask = predictor.predict(image)                      # (H, W) class indices
    result = predict_folder(predictor, "images/", "masks/", progress=..., cancel=...)

Cancelling raises core.errors.Cancelled from Predictor.predict; predict_folder catches it and returns
cancelled=True.
"""

from core.inference.folder import FolderResult, list_images, predict_folder
from core.inference.options import PredictOptions
from core.inference.predictor import Predictor

__all__ = ["FolderResult", "PredictOptions", "Predictor", "list_images", "predict_folder"]
