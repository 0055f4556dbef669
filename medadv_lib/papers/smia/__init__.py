"""Qi et al. 2021, "Stabilized Medical Image Attacks" (ICLR): notebook ``smia``.

What the paper states and we rely on is kept here as data, so the notebook shows it beside our
numbers. The published tables' exact values could not be read in this offline environment and
are **not** reproduced from memory: the notebook shows the paper's settings and its qualitative
findings, and marks every table cell we cannot verify as unavailable.
"""
from __future__ import annotations

from .. import PaperSpec, Rule

ORDER = 3

#: Settings of the paper (Sec. 4): ``epsilon`` is the step of every iteration.
PAPER_SETTINGS = {
    "iterations": 10,
    "alpha": 1.0,
    "epsilon": {"segmentation": 0.05, "detection": 0.01, "classification": 5e-5},
    "models": {"classification": "ResNet-50 (APTOS 2019, 5 DR grades)",
               "segmentation": "U-Net (COVID-19 CT lung segmentation)",
               "detection": "endoscopic artefact detection (EAD 2019), left out here"},
    "metrics": {"classification": "accuracy", "segmentation": "Jaccard index (IoU)"},
}

#: The paper's findings we check (Tables 1-4 and 6, Figure 2), in words.
PAPER_FINDINGS = {
    "table1": "adding L_STA to L_DEV lowers performance further and makes consecutive updates "
              "agree more often (a larger share of positive cosine similarities)",
    "table2": "more iterations lower performance further, up to the paper's 10",
    "table3": "a larger epsilon lowers performance further",
    "table4": "alpha = 1 gives the largest drop among the alphas tried",
    "table6": "SMIA lowers performance more than FGSM, PGD, DeepFool (classification) and DAG "
              "(segmentation), with a perturbation of lower variance",
    "figure2": "with L_STA the perturbation changes less between iterations 1, 4 and 9 and has a "
               "lower variance",
}

#: Where the authors' public code (imogenqi/SMA, SMIA.py) differs from the paper.
AUTHOR_CODE_DIFFERENCES = [
    "it does not run as published: `gt` and `model` are undefined, torch.clamp has no bounds, "
    "Variable(volatile=True) and CUDA-only calls",
    "the Gaussian kernel gkern(3, 1) is centred at -1 (off the middle) and stacked into a "
    "(3, 3, 3, 1) weight: a vertical 3-tap filter that mixes the three colour channels, so only "
    "3-channel inputs work",
    "it blurs the current gradient step (y_s = argmax f(X' + eps * blur(sign grad))) instead of "
    "the accumulated perturbation W * eta",
    "its default weights a1 = 1, a2 = 0 turn the stabilization term off, i.e. it runs DEV only",
    "it never projects the perturbation back into an epsilon ball",
]

_POSITIVE = dict(min=1)

SPEC = PaperSpec(
    name="smia",
    title="SMIA: stabilized medical image attacks (Qi et al. 2021)",
    citation=("Qi G., Gong L., Song Y., Ma K., Zheng Y. Stabilized Medical Image Attacks. "
              "International Conference on Learning Representations (ICLR), 2021."),
    presets={
        "smoke": {
            "cls_image_size": 32, "seg_image_size": 32, "n_train_cls": 120, "n_test_cls": 40,
            "cls_epochs": 3, "cls_width": 8, "n_train_seg": 64, "n_test_seg": 16, "seg_epochs": 4,
            "seg_width": 8, "epsilon_cls": 0.001, "epsilon_seg": 0.01, "n_attack": 12, "iterations": 4, "sweep_iterations": [1, 2, 4],
            "sweep_epsilon_factors": [0.5, 2.0], "sweep_alphas": [0.0, 1.0, 2.0],
            "figure_iterations": [1, 2, 3],
        },
        "default": {},
        "paper": {
            "cls_model": "resnet50", "cls_image_size": 224, "seg_image_size": 256,
            "n_train_cls": 3000, "n_test_cls": 600, "cls_epochs": 30, "cls_lr": 1e-3,
            "n_train_seg": 2000, "n_test_seg": 400, "seg_epochs": 30, "seg_width": 32,
            "seg_depth": 4, "n_attack": 400, "epsilon_cls": 5e-5, "epsilon_seg": 0.05,
            "sweep_iterations": [1, 2, 4, 6, 8, 10],
            "sweep_epsilon_factors": [0.2, 0.5, 2.0], "sweep_alphas": [0.0, 0.5, 1.0, 2.0, 5.0],
        },
    },
    rules={
        "ct_root": Rule(path=True, doc="folder of NIfTI CT scans and lung masks; empty: synthetic"),
        "cls_model": Rule(choices=("slim-resnet", "resnet18", "resnet50"),
                          doc="classifier: torchvision ResNet-50 as in the paper, or smaller"),
        "cls_image_size": Rule(min=32, max=1024), "seg_image_size": Rule(min=32, max=1024),
        "n_train_cls": Rule(min=10), "n_test_cls": Rule(min=5),
        "n_train_seg": Rule(min=4), "n_test_seg": Rule(min=2),
        "cls_epochs": Rule(min=1, max=500), "seg_epochs": Rule(min=1, max=500),
        "cls_lr": Rule(min=1e-6, max=1.0), "seg_lr": Rule(min=1e-6, max=1.0),
        "cls_width": Rule(min=4, max=128), "seg_width": Rule(min=2, max=128),
        "seg_depth": Rule(min=1, max=6),
        "n_attack": Rule(min=2, doc="test images attacked per task"),
        "iterations": Rule(min=2, max=200, doc="attack iterations T (paper: 10)"),
        "alpha": Rule(min=0.0, max=100.0, doc="weight of L_STA (paper: 1)"),
        "epsilon_cls": Rule(min=1e-8, max=0.5, doc="step per iteration on [0, 1] images, classification"),
        "epsilon_seg": Rule(min=1e-8, max=0.5, doc="step per iteration on [0, 1] images, segmentation"),
        "kernel_size": Rule(min=1, max=31, doc="odd size of the Gaussian kernel W"),
        "sigma": Rule(min=0.01, max=20.0, doc="standard deviation of W in pixels"),
        "sweep_iterations": Rule(min=1, item_min=1, item_max=200),
        "sweep_epsilon_factors": Rule(min=1, item_min=0.01, item_max=100.0,
                                      doc="multiples of the task's epsilon for Table 3"),
        "sweep_alphas": Rule(min=1, item_min=0.0, item_max=100.0),
        "figure_iterations": Rule(min=1, item_min=1, item_max=200),
        "figure_index": Rule(min=0),
    },
)
