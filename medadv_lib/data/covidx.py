"""COVIDx: split-file parser, COVID-Net preprocessing, real loader and the synthetic twin.

COVIDx split files (github.com/lindawangg/COVID-Net) list one image per line:
``patientid filename label [source]``. Releases differ: v1/v2 have 3 columns, v3 onwards 4,
``test_COVIDx3.txt`` mixes both, v7A has patient ids containing spaces (``COVID 1 COVID(1).png
COVID-19 sirm``), and the binary releases (v6, v9B) label ``positive`` / ``negative``. The parser
therefore finds the *filename token* (the one with an image extension) instead of trusting a
column index.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from ..progress import tqdm

from . import synthetic
from .datasets import DataFileError, ImageDataset, read_grayscale

__all__ = [
    "SplitEntry", "parse_split_line", "read_split_file", "covidnet_preprocess", "load_covidx",
    "synthetic_covidx", "covidx_splits", "COVIDX_CLASSES", "COVIDX_BINARY_CLASSES", "check_covidx",
]

COVIDX_CLASSES = synthetic.COVIDX_CLASSES
COVIDX_BINARY_CLASSES = ["negative", "positive"]
_LABEL_ALIASES = {"normal": "normal", "pneumonia": "pneumonia", "covid-19": "COVID-19",
                  "covid19": "COVID-19", "positive": "positive", "negative": "negative"}
_IMAGE_TOKEN = re.compile(r"\.(png|jpe?g|bmp|tiff?|dcm)$", re.IGNORECASE)


@dataclass(frozen=True)
class SplitEntry:
    patient_id: str
    filename: str
    label: str
    source: str | None


def parse_split_line(line: str, where: str = "<line>") -> SplitEntry:
    """Parse one COVIDx split line of any release (3, 4 or more columns)."""
    tokens = line.split()
    file_idx = [i for i, t in enumerate(tokens) if _IMAGE_TOKEN.search(t)]
    if not file_idx or file_idx[-1] + 1 >= len(tokens):
        raise DataFileError(f"{where}: not a COVIDx split line "
                            f"(expected 'patientid filename label [source]'): {line.strip()!r}")
    i = file_idx[-1]
    label_token = tokens[i + 1]
    label = _LABEL_ALIASES.get(label_token.lower())
    if label is None:
        raise DataFileError(f"{where}: unknown label {label_token!r} (expected one of "
                            f"normal, pneumonia, COVID-19, positive, negative)")
    source = tokens[i + 2] if len(tokens) > i + 2 else None
    return SplitEntry(" ".join(tokens[:i]), tokens[i], label, source)


def read_split_file(path: str | Path) -> list[SplitEntry]:
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"COVIDx split file not found: {path}")
    entries = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                entries.append(parse_split_line(line, f"{path}:{number}"))
    if not entries:
        raise DataFileError(f"COVIDx split file is empty: {path}")
    return entries


def covidnet_preprocess(gray: np.ndarray, image_size: int, top_crop: float = 1 / 6) -> np.ndarray:
    """COVID-Net's preprocessing: drop the top sixth of rows, resize to a square, scale to [0, 1]."""
    rows = gray.shape[0]
    cropped = gray[int(round(rows * top_crop)):]
    resized = Image.fromarray(cropped).resize((image_size, image_size), Image.BILINEAR)
    return np.asarray(resized, dtype=np.float32) / 255.0


def _find_image(root: Path, split: str, filename: str) -> Path:
    for candidate in (root / split / filename, root / "images" / filename, root / filename):
        if candidate.is_file():
            return candidate
    raise DataFileError(f"image {filename!r} listed in the {split} split was not found under {root} "
                        f"(looked in {split}/, images/ and the root)")


def _split_file(root: Path, split: str, split_file: str | None) -> Path:
    if split_file:
        path = Path(split_file)
        return path if path.is_absolute() else root / path
    plain = root / f"{split}.txt"
    if plain.is_file():
        return plain
    found = sorted(root.glob(f"{split}_COVIDx*.txt"))
    if found:
        return found[-1]
    raise DataFileError(f"no {split} split file in {root}: expected {split}.txt or "
                        f"{split}_COVIDx*.txt")


def check_covidx(data_root: str | Path) -> None:
    """Cheap check, no image decoded: both split files parse and every image they list is on disk."""
    root = Path(data_root)
    if not root.is_dir():
        raise DataFileError(f"COVIDx data folder not found: {root}")
    for split in ("train", "test"):
        for entry in read_split_file(_split_file(root, split, None)):
            _find_image(root, split, entry.filename)


def load_covidx(data_root: str | Path, split: str = "train", image_size: int = 224,
                split_file: str | None = None, limit: int | None = None) -> ImageDataset:
    """Load a real COVIDx split into memory as uint8, preprocessed like COVID-Net.

    ``data_root`` holds ``train.txt``/``test.txt`` (or ``train_COVIDx*.txt``) and the images in
    ``train/``, ``test/`` or ``images/``.
    """
    root = Path(data_root)
    if not root.is_dir():
        raise DataFileError(f"data_root is not a directory: {root}")
    synthetic.check_size(image_size)
    entries = read_split_file(_split_file(root, split, split_file))
    if limit is not None:
        entries = entries[:limit]
    binary = {e.label for e in entries} <= {"positive", "negative"}
    classes = COVIDX_BINARY_CLASSES if binary else COVIDX_CLASSES
    paths = [_find_image(root, split, e.filename) for e in entries]  # fail before heavy work
    images = np.empty((len(entries), 1, image_size, image_size), np.uint8)
    for k, path in enumerate(tqdm(paths, desc=f"COVIDx {split}", leave=False)):
        images[k, 0] = np.round(covidnet_preprocess(read_grayscale(path), image_size) * 255)
    try:
        targets = [classes.index(e.label) for e in entries]
    except ValueError as exc:
        raise DataFileError(f"{root}: split mixes binary and three-class labels") from exc
    return ImageDataset(torch.from_numpy(images), torch.tensor(targets, dtype=torch.long),
                        list(classes), f"COVIDx ({split}, {len(entries)} images) from {root.name}/", [e.filename for e in entries])


def synthetic_covidx(n: int, image_size: int, seed: int, imbalance: bool = False,
                     split: str = "train", calibration: synthetic.Calibration = synthetic.COVIDX_CALIBRATION
                     ) -> ImageDataset:
    """Synthetic three-class chest X-rays (see :mod:`medadv_lib.data.synthetic`), at the task's
    calibrated difficulty unless ``calibration`` says otherwise (``benchmarks/calibrate_synthetic.py``)."""
    offset = {"train": 0, "test": 1_000_003, "val": 2_000_003}[split]
    images, labels = synthetic.covidx_images(n, image_size, seed + offset, imbalance, calibration)
    note = ", COVIDx class imbalance" if imbalance else ", balanced"
    return ImageDataset(torch.from_numpy(images), torch.from_numpy(labels), list(COVIDX_CLASSES),
                        f"synthetic chest X-rays (medadv generator, seed {seed}{note}, {split})",
                        [f"syn-{split}-{i}" for i in range(n)],
                        calibration=calibration.describe())


def covidx_splits(data_root: str | None, image_size: int, n_train: int, n_test: int, seed: int,
                  imbalance: bool = False) -> tuple[ImageDataset, ImageDataset]:
    """(train, test) for the three-class task: real COVIDx when ``data_root`` is given, else synthetic.

    On real data ``n_train``/``n_test`` cap the number of images read (0 or None: all).
    """
    if data_root:
        return (load_covidx(data_root, "train", image_size, limit=n_train or None),
                load_covidx(data_root, "test", image_size, limit=n_test or None))
    return (synthetic_covidx(n_train, image_size, seed, imbalance, "train"),
            synthetic_covidx(n_test, image_size, seed, imbalance, "test"))
