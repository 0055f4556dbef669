"""Throughput of the batched gradient attacks of the registry on the collection's models.

For FGSM, PGD, BIM, APGD (CE and margin) and SMIA through :func:`medadv_lib.attacks.run_attack`
on each model of the collection at its chapter's default size (untrained weights: the cost of a step
does not depend on them), in one run:

* reference: the model's own forward + backward to the input at the same batch, with the task's
  loss (eval mode, frozen parameters: the work every gradient step must do), and its forward
  alone; medians of repeats after a warm-up;
* the attack, once untimed (kernel set-up for new shapes is not a step), then timed with a counting
  wrapper that tells gradient passes (input requires grad) from forward-only passes (the
  registry's success checks, Foolbox's criterion calls);
* ``step_ratio = (attack time - forward-only passes x forward time) / (gradient passes x
  forward+backward time)``: the cost of one gradient pass of the attack relative to the bare model.
  (SMIA's step makes two gradient passes, the perturbed and the smoothed branch: each is counted.)
* every case is measured ``--repeats`` times (at least 5), the reference and the attack interleaved
  in each repeat (so both see the same machine load), and reported as the median step ratio with
  its spread (min-max): one sub-second sample on a shared machine read 1.12 to 1.64 for one case.

Last line: ``worst_step_ratio=<max over cases of the median step_ratio>`` (target <= 1.3, the
ten-attack benchmark's target, for every gradient attack). Usage:
``python benchmarks/matrix_throughput.py [--device auto] [--batch 32] [--repeats 5]``.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn as nn
from _timing import MIN_REPEATS, Counting, fmt_spread, sync

from medadv_lib.attacks import attack_loss, get_attack, run_attack
from medadv_lib.attacks.tasks import TwoLogits
from medadv_lib.models import build_model
from medadv_lib.utils import resolve_device, seed_everything

#: The collection's models at their chapters' default sizes: (name, kwargs, input shape, task).
MODELS = [
    ("covidnet-small", {"num_classes": 3, "in_channels": 1, "width": 0.125, "image_size": 64}, (1, 64, 64), "multiclass"),
    ("inception-resnet-v2", {"num_classes": 1, "in_chans": 1, "pooling": "max"}, (1, 75, 75), "binary"),
    ("slim-resnet", {"num_classes": 5, "in_channels": 3, "width": 16}, (3, 64, 64), "multiclass"),
    ("densenet-small", {}, (1, 64, 64), "multilabel"),
    ("unet", {"in_channels": 1, "num_classes": 2, "width": 8, "depth": 3}, (1, 64, 64), "segmentation"),
]
ATTACK_SETTINGS = {"fgsm": {}, "pgd": {"steps": 10}, "bim": {"steps": 10}, "apgd-ce": {"steps": 10},
                   "apgd-margin": {"steps": 10}, "smia": {"steps": 10}}


def _labels(model, x, task):
    with torch.no_grad():
        out = model(x)
    return {"binary": lambda: (out[:, 0] > 0).long(), "multiclass": lambda: out.argmax(1),
            "multilabel": lambda: (out > 0).float(), "segmentation": lambda: out.argmax(1)}[task]()


def reference_times(model, x, y, task, device, repeats=5):
    head = TwoLogits(model) if task == "binary" else model
    fb, fw = [], []
    for _ in range(repeats + 1):
        xi = x.clone().requires_grad_(True)
        sync(device); t = time.perf_counter()
        if task == "binary":
            loss = nn.functional.cross_entropy(head(xi), y)
        else:
            loss = attack_loss(head(xi), y, task, "ce").sum()
        torch.autograd.grad(loss, xi)
        sync(device); fb.append(time.perf_counter() - t)
        with torch.no_grad():
            sync(device); t = time.perf_counter()
            head(x)
            sync(device); fw.append(time.perf_counter() - t)
    return statistics.median(fb[1:]), statistics.median(fw[1:])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--only", default="", help="comma-separated attack names (default: all)")
    parser.add_argument("--repeats", type=int, default=MIN_REPEATS, help=f"repeats per case (>= {MIN_REPEATS})")
    args = parser.parse_args()
    if args.repeats < MIN_REPEATS:
        parser.error(f"--repeats must be at least {MIN_REPEATS}")
    device = resolve_device(args.device)
    seed_everything(0)
    worst = 0.0
    for name, kwargs, shape, task in MODELS:
        model = build_model(name, **kwargs).to(device).eval()
        for p in model.parameters():
            p.requires_grad_(False)
        x = torch.rand(args.batch, *shape, device=device)
        y = _labels(model, x, task)
        t_fb, t_f = reference_times(model, x, y, task, device)
        print(f"{name} ({task}): forward+backward {t_fb * 1e3:.1f} ms, forward {t_f * 1e3:.1f} ms at batch {args.batch}")
        for attack, params in ATTACK_SETTINGS.items():
            if (args.only and attack not in args.only.split(",")) or task not in get_attack(attack).tasks:
                continue
            run_attack(attack, model, x.cpu(), y.cpu(), eps=4 / 255, device=device, batch_size=args.batch, **params)
            steps, totals = [], []
            for _ in range(args.repeats):          # reference and attack interleaved, each repeat
                t_fb, t_f = reference_times(model, x, y, task, device, repeats=3)
                counter = Counting(model)
                sync(device); t = time.perf_counter()
                run_attack(attack, counter, x.cpu(), y.cpu(), eps=4 / 255, device=device, batch_size=args.batch, **params)
                sync(device); total = time.perf_counter() - t
                grads, fwds = counter.grad_passes, counter.forward_passes
                steps.append((total - fwds * t_f) / max(grads, 1) / t_fb)
                totals.append(total)
            step = statistics.median(steps)
            worst = max(worst, step)
            print(f"  {attack}: {grads} gradient + {fwds} forward passes in {fmt_spread(totals, 2, ' s')}; "
                  f"step_ratio={fmt_spread(steps)}")
    print(f"worst_step_ratio={worst:.3f}")


if __name__ == "__main__":
    main()
