"""Hirano, Koga & Takemoto 2020: universal adversarial perturbations against COVID-Net.

Presets: ``smoke`` (CI: tiny COVID-Nets at 32 px, a few UAP passes, one retraining round),
``default`` (the book: COVID-Net Small and Large at width 1/8 and 64 px, trained from scratch on
synthetic radiographs, UAPs in batched mode on a few hundred images) and ``paper`` (full-width
COVID-Nets at 224 px, exact-mode UAPs with the paper's i_max = 15 on the training images, 5
retraining rounds of 10 UAPs; meant for a GPU and real COVIDx via ``data_root``).

Paper values: the abstract states that at zeta = 2 % the nontargeted UAPs reach R_f > 85 % and
the targeted ones R_s > 90 %, and that the nontargeted UAPs send most images to COVID-19. The
individual cells of Tables 1-3 were not available to us offline; they are left empty (NaN) rather
than guessed, and the abstract's bounds are shown as their own rows.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import PaperSpec, Rule

ORDER = 1

#: Classes of COVIDx split_v3 in the paper's label order.
CLASSES = ("normal", "pneumonia", "COVID-19")

#: Settings of the paper (Sec. 2.2-2.4) and of its code (hkthirano/UAP-COVID-Net).
PAPER_SETTINGS = {
    "zetas": (0.01, 0.02),
    "norms": ("2", "inf"),
    "fgsm_strength": 0.001,
    "i_max": 15,
    "input": "224 x 224 x 3, top sixth cropped, divided by 255",
    "mean image norm (0-255 scale)": {"L2": 32589, "Linf": 237},
    "retraining": "5 rounds; each: 10 UAPs, half the training images perturbed, 5 fine-tuning epochs",
}

#: What the abstract states, as bounds (the only paper numbers we could verify offline).
PAPER_ABSTRACT_BOUNDS = {
    "nontargeted R_f at zeta 2%": 0.85,
    "targeted R_s at zeta 2%": 0.90,
}

PAPER_NOTE = ("Paper column: the table cells of Hirano et al. were not available to us offline and "
              "are left empty rather than guessed. What the abstract states: at zeta = 2 %, "
              "nontargeted UAPs reach R_f > 85 % and targeted UAPs R_s > 90 % (both models, both "
              "norms), and the nontargeted UAPs make the models classify most images as COVID-19.")


def paper_table1(models, norms, zetas) -> pd.DataFrame:
    """Table 1 (R_f, %) with the abstract's lower bound at zeta = 2 % and NaN elsewhere."""
    index = pd.MultiIndex.from_tuples([(m, f"L{p}", f"{z:.0%}") for m in models for p in norms
                                       for z in zetas], names=["model", "norm", "zeta"])
    frame = pd.DataFrame(np.nan, index=index, columns=["train", "test"], dtype=object)
    for m, p, z in index:
        if z == "2%":
            frame.loc[(m, p, z), :] = "> 85"
    return frame


def paper_targeted_table(models, norms, zetas, targets) -> pd.DataFrame:
    """Tables 2-3 (R_s, %) with the abstract's lower bound at zeta = 2 % and NaN elsewhere."""
    index = pd.MultiIndex.from_tuples([(m, f"L{p}", f"{z:.0%}", t) for m in models for p in norms
                                       for z in zetas for t in targets],
                                      names=["model", "norm", "zeta", "target"])
    frame = pd.DataFrame(np.nan, index=index, columns=["train", "test"], dtype=object)
    for key in index:
        if key[2] == "2%":
            frame.loc[key, :] = "> 90"
    return frame


SPEC = PaperSpec(
    name="uap-covidnet",
    title="Universal adversarial perturbations against COVID-Net (Hirano et al. 2020)",
    citation=("H. Hirano, K. Koga, K. Takemoto. Vulnerability of deep neural networks for detecting "
              "COVID-19 cases from chest X-ray images to universal adversarial attacks. PLoS ONE "
              "15(12): e0243963, 2020. arXiv:2005.11061."),
    presets={
        "smoke": {"image_size": 32, "n_train": 240, "n_test": 60, "width": 0.0625, "epochs": 3,
                  "uap_images": 60, "max_passes": 2, "retrain_rounds": 1, "retrain_uaps": 1,
                  "retrain_epochs": 1},
        "default": {},
        "paper": {"image_size": 224, "width": 1.0, "n_train": 0, "n_test": 0, "epochs": 10,
                  "batch_size": 8, "lr": 2e-5, "imbalance": True, "uap_images": 0, "uap_mode": "exact",
                  "max_passes": 15, "retrain_rounds": 5, "retrain_uaps": 10, "retrain_epochs": 5},
    },
    rules={
        "image_size": Rule(min=32, max=512, doc="model input side (a multiple of 32; the paper: 224)"),
        "n_train": Rule(min=0, doc="training images (0: the whole real training split; synthetic needs > 0)"),
        "n_test": Rule(min=0, doc="test images (0: the whole real test split; synthetic needs > 0)"),
        "imbalance": Rule(doc="synthetic data with COVIDx's class imbalance (about 8:6:1)"),
        "width": Rule(min=0.01, max=1.0, doc="COVID-Net channel width (1.0: the paper's sizes)"),
        "epochs": Rule(min=1, max=200),
        "batch_size": Rule(min=2, max=1024),
        "lr": Rule(min=1e-7, max=1.0),
        "zetas": Rule(min=1, item_min=1e-4, item_max=0.5,
                      doc="UAP norm / mean image norm (the paper: 0.01 and 0.02)"),
        "norms": Rule(min=1, choices=("2", "inf"), doc="Lp norms of the UAPs"),
        "uap_images": Rule(min=0, doc="training images the UAPs are computed on (0: all)"),
        "uap_mode": Rule(choices=("exact", "batched"), doc="exact: the reference's sequential loop"),
        "max_passes": Rule(min=1, max=100, doc="i_max, passes over the UAP images (the paper: 15)"),
        "fgsm_strength": Rule(min=1e-6, max=0.5, doc="FGSM step of the UAP loop (the paper: 0.001)"),
        "retrain_rounds": Rule(min=0, max=20, doc="adversarial retraining rounds (the paper: 5)"),
        "retrain_uaps": Rule(min=1, max=50, doc="UAPs per retraining round (the paper: 10)"),
        "retrain_epochs": Rule(min=1, max=50, doc="fine-tuning epochs per round (the paper: 5)"),
        "retrain_control": Rule(doc="also fine-tune on clean images with the same schedule (our control)"),
        "retrain_norm": Rule(choices=("2", "inf")),
        "retrain_zeta": Rule(min=1e-4, max=0.5),
    },
)
