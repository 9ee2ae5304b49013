"""SegLab engine: datasets, models, training, tiled inference, metrics, files. No GUI imports here."""

__version__ = "0.1.0"
