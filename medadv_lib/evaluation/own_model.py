"""Attack your own model, end to end: the README's example and the book's "Attack your own model" page.

What a user does, with nothing of the collection's trainer: a torchvision ResNet-18 (random init,
``torchvision.models.resnet18(weights=None, num_classes=1)``: one logit, pneumonia) trained in plain
torch (Adam, binary cross-entropy with logits, gray images repeated to its three channels, batch-norm
statistics recomputed over the training images at the end) on
PneumoniaMNIST's official train split (``pneumoniamnist.npz``, read with numpy; Yang et al. 2023,
MedMNIST v2; the images of Kermany et al. 2018), at the size the evaluation loads them (bilinear
from 28 px, as :func:`medadv_lib.data.medmnist.load_medmnist`); its state dict saved with
``torch.save(model.state_dict(), FILE)``; then evaluated through ``medadv evaluate`` (``--arch
torchvision:resnet18 --dataset pneumoniamnist``: the same page, checks and attacks as any user's
model). The clean baseline to expect: MedMNIST+ (Doerrich et al. 2025) reports 83.1 % test accuracy
for an ImageNet-pretrained ResNet-18 at 28 px; chance (always "pneumonia") is 62.5 % (390 of 624).

``python -m medadv_lib.evaluation.own_model --data-root ../shared/data/medmnist --out runs/resnet18-pneumoniamnist.pt``
trains and saves it (about two minutes on 2 CPU cores) and prints the ``medadv evaluate`` command;
``medadv book --data-dir DIR`` builds the page when DIR holds PneumoniaMNIST (:func:`book_evaluation`,
the model cached by its configuration).
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..specs.budgets import from_gray_levels

__all__ = ["Recipe", "RECIPE", "SMOKE_RECIPE", "EVALUATION", "load_split", "train_resnet18", "accuracy",
           "book_evaluation", "main"]

ARCH = "torchvision:resnet18"
DATASET = "pneumoniamnist"
FILE = "pneumoniamnist.npz"


@dataclass(frozen=True)
class Recipe:
    """How the example model is trained (plain torch; every value shown on the page's banner)."""

    image_size: int = 32
    epochs: int = 2
    batch_size: int = 64
    lr: float = 1e-3
    seed: int = 0
    n_train: int = 0            # the first n of the shuffled train split (0: all 4,708)


RECIPE = Recipe()
#: The smoke book's recipe (``medadv book --preset smoke``: one to two minutes): fewer images, one epoch.
SMOKE_RECIPE = Recipe(epochs=1, n_train=1500)
#: The evaluation page's parameters for the example (notebooks/evaluate.py): the matrix's default
#: L-inf budgets (0.5, 2 and 8/255) and 16/255, where an undefended model should be near 0 (at
#: 8/255 this one keeps 15 [9, 23] % of 100 inputs, which cannot decide "near 0"), every
#: fixed-budget attack that applies, 100 test inputs.
EVALUATION = {"arch": ARCH, "dataset": DATASET, "image_size": RECIPE.image_size, "n_inputs": 100,
              "eps": from_gray_levels([0.5, 2, 8, 16]), "name": "resnet18-pneumoniamnist"}


def load_split(root: str | Path, split: str, image_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """PneumoniaMNIST's ``split`` from ``root/pneumoniamnist.npz``: images in [0, 1], (N, 1, S, S),
    resized from 28 px as the evaluation's loader does (bilinear, rounded to 8 bits), labels 0/1."""
    path = Path(root) / FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (MedMNIST's pneumoniamnist.npz; nothing is downloaded)")
    with np.load(path) as data:
        images = torch.from_numpy(data[f"{split}_images"]).float()[:, None]
        labels = torch.from_numpy(data[f"{split}_labels"].reshape(-1)).long()
    if image_size != images.shape[-1]:
        images = F.interpolate(images, size=(image_size, image_size), mode="bilinear",
                               align_corners=False).round().clamp(0, 255)
    return images / 255.0, labels


def train_resnet18(images: torch.Tensor, labels: torch.Tensor, recipe: Recipe = RECIPE, log=None) -> nn.Module:
    """A torchvision ResNet-18 with one logit, trained from random init in plain torch on
    ``images`` ([0, 1], one channel, repeated to three) and 0/1 ``labels``; eval mode. The same
    recipe and seed give the same weights on CPU."""
    import torchvision

    torch.manual_seed(recipe.seed)
    model = torchvision.models.resnet18(weights=None, num_classes=1)
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    generator = torch.Generator().manual_seed(recipe.seed)
    if recipe.n_train:
        keep = torch.randperm(len(images), generator=generator)[:recipe.n_train]
        images, labels = images[keep], labels[keep]
    model.train()
    for epoch in range(recipe.epochs):
        order, total = torch.randperm(len(images), generator=generator), 0.0
        for i in range(0, len(images), recipe.batch_size):
            batch = order[i:i + recipe.batch_size]
            optimizer.zero_grad()
            logits = model(images[batch].repeat(1, 3, 1, 1))[:, 0]
            loss = F.binary_cross_entropy_with_logits(logits, labels[batch].float())
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch)
        if log:
            log(f"epoch {epoch + 1}/{recipe.epochs}: training loss {total / len(images):.4f}")
    # batch norm's running averages lag weights that Adam moves fast (measured: eval-mode test
    # accuracy 0.667, near chance, against 0.819 after this): recompute them over the training
    # images with the final weights, torch's own helper for it (as after SWA)
    torch.optim.swa_utils.update_bn([images[i:i + 256].repeat(1, 3, 1, 1) for i in range(0, len(images), 256)], model)
    return model.eval()


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 256) -> float:
    """Share of ``images`` whose one logit has the sign of ``labels`` (pneumonia > 0)."""
    with torch.no_grad():
        logits = torch.cat([model(images[i:i + batch_size].repeat(1, 3, 1, 1))[:, 0]
                            for i in range(0, len(images), batch_size)])
    return float(((logits > 0).long() == labels).float().mean())


def describe(recipe: Recipe) -> str:
    """The page's sentence on where the example's model comes from."""
    images = f"the first {recipe.n_train} of a seeded shuffle of" if recipe.n_train else "all 4,708 images of"
    return (f"**Where this model comes from:** a torchvision ResNet-18 (random init, one logit) trained in plain "
            f"torch outside the collection's trainer (`python -m medadv_lib.evaluation.own_model`: Adam, lr {recipe.lr:g}, "
            f"{recipe.epochs} epoch(s), batch {recipe.batch_size}, {recipe.image_size} px, seed {recipe.seed}) on "
            f"{images} PneumoniaMNIST's train split, saved with `torch.save(model.state_dict(), FILE)` and "
            f"evaluated here as `medadv evaluate --arch {ARCH} --dataset {DATASET}` evaluates it. Chance (always "
            "pneumonia) is 62.5 % of MedMNIST's test split; MedMNIST+ reports 83.1 % for an ImageNet-pretrained "
            "ResNet-18 at 28 px (Doerrich et al. 2025).")


def book_evaluation(data_root: str | Path, preset: str = "default", log=print) -> dict:
    """The example's evaluation page parameters for ``medadv book``: the model trained by
    :data:`RECIPE` (:data:`SMOKE_RECIPE` at the smoke preset) on ``data_root``'s PneumoniaMNIST,
    cached by the recipe and the file's hash in the model cache
    (:class:`medadv_lib.cache.VerifiedFolder`: trained once), as ``model_file``."""
    import hashlib

    from ..cache import VerifiedFolder
    from ..utils import cache_dir, config_key

    recipe = SMOKE_RECIPE if preset == "smoke" else RECIPE
    path = Path(data_root) / FILE
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    name = "resnet18-pneumoniamnist.pt"                   # the page: evaluate-resnet18-pneumoniamnist--pneumoniamnist
    folder = VerifiedFolder(cache_dir() / "own-model" / config_key({**asdict(recipe), "data": digest}))
    with folder.lock():
        if folder.read_torch(name) is None:
            log(f"== training the example's ResNet-18 on {path} (plain torch, {recipe})")
            images, labels = load_split(data_root, "train", recipe.image_size)
            folder.write_torch(name, train_resnet18(images, labels, recipe, log).state_dict())
    values = {**EVALUATION, "model_file": str(folder.folder / name), "data_root": str(Path(data_root)),
              "about": describe(recipe)}
    return values if preset != "smoke" else {k: v for k, v in values.items() if k != "n_inputs"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m medadv_lib.evaluation.own_model", description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", required=True, help="the folder holding pneumoniamnist.npz")
    parser.add_argument("--out", required=True, help="where the state dict is saved (torch.save(model.state_dict()))")
    for field, value in asdict(RECIPE).items():
        parser.add_argument(f"--{field.replace('_', '-')}", type=type(value), default=value)
    args = parser.parse_args(argv)
    recipe = Recipe(**{f: getattr(args, f) for f in asdict(RECIPE)})
    try:
        images, labels = load_split(args.data_root, "train", recipe.image_size)
        test_images, test_labels = load_split(args.data_root, "test", recipe.image_size)
    except (FileNotFoundError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    model = train_resnet18(images, labels, recipe, log=print)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out)
    chance = max(float(test_labels.float().mean()), 1 - float(test_labels.float().mean()))
    clean = accuracy(model, test_images, test_labels)
    print(f"trained in {time.perf_counter() - start:.0f} s; test accuracy {clean:.3f} on {len(test_labels)} images "
          f"(chance {chance:.3f}); saved {out}")
    print(f"next: medadv evaluate --model {out} --arch {ARCH} --dataset {DATASET} --data-root {args.data_root} "
          f"--image-size {recipe.image_size} --n-inputs {EVALUATION['n_inputs']} --eps 0.5/255 2/255 8/255 16/255")
    return 0


if __name__ == "__main__":
    sys.exit(main())
