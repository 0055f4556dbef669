"""The robustness matrix's figures: the heat map (models x attacks at one budget) and the curves of
robust accuracy against the budget, per model, with the worst case over the attacks."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ...specs.budgets import GRAY_LEVELS
from .experiment import NOISE, budget_label

__all__ = ["heat_map", "budget_curves"]


def heat_map(values: pd.DataFrame, eps: float):
    """Robust accuracy (%) per model and attack at the L-inf budget ``eps``; blank where an
    attack does not apply to the model's task."""
    data = 100 * values.to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * values.shape[1], 0.8 + 0.5 * values.shape[0]))
    image = ax.imshow(np.ma.masked_invalid(data), cmap="RdYlGn", vmin=0, vmax=100, aspect="auto")
    ax.set_xticks(range(values.shape[1]), values.columns, rotation=35, ha="right")
    ax.set_yticks(range(values.shape[0]), values.index)
    for (i, j), v in np.ndenumerate(data):
        if np.isfinite(v):
            ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=8)
    fig.colorbar(image, ax=ax, label="robust accuracy (%)")
    ax.set_title(f"Robust accuracy at L-inf {budget_label('Linf', eps)}")
    fig.tight_layout()
    return fig


def budget_curves(curves: pd.DataFrame, clean: dict[str, float]):
    """One panel per model: robust accuracy against the L-inf budget for each attack (thin), the
    noise control (dashed), the worst case (thick) and the clean accuracy (dotted)."""
    names = list(dict.fromkeys(curves["model"]))
    cols = min(3, len(names))
    rows = int(np.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False, sharey=True)
    attacks = [c for c in curves.columns if c not in ("model", "eps", "budget", "worst case")]
    for ax, name in zip(axes.flat, names):
        part = curves[curves["model"] == name].sort_values("eps")
        x = part["eps"] * GRAY_LEVELS
        for attack in attacks:
            if part[attack].notna().any():
                ax.plot(x, 100 * part[attack], "--" if attack == NOISE else "-", lw=0.9, label=attack)
        ax.plot(x, 100 * part["worst case"], "k-", lw=2.2, label="worst case")
        ax.axhline(100 * clean[name], color="grey", ls=":", lw=1, label="clean")
        ax.set_xscale("log", base=2)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("L-inf budget (x 1/255)")
        ax.set_ylim(-3, 103)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    axes[0, 0].set_ylabel("robust accuracy (%)")
    legend = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    handles, labels = list(legend.values()), list(legend)
    fig.legend(handles, labels, loc="lower center", ncol=min(6, len(labels)), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig
