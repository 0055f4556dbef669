"""Nwadike, Miyawaki, Sarkar, Maniatakos, Shamout 2020: backdoor triggers on ChestX-ray14.

Presets: ``smoke`` (CI, about two and a half minutes on one core: two trigger sizes, 720 images at 48 px,
ten epochs, so that its DenseNet is a fair stand-in and the golden decides claims),
``default`` (the book: a small torchvision DenseNet at 64 px, 3000 images, 12 epochs, trigger sizes 1-4 px,
one seed) and ``paper`` (DenseNet-121 at 224 px, 15 epochs, 4 seeds; meant for a GPU and real
ChestX-ray14 — pass ``-p n_train 0 -p n_test 0`` with ``data_root`` for the full splits).

Datasets: ``synthetic`` (ChestX-ray14-style radiographs with the same 14 finding names),
``nih-cxr14`` (the paper's data) and ``kermany`` (pediatric radiographs, one label: Pneumonia, the
target finding). The paper's numbers are in :mod:`.published`, its claims in
:mod:`.claims`, the experiments in :mod:`.experiment`; the figures are drawn by
:mod:`medadv_lib.papers.backdoor.figures`.
"""
from __future__ import annotations

from ...specs import Hook, PaperSpec, Rule, require




def validate(p: dict) -> None:
    """Constraints between parameters, checked before the notebook starts."""
    require(p["dataset"] != "synthetic" or (p["n_train"] > 0 and p["n_test"] > 0),
            "n_train = 0 / n_test = 0 (the whole split) needs a real dataset: set dataset and data_root")
    require(p["focus_size"] in p["trigger_sizes"],
            f"focus_size {p['focus_size']} must be one of trigger_sizes {p['trigger_sizes']}")
    require(max(p["trigger_sizes"]) <= p["image_size"] // 4,
            f"trigger sizes must stay below a quarter of the image side ({p['image_size']} px)")
    require(p["dataset"] != "kermany" or p["target_finding"] == "Pneumonia",
            f"dataset kermany has one label, Pneumonia: target_finding must be 'Pneumonia', got {p['target_finding']!r}")


SPEC = PaperSpec(
    name="backdoor",
    order=4,
    expected_seconds={"smoke": 150, "default": 470, "paper": 20000},
    smoke_decides={"synthetic": ("nwadike-small-trigger-asr", "nwadike-tt-high", "nwadike-stealth",
                                 "nwadike-larger-min-asr", "nwadike-gradcam-trigger")},
    smoke_undecided={"nih-cxr14": "the 1,000-image ChestX-ray14 sample trains no fair stand-in at any preset: the "
                                  "clean DenseNet on all 793 training images (12 epochs, 64 px) reaches micro AUROC "
                                  "0.707 [0.666, 0.746] on the 207 test images, below the 0.70 lower bound "
                                  "(measured 2026-12-07); the full ChestX-ray14 is needed"},
    victims=Hook("medadv_lib.papers.backdoor.victims:matrix_victims"),   # the robustness matrix attacks them
    replication={"seed": [0, 1, 2, 3]},   # Nwadike et al.'s protocol: Table 1 over 4 seeds
    replication_readers=("medadv_lib.papers.backdoor.replication:TABLES",),
    title="Backdoor triggers in multi-label chest X-ray classification (Nwadike et al. 2020)",
    citation=("M. Nwadike, T. Miyawaki, E. Sarkar, M. Maniatakos, F. Shamout. Explainability "
              "Matters: Backdoor Attacks on Medical Imaging. AAAI 2021 Workshop on Trustworthy AI "
              "for Healthcare, arXiv:2101.00008."),
    presets={
        # a DenseNet that meets its fair stand-in premise (AUROC 0.773 [0.739, 0.803]), so that the
        # golden decides claims (issue 29, item 7); 48 px halves the cost of 64 px at the same AUROC
        "smoke": {"image_size": 48, "n_train": 720, "n_test": 200, "epochs": 10, "trigger_sizes": [1, 3],
                  "gradcam_images": 8, "epsilons": [0.001, 0.01, 0.1]},
        "default": {},
        "paper": {"model_name": "densenet121", "image_size": 224, "n_train": 4000, "n_test": 1000,
                  "epochs": 15, "n_seeds": 4, "batch_size": 16, "lr": 1e-4, "gradcam_images": 64},
    },
    validate=validate,
    datasets=("synthetic", "nih-cxr14", "kermany"),
    paper_datasets=("nih-cxr14",),
    # the ChestX-ray14 sample: every image, split by the official test list
    dataset_presets={"nih-cxr14": {"smoke": {"n_train": 200, "n_test": 80}, "default": {"n_train": 0, "n_test": 0},
                                   "paper": {"n_train": 0, "n_test": 0}},
                     # Kermany: one label (Pneumonia), the official test split of 624 images
                     "kermany": {"smoke": {"n_train": 400, "n_test": 120, "target_finding": "Pneumonia"},
                                 "default": {"n_train": 2000, "n_test": 0, "target_finding": "Pneumonia"},
                                 "paper": {"n_train": 0, "n_test": 0, "target_finding": "Pneumonia"}}},
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
