"""Kermany et al.'s pediatric chest X-rays, normal against pneumonia: the real two-class radiograph task.

Two layouts are read as they are:

* the one users download (Kaggle "chest-xray-pneumonia", Mendeley v2): ``chest_xray/{train,val,test}/
  {NORMAL,PNEUMONIA}/*.jpeg`` (``val`` optional; its 16 images join nothing here), the class taken from
  the folder, the subtype (bacteria / virus) and patient from the file name;
* ``kermany-cxr`` (``../shared/data``): the same folders under ``images/`` and a ``labels.csv`` with the
  columns ``path, split, label, subtype, patient``.

The official train/test split is kept: the ``personN`` numbers of the test folder reuse numbers of
the train folder, so patient keys are not global and the data must not be re-split by patient.
Images are read as 8-bit gray (the files are RGB with gray content) and resized to the model's
side. ``n_train``/``n_test`` smaller than a split take a seeded, class-stratified subset.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataFileError

__all__ = ["KERMANY_CLASSES", "KermanyFile", "kermany_files", "check_kermany", "load_kermany",
           "kermany_splits"]

KERMANY_CLASSES = ["normal", "pneumonia"]
SPLITS = ("train", "test")
_FOLDERS = {"NORMAL": "normal", "PNEUMONIA": "pneumonia"}
_COLUMNS = ("path", "split", "label")


@dataclass(frozen=True)
class KermanyFile:
    path: Path        # the image file
    split: str
    label: str        # normal | pneumonia
    subtype: str      # bacteria | virus | none
    patient: str


def _subtype(name: str) -> str:
    lowered = name.lower()
    return "bacteria" if "bacteria" in lowered else "virus" if "virus" in lowered else "none"


def _patient(name: str) -> str:
    match = re.match(r"(person\d+)_", name) or re.match(r"((NORMAL2-)?IM-\d+)", name)
    return match.group(1) if match else Path(name).stem


def _from_labels_csv(root: Path) -> dict[str, list[KermanyFile]]:
    path = root / "labels.csv"
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in _COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataFileError(f"{path}: missing column(s) {missing}; expected path, split, label, subtype, patient")
        files: dict[str, list[KermanyFile]] = {s: [] for s in SPLITS}
        for number, row in enumerate(reader, 2):
            label = row["label"].strip().lower()
            if label not in KERMANY_CLASSES:
                raise DataFileError(f"{path}:{number}: unknown label {row['label']!r} (normal or pneumonia)")
            split = row["split"].strip()
            if split not in files:
                if split == "val":
                    continue
                raise DataFileError(f"{path}:{number}: unknown split {split!r} (train, val or test)")
            files[split].append(KermanyFile(root / "images" / row["path"].strip(), split, label,
                                            (row.get("subtype") or "none").strip(),
                                            (row.get("patient") or "").strip()))
    return files


def _layout_root(root: Path) -> Path | None:
    for candidate in (root / "chest_xray", root):
        if all((candidate / s).is_dir() for s in SPLITS):
            return candidate
    return None


def _from_folders(folder: Path) -> dict[str, list[KermanyFile]]:
    files: dict[str, list[KermanyFile]] = {s: [] for s in SPLITS}
    for split in SPLITS:
        for sub in sorted(p for p in (folder / split).iterdir() if p.is_dir()):
            if sub.name not in _FOLDERS:
                raise DataFileError(f"{sub}: unknown class folder {sub.name!r} (NORMAL or PNEUMONIA)")
            for image in sorted(sub.glob("*.jp*g")):
                files[split].append(KermanyFile(image, split, _FOLDERS[sub.name], _subtype(image.name),
                                                _patient(image.name)))
    return files


def kermany_files(root: str | Path) -> dict[str, list[KermanyFile]]:
    """The listed images of each official split (``train``, ``test``), from either layout."""
    root = Path(root)
    if not root.is_dir():
        raise DataFileError(f"Kermany data folder not found: {root}")
    if (root / "labels.csv").is_file():
        files = _from_labels_csv(root)
    else:
        folder = _layout_root(root)
        if folder is None:
            raise DataFileError(f"{root}: expected labels.csv with images/, or chest_xray/{{train,test}}/"
                                "{NORMAL,PNEUMONIA}/*.jpeg")
        files = _from_folders(folder)
    for split, listed in files.items():
        if not listed:
            raise DataFileError(f"{root}: the {split} split holds no image")
    return files


def check_kermany(root: str | Path) -> None:
    """Cheap check, no image decoded: the layout, the labels, every listed image on disk."""
    for listed in kermany_files(root).values():
        missing = [f.path for f in listed if not f.path.is_file()]
        if missing:
            raise DataFileError(f"{len(missing)} image(s) listed but not on disk, e.g. {missing[0]}")


def load_kermany(root: str | Path, split: str, image_size: int, n: int = 0, seed: int = 0):
    """One official split as an ImageDataset (uint8 gray, ``image_size`` square, classes
    normal / pneumonia); ``n`` > 0 takes a class-stratified subset.

    The images come in a seeded order, not the listing's: the folders list every normal image
    before the first pneumonia, so a chapter that takes the first images of a split (the UAP images,
    the attacked images) would otherwise get one class only (measured: the default uap-covidnet run
    on Kermany computed its UAPs on 200 normal images and no pneumonia)."""
    import torch
    from PIL import Image

    from .datasets import ImageDataset, read_grayscale, stratified_subset
    from .synthetic import check_size

    check_size(image_size)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    listed = kermany_files(root)[split]
    labels = np.array([KERMANY_CLASSES.index(f.label) for f in listed])
    order = np.random.default_rng(np.random.SeedSequence([int(seed), 7])).permutation(stratified_subset(labels, n, seed))
    chosen = [listed[i] for i in order]
    missing = [f.path for f in chosen if not f.path.is_file()]
    if missing:  # fail before any decoding
        raise DataFileError(f"image file not found: {missing[0]}")
    from ..progress import tqdm

    images = np.empty((len(chosen), 1, image_size, image_size), np.uint8)
    for k, item in enumerate(tqdm(chosen, desc=f"Kermany {split}", leave=False)):
        gray = read_grayscale(item.path)
        images[k, 0] = np.asarray(Image.fromarray(gray).resize((image_size, image_size), Image.BILINEAR))
    targets = torch.tensor([KERMANY_CLASSES.index(f.label) for f in chosen], dtype=torch.long)
    return ImageDataset(torch.from_numpy(images), targets, list(KERMANY_CLASSES),
                        f"Kermany pediatric chest X-rays ({split}, {len(chosen)} images) from {Path(root).name}/",
                        [f"{f.split}/{f.path.parent.name}/{f.path.name}" for f in chosen])


def kermany_splits(root: str | Path, image_size: int, n_train: int, n_test: int, seed: int):
    """(train, test) of the official split (class-stratified subsets when ``n_*`` > 0)."""
    return (load_kermany(root, "train", image_size, n_train, seed),
            load_kermany(root, "test", image_size, n_test, seed + 1))
