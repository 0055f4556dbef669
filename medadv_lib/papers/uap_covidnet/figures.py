"""Figures of the UAP chapter (Hirano et al. 2020): confusion matrices (Figs. 1 and 3), UAPs with
adversarial images and their predicted labels (Figs. 2 and 4), adversarial retraining (Fig. 5)."""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from sklearn.metrics import ConfusionMatrixDisplay

__all__ = ["plot_confusion_matrices", "plot_uaps", "plot_retraining", "scale_for_display", "figure1",
           "figure2", "figure3", "figure4", "figure5"]


def scale_for_display(v: torch.Tensor | np.ndarray) -> np.ndarray:
    """A perturbation (C, H, W) or (H, W) scaled to [0, 1] (min-max), as the paper shows UAPs."""
    arr = v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)
    arr = arr[0] if arr.ndim == 3 else arr
    span = float(arr.max() - arr.min())
    return (arr - arr.min()) / span if span > 0 else np.zeros_like(arr)


def plot_confusion_matrices(matrices: Mapping[str, np.ndarray], classes: Sequence[str],
                            columns: int = 3, normalize: bool = False):
    """One panel per matrix (rows: true class, columns: predicted class), titled by its key."""
    n = len(matrices)
    cols = min(columns, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.2 * rows), squeeze=False)
    for ax, (title, matrix) in zip(axes.flat, matrices.items()):
        matrix = np.asarray(matrix, dtype=float)
        if normalize:
            totals = matrix.sum(1, keepdims=True)
            matrix = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
        ConfusionMatrixDisplay(matrix, display_labels=list(classes)).plot(
            ax=ax, colorbar=False, cmap="Blues", values_format=".2f" if normalize else ".0f")
        ax.set_title(title, fontsize=9)
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
        ax.tick_params(axis="y", labelsize=8)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_uaps(uaps: Mapping[str, torch.Tensor], image: torch.Tensor, clean_label: str,
              adversarial_labels: Mapping[str, str], clip: tuple[float, float] = (0.0, 1.0)):
    """Row 1: each UAP scaled to [0, 1]; row 2: ``image + UAP`` with its predicted label.

    The first column shows the clean image and its prediction. ``uaps`` and ``adversarial_labels``
    share their keys (panel titles such as "Small, L2, 2 %").
    """
    keys = list(uaps)
    fig, axes = plt.subplots(2, len(keys) + 1, figsize=(2.3 * (len(keys) + 1), 4.8), squeeze=False)
    clean = image[0].detach().cpu().numpy()
    axes[0, 0].axis("off")
    axes[1, 0].imshow(clean, cmap="gray", vmin=clip[0], vmax=clip[1])
    axes[1, 0].set_title(f"clean\n→ {clean_label}", fontsize=9)
    for c, key in enumerate(keys, start=1):
        axes[0, c].imshow(scale_for_display(uaps[key]), cmap="gray", vmin=0, vmax=1)
        axes[0, c].set_title(f"UAP {key}", fontsize=8)
        adv = (image + uaps[key].to(image)).clamp(*clip)[0].detach().cpu().numpy()
        axes[1, c].imshow(adv, cmap="gray", vmin=clip[0], vmax=clip[1])
        axes[1, c].set_title(f"+ UAP\n→ {adversarial_labels[key]}", fontsize=9)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def plot_retraining(history: pd.DataFrame, rate_label: str):
    """Fig. 5: the UAP's rate (R_f or R_s) and clean test accuracy per retraining round.

    ``history`` has columns ``round``, ``rate`` and ``clean_accuracy`` (and optionally ``model``,
    one line per model).
    """
    fig, ax = plt.subplots(figsize=(5, 3.4))
    groups = history.groupby("model") if "model" in history else [("", history)]
    for name, frame in groups:
        suffix = f" ({name})" if name else ""
        ax.plot(frame["round"], frame["rate"], "o-", label=f"{rate_label}{suffix}")
        ax.plot(frame["round"], frame["clean_accuracy"], "s--", label=f"clean accuracy{suffix}")
    ax.set_xlabel("retraining round (0: before fine-tuning)")
    ax.set_ylabel("rate")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xticks(sorted(history["round"].unique()))
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- the chapter's figures

def _label(predictions: pd.DataFrame, classes, image: int = 0, **where) -> str:
    from .experiment import _selection

    rows = _selection(predictions, split="test", image=image, **where)
    return classes[int(rows["pred"].iloc[0])]


def figure1(sweep, classes, models, norms, zeta: float):
    """Fig. 1: test confusion matrices, clean and under the nontargeted UAP of each norm at ``zeta``."""
    from .experiment import confusion

    panels = {}
    for model in models:
        panels[f"{model}, clean"] = confusion(sweep.predictions, classes, model=model, split="test", kind="clean")
        for p in norms:
            panels[f"{model}, L{p} UAP, zeta {zeta:.0%}"] = confusion(
                sweep.predictions, classes, model=model, norm=f"L{p}", zeta=zeta, target="none", split="test",
                kind="uap")
    return plot_confusion_matrices(panels, classes, columns=1 + len(norms))


def figure2(sweep, test_image: torch.Tensor, classes, model: str, norms, zeta: float):
    """Fig. 2: the nontargeted UAPs of ``model`` (scaled to [0, 1]) and the first test image with each."""
    uaps = {f"{model}, L{p}, {zeta:.0%}": sweep.uaps[(model, p, zeta, None)].perturbation for p in norms}
    labels = {key: _label(sweep.predictions, classes, model=model, norm=f"L{p}", zeta=zeta, target="none", kind="uap")
              for key, p in zip(uaps, norms)}
    clean = _label(sweep.predictions, classes, model=model, kind="clean")
    return plot_uaps(uaps, test_image, clean, labels)


def figure3(sweep, classes, models, norm: str, zeta: float):
    """Fig. 3: test confusion matrices under the targeted UAP toward each class."""
    from .experiment import confusion

    panels = {f"{m}, target {t}": confusion(sweep.predictions, classes, model=m, norm=f"L{norm}", zeta=zeta,
                                            target=t, split="test", kind="uap") for m in models for t in classes}
    return plot_confusion_matrices(panels, classes, columns=len(classes))


def figure4(sweep, test_image: torch.Tensor, classes, model: str, norm: str, zeta: float):
    """Fig. 4: the targeted UAPs of ``model`` and the first test image with each."""
    uaps = {f"{model} -> {t}": sweep.uaps[(model, norm, zeta, k)].perturbation for k, t in enumerate(classes)}
    labels = {f"{model} -> {t}": _label(sweep.predictions, classes, model=model, norm=f"L{norm}", zeta=zeta, target=t,
                                        kind="uap") for t in classes}
    return plot_uaps(uaps, test_image, _label(sweep.predictions, classes, model=model, kind="clean"), labels)


def figure5(summary: pd.DataFrame, retraining: pd.DataFrame, classes):
    """Fig. 5, per retraining target: the new UAP's rate and the clean accuracy per round (A:
    nontargeted, R_f; B: targeted, R_s), and the confusion matrix of the test images under the last
    round's UAP for each retrained model (C/D). Returns ``[(curves, confusions), ...]`` by target."""
    from ...metrics.classification import confusion_matrix
    from .experiment import retraining_rate_name

    out = []
    for target, part in summary.groupby("target", sort=False):
        rows = retraining[retraining["target"] == target]
        zeta = float(rows["zeta"].iloc[0])
        curves = plot_retraining(part.assign(model=part["model"] + ", " + part["arm"]),
                                 f"{retraining_rate_name(target)}, zeta {zeta:.0%}")
        last = rows[(rows["arm"] == "UAP-augmented") & (rows["round"] == rows["round"].max())]
        panels = {f"{m} after round {int(p['round'].iloc[0])},\nwith its new {retraining_rate_name(target)} UAP":
                  confusion_matrix(p["true"].to_numpy(), p["pred_uap"].to_numpy(), len(classes))
                  for m, p in last.groupby("model")}
        out.append((curves, plot_confusion_matrices(panels, classes)))
    return out
