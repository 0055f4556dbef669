"""Nwadike, Miyawaki, Sarkar, Maniatakos, Shamout 2020: backdoor triggers on ChestX-ray14.

Presets: ``smoke`` (CI, one to two minutes on 2 CPU cores: two trigger sizes, two epochs),
``default`` (the book: a small torchvision DenseNet at 64 px, 3000 images, 12 epochs, trigger sizes 1-4 px,
one seed) and ``paper`` (DenseNet-121 at 224 px, 15 epochs, 4 seeds; meant for a GPU and real
ChestX-ray14 — pass ``-p n_train 0 -p n_test 0`` with ``data_root`` for the full splits).

Paper values: only the numbers stated in the abstract are recorded here (the 3 x 3 trigger reaches
up to 1.00 AUROC on infected images; the backdoored network still reaches up to 0.85 AUROC on
clean images). The cells of Tables 1-3 were not available to us when this chapter was written;
they are left empty (NaN) rather than guessed.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...metrics.backdoor import METRICS
from .. import PaperSpec, Rule

ORDER = 4

SPEC = PaperSpec(
    name="backdoor",
    title="Backdoor triggers in multi-label chest X-ray classification (Nwadike et al. 2020)",
    citation=("M. Nwadike, T. Miyawaki, E. Sarkar, M. Maniatakos, F. Shamout. Explainability "
              "Matters: Backdoor Attacks on Medical Imaging. AAAI 2021 Workshop on Trustworthy AI "
              "for Healthcare, arXiv:2101.00008."),
    presets={
        "smoke": {"n_train": 160, "n_test": 80, "epochs": 2, "trigger_sizes": [1, 3],
                  "gradcam_images": 8, "epsilons": [0.001, 0.01, 0.1]},
        "default": {},
        "paper": {"model_name": "densenet121", "image_size": 224, "n_train": 4000, "n_test": 1000,
                  "epochs": 15, "n_seeds": 4, "batch_size": 16, "lr": 1e-4, "gradcam_images": 64},
    },
    rules={
        "image_size": Rule(min=32, max=1024, doc="model input side in pixels (trigger sizes are in these pixels)"),
        "n_train": Rule(min=0, doc="training images (0: all of the real training split; synthetic needs > 0)"),
        "n_test": Rule(min=0, doc="test images (0: all of the real test split; synthetic needs > 0)"),
        "epochs": Rule(min=1, max=200),
        "n_seeds": Rule(min=1, max=20, doc="training seeds seed, seed+1, ... (the paper: 4)"),
        "model_name": Rule(choices=("densenet-small", "densenet121")),
        "batch_size": Rule(min=2, max=1024),
        "lr": Rule(min=1e-7, max=1.0),
        "trigger_sizes": Rule(min=1, item_min=1, item_max=32, doc="side of the black square, model pixels"),
        "poison_fraction": Rule(min=0.01, max=1.0, doc="share of training images infected (the paper: 0.4)"),
        "target_finding": Rule(choices=("Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass",
                                        "Nodule", "Pneumonia", "Pneumothorax", "Consolidation", "Edema",
                                        "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia")),
        "focus_size": Rule(min=1, max=32, doc="trigger size of Table 2, Table 3 and Grad-CAM"),
        "epsilons": Rule(min=1, item_min=1e-4, item_max=1.0, doc="infected share of the Table 3 test sets"),
        "gradcam_images": Rule(min=1, max=4096, doc="test images explained per epoch"),
    },
)

_NAN = np.nan

#: Table 1 (fixed location), min/max over epochs, as far as the abstract states them.
PAPER_TABLE1 = pd.DataFrame(
    {f"{m} {e}": [_NAN] * 5 for m in METRICS for e in ("min", "max")},
    index=pd.Index(["clean", "1 px", "2 px", "3 px", "4 px"], name="model"),
)
PAPER_TABLE1.loc["3 px", "auroc_tt max"] = 1.00   # abstract: "up to 1.00 AUROC ... infected images"
PAPER_TABLE1.loc["3 px", "auroc_nn max"] = 0.85   # abstract: "could still achieve up to 0.85 AUROC"

PAPER_NOTE = ("Paper column: only the two values stated in the abstract (3 x 3 trigger: AUROC on "
              "infected images up to 1.00, on clean images up to 0.85); the other published cells "
              "were not available to us and are left empty rather than guessed.")
