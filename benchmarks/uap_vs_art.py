"""UAP engine against the Adversarial Robustness Toolbox's ``UniversalPerturbation``.

In one process, on the same model, images and settings (FGSM inner step of strength
``--fgsm``, norm, ``xi = zeta x mean image norm``, passes, clipping to [0, 1]), it times, for each
of ``--repeats`` visiting orders (seeds 0, 1, ...), one after another:

* ART 1.20.1 ``UniversalPerturbation(attacker="fgsm")`` on a ``PyTorchClassifier`` (the
  algorithm the paper's code ran; a benchmark-only extra: ``pip install -e ".[bench]"``);
* ``medadv_lib.attacks.uap.universal_perturbation`` in ``exact`` mode (ART's decisions and
  arithmetic; it must return ART's perturbation bit for bit) and in ``batched`` mode.

The three run interleaved in every visiting order, so each ratio is measured ``--repeats`` times
(at least 5) under the same machine load; the ratios are reported per order and as the median
with its spread (min-max), and the totals over the orders. Fooling rates are averaged: a single
run's rate is noisy, because one near-tie decision taken the other way sends a run down another
path for good.

The model is the UAP chapter's COVIDNet-CXR Small reconstruction (width 1/8, 64 px), trained by
the project's trainer on synthetic radiographs (cached after the first run, not timed). Every
fooling rate is measured the same way: the share of the UAP images whose prediction on
``clip(x + v)`` differs from the clean prediction (the algorithm's own criterion).

It also prints the *floor* of any implementation that takes ART's decisions at batch 1: the
number of forwards and backwards the decisions need (from the exact runs) times the model's own
batch-1 forward and backward times measured in the same process.

Last line: ``ratio_exact=<median over orders of ART time / exact time> ratio_batched=<same for
batched> fr_art=<..> fr_exact=<..> fr_batched=<..>``. Targets (2-core CPU): ratio_exact >= 3 with
|fr_exact - fr_art| <= 0.01, ratio_batched >= 10 with |fr_batched - fr_art| <= 0.03.
Usage: ``python benchmarks/uap_vs_art.py [--images 256] [--passes 5] [--norm inf] [--repeats 5]``.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).parent))
from _timing import MIN_REPEATS, fmt_spread  # noqa: E402

from medadv_lib.attacks.uap import predict_labels, uap_radius, universal_perturbation
from medadv_lib.data.covidx import covidx_splits
from medadv_lib.training import TrainConfig, train_model
from medadv_lib.utils import resolve_device, seed_everything


def trained_model(image_size: int, width: float, device) -> nn.Module:
    train, _ = covidx_splits(None, image_size, 1200, 10, seed=0)
    config = TrainConfig(epochs=10, batch_size=32, lr=1e-3, augment=True, seed=0)
    kwargs = {"num_classes": 3, "in_channels": 1, "width": width, "image_size": image_size}
    return train_model("covidnet-small", kwargs, train, config, device=device, tag="benchmark",
                       progress=False).model.eval()


def art_uap(model, images: torch.Tensor, xi: float, norm: str, fgsm: float, passes: int, seed: int,
            device) -> tuple[torch.Tensor, float]:
    from art.attacks.evasion import UniversalPerturbation
    from art.estimators.classification import PyTorchClassifier

    classifier = PyTorchClassifier(model=model, loss=nn.CrossEntropyLoss(), input_shape=tuple(images.shape[1:]),
                                   nb_classes=3, clip_values=(0.0, 1.0),
                                   device_type="gpu" if device.type == "cuda" else "cpu")
    attack = UniversalPerturbation(classifier, attacker="fgsm", attacker_params={"eps": fgsm},
                                   delta=1e-6, max_iter=passes, eps=xi, norm=np.inf if norm == "inf" else 2,
                                   batch_size=256, verbose=False)
    random.seed(seed)  # ART draws each pass's visiting order from Python's global random
    start = time.perf_counter()
    attack.generate(images.numpy())
    seconds = time.perf_counter() - start
    return torch.from_numpy(attack.noise[0]).float(), seconds


def fooling_rate(model, images, v, clean, device) -> float:
    pred = predict_labels(model, images, v, device=device, clip=(0.0, 1.0))
    return float((pred != clean).float().mean())


def batch1_call_seconds(model, image: torch.Tensor, repeats: int = 50) -> tuple[float, float, float]:
    """Median seconds of one batch-1 forward with the autograd graph, of its input-gradient
    backward, and of one forward without graph, on ``model`` (parameters frozen)."""
    forward, backward, plain = [], [], []
    for _ in range(repeats):
        x = image.clone().requires_grad_(True)
        t0 = time.perf_counter()
        logits = model(x)
        t1 = time.perf_counter()
        torch.autograd.grad(logits.logsumexp(1).sum(), x)
        t2 = time.perf_counter()
        with torch.no_grad():
            model(image)
        t3 = time.perf_counter()
        forward.append(t1 - t0), backward.append(t2 - t1), plain.append(t3 - t2)
    return tuple(float(np.median(t)) for t in (forward, backward, plain))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--norm", choices=("2", "inf"), default="inf")
    parser.add_argument("--zeta", type=float, default=0.02)
    parser.add_argument("--fgsm", type=float, default=0.001)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--width", type=float, default=0.125)
    parser.add_argument("--batch", type=int, default=64, help="batch of the batched mode")
    parser.add_argument("--repeats", type=int, default=MIN_REPEATS,
                        help=f"visiting orders (seeds 0..repeats-1; at least {MIN_REPEATS})")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    if args.repeats < MIN_REPEATS:
        parser.error(f"--repeats must be at least {MIN_REPEATS}")

    device = resolve_device(args.device)
    seed_everything(0)
    model = trained_model(args.image_size, args.width, device)
    _, test = covidx_splits(None, args.image_size, 10, args.images, seed=0)
    images = test.float_images()
    xi = uap_radius(images, args.zeta, args.norm)
    clean = predict_labels(model, images, device=device)
    print(f"device {device}; COVIDNet-CXR Small (width {args.width}, {args.image_size} px); {args.images} "
          f"images; L{args.norm}, zeta {args.zeta} (xi {xi:.4f}); FGSM {args.fgsm}; {args.passes} passes; "
          f"{args.repeats} visiting orders")

    settings = dict(eps_step=args.fgsm, delta=1e-6, batch_size=args.batch, device=device, clip=(0.0, 1.0),
                    progress=False)
    for mode in ("exact", "batched"):  # warm-up (kernel set-up for the shapes each method uses; not timed)
        universal_perturbation(model, images[:8], xi, args.norm, max_passes=1, mode=mode, **settings)

    seconds = {"art": 0.0, "exact": 0.0, "batched": 0.0}
    per_order = {"exact": [], "batched": []}
    rates = {"art": [], "exact": [], "batched": []}
    visits = steps = 0
    identical = True
    for seed in range(args.repeats):
        v_art, t_art = art_uap(model, images, xi, args.norm, args.fgsm, args.passes, seed, device)
        runs = {"art": (v_art, t_art)}
        for mode in ("exact", "batched"):
            res = universal_perturbation(model, images, xi, args.norm, max_passes=args.passes, mode=mode,
                                         seed=seed, **settings)
            runs[mode] = (res.perturbation, res.seconds)
            if mode == "exact":
                visits += res.passes * len(images)
                steps += res.steps
        for name, (v, t) in runs.items():
            seconds[name] += t
            rates[name].append(fooling_rate(model, images, v, clean, device))
        for mode in per_order:
            per_order[mode].append(t_art / runs[mode][1])
        same = bool(torch.equal(runs["exact"][0], v_art))
        identical &= same
        print(f"order {seed}: " + "  ".join(f"{k} {t:6.2f} s fr {rates[k][-1]:.4f}" for k, (_, t) in runs.items())
              + f"  exact == ART bit for bit: {same}")

    for p in model.parameters():
        p.requires_grad_(False)
    t_forward, t_backward, t_plain = batch1_call_seconds(model, images[:1].to(device))
    floor = visits * t_forward + steps * (t_backward + t_plain)
    print(f"batch-1 calls: forward with graph {1e3 * t_forward:.2f} ms, input backward {1e3 * t_backward:.2f} ms, "
          f"forward {1e3 * t_plain:.2f} ms; ART's decisions need {visits} forwards with graph and {steps} "
          f"backward + check-forward pairs: floor {floor:.2f} s, so ART / floor = {seconds['art'] / floor:.2f}")
    fr = {k: float(np.mean(r)) for k, r in rates.items()}
    print(f"exact mode returned ART's perturbation bit for bit in every order: {identical}")
    print(f"ART / exact per order: {fmt_spread(per_order['exact'], 2)}; ART / batched: "
          f"{fmt_spread(per_order['batched'], 2)}; totals over the orders: ART {seconds['art']:.1f} s, "
          f"exact {seconds['exact']:.1f} s, batched {seconds['batched']:.1f} s")
    print(f"ratio_exact={statistics.median(per_order['exact']):.2f} "
          f"ratio_batched={statistics.median(per_order['batched']):.2f} "
          f"fr_art={fr['art']:.4f} fr_exact={fr['exact']:.4f} fr_batched={fr['batched']:.4f}")


if __name__ == "__main__":
    torch.set_grad_enabled(True)
    main()
