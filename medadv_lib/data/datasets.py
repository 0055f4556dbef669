"""The one in-memory dataset type every loader returns, synthetic or real."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import DataLoader, Dataset

from .errors import DataFileError

__all__ = ["ImageDataset", "read_grayscale", "DataFileError", "stratified_subset"]


@dataclass
class ImageDataset(Dataset):
    """Images (N, C, H, W) in [0, 1] with targets, class names and where they came from.

    ``targets`` is (N,) int64 for single-label tasks, (N, K) float32 for multi-label tasks and
    (N, H, W) int64 for segmentation. ``source`` is a human-readable provenance string shown on
    every page that reports a number ("synthetic ..." or the real data path).
    """

    images: torch.Tensor
    targets: torch.Tensor
    class_names: list[str]
    source: str
    ids: list[str] = field(default_factory=list)
    transform: object = None
    #: for synthetic images, how their difficulty was set (``synthetic.Calibration.describe``)
    calibration: str = ""

    def __post_init__(self):
        if self.images.ndim != 4:
            raise ValueError(f"images must be (N, C, H, W), got shape {tuple(self.images.shape)}")
        if len(self.targets) != len(self.images):
            raise ValueError(f"{len(self.images)} images but {len(self.targets)} targets")
        if not self.ids:
            self.ids = [str(i) for i in range(len(self.images))]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index):
        image = self.images[index]
        if image.dtype == torch.uint8:
            image = image.float() / 255.0
        if self.transform is not None:
            image = self.transform(image)
        return image, self.targets[index]

    @property
    def is_synthetic(self) -> bool:
        return self.source.startswith("synthetic")

    @property
    def multilabel(self) -> bool:
        return self.targets.ndim == 2 and self.targets.dtype.is_floating_point

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])

    def float_images(self) -> torch.Tensor:
        """All images as float32 in [0, 1] (no transform)."""
        return self.images.float() / 255.0 if self.images.dtype == torch.uint8 else self.images

    def class_counts(self) -> torch.Tensor:
        if self.multilabel:
            return self.targets.sum(0)
        return torch.bincount(self.targets.flatten(), minlength=len(self.class_names))

    def class_weights(self) -> torch.Tensor:
        """Inverse-frequency weights normalised to mean 1 (missing classes get weight 0).

        For multi-label targets: the positive weight neg/pos of each label, as used with
        ``BCEWithLogitsLoss(pos_weight=...)``.
        """
        counts = self.class_counts().float()
        if self.multilabel:
            return ((len(self) - counts) / counts.clamp(min=1)).clamp(max=100.0)
        weights = torch.where(counts > 0, counts.sum() / counts.clamp(min=1), torch.zeros_like(counts))
        present = (counts > 0).sum()
        return weights * present / weights.sum()

    def subset(self, indices: Sequence[int] | torch.Tensor) -> "ImageDataset":
        idx = torch.as_tensor(indices, dtype=torch.long)
        return replace(self, images=self.images[idx], targets=self.targets[idx], class_names=list(self.class_names),
                       ids=[self.ids[i] for i in idx.tolist()])

    def as_one_label(self, name: str | None = None) -> "ImageDataset":
        """A two-class dataset (targets 0/1) as a one-label multi-label task: (N, 1) float targets,
        the label named ``name`` (default: the second class), for sigmoid models scored like the
        multi-label ones."""
        if self.multilabel or self.targets.ndim != 1 or len(self.class_names) != 2:
            raise ValueError(f"as_one_label needs a two-class dataset with (N,) targets, got classes "
                             f"{self.class_names} and targets {tuple(self.targets.shape)}")
        return replace(self, targets=(self.targets == 1).float().unsqueeze(1), class_names=[name or self.class_names[1]],
                       ids=list(self.ids))

    def with_images(self, images: torch.Tensor, source_note: str) -> "ImageDataset":
        """Same targets, new images (e.g. poisoned or perturbed), provenance extended."""
        return replace(self, images=images, targets=self.targets.clone(), class_names=list(self.class_names),
                       source=f"{self.source}; {source_note}", ids=list(self.ids))

    def loader(self, batch_size: int = 64, shuffle: bool = False, seed: int = 0,
               drop_last: bool = False) -> DataLoader:
        """Deterministic single-process loader (``seed`` fixes the shuffling order)."""
        gen = torch.Generator()
        gen.manual_seed(seed)
        return DataLoader(self, batch_size=batch_size, shuffle=shuffle, generator=gen,
                          drop_last=drop_last, num_workers=0)


def read_grayscale(path: str | Path) -> np.ndarray:
    """Read an image file as 8-bit grayscale (H, W), with an error that names the file."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"image file not found: {path}")
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("L"))
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise DataFileError(f"cannot read image {path}: {exc}") from exc


def stratified_subset(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` indices (sorted) drawn so that each class keeps its share (seeded); all when ``n`` is 0
    or not smaller than the set."""
    labels = np.asarray(labels)
    if not n or n >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    quota = np.floor(counts / counts.sum() * n).astype(int)
    for k in np.argsort(-(counts / counts.sum() * n - quota))[: n - quota.sum()]:
        quota[k] += 1
    chosen = [rng.choice(np.flatnonzero(labels == c), size=q, replace=False) for c, q in zip(classes, quota)]
    return np.sort(np.concatenate(chosen))
