"""The chapter's models offered to the robustness matrix (``SPEC.victims``): the clean multi-label
DenseNet, built and trained exactly as the chapter's notebook does with its parameters ``p``."""
from __future__ import annotations

from ...evaluation.rows import Victim

__all__ = ["matrix_victims"]


def matrix_victims(p: dict, n: int, n_fit: int, device) -> list[Victim]:
    """The clean DenseNet with the first ``n`` test inputs (no UAP: ``n_fit`` is not used)."""
    from . import experiment as ex

    train, test = ex.load_data(p["dataset"], p["data_root"], p["image_size"], p["n_train"], p["n_test"], p["seed"])
    k = len(train.class_names)
    runs = ex.train_models(train, [p["seed"]], p["trigger_sizes"], p["focus_size"], p["model_name"],
                           ex.model_kwargs(p["model_name"], k), p["epochs"], p["batch_size"], p["lr"],
                           p["poison_fraction"], ex.target_index(p["target_finding"], train.class_names), device)
    images, labels = _first(test, n)
    return [Victim(f"DenseNet {k} finding{'s' if k > 1 else ''} (clean)", "backdoor", "multilabel",
                   runs[("clean", None, p["seed"])].model,
                   images, labels.float(), None, test)]


def _first(dataset, n: int):
    return dataset.float_images()[:n], dataset.targets[:n]
