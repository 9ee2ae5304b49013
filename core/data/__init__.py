"""Datasets: folder scanning and pairing, dataset settings, training samples."""
