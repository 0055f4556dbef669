"""Figures of the backdoor chapter (Nwadike et al. 2020): Figure 1 (Grad-CAM grid), Figure 3
(minimum over epochs of each metric against trigger size), and the measured Grad-CAM mass on the
trigger per epoch."""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Rectangle

__all__ = ["METRIC_LABELS", "figure1", "plot_gradcam_grid", "plot_metric_minimum_vs_size", "plot_trigger_mass",
           "plot_epoch_record"]

METRIC_LABELS = {"asr_0.6": "ASR (p = 0.6)", "asr_0.9": "ASR (p = 0.9)", "auroc_nn": "AUROC-NN",
                 "auroc_tt": "AUROC-TT", "auroc_tn": "AUROC-TN"}


def plot_gradcam_grid(clean_image: np.ndarray, infected_image: np.ndarray,
                      cams: Mapping[tuple[int, str, str], np.ndarray], epochs: Sequence[int],
                      layers: Sequence[str], box: tuple[int, int], trigger_size: int,
                      alpha: float = 0.5):
    """Figure 1: rows are epochs, columns clean/infected x layers. ``cams[(epoch, "clean" or
    "infected", layer)]`` is a map at image size in [0, 1]; the trigger is outlined in red."""
    columns = [(variant, layer) for variant in ("clean", "infected") for layer in layers]
    fig, axes = plt.subplots(len(epochs), len(columns), figsize=(2.2 * len(columns), 2.2 * len(epochs)),
                             squeeze=False)
    for r, epoch in enumerate(epochs):
        for c, (variant, layer) in enumerate(columns):
            ax = axes[r, c]
            ax.imshow(clean_image if variant == "clean" else infected_image, cmap="gray", vmin=0, vmax=1)
            ax.imshow(cams[(epoch, variant, layer)], cmap="jet", alpha=alpha, vmin=0, vmax=1)
            row, col = box
            ax.add_patch(Rectangle((col - 1.5, row - 1.5), trigger_size + 2, trigger_size + 2,
                                   fill=False, edgecolor="red", linewidth=0.8))
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"{variant}\n{layer} layer", fontsize=9)
            if c == 0:
                ax.set_ylabel(f"epoch {epoch}")
    fig.suptitle("Grad-CAM for the target class (red: trigger position)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_metric_minimum_vs_size(mean: pd.DataFrame, std: pd.DataFrame, clean: pd.Series | None = None,
                                metrics: Sequence[str] = tuple(METRIC_LABELS)):
    """Figure 3: minimum over epochs of each metric (mean ± std over seeds) against trigger size.

    ``mean``/``std``: index = trigger size, columns = metrics (the per-seed minima averaged);
    ``clean``: the clean model's values (dashed line), same metric names."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.0 * len(metrics), 2.8), squeeze=False)
    sizes = np.asarray(mean.index, dtype=float)
    for ax, metric in zip(axes[0], metrics):
        ax.errorbar(sizes, mean[metric], yerr=std[metric].fillna(0), marker="o", capsize=3, label="trojaned")
        if clean is not None and metric in clean and pd.notna(clean[metric]):
            ax.axhline(clean[metric], color="gray", linestyle="--", label="clean model")
        ax.set_title(METRIC_LABELS.get(metric, metric), fontsize=10)
        ax.set_xlabel("trigger size (px)")
        ax.set_xticks(sizes)
        ax.set_ylim(-0.02, 1.02)
    axes[0, 0].set_ylabel("minimum over epochs")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_trigger_mass(per_epoch: pd.DataFrame):
    """Share of Grad-CAM mass inside the trigger region per epoch: infected against clean images,
    one panel per layer; the dotted line is the chance share (region area)."""
    layers = list(dict.fromkeys(per_epoch["layer"]))
    fig, axes = plt.subplots(1, len(layers), figsize=(3.6 * len(layers), 2.8), squeeze=False, sharey=True)
    for ax, layer in zip(axes[0], layers):
        part = per_epoch[per_epoch["layer"] == layer]
        for variant, style in (("infected", "-o"), ("clean", "-s")):
            rows = part[part["images"] == variant]
            ax.plot(rows["epoch"], rows["mass_share"], style, label=f"{variant} images")
        ax.plot(part["epoch"], part["chance_share"], ":", color="gray", label="chance (area)")
        ax.set_title(f"{layer} layer", fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylim(0, 1)
    axes[0, 0].set_ylabel("Grad-CAM mass on trigger")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def figure1(maps, explained, infected, layers, epochs: int, focus_size: int):
    """Fig. 1: Grad-CAM of the first explained image, clean and infected, at up to four epochs."""
    shown = sorted(set(np.linspace(1, epochs, min(epochs, 4)).round().astype(int).tolist()))
    return plot_gradcam_grid(explained.float_images()[0, 0].numpy(), infected.dataset.float_images()[0, 0].numpy(),
                             maps, shown, list(layers), tuple(infected.boxes[0]), focus_size)


def plot_epoch_record(runs: Mapping, per_epoch: pd.DataFrame, seed: int, focus_size: int):
    """The training curve beside the backdoor's success per epoch: the trainer's loss after each
    epoch (left) and ASR at p = 0.6 on the held-out triggered test images (right; the clean model
    with the ``focus_size`` trigger as the control, dashed), models of seed ``seed``."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.2))
    for (place, k, s), run in runs.items():
        if s != seed:
            continue
        label = "clean" if place == "clean" else f"{place} {k} px"
        left.plot([h["epoch"] for h in run.history], [h["loss"] for h in run.history], "o-", ms=3, label=label)
        model, location, size = ("clean", "fixed", focus_size) if place == "clean" else ("trojaned", place, k)
        part = per_epoch[(per_epoch["model"] == model) & (per_epoch["location"] == location)
                         & (per_epoch["size"] == size) & (per_epoch["seed"] == s)].sort_values("epoch")
        right.plot(part["epoch"], part["asr_0.6"], "o--" if place == "clean" else "o-", ms=3, label=label)
    left.set(xlabel="epoch", ylabel="training loss", title="training curve")
    right.set(xlabel="epoch", ylabel=METRIC_LABELS["asr_0.6"], title="attack success per epoch", ylim=(-0.03, 1.03))
    right.legend(fontsize=8)
    for ax in (left, right):
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    return fig
