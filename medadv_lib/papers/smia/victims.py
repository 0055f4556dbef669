"""The chapter's models offered to the robustness matrix (``SPEC.victims``): the fundus grader and
the CT U-Net, built and trained exactly as the chapter's notebook does with its parameters ``p``."""
from __future__ import annotations

from ...evaluation.rows import Victim

__all__ = ["matrix_victims"]


def matrix_victims(p: dict, n: int, n_fit: int, device) -> list[Victim]:
    """The two models with the first ``n`` test inputs and ``n_fit`` training images (the grader's UAP)."""
    from . import experiment as ex

    data = ex.load_data(p["dataset"], p["data_root"], p["cls_image_size"], p["n_train_cls"], p["n_test_cls"],
                        p["seg_image_size"], p["n_train_seg"], p["n_test_seg"], p["seed"])
    runs = ex.train_models(data, p["cls_model"], p["cls_width"], p["cls_epochs"], p["cls_lr"], p["seg_width"],
                           p["seg_depth"], p["seg_epochs"], p["seg_lr"], p["seed"], device)
    (cls_train, cls_test), (_, seg_test) = data["classification"], data["segmentation"]
    return [Victim("fundus grader (ResNet)", "smia", "multiclass", runs["classification"].model,
                   *_first(cls_test, n), cls_train.float_images()[:n_fit], cls_test),
            Victim("CT U-Net", "smia", "segmentation", runs["segmentation"].model, *_first(seg_test, n),
                   None, seg_test)]


def _first(dataset, n: int):
    return dataset.float_images()[:n], dataset.targets[:n]
