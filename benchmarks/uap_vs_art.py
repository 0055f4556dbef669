"""UAP engine against the Adversarial Robustness Toolbox's ``UniversalPerturbation``.

In one process, on the same model, images and settings (FGSM inner step of strength
``--fgsm``, norm, ``xi = zeta x mean image norm``, passes, seed, clipping to [0, 1]), it times:

* ART 1.20.1 ``UniversalPerturbation(attacker="fgsm")`` on a ``PyTorchClassifier`` (the
  algorithm the paper's code ran; a benchmark-only extra: ``pip install -e ".[bench]"``);
* ``medadv_lib.attacks.uap.universal_perturbation`` in ``exact`` mode (the same sequential
  decisions) and in ``batched`` mode (mini-batches share ``v``).

The model is the UAP chapter's COVIDNet-CXR Small reconstruction (width 1/8, 64 px), trained by
the project's trainer on synthetic radiographs (cached after the first run, not timed). Every
fooling rate is measured the same way: the share of the UAP images whose prediction on
``clip(x + v)`` differs from the clean prediction (the algorithm's own criterion).

Last line: ``ratio_exact=<ART time / exact time> ratio_batched=<ART time / batched time>
fr_art=<..> fr_exact=<..> fr_batched=<..>``. Targets (2-core CPU): ratio_exact >= 3 with
|fr_exact - fr_art| <= 0.01, ratio_batched >= 10 with |fr_batched - fr_art| <= 0.03.
Usage: ``python benchmarks/uap_vs_art.py [--images 256] [--passes 5] [--norm inf] [--device auto]``.
"""
from __future__ import annotations

import argparse
import random
import time

import numpy as np
import torch
import torch.nn as nn

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
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    device = resolve_device(args.device)
    seed_everything(args.seed)
    model = trained_model(args.image_size, args.width, device)
    _, test = covidx_splits(None, args.image_size, 10, args.images, seed=0)
    images = test.float_images()
    xi = uap_radius(images, args.zeta, args.norm)
    clean = predict_labels(model, images, device=device)
    print(f"device {device}; COVIDNet-CXR Small (width {args.width}, {args.image_size} px); {args.images} "
          f"images; L{args.norm}, zeta {args.zeta} (xi {xi:.4f}); FGSM {args.fgsm}; {args.passes} passes")

    # warm-up (kernel set-up for the shapes each method uses; not timed)
    universal_perturbation(model, images[:8], xi, args.norm, eps_step=args.fgsm, max_passes=1, mode="exact",
                           device=device, clip=(0.0, 1.0), progress=False)
    universal_perturbation(model, images[:8], xi, args.norm, eps_step=args.fgsm, max_passes=1, mode="batched",
                           device=device, clip=(0.0, 1.0), progress=False)

    v_art, t_art = art_uap(model, images, xi, args.norm, args.fgsm, args.passes, args.seed, device)
    results = {"art": (v_art, t_art)}
    for mode in ("exact", "batched"):
        res = universal_perturbation(model, images, xi, args.norm, eps_step=args.fgsm, max_passes=args.passes,
                                     delta=1e-6, mode=mode, batch_size=args.batch, seed=args.seed,
                                     device=device, clip=(0.0, 1.0), progress=False)
        results[mode] = (res.perturbation, res.seconds)
    rates = {k: fooling_rate(model, images, v, clean, device) for k, (v, _) in results.items()}
    for k, (v, t) in results.items():
        print(f"{k:8s} {t:8.2f} s  fooling rate {rates[k]:.4f}  |v| = {float(v.norm()):.4f} (L2), "
              f"{float(v.abs().max()):.4f} (Linf)")
    same = float((results["exact"][0] - v_art).abs().max())
    print(f"max |v_exact - v_art| = {same:.2e}")
    print(f"ratio_exact={t_art / results['exact'][1]:.2f} ratio_batched={t_art / results['batched'][1]:.2f} "
          f"fr_art={rates['art']:.4f} fr_exact={rates['exact']:.4f} fr_batched={rates['batched']:.4f}")


if __name__ == "__main__":
    torch.set_grad_enabled(True)
    main()
