"""The trainer's epoch on CPU or GPU: the for-loop optimizer step against the fused one, and the
batch-norm recalibration over every training image at the training batch against the trainer's
(at most 1,024 images, batch 256).

One run, side by side, alternating the two variants ``--repeats`` times on the same data and
weights (COVID-Net Small at the UAP chapter's default size, and the backdoor chapter's DenseNet):

* ``epoch``: ``--images`` training images in batches of 32 (augmentation, forward, backward,
  optimizer step), Adam with ``foreach=False`` (the loop) against ``fused=True`` (the trainer's);
* ``recalibrate``: :func:`medadv_lib.training.recalibrate_batchnorm` over all the images at
  batch 32 (the trainer before) against :func:`~medadv_lib.training.calibration_subset` of them at
  batch 256 (the trainer now).

Prints the median seconds of each with its spread (min-max over the ``--repeats``, at least 5,
old and new interleaved in every repeat) and the ratio new / old per repeat (median and spread);
last line ``training_epoch_ratio=<median over repeats of (new epoch + new recalibration) / (old
epoch + old recalibration)>``, the worst over the models. Usage:
``python benchmarks/training_step.py [--device auto] [--images 1800] [--repeats 5]`` (1,800: the UAP
chapter's default training set).
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn as nn
from _timing import MIN_REPEATS, fmt_spread, sync

from medadv_lib.models import build_model
from medadv_lib.training import augment_batch, calibration_subset, recalibrate_batchnorm
from medadv_lib.utils import resolve_device, seed_everything

#: (name, kwargs, input shape, loss) at the chapters' default sizes.
MODELS = [
    ("covidnet-small", {"num_classes": 3, "in_channels": 1, "width": 0.125, "image_size": 64}, (1, 64, 64), "ce"),
    ("densenet-small", {"num_classes": 14, "in_channels": 1}, (1, 64, 64), "bce"),
]


def _epoch(model, opt, x, y, loss_fn, device, batch=32):
    generator = torch.Generator().manual_seed(0)
    model.train()
    sync(device)
    start = time.perf_counter()
    for i in range(0, len(x), batch):
        xb = augment_batch(x[i:i + batch], generator).to(device)
        loss = loss_fn(model(xb), y[i:i + batch].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    sync(device)
    return time.perf_counter() - start


def _recalibrate(model, x, device, batch):
    sync(device)
    start = time.perf_counter()
    recalibrate_batchnorm(model, x, device, batch)
    sync(device)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--images", type=int, default=1800)
    parser.add_argument("--repeats", type=int, default=MIN_REPEATS, help=f"repeats (>= {MIN_REPEATS})")
    args = parser.parse_args()
    if args.repeats < MIN_REPEATS:
        parser.error(f"--repeats must be at least {MIN_REPEATS}")
    device = resolve_device(args.device)
    worst = 0.0
    for name, kwargs, shape, loss in MODELS:
        seed_everything(0)
        x = torch.rand(args.images, *shape)
        if loss == "ce":
            y, loss_fn = torch.randint(0, kwargs["num_classes"], (args.images,)), nn.CrossEntropyLoss()
        else:
            y, loss_fn = (torch.rand(args.images, kwargs["num_classes"]) < 0.2).float(), nn.BCEWithLogitsLoss()
        model = build_model(name, **kwargs).to(device)
        old_opt = torch.optim.Adam(model.parameters(), lr=1e-4, foreach=False)
        new_opt = torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)
        _epoch(model, new_opt, x[:64], y[:64], loss_fn, device)  # warm-up: kernels for these shapes
        _epoch(model, old_opt, x[:64], y[:64], loss_fn, device)
        times = {"epoch old": [], "epoch new": [], "recalibrate old": [], "recalibrate new": []}
        for _ in range(args.repeats):
            times["epoch old"].append(_epoch(model, old_opt, x, y, loss_fn, device))
            times["epoch new"].append(_epoch(model, new_opt, x, y, loss_fn, device))
            times["recalibrate old"].append(_recalibrate(model, x, device, 32))
            times["recalibrate new"].append(_recalibrate(model, x[calibration_subset(len(x))], device, 256))
        ratios = [(en + rn) / (eo + ro) for eo, en, ro, rn in zip(
            times["epoch old"], times["epoch new"], times["recalibrate old"], times["recalibrate new"])]
        ratio = statistics.median(ratios)
        worst = max(worst, ratio)
        t = {k: fmt_spread(v, 2, " s") for k, v in times.items()}
        print(f"{name}: {args.images} images, epoch {t['epoch old']} -> {t['epoch new']} "
              f"(fused Adam), recalibration {t['recalibrate old']} -> {t['recalibrate new']} "
              f"(all at batch 32 -> {min(len(x), 1024)} at 256); ratio {fmt_spread(ratios)}")
    print(f"training_epoch_ratio={worst:.3f}")


if __name__ == "__main__":
    main()
