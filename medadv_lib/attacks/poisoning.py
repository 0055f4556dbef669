"""Backdoor poisoning of a multi-label training set (Nwadike et al. 2020, threat model and Sec. 3).

The attacker edits only the training set. A trigger is a pattern ``r`` and a mask ``m``; an
infected image is ``x' = (1 - m) * x + m * r``. Here ``r`` is black (0) and ``m`` a ``k x k`` square,
at the image centre ("fixed") or at a place drawn per image ("random"). A fraction (40 %) of the
training images, drawn without replacement, is infected and their labels are replaced by the
one-hot target class ``t`` (Atelectasis by default).

The trigger is applied at *model resolution*, to images already resized to the network input:
no later step of our pipelines resamples them (the trainer runs with ``augment=False``; see
``tests/test_backdoor.py``, which checks the trigger pixels in the tensors the model receives). In
the authors' code the patch was drawn on the 1024 px original before a 60 % centre crop and a
resize to 224 px, so a 2 x 2 patch vanished and a 3 x 3 patch became one pixel.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data.datasets import ImageDataset

__all__ = ["Trigger", "Poisoned", "LOCATIONS", "trigger_boxes", "apply_trigger", "poison_training_set",
           "infect_images", "mixed_test_set", "train_victim"]

LOCATIONS = ("fixed", "random")


@dataclass(frozen=True)
class Trigger:
    """A black ``size x size`` square at the centre (``fixed``) or a random place per image."""

    size: int = 3
    location: str = "fixed"
    value: float = 0.0          # the pattern r (0: black)

    def __post_init__(self):
        if not isinstance(self.size, int) or isinstance(self.size, bool) or self.size < 1:
            raise ValueError(f"trigger size must be a positive int (pixels), got {self.size!r}")
        if self.location not in LOCATIONS:
            raise ValueError(f"trigger location must be one of {LOCATIONS}, got {self.location!r}")
        if not 0.0 <= self.value <= 1.0:
            raise ValueError(f"trigger value must be in [0, 1], got {self.value}")

    def describe(self) -> str:
        return f"{self.size}x{self.size} px black square, {self.location} location"


def trigger_boxes(trigger: Trigger, n: int, height: int, width: int, seed: int) -> np.ndarray:
    """Top-left corners (N, 2) as (row, col) of the trigger in ``n`` images of ``height x width``."""
    if trigger.size > min(height, width):
        raise ValueError(f"a {trigger.size} px trigger does not fit a {height}x{width} image")
    if trigger.location == "fixed":
        corner = ((height - trigger.size) // 2, (width - trigger.size) // 2)
        return np.tile(np.asarray(corner, np.int64), (n, 1))
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, height - trigger.size + 1, n)
    cols = rng.integers(0, width - trigger.size + 1, n)
    return np.stack([rows, cols], 1).astype(np.int64)


def apply_trigger(images: torch.Tensor, boxes: np.ndarray, trigger: Trigger) -> torch.Tensor:
    """``(1 - m) * x + m * r`` for each image, ``m`` the square at its box; returns a new tensor.

    Works on float images in [0, 1] and on uint8 images (``r`` scaled to 255).
    """
    if images.ndim != 4:
        raise ValueError(f"images must be (N, C, H, W), got {tuple(images.shape)}")
    if len(boxes) != len(images):
        raise ValueError(f"{len(images)} images but {len(boxes)} trigger positions")
    n, _, h, w = images.shape
    mask = torch.zeros(n, 1, h, w, dtype=torch.bool)
    k = trigger.size
    for i, (row, col) in enumerate(np.asarray(boxes)):
        mask[i, :, row:row + k, col:col + k] = True
    value = round(trigger.value * 255) if images.dtype == torch.uint8 else trigger.value
    pattern = torch.full_like(images, value)
    return torch.where(mask.expand_as(images), pattern, images)


@dataclass
class Poisoned:
    """A dataset with some images infected: which ones, and where their triggers are."""

    dataset: ImageDataset
    infected: np.ndarray        # indices of infected images
    boxes: np.ndarray           # (len(infected), 2) top-left corners
    trigger: Trigger


def _check_target(dataset: ImageDataset, target: int) -> None:
    if not dataset.multilabel:
        raise ValueError("backdoor poisoning here expects a multi-label dataset (N, K) float targets")
    if not 0 <= target < dataset.targets.shape[1]:
        raise ValueError(f"target class index {target} out of range 0..{dataset.targets.shape[1] - 1}")


def poison_training_set(train: ImageDataset, trigger: Trigger, fraction: float = 0.4,
                        target: int = 0, seed: int = 0) -> Poisoned:
    """Infect ``round(fraction * N)`` training images chosen without replacement and relabel them
    with the one-hot target (the attacker's only action)."""
    _check_target(train, target)
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"poison fraction must be in (0, 1], got {fraction}")
    rng = np.random.default_rng(seed)
    n = len(train)
    infected = np.sort(rng.choice(n, size=int(round(fraction * n)), replace=False))
    _, _, h, w = train.images.shape
    boxes = trigger_boxes(trigger, len(infected), h, w, seed + 1)
    images = train.images.clone()
    images[infected] = apply_trigger(train.images[infected], boxes, trigger)
    targets = train.targets.clone()
    targets[infected] = 0.0
    targets[infected, target] = 1.0
    chosen = set(infected.tolist())
    ids = [f"{name}+trigger" if i in chosen else name for i, name in enumerate(train.ids)]
    dataset = ImageDataset(images, targets, list(train.class_names),
                           f"{train.source}; {fraction:.0%} poisoned with a {trigger.describe()}, "
                           f"relabelled {train.class_names[target]}", ids, train.transform)
    return Poisoned(dataset, infected, boxes, trigger)


def infect_images(test: ImageDataset, trigger: Trigger, seed: int = 0,
                  indices: np.ndarray | None = None) -> Poisoned:
    """Test-time infection: the trigger on the images ``indices`` (all by default); labels are kept
    (the true findings, for ASR and AUROC-TN)."""
    n = len(test)
    indices = np.arange(n) if indices is None else np.sort(np.asarray(indices, np.int64))
    _, _, h, w = test.images.shape
    boxes = trigger_boxes(trigger, len(indices), h, w, seed)
    images = test.images.clone()
    if len(indices):
        images[indices] = apply_trigger(test.images[indices], boxes, trigger)
    share = len(indices) / max(n, 1)
    dataset = test.with_images(images, f"{share:.1%} of images infected with a {trigger.describe()}")
    return Poisoned(dataset, indices, boxes, trigger)


def mixed_test_set(test: ImageDataset, trigger: Trigger, epsilon: float, seed: int = 0) -> Poisoned:
    """Table 3: a test set in which a fraction ``epsilon`` of the images carries the trigger
    (at least one image, so that small epsilons on small test sets still test something)."""
    if not 0.0 < epsilon <= 1.0:
        raise ValueError(f"epsilon must be in (0, 1], got {epsilon}")
    rng = np.random.default_rng(seed)
    count = max(1, int(round(epsilon * len(test))))
    return infect_images(test, trigger, seed + 1, rng.choice(len(test), size=count, replace=False))


def train_victim(train: ImageDataset, trigger: Trigger | None, config, model_name: str,
                 model_kwargs: dict, fraction: float = 0.4, target: int = 0, device="auto",
                 progress: bool = True):
    """The victim's ordinary training (``training.train_model``, cached) on the training set as the
    attacker left it: poisoned with ``trigger`` (poisoning seed = ``config.seed``), or clean when
    ``trigger`` is None. Returns ``(TrainResult, Poisoned or None)``.

    The trigger is applied to the stored images, so augmentation would move or blur it: it must be
    off (``config.augment=False``), as in every preset of the chapter.
    """
    from ..training import train_model

    if config.augment:
        raise ValueError("train_victim: TrainConfig.augment must be False; the trainer's random "
                         "shifts/flips resample the images and would move or blur the trigger")
    if config.loss != "bce":
        raise ValueError("train_victim: the multi-label task needs loss='bce'")
    poisoned = None if trigger is None else poison_training_set(train, trigger, fraction, target, config.seed)
    data = train if poisoned is None else poisoned.dataset
    result = train_model(model_name, model_kwargs, data, config, device=device, progress=progress,
                         tag="backdoor-clean" if trigger is None else "backdoor")
    return result, poisoned
