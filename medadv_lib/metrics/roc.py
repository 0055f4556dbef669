"""Accuracy and ROC AUC of a binary classifier (scikit-learn), as reported by Taghanaki et al. 2018."""
from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import roc_auc_score, roc_curve

__all__ = ["positive_scores", "binary_accuracy", "binary_auc", "binary_roc"]


def positive_scores(logits: torch.Tensor) -> np.ndarray:
    """Probability of the positive class: sigmoid of a single logit, softmax column 1 of two."""
    logits = logits.float()
    if logits.ndim == 1 or logits.shape[1] == 1:
        return torch.sigmoid(logits.reshape(-1)).numpy()
    if logits.shape[1] == 2:
        return logits.softmax(1)[:, 1].numpy()
    raise ValueError(f"binary metrics need 1 or 2 logits per image, got shape {tuple(logits.shape)}")


def binary_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return float(((positive_scores(logits) > 0.5).astype(int) == labels.numpy()).mean())


def binary_auc(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """ROC AUC; NaN when only one class is present."""
    y = labels.numpy()
    if len(np.unique(y)) < 2:
        return float("nan")
    return float(roc_auc_score(y, positive_scores(logits)))


def binary_roc(logits: torch.Tensor, labels: torch.Tensor):
    """(false positive rate, true positive rate) of the ROC curve."""
    fpr, tpr, _ = roc_curve(labels.numpy(), positive_scores(logits))
    return fpr, tpr
