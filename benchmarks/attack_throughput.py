"""Gradient-attack throughput: time per gradient step relative to the model's own forward+backward.

For each gradient attack (G1-G5 of the ten-attacks chapter) at batch 32 on Inception-ResNet-v2
and NASNet-Large (the chapter's default sizes: 75 px, reduced NASNet width), in one run:

* each attack runs once untimed first (one-time kernel set-up for new shapes is not a step);
* reference: the model's own forward + backward to the input at batch 32 (eval mode, frozen
  parameters, the work every gradient step must do), and its forward alone; medians of repeats;
* the attack through :func:`medadv_lib.attacks.run_attack` (by its paper id), with a counting
  wrapper that tells gradient passes (input requires grad) from forward-only passes (success
  checks, Foolbox's criterion calls);
* ``step_ratio = (attack time - forward-only passes x forward time) / (gradient passes x
  forward+backward time)``: the cost of one gradient step of the attack relative to the bare
  model. ``raw_ratio`` also charges the forward-only passes at the bare model's price.
* every case is measured ``--repeats`` times (at least 5), the reference and the attack interleaved
  in each repeat, and reported as the median with its spread (min-max).

Last line: ``worst_step_ratio=<max over cases of the median step_ratio>`` (target <= 1.3). Usage:
``python benchmarks/attack_throughput.py [--device auto] [--batch 32] [--size 75] [--repeats 5]``.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn as nn
from _timing import MIN_REPEATS, Counting, fmt_spread, sync

from medadv_lib.attacks import TAGHANAKI, run_attack
from medadv_lib.attacks.tasks import TwoLogits
from medadv_lib.models import build_model
from medadv_lib.utils import resolve_device, seed_everything

SETTINGS = {  # one fixed-size run of each gradient attack (no epsilon search)
    "G1": {"steps": 1},
    "G2": {"iterations": 10, "search_steps": 1},
    "G3": {"steps": 10},
    "G4": {"iterations": 10, "search_steps": 1},
    # L-BFGS: one search step of its default 150 iterations (Foolbox 2.4), with the stopping
    # tolerances at 0 so that it takes them: with the solver's defaults it stops after one
    # evaluation on these untrained nets (input gradients below gtol), and the "step" would then
    # be the start-up alone (scipy turns the box into per-pixel Python tuples, ~0.5 s per solve).
    "G5": {"search_steps": 1, "max_iter": 150, "initial_const": 10.0, "gtol": 0.0, "ftol": 0.0},
}


def reference_times(model, x, device, repeats=3):
    wrapped = TwoLogits(model).eval()
    fb, fw = [], []
    for _ in range(repeats + 1):
        xi = x.clone().requires_grad_(True)
        sync(device); t = time.perf_counter()
        loss = nn.functional.cross_entropy(wrapped(xi), torch.zeros(len(x), dtype=torch.long, device=device))
        torch.autograd.grad(loss, xi)
        sync(device); fb.append(time.perf_counter() - t)
        with torch.no_grad():
            sync(device); t = time.perf_counter()
            wrapped(x)
            sync(device); fw.append(time.perf_counter() - t)
    return statistics.median(fb[1:]), statistics.median(fw[1:])  # first repeat: warm-up


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=75)
    parser.add_argument("--only", default="", help="comma-separated attack ids (default: all)")
    parser.add_argument("--repeats", type=int, default=MIN_REPEATS, help=f"repeats per case (>= {MIN_REPEATS})")
    args = parser.parse_args()
    if args.repeats < MIN_REPEATS:
        parser.error(f"--repeats must be at least {MIN_REPEATS}")
    device = resolve_device(args.device)
    seed_everything(0)
    worst = 0.0
    for name, kwargs in (("inception-resnet-v2", {}), ("nasnet-large", {"width": "reduced"})):
        model = build_model(name, num_classes=1, in_chans=1, **kwargs).to(device).eval()
        for p in model.parameters():
            p.requires_grad_(False)
        x = torch.rand(args.batch, 1, args.size, args.size, device=device)
        with torch.no_grad():
            labels = (model(x)[:, 0] > 0).long().cpu()
        t_fb, t_f = reference_times(model, x, device, repeats=5)
        print(f"{name}: forward+backward {t_fb * 1e3:.1f} ms, forward {t_f * 1e3:.1f} ms at batch {args.batch}")
        for attack_id, params in SETTINGS.items():
            if args.only and attack_id not in args.only.split(","):
                continue
            run_attack(TAGHANAKI[attack_id], model, x.cpu(), labels, device=device, batch_size=args.batch, **params)  # warm-up
            steps, raws, totals = [], [], []
            for _ in range(args.repeats):          # reference and attack interleaved, each repeat
                t_fb, t_f = reference_times(model, x, device, repeats=3)
                counter = Counting(model)
                sync(device); t = time.perf_counter()
                run_attack(TAGHANAKI[attack_id], counter, x.cpu(), labels, device=device, batch_size=args.batch, **params)
                sync(device); total = time.perf_counter() - t
                grads, fwds = counter.grad_passes, counter.forward_passes
                steps.append((total - fwds * t_f) / max(grads, 1) / t_fb)
                raws.append(total / (grads * t_fb + fwds * t_f))
                totals.append(total)
            worst = max(worst, statistics.median(steps))
            print(f"  {attack_id}: {grads} gradient + {fwds} forward passes in {fmt_spread(totals, 2, ' s')}; "
                  f"step_ratio={fmt_spread(steps)} raw_ratio={fmt_spread(raws)}")
    print(f"worst_step_ratio={worst:.3f}")


if __name__ == "__main__":
    main()
