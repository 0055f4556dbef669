"""Backdoor metrics of Nwadike et al. 2020 (Sec. "Evaluation"), as their code computes them.

Definitions used here (the two letters name the *test images* and the *labels* scored against;
the model is the one under test, normally the trojaned one; the authors' ``bdeval.py`` sets
``t_image``/``t_label`` the same way):

* **AUROC-NN**: clean (Normal) test images scored against their true (Normal) labels: the
  diagnostic quality a hospital would see; it should stay high (stealth).
* **AUROC-TT**: the same test images with the Trigger, scored against the attacker's (Trojan)
  labels, the one-hot target class: how well the backdoor fires.
* **AUROC-TN**: Triggered images scored against their true (Normal) labels: what is left of the
  diagnosis when the trigger is present.
* **ASR at p**: among triggered test images whose true label lacks the target ``t``, the share
  whose predicted probability of ``t`` exceeds ``p`` (p = 0.6 and 0.9).

Every AUROC is micro-averaged over the 14 findings (scikit-learn ``average="micro"``). The
paper reports the minimum and maximum of each metric over training epochs; we also give the
mean and standard deviation of those over seeds.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score
from ..progress import tqdm

from ..data.datasets import ImageDataset
from ..training import TrainResult, load_epoch, predict

__all__ = ["ASR_THRESHOLDS", "METRICS", "attack_success_rate", "micro_auroc", "backdoor_metrics",
           "predict_probabilities", "evaluate_epochs", "epoch_extremes", "seed_mean_std",
           "format_mean_std", "evaluate_mixed_epochs"]

ASR_THRESHOLDS = (0.6, 0.9)
METRICS = ("asr_0.6", "asr_0.9", "auroc_nn", "auroc_tt", "auroc_tn")


def _array(values) -> np.ndarray:
    return values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)


def attack_success_rate(probabilities, labels, target: int, threshold: float) -> float:
    """Share of images with ``labels[:, target] == 0`` whose ``probabilities[:, target] > threshold``.

    NaN when no image lacks the target finding.
    """
    probs, labels = _array(probabilities), _array(labels)
    if probs.shape != labels.shape or probs.ndim != 2:
        raise ValueError(f"probabilities {probs.shape} and labels {labels.shape} must both be (N, K)")
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    eligible = labels[:, target] == 0
    if not eligible.any():
        return float("nan")
    return float((probs[eligible, target] > threshold).mean())


def micro_auroc(labels, scores) -> float:
    """Micro-averaged AUROC over all (image, finding) pairs; NaN if only one class is present."""
    labels, scores = _array(labels), _array(scores)
    if labels.shape != scores.shape:
        raise ValueError(f"labels {labels.shape} and scores {scores.shape} differ in shape")
    flat = labels.ravel()
    if flat.min() == flat.max():
        return float("nan")
    return float(roc_auc_score(labels, scores, average="micro"))


def backdoor_metrics(probs_clean, probs_infected, labels, target: int) -> dict[str, float]:
    """All five metrics for one model: ``probs_clean`` on the clean test images, ``probs_infected``
    on the same images with the trigger, ``labels`` their true findings (N, K)."""
    labels = _array(labels)
    trojan_labels = np.zeros_like(labels)
    trojan_labels[:, target] = 1
    out = {f"asr_{p}": attack_success_rate(probs_infected, labels, target, p) for p in ASR_THRESHOLDS}
    out["auroc_nn"] = micro_auroc(labels, probs_clean)
    out["auroc_tt"] = micro_auroc(trojan_labels, probs_infected)
    out["auroc_tn"] = micro_auroc(labels, probs_infected)
    return out


def predict_probabilities(model, dataset: ImageDataset, device="auto") -> np.ndarray:
    """Sigmoid of the model's logits on the dataset's images, (N, K)."""
    return torch.sigmoid(predict(model, dataset.float_images(), device=device)).numpy()


def evaluate_epochs(result: TrainResult, model_name: str, model_kwargs: dict, clean_test: ImageDataset,
                    infected_test: ImageDataset, target: int, device="auto",
                    epochs: Iterable[int] | None = None, progress: bool = True) -> pd.DataFrame:
    """:func:`backdoor_metrics` for every cached training epoch (one row per epoch)."""
    if len(clean_test) != len(infected_test):
        raise ValueError("clean_test and infected_test must hold the same images (with/without trigger)")
    epochs = list(epochs) if epochs is not None else [h["epoch"] for h in result.history]
    rows = []
    for epoch in tqdm(epochs, desc="metrics per epoch", leave=False, disable=not progress):
        model = load_epoch(result, epoch, device)
        rows.append({"epoch": epoch, **backdoor_metrics(
            predict_probabilities(model, clean_test, device),
            predict_probabilities(model, infected_test, device), clean_test.targets, target)})
    return pd.DataFrame(rows)


def epoch_extremes(per_epoch: pd.DataFrame, keys: Sequence[str],
                   metrics: Sequence[str] = METRICS) -> pd.DataFrame:
    """Minimum and maximum of each metric over epochs, per ``keys`` (e.g. run and seed); columns
    ``(metric, "min")`` and ``(metric, "max")``."""
    missing = [c for c in [*keys, *metrics] if c not in per_epoch]
    if missing:
        raise ValueError(f"per-epoch table lacks column(s) {missing}")
    return per_epoch.groupby(list(keys), sort=False)[list(metrics)].agg(["min", "max"])


def seed_mean_std(extremes: pd.DataFrame, keys: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean and standard deviation over seeds (sample std, ddof=1; NaN with one seed)."""
    grouped = extremes.groupby(level=list(keys), sort=False)
    return grouped.mean(), grouped.std(ddof=1)


def format_mean_std(mean: pd.DataFrame, std: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """``"0.912 ± 0.010"`` cells (only the mean where the std is undefined)."""
    def cell(m, s):
        if pd.isna(m):
            return "n/a"
        return f"{m:.{digits}f}" if pd.isna(s) else f"{m:.{digits}f} ± {s:.{digits}f}"

    return pd.DataFrame({col: [cell(m, s) for m, s in zip(mean[col], std[col])] for col in mean.columns},
                        index=mean.index)


def evaluate_mixed_epochs(result: TrainResult, model_name: str, model_kwargs: dict,
                          mixed_test: ImageDataset, infected: np.ndarray, target: int, device="auto",
                          epochs: Iterable[int] | None = None) -> pd.DataFrame:
    """Table 3: on a test set where the images ``infected`` carry the trigger, the micro AUROC
    against the true findings (``auroc_true``: what a hospital measuring on contaminated data sees)
    and against the attacker's labels, the one-hot target on infected images
    (``auroc_attacker``), for every cached epoch."""
    labels = _array(mixed_test.targets).copy()
    attacker = labels.copy()
    attacker[np.asarray(infected, np.int64)] = 0
    attacker[np.asarray(infected, np.int64), target] = 1
    epochs = list(epochs) if epochs is not None else [h["epoch"] for h in result.history]
    rows = []
    for epoch in epochs:
        probs = predict_probabilities(load_epoch(result, epoch, device),
                                      mixed_test, device)
        rows.append({"epoch": epoch, "auroc_true": micro_auroc(labels, probs),
                     "auroc_attacker": micro_auroc(attacker, probs)})
    return pd.DataFrame(rows)
