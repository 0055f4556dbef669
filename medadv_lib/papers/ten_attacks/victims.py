"""The chapter's models offered to the robustness matrix (``SPEC.victims``): Inception-ResNet-v2
and NASNet with max and average pooling, built and trained exactly as the chapter's notebook does
with its parameters ``p`` (NASNet with the chapter's own recipe)."""
from __future__ import annotations

from ...evaluation.rows import Victim

__all__ = ["matrix_victims"]


def matrix_victims(p: dict, n: int, n_fit: int, device) -> list[Victim]:
    """The four networks with the first ``n`` test inputs and ``n_fit`` training images (the UAP's)."""
    from ...training import TrainConfig
    from . import experiment as ex

    data = ex.load_data(p["dataset"], p["data_root"], p["image_size"], p["nasnet_image_size"], p["n_train"],
                        p["n_test"], p["seed"])
    config = TrainConfig(epochs=p["epochs"], batch_size=p["batch_size"], lr=p["lr"], optimizer=p["optimizer"],
                         loss="bce", class_weighted=False, lr_decay=p["lr_decay"],
                         lr_decay_every=p["lr_decay_every"], seed=p["seed"])
    nasnet = ex.nasnet_recipe(config, p["nasnet_epochs"], p["nasnet_augment"])   # the chapter's own NASNet recipe
    runs = ex.train_networks(data, p["irv2_depth"], p["nasnet_width"], config, device, nasnet)
    victims = []
    for variant, run in runs.items():
        arch = ex.VARIANTS[variant][0]
        victims.append(Victim(variant, "ten-attacks", "binary", run.model, *_first(data.test_of(variant), n),
                              data.train_of(arch).float_images()[:n_fit], data.test_of(variant)))
    return victims


def _first(dataset, n: int):
    return dataset.float_images()[:n], dataset.targets[:n]
