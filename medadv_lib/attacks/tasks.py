"""What "attacked" means for each kind of model of the collection: the shared task semantics.

Four tasks (:data:`TASKS`), told apart by the shapes of the model's output and of the labels
(:func:`infer_task`): ``binary`` (one sigmoid logit, labels (N,)), ``multiclass`` (logits (N, K),
labels (N,)), ``multilabel`` (logits (N, K), labels (N, K) in {0, 1}) and ``segmentation`` (logits
(N, K, H, W), masks (N, H, W), class 0 the background). For each of them:

* :func:`attack_loss`, the per-input loss a gradient attack climbs: cross-entropy (``"ce"``, of the
  task's kind) or the margin (``"margin"``, > 0 exactly when the input is fooled);
* :func:`is_fooled`, success per input: misclassified, any label flipped, or most of the
  foreground mislabelled (a foreground Jaccard index below 0.5);
* :class:`TwoLogits` / :func:`two_logits`, a binary model seen as two logits ``[0, z]`` for the
  attacks written for K >= 2 classes (softmax of ``[0, z]`` equals the sigmoid of ``z``).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..metrics.segmentation import per_image_jaccard

__all__ = ["TASKS", "CLASSIFICATION", "infer_task", "margins", "attack_loss", "is_fooled", "TwoLogits", "two_logits"]

TASKS = ("binary", "multiclass", "multilabel", "segmentation")
#: The single-label tasks (one class per input), where Foolbox's criteria apply.
CLASSIFICATION = ("binary", "multiclass")


def infer_task(logits: torch.Tensor, labels: torch.Tensor) -> str:
    """The task from the shapes: one logit (binary), (N, K) with (N,) labels (multi-class), (N, K)
    with (N, K) labels (multi-label), (N, K, H, W) with (N, H, W) masks (segmentation)."""
    if logits.ndim == 4 and labels.ndim == 3:
        return "segmentation"
    if logits.ndim == 2 and labels.ndim == 2 and labels.shape == logits.shape:
        return "multilabel"
    if logits.ndim == 2 and labels.ndim == 1:
        return "binary" if logits.shape[1] == 1 else "multiclass"
    raise ValueError(f"cannot tell the task from logits {tuple(logits.shape)} and labels {tuple(labels.shape)}")


def margins(logits: torch.Tensor, labels: torch.Tensor, task: str) -> torch.Tensor:
    """Per input (N,): > 0 exactly when the model is fooled. The largest other logit minus the true
    one (multi-class, Carlini-Wagner's margin), ``(1 - 2y) z`` for one sigmoid logit (binary), the
    largest per-label margin ``(1 - 2y_k) z_k`` (multi-label: one label flipped is a success); for
    segmentation the mean per-pixel margin, a loss to climb (success is :func:`is_fooled`'s)."""
    if task == "binary":
        return (1 - 2 * labels.float()) * logits[:, 0]
    if task == "multilabel":
        return ((1 - 2 * labels.float()) * logits).amax(1)
    if task == "multiclass":
        true = logits.gather(1, labels.view(-1, 1)).squeeze(1)
        other = logits.scatter(1, labels.view(-1, 1), float("-inf")).amax(1)
        return other - true
    true = logits.gather(1, labels.unsqueeze(1)).squeeze(1)                    # segmentation
    other = logits.scatter(1, labels.unsqueeze(1), float("-inf")).amax(1)
    return (other - true).flatten(1).mean(1)


def attack_loss(logits: torch.Tensor, labels: torch.Tensor, task: str, loss: str) -> torch.Tensor:
    """The per-input loss (N,) a gradient attack maximises: ``"margin"`` (:func:`margins`) or
    ``"ce"``: cross-entropy (multi-class), binary cross-entropy of the one logit (binary), binary
    cross-entropy summed over the labels (multi-label), per-pixel cross-entropy averaged over the
    image (segmentation)."""
    if loss == "margin":
        return margins(logits, labels, task)
    if task == "binary":
        return F.binary_cross_entropy_with_logits(logits[:, 0], labels.float(), reduction="none")
    if task == "multilabel":
        return F.binary_cross_entropy_with_logits(logits, labels.float(), reduction="none").sum(1)
    if task == "multiclass":
        return F.cross_entropy(logits, labels, reduction="none")
    return F.cross_entropy(logits, labels, reduction="none").flatten(1).mean(1)


def is_fooled(logits: torch.Tensor, labels: torch.Tensor, task: str) -> torch.Tensor:
    """Per input: misclassified (binary, multi-class), any label flipped (multi-label), or
    (segmentation, class 0 the background) most of the foreground mislabelled: a foreground
    Jaccard index below 0.5 (:func:`~medadv_lib.metrics.segmentation.per_image_jaccard`, the SMIA
    chapter's metric; with one foreground class, more than half of the pixels that the truth or
    the prediction calls foreground are wrong). The foreground, not the whole image: a lesion
    covering 5 % of a slice can be missed entirely while 95 % of the pixels stay right. An input
    with no foreground in the truth or the prediction is handled correctly."""
    if task == "segmentation":
        return per_image_jaccard(logits.argmax(1), labels, logits.shape[1]) < 0.5
    return margins(logits, labels, task) > 0


class TwoLogits(nn.Module):
    """A single-logit (sigmoid) classifier seen as two logits ``[0, z]``: softmax equals sigmoid."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        z = self.model(x)
        return torch.cat([torch.zeros_like(z), z], 1)


def two_logits(model: nn.Module, task: str) -> nn.Module:
    """``model`` as a K >= 2 class classifier: wrapped in :class:`TwoLogits` for the binary task,
    unchanged otherwise."""
    return TwoLogits(model) if task == "binary" else model
