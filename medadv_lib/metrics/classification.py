"""Classification metrics of the UAP chapter (Hirano et al. 2020, Sec. 2.3).

* fooling rate ``R_f``: the share of images whose prediction on ``x + v`` differs from the
  *true* label (the paper's code: ``sum(preds_adv != y_true) / N``); clean mistakes count;
* targeted success rate ``R_s``: the share of images classified as the target on ``x + v``;
* confusion matrices with scikit-learn (rows: true labels, columns: predictions).
"""
from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import confusion_matrix as _sk_confusion_matrix

__all__ = ["accuracy", "fooling_rate", "targeted_success_rate", "confusion_matrix",
           "class_sensitivity"]


def _labels(values) -> np.ndarray:
    arr = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
    if arr.ndim == 2:          # logits or one-hot: take the argmax
        arr = arr.argmax(1)
    if arr.ndim != 1:
        raise ValueError(f"expected labels of shape (N,) or scores (N, K), got {arr.shape}")
    return arr.astype(np.int64)


def _pair(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = _labels(a), _labels(b)
    if len(a) != len(b):
        raise ValueError(f"{len(a)} predictions but {len(b)} labels")
    if len(a) == 0:
        raise ValueError("no images")
    return a, b


def accuracy(predictions, labels) -> float:
    pred, true = _pair(predictions, labels)
    return float((pred == true).mean())


def fooling_rate(adversarial_predictions, true_labels) -> float:
    """``R_f``: share of perturbed images not classified as their true label."""
    pred, true = _pair(adversarial_predictions, true_labels)
    return float((pred != true).mean())


def targeted_success_rate(adversarial_predictions, target: int) -> float:
    """``R_s``: share of perturbed images classified as ``target``."""
    pred = _labels(adversarial_predictions)
    if len(pred) == 0:
        raise ValueError("no images")
    return float((pred == int(target)).mean())


def confusion_matrix(true_labels, predictions, num_classes: int) -> np.ndarray:
    """Counts, rows = true class, columns = predicted class (sklearn), all classes present."""
    true, pred = _pair(true_labels, predictions)
    return _sk_confusion_matrix(true, pred, labels=list(range(num_classes)))


def class_sensitivity(matrix: np.ndarray) -> np.ndarray:
    """Recall per class from a confusion matrix (0 for a class without images)."""
    matrix = np.asarray(matrix, dtype=float)
    totals = matrix.sum(1)
    return np.divide(np.diag(matrix), totals, out=np.zeros_like(totals), where=totals > 0)
