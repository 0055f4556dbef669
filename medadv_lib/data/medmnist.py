"""MedMNIST v2 (Yang et al. 2023) through the ``medmnist`` package itself.

``medmnist.<Flag>(split=..., root=ROOT, size=..., download=...)`` reads ``ROOT/{flag}.npz`` for 28 px
and ``ROOT/{flag}_{size}.npz`` for 64, 128 and 224 px (the MedMNIST+ files). Nothing is downloaded
unless ``download=True`` is asked for: an offline machine gets "file not found at PATH" naming the
file. Any flag of ``medmnist.INFO`` works; the chapters use ``pneumoniamnist`` (normal / pneumonia,
Kermany et al.'s images) and ``retinamnist`` (DeepDRiD fundus photographs, DR grades 0-4).

:func:`check_medmnist` is the cheap check (numpy only, no torch): the file is there and holds the
split's images and labels.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import DataFileError

__all__ = ["SIZES", "medmnist_file", "check_medmnist", "load_medmnist", "medmnist_splits", "MEDMNIST_CLASSES"]

SIZES = (28, 64, 128, 224)
#: Class names of the flags the chapters use (the package's INFO holds them for every flag).
MEDMNIST_CLASSES = {"pneumoniamnist": ["normal", "pneumonia"],
                    "retinamnist": ["grade 0", "grade 1", "grade 2", "grade 3", "grade 4"]}


def medmnist_file(root: str | Path, flag: str, size: int = 28) -> Path:
    """The file the ``medmnist`` package reads for ``flag`` at ``size`` under ``root``."""
    if size not in SIZES:
        raise ValueError(f"MedMNIST size must be one of {SIZES}, got {size}")
    return Path(root) / (f"{flag}.npz" if size == 28 else f"{flag}_{size}.npz")


def check_medmnist(root: str | Path, flag: str, size: int = 28) -> None:
    """The file is present and holds non-empty train/val/test images and labels of one count each."""
    path = medmnist_file(root, flag, size)
    if not path.is_file():
        raise DataFileError(f"MedMNIST file not found at {path} (download it with the medmnist package, "
                            "download=True, on a machine with internet)")
    try:
        with np.load(path, mmap_mode="r") as data:
            for split in ("train", "val", "test"):
                images, labels = data[f"{split}_images"], data[f"{split}_labels"]
                if len(images) == 0 or len(images) != len(labels):
                    raise DataFileError(f"{path}: the {split} split has {len(images)} images and {len(labels)} labels")
    except (OSError, ValueError, KeyError) as exc:
        if isinstance(exc, DataFileError):
            raise
        raise DataFileError(f"{path} is not a readable MedMNIST file: {exc}") from exc


def load_medmnist(root: str | Path, flag: str, split: str, size: int = 28, image_size: int | None = None,
                  download: bool = False):
    """One split as an ImageDataset through the ``medmnist`` package (uint8, gray or RGB as the flag
    is), resized to ``image_size`` when it differs from the file's ``size``."""
    import medmnist
    import torch
    import torch.nn.functional as F

    from .datasets import ImageDataset

    if flag not in medmnist.INFO:
        raise ValueError(f"unknown MedMNIST flag {flag!r}; the package knows {sorted(medmnist.INFO)}")
    info = medmnist.INFO[flag]
    root = Path(root)
    if not download:
        check_medmnist(root, flag, size)
    elif not root.is_dir():
        root.mkdir(parents=True)
    cls = getattr(medmnist, info["python_class"])
    data = cls(split=split, root=str(root), size=size, download=download)
    try:
        len(data)   # the package checks the count against the official one
    except AssertionError:
        raise DataFileError(f"{medmnist_file(root, flag, size)}: the {split} split holds {len(data.imgs)} images, "
                            f"the official file {info['n_samples'][split]}") from None
    images = np.asarray(data.imgs)
    images = images[:, None] if images.ndim == 3 else images.transpose(0, 3, 1, 2)
    tensor = torch.from_numpy(np.ascontiguousarray(images))
    if image_size and image_size != tensor.shape[-1]:
        tensor = F.interpolate(tensor.float(), size=(image_size, image_size), mode="bilinear",
                               align_corners=False).round().clamp(0, 255).to(torch.uint8)
    labels = torch.from_numpy(np.asarray(data.labels).reshape(len(images), -1))
    task = info["task"]
    targets = labels.float() if task.startswith("multi-label") else labels[:, 0].long()
    names = MEDMNIST_CLASSES.get(flag) or [info["label"][str(k)] for k in range(len(info["label"]))]
    return ImageDataset(tensor, targets, list(names),
                        f"MedMNIST {flag} ({split}, {size} px file) from {root.name}/",
                        [f"{flag}-{split}-{i}" for i in range(len(images))])


def medmnist_splits(root: str | Path, image_size: int | None, n_train: int, n_test: int, seed: int, *,
                    flag: str, size: int = 28):
    """(train, test) of MedMNIST's official split (its ``val`` split is not used); ``n_*`` > 0 take a
    seeded class-stratified subset."""
    from .datasets import stratified_subset

    train = load_medmnist(root, flag, "train", size, image_size)
    test = load_medmnist(root, flag, "test", size, image_size)
    keep_train = stratified_subset(train.targets.numpy(), n_train, seed)
    keep_test = stratified_subset(test.targets.numpy(), n_test, seed + 1)
    return train.subset(keep_train), test.subset(keep_test)
