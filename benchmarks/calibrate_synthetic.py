"""Calibrate the embedded default's difficulty (issue 20, item 7): train a chapter's default models
on synthetic images drawn at several severity floors and print their clean test accuracy or AUC
with its 95 % interval, beside the paper's.

The floor a task uses is :data:`medadv_lib.data.synthetic.COVIDX_CALIBRATION` (and its siblings);
this script is how it was chosen: from the models' clean accuracy only, never from a claim. Run:

    python benchmarks/calibrate_synthetic.py uap-covidnet --floors 0 0.4 0.7
    python benchmarks/calibrate_synthetic.py ten-attacks --floors 0 0.6 --n-train 320 --epochs 4

It trains with the chapter's default parameters (read from the notebook's parameters through the
spec), through the model cache (``MEDADV_CACHE``), so a second call with the same floor is quick.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

PAPER = {"uap-covidnet": "clean test accuracy: Small 92.6 %, Large 94.4 % (Hirano et al. Sec. 3.1)",
         "ten-attacks": "clean AUC about 0.75 (Taghanaki et al. Table 1)"}


def uap_covidnet(floor: float, n_train: int | None, epochs: int | None, device) -> dict:
    from medadv_lib.data.covidx import synthetic_covidx
    from medadv_lib.data.synthetic import COVIDX_CALIBRATION, Calibration
    from medadv_lib.metrics.uncertainty import wilson
    from medadv_lib.papers import get_paper
    from medadv_lib.specs import resolve_parameters
    from medadv_lib.papers.uap_covidnet import experiment as ex
    from medadv_lib.training import predict_labels

    p = resolve_parameters(get_paper("uap-covidnet"))
    calibration = Calibration(floor, COVIDX_CALIBRATION.target, "calibration run")
    n_train, epochs = n_train or p["n_train"], epochs or p["epochs"]
    train = synthetic_covidx(n_train, p["image_size"], p["seed"], False, "train", calibration)
    test = synthetic_covidx(p["n_test"], p["image_size"], p["seed"], False, "test", calibration)
    data = ex.ChapterData(train, test, train.subset(np.arange(min(p["uap_images"], n_train))),
                          tuple(train.class_names), "synthetic")
    runs = ex.train_covidnets(data, p["width"], p["image_size"], epochs, p["batch_size"], p["lr"],
                              p["optimizer"], p["augment"], p["seed"], device)
    out = {}
    for name, run in runs.items():
        correct = predict_labels(run.model, test.float_images(), device=device).numpy() == test.targets.numpy()
        out[f"{name} accuracy"] = wilson(int(correct.sum()), len(correct)).fmt(percent=True)
    return out


def ten_attacks(floor: float, n_train: int | None, epochs: int | None, device) -> dict:
    from medadv_lib.data.chestxray14 import synthetic_chestxray14
    from medadv_lib.data.synthetic import CXR14_BINARY_CALIBRATION, Calibration
    from medadv_lib.papers import get_paper
    from medadv_lib.specs import resolve_parameters
    from medadv_lib.papers.ten_attacks import experiment as ex
    from medadv_lib.training import TrainConfig

    p = resolve_parameters(get_paper("ten-attacks"))
    calibration = Calibration(floor, CXR14_BINARY_CALIBRATION.target, "calibration run")
    n_train, epochs = n_train or p["n_train"], epochs or p["epochs"]
    sizes = {"inception-resnet-v2": p["image_size"], "nasnet-large": p["nasnet_image_size"]}
    splits = {s: (synthetic_chestxray14(n_train, s, p["seed"], "binary", "train", calibration),
                  synthetic_chestxray14(p["n_test"], s, p["seed"], "binary", "test", calibration))
              for s in sorted(set(sizes.values()))}
    data = ex.ChapterData(splits, sizes, "synthetic")
    config = TrainConfig(epochs=epochs, batch_size=p["batch_size"], lr=p["lr"], optimizer=p["optimizer"], loss="bce",
                         class_weighted=False, lr_decay=p["lr_decay"], lr_decay_every=p["lr_decay_every"], seed=p["seed"])
    runs = ex.train_networks(data, p["irv2_depth"], p["nasnet_width"], config, device)
    clean = ex.clean_table(runs, data, device)
    return {f"{variant} AUC": est.fmt(3) for variant, est in clean.attrs["auc"].items()}


CHAPTERS = {"uap-covidnet": uap_covidnet, "ten-attacks": ten_attacks}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapter", choices=sorted(CHAPTERS))
    parser.add_argument("--floors", type=float, nargs="+", required=True, help="severity floors to try, in [0, 1)")
    parser.add_argument("--n-train", type=int, default=None, help="training images (default: the chapter's default)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (default: the chapter's default)")
    args = parser.parse_args(argv)
    bad = [f for f in args.floors if not 0 <= f < 1]
    if bad:
        parser.error(f"--floors must be in [0, 1), got {bad}")
    os.environ.setdefault("TQDM_DISABLE", "1")
    device = torch.device("cpu")
    print(f"{args.chapter}: the paper's {PAPER[args.chapter]}")
    for floor in args.floors:
        start = time.perf_counter()
        result = CHAPTERS[args.chapter](floor, args.n_train, args.epochs, device)
        shown = "; ".join(f"{k} {v}" for k, v in result.items())
        print(f"severity floor {floor:g}: {shown} ({time.perf_counter() - start:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
