"""NIH ChestX-ray14: ``Data_Entry_2017.csv`` reader, patient-level splits, and the synthetic twin.

Real layout (Wang et al. 2017): ``Data_Entry_2017.csv`` with header ``Image Index,Finding Labels,
Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,OriginalImage[Width,Height],
OriginalImagePixelSpacing[x,y]``; findings separated by ``|``; ``No Finding`` for none; images in
``images/`` (or ``images_*/images/``); optional official ``train_val_list.txt`` and
``test_list.txt``.

Two views of the same data: ``task="multilabel"`` (14 float targets) and ``task="binary"``
("any finding" against "No Finding", as in Taghanaki et al. 2018).
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from ..progress import tqdm

from . import synthetic
from .datasets import DataFileError, ImageDataset, read_grayscale

__all__ = ["CHESTXRAY14_FINDINGS", "BINARY_CLASSES", "read_data_entry", "patient_split",
           "load_chestxray14", "synthetic_chestxray14", "chestxray14_splits", "check_chestxray14",
           "official_split"]

CHESTXRAY14_FINDINGS = synthetic.CHESTXRAY14_FINDINGS
BINARY_CLASSES = ["No Finding", "Finding"]
TASKS = ("multilabel", "binary")
REQUIRED_COLUMNS = ("Image Index", "Finding Labels", "Patient ID")


def read_data_entry(path: str | Path) -> list[dict]:
    """Rows of ``Data_Entry_2017.csv`` as dicts with ``labels`` (14 0/1) added."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"ChestX-ray14 label file not found: {path}")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataFileError(f"{path}: missing column(s) {missing}; is this Data_Entry_2017.csv?")
        rows = []
        for number, row in enumerate(reader, 2):
            findings = [f.strip() for f in row["Finding Labels"].split("|") if f.strip()]
            unknown = [f for f in findings if f not in CHESTXRAY14_FINDINGS and f != "No Finding"]
            if unknown:
                raise DataFileError(f"{path}:{number}: unknown finding(s) {unknown}")
            row["labels"] = [1.0 if f in findings else 0.0 for f in CHESTXRAY14_FINDINGS]
            rows.append(row)
    if not rows:
        raise DataFileError(f"{path}: no rows")
    return rows


def patient_split(rows: list[dict], test_fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """Split rows so that no patient appears in both parts."""
    patients = sorted({r["Patient ID"] for r in rows})
    rng = np.random.default_rng(seed)
    rng.shuffle(patients)
    n_test = max(1, int(round(len(patients) * test_fraction)))
    test_ids = set(patients[:n_test])
    return ([r for r in rows if r["Patient ID"] not in test_ids],
            [r for r in rows if r["Patient ID"] in test_ids])


def _image_path(root: Path, name: str) -> Path:
    for candidate in [root / "images" / name, root / name, *root.glob(f"images_*/images/{name}")]:
        if candidate.is_file():
            return candidate
    raise DataFileError(f"ChestX-ray14 image {name!r} not found under {root} (images/ or images_*/images/)")


def _targets(rows: list[dict], task: str) -> torch.Tensor:
    labels = torch.tensor([r["labels"] for r in rows], dtype=torch.float32).reshape(-1, 14)
    return labels if task == "multilabel" else (labels.sum(1) > 0).long()


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")


def load_chestxray14(data_root: str | Path, rows: list[dict], image_size: int, task: str,
                     split: str) -> ImageDataset:
    """Load the images of ``rows`` (resized to ``image_size``, grayscale, uint8 in memory)."""
    _check_task(task)
    root = Path(data_root)
    paths = [_image_path(root, r["Image Index"]) for r in rows]  # fail before heavy work
    images = np.empty((len(rows), 1, image_size, image_size), np.uint8)
    for k, path in enumerate(tqdm(paths, desc=f"ChestX-ray14 {split}", leave=False)):
        gray = Image.fromarray(read_grayscale(path)).resize((image_size, image_size), Image.BILINEAR)
        images[k, 0] = np.asarray(gray)
    classes = list(CHESTXRAY14_FINDINGS) if task == "multilabel" else list(BINARY_CLASSES)
    return ImageDataset(torch.from_numpy(images), _targets(rows, task), classes,
                        f"NIH ChestX-ray14 ({split}, {len(rows)} images) from {root.name}/", [r["Image Index"] for r in rows])


def synthetic_chestxray14(n: int, image_size: int, seed: int, task: str = "multilabel",
                          split: str = "train", calibration: synthetic.Calibration | None = None) -> ImageDataset:
    """Synthetic ChestX-ray14-style radiographs (see :mod:`medadv_lib.data.synthetic`), at the task's
    calibrated difficulty (the binary task's or the multi-label one's) unless ``calibration`` says
    otherwise (``benchmarks/calibrate_synthetic.py``)."""
    _check_task(task)
    offset = {"train": 0, "test": 1_000_003, "val": 2_000_003}[split]
    if calibration is None:
        calibration = synthetic.CXR14_BINARY_CALIBRATION if task == "binary" else synthetic.CXR14_CALIBRATION
    images, labels = synthetic.chestxray14_images(n, image_size, seed + offset, calibration)
    targets = torch.from_numpy(labels)
    if task == "binary":
        targets = (targets.sum(1) > 0).long()
    classes = list(CHESTXRAY14_FINDINGS) if task == "multilabel" else list(BINARY_CLASSES)
    return ImageDataset(torch.from_numpy(images), targets, classes,
                        f"synthetic ChestX-ray14-style radiographs (medadv generator, seed {seed}, {split})",
                        [f"syn14-{split}-{i}" for i in range(n)], calibration=calibration.describe())


def official_split(root: Path, rows: list[dict]) -> tuple[list[dict], list[dict]] | None:
    """The rows of ``train_val_list.txt`` and ``test_list.txt`` when both are there (every listed name
    must be a row of the label file), else None."""
    lists = root / "train_val_list.txt", root / "test_list.txt"
    if not all(p.is_file() for p in lists):
        return None
    by_name = {r["Image Index"]: r for r in rows}
    parts = []
    for path in lists:
        names = path.read_text().split()
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise DataFileError(f"{path}: {len(unknown)} image(s) not in Data_Entry_2017.csv, e.g. {unknown[0]!r}")
        if not names:
            raise DataFileError(f"{path}: the split is empty")
        parts.append([by_name[n] for n in names])
    return parts[0], parts[1]


def check_chestxray14(root: str | Path) -> None:
    """Cheap check, no image decoded: the label file's header and findings, the split lists, and
    every image they name present under ``images/`` (or ``images_*/images/``)."""
    root = Path(root)
    if not root.is_dir():
        raise DataFileError(f"ChestX-ray14 data folder not found: {root}")
    rows = read_data_entry(root / "Data_Entry_2017.csv")
    split = official_split(root, rows)
    listed = rows if split is None else split[0] + split[1]
    for row in listed:
        _image_path(root, row["Image Index"])


def chestxray14_splits(data_root: str | None, image_size: int, n_train: int, n_test: int, seed: int,
                       task: str = "multilabel", test_fraction: float = 0.2
                       ) -> tuple[ImageDataset, ImageDataset]:
    """(train, test): real ChestX-ray14 when ``data_root`` is given, else synthetic.

    Real data is split by the official ``train_val_list.txt``/``test_list.txt`` when present,
    otherwise by patient with ``test_fraction``; ``n_train``/``n_test`` cap the sizes (0: all).
    """
    _check_task(task)
    synthetic.check_size(image_size)
    if not data_root:
        return (synthetic_chestxray14(n_train, image_size, seed, task, "train"),
                synthetic_chestxray14(n_test, image_size, seed, task, "test"))
    root = Path(data_root)
    if not root.is_dir():
        raise DataFileError(f"data_root is not a directory: {root}")
    rows = read_data_entry(root / "Data_Entry_2017.csv")
    split = official_split(root, rows)
    train_rows, test_rows = split if split is not None else patient_split(rows, test_fraction, seed)
    train_rows = train_rows[:n_train] if n_train else train_rows
    test_rows = test_rows[:n_test] if n_test else test_rows
    return (load_chestxray14(root, train_rows, image_size, task, "train"),
            load_chestxray14(root, test_rows, image_size, task, "test"))
