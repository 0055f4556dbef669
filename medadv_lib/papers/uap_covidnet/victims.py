"""The chapter's models offered to the robustness matrix (``SPEC.victims``): COVID-Net Small and
Large, built and trained exactly as the chapter's notebook does with its parameters ``p``."""
from __future__ import annotations

from ...evaluation.rows import Victim

__all__ = ["matrix_victims"]


def matrix_victims(p: dict, n: int, n_fit: int, device) -> list[Victim]:
    """The two COVID-Nets with the first ``n`` test inputs and ``n_fit`` training images (the UAP's)."""
    from . import experiment as ex

    data = ex.load_data(p["dataset"], p["data_root"], p["image_size"], p["n_train"], p["n_test"], p["seed"],
                        p["imbalance"], p["uap_images"])
    runs = ex.train_covidnets(data, p["width"], p["image_size"], p["epochs"], p["batch_size"], p["lr"],
                              p["optimizer"], p["augment"], p["seed"], device)
    return [Victim(f"COVID-Net {name}", "uap-covidnet", "multiclass", run.model, *_first(data.test, n),
                   data.train.float_images()[:n_fit], data.test) for name, run in runs.items()]


def _first(dataset, n: int):
    return dataset.float_images()[:n], dataset.targets[:n]
