"""Figures 1-4 of Taghanaki et al. 2018 as the ten-attacks chapter draws them."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

__all__ = ["figure1", "figure2", "figure3", "figure4", "figure_one_image_all_attacks", "figure_perceptible_examples",
           "figure_disease_probability", "figure_accuracy_vs_perceptibility"]

GROUP_COLORS = {"gradient": "tab:blue", "score": "tab:orange", "decision": "tab:green"}


def _gray(ax, image: torch.Tensor, title: str, vmin=0.0, vmax=1.0):
    ax.imshow(image[0].numpy(), cmap="gray", vmin=vmin, vmax=vmax)
    ax.set_title(title, fontsize=8)
    ax.axis("off")


def figure_one_image_all_attacks(clean: torch.Tensor, adversarials: dict[str, torch.Tensor],
                                 names: dict[str, str], success: dict[str, bool]):
    """Figure 1: one image and its ten adversarial versions (top) and the perturbations (bottom)."""
    ids = list(adversarials)
    fig, axes = plt.subplots(2, len(ids) + 1, figsize=(1.6 * (len(ids) + 1), 3.6))
    _gray(axes[0, 0], clean, "clean")
    axes[1, 0].axis("off")
    for k, attack_id in enumerate(ids, 1):
        adv = adversarials[attack_id]
        mark = "" if success[attack_id] else " (failed)"
        _gray(axes[0, k], adv, f"{attack_id} {names[attack_id]}{mark}")
        delta = (adv - clean)
        scale = float(delta.abs().max()) or 1.0
        _gray(axes[1, k], delta, f"|d|max {scale:.3f}", -scale, scale)
    fig.suptitle("One test image under the ten attacks (bottom: perturbation, own scale)", fontsize=9)
    fig.tight_layout()
    return fig


def figure_perceptible_examples(examples: list[tuple[str, torch.Tensor, torch.Tensor, str]]):
    """Figure 2: clean / adversarial pairs judged perceptible; items (title, clean, adv, level)."""
    if not examples:
        fig, ax = plt.subplots(figsize=(4, 1))
        ax.text(0.5, 0.5, "no successful attack to show", ha="center", va="center")
        ax.axis("off")
        return fig
    fig, axes = plt.subplots(2, len(examples), figsize=(1.9 * len(examples), 4), squeeze=False)
    for k, (title, clean, adv, level) in enumerate(examples):
        _gray(axes[0, k], clean, "clean")
        _gray(axes[1, k], adv, f"{title}\n{level}")
    fig.suptitle("Most perceptible successful example per attack", fontsize=9)
    fig.tight_layout()
    return fig


def figure_disease_probability(probabilities: pd.DataFrame):
    """Figure 3: disease-class probability after successful attacks, per attack, max vs avg pooling.

    ``probabilities``: columns attack, pooling (max/avg), probability.
    """
    fig, ax = plt.subplots(figsize=(9, 3.2))
    attacks = list(dict.fromkeys(probabilities["attack"]))
    for j, (pooling, color) in enumerate((("max", "tab:red"), ("avg", "tab:blue"))):
        for i, attack in enumerate(attacks):
            vals = probabilities.query("attack == @attack and pooling == @pooling")["probability"].to_numpy()
            if len(vals):
                x = i + (j - 0.5) * 0.3 + np.linspace(-0.05, 0.05, len(vals))
                ax.scatter(x, vals, s=12, color=color, alpha=0.7,
                           label=f"{pooling} pooling" if i == 0 or not ax.get_legend_handles_labels()[1].count(f"{pooling} pooling") else None)
    ax.axhline(0.5, color="gray", lw=0.8, ls="--")
    ax.set_xticks(range(len(attacks)), attacks)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("P(finding) after attack")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), fontsize=8)
    ax.set_title("Disease-class probability of successfully attacked images", fontsize=9)
    fig.tight_layout()
    return fig


def figure_accuracy_vs_perceptibility(summary: pd.DataFrame):
    """Figure 4: accuracy under attack against perceptibility (1 - mean SSIM) per attack, by group.

    ``summary``: columns attack_id, group, model, accuracy, perceptibility.
    """
    fig, ax = plt.subplots(figsize=(6, 4))
    markers = dict(zip(sorted(summary["model"].unique()), "os^Dv"))
    for _, row in summary.iterrows():
        ax.scatter(row["perceptibility"], row["accuracy"], color=GROUP_COLORS[row["group"]],
                   marker=markers[row["model"]], s=30)
        ax.annotate(row["attack_id"], (row["perceptibility"], row["accuracy"]), fontsize=6,
                    xytext=(2, 2), textcoords="offset points")
    for group, color in GROUP_COLORS.items():
        ax.scatter([], [], color=color, label=group)
    for model, marker in markers.items():
        ax.scatter([], [], color="gray", marker=marker, label=model)
    ax.set_xlabel("perceptibility: 1 - mean SSIM of successful adversarials")
    ax.set_ylabel("accuracy under attack (white-box)")
    ax.legend(fontsize=7)
    ax.set_title("Accuracy against perceptibility per attack group", fontsize=9)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- from the result tables

def figure1(attacks: pd.DataFrame, test_images: torch.Tensor, adversarials: dict, variant: str):
    """Figure 1 of the paper: one test image (the first one ``variant`` classifies correctly) under
    the ten attacks, with the perturbation of each."""
    from ...attacks import TAGHANAKI, get_attack

    white = attacks[(attacks["setting"] == "white") & (attacks["variant"] == variant)]
    correct = white[white["attack"] == "G1"]["clean_correct"].to_numpy()
    k = int(np.flatnonzero(correct)[0]) if correct.any() else 0
    rows = white[white["image"] == k].set_index("attack")
    return figure_one_image_all_attacks(test_images[k], {a: adversarials[(variant, a)][k] for a in rows.index},
                                        {a: get_attack(TAGHANAKI[a]).paper_name for a in rows.index},
                                        {a: bool(rows.loc[a, "success"] and rows.loc[a, "clean_correct"]) for a in rows.index})


def figure2(attacks: pd.DataFrame, perceptibility: pd.DataFrame, test_images: dict, adversarials: dict):
    """Figure 2 of the paper (perceptible perturbations): per attack, its most perceptible
    successful example (largest L2) over the four networks, with our measured level."""
    white = attacks[(attacks["setting"] == "white") & attacks["success"] & attacks["clean_correct"]]
    examples = []
    for attack_id, part in white.groupby("attack", sort=False):
        best = part.loc[part["l2"].idxmax()]
        variant, i = best["variant"], int(best["image"])
        examples.append((f"{attack_id} on {variant}", test_images[variant][i], adversarials[(variant, attack_id)][i],
                         perceptibility.loc[attack_id, "our level"]))
    return figure_perceptible_examples(examples)


def figure3(attacks: pd.DataFrame):
    """Figure 3 of the paper: P(finding) of the attacked network after each successful white-box attack
    on a disease image, max against average pooling."""
    hit = attacks[(attacks["setting"] == "white") & attacks["success"] & attacks["clean_correct"] & (attacks["label"] == 1)]
    frame = pd.DataFrame({"attack": hit["attack"], "pooling": np.where(hit["variant"].str.endswith("MP"), "max", "avg"),
                          "probability": hit["prob"]})
    return figure_disease_probability(frame)


def figure4(attacks: pd.DataFrame):
    """Figure 4 of the paper: accuracy under white-box attack against measured perceptibility (1 - mean
    SSIM of the successful images), per attack and network, coloured by family."""
    from ...attacks import TAGHANAKI, get_attack

    white = attacks[attacks["setting"] == "white"]
    rows = []
    for (attack_id, variant), part in white.groupby(["attack", "variant"], sort=False):
        accuracy = float(((part["prob"] > 0.5) == part["label"].astype(bool)).mean())
        ssims = part["ssim"].dropna()
        rows.append({"attack_id": attack_id, "group": get_attack(TAGHANAKI[attack_id]).family, "model": variant,
                     "accuracy": accuracy, "perceptibility": 1 - ssims.mean() if len(ssims) else 0.0})
    return figure_accuracy_vs_perceptibility(pd.DataFrame(rows))
