"""Qi, Gong, Song, Ma & Zheng 2021, "Stabilized Medical Image Attacks" (ICLR): notebook ``smia``.

Presets: ``smoke`` (CI, about a minute), ``default`` (the book: small models at 64 px on a CPU) and
``paper`` (ResNet-50 at 224 px, the paper's steps). Datasets: ``synthetic`` (fundus photographs
with five DR grades and lung-CT slices), ``retinamnist`` (MedMNIST's 5-grade fundus images replace
the classification data) and ``covid-ct-infection`` (infection masks on COVID-19 CT slices replace
the segmentation data: the paper's segmentation task). The paper's numbers are in
:mod:`.published`, its claims in :mod:`.claims`, the experiments in :mod:`.experiment` and the
figures in :mod:`.figures`.
"""
from __future__ import annotations

from ...specs import Hook, PaperSpec, Rule, require


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


def validate(p: dict) -> None:
    """Constraints between parameters, checked before the notebook starts."""
    require(p["kernel_size"] % 2 == 1, f"kernel_size must be odd, got {p['kernel_size']}")
    require(max(p["sweep_iterations"]) <= p["iterations"] and max(p["figure_iterations"]) <= p["iterations"],
            "sweep_iterations and figure_iterations must not exceed iterations")
    require(p["n_attack"] <= min(p["n_test_cls"], p["n_test_seg"]),
            f"n_attack ({p['n_attack']}) must not exceed n_test_cls or n_test_seg")
    require(p["figure_index"] < p["n_attack"], "figure_index must be below n_attack")


SPEC = PaperSpec(
    name="smia",
    order=3,
    expected_seconds={"smoke": 70, "default": 220, "paper": 20000},
    smoke_decides={"synthetic": ("qi-more-iterations", "qi-larger-epsilon", "qi-beats-second-best-aptos",
                                 "qi-beats-dag-covid", "qi-lowest-variance"),
                   "covid-ct-infection": ("qi-more-iterations", "qi-larger-epsilon", "qi-beats-second-best-aptos",
                                          "qi-beats-dag-covid", "qi-lowest-variance"),
                   "retinamnist": ("qi-more-iterations", "qi-larger-epsilon", "qi-beats-dag-covid",
                                   "qi-beats-fgsm-pgd", "qi-lowest-variance")},
    victims=Hook("medadv_lib.papers.smia.victims:matrix_victims"),   # the robustness matrix attacks them
    title="SMIA: stabilized medical image attacks (Qi et al. 2021)",
    citation=("Qi G., Gong L., Song Y., Ma K., Zheng Y. Stabilized Medical Image Attacks. "
              "International Conference on Learning Representations (ICLR), 2021."),
    presets={
        "smoke": {
            "cls_image_size": 32, "seg_image_size": 32, "n_train_cls": 120, "n_test_cls": 40,
            "cls_epochs": 3, "cls_width": 8, "n_train_seg": 64, "n_test_seg": 16, "seg_epochs": 4,
            "seg_width": 8, "epsilon_cls": 0.0001, "epsilon_seg": 0.01, "n_attack": 16, "iterations": 4, "sweep_iterations": [1, 2, 4],
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
    validate=validate,
    datasets=("synthetic", "retinamnist", "covid-ct-infection"),
    paper_datasets=("covid-ct-infection",),
    # RetinaMNIST: 1,080 training and 400 test images; the COVID-19 CT sample: 50 and 48 slices
    dataset_presets={
        "retinamnist": {"smoke": {"cls_image_size": 32, "n_train_cls": 200, "n_test_cls": 40},
                        "default": {"cls_image_size": 64, "n_train_cls": 1080, "n_test_cls": 400},
                        "paper": {"n_train_cls": 1080, "n_test_cls": 400}},
        "covid-ct-infection": {"smoke": {"n_train_seg": 50, "n_test_seg": 16},
                               "default": {"n_train_seg": 50, "n_test_seg": 48, "n_attack": 48, "seg_epochs": 15},
                               "paper": {"n_train_seg": 50, "n_test_seg": 48, "n_attack": 48}},
    },
    rules={
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
