"""Data: the synthetic embedded default and the real-dataset loaders, all returning ImageDataset."""
from .datasets import DataFileError, ImageDataset, read_grayscale
from .covidx import (COVIDX_CLASSES, covidnet_preprocess, covidx_splits, load_covidx,
                     parse_split_line, read_split_file, synthetic_covidx)
from .synthetic import CHESTXRAY14_FINDINGS

__all__ = [
    "DataFileError", "ImageDataset", "read_grayscale", "COVIDX_CLASSES", "CHESTXRAY14_FINDINGS",
    "covidnet_preprocess", "covidx_splits", "load_covidx", "parse_split_line", "read_split_file",
    "synthetic_covidx",
]
