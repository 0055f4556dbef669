"""Figures of the SMIA chapter (Qi et al. 2021): Figure 2 and clean/attacked segmentation masks."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import torch

from ...metrics.perturbation import consecutive_cosine, perturbation_variance

__all__ = ["perturbation_evolution", "segmentation_masks", "data_samples", "sweep_curves", "attacked_masks",
           "evolution", "objective_curves"]


def _show_perturbation(ax, eta: torch.Tensor, scale: float):
    """Channel-averaged perturbation of one image, blue negative / red positive."""
    return ax.imshow(eta.float().mean(0).numpy(), cmap="coolwarm", vmin=-scale, vmax=scale)


def perturbation_evolution(histories: dict[str, torch.Tensor], index: int = 0,
                           iterations: Sequence[int] = (1, 4, 9), title: str = ""):
    """Figure 2: the perturbation of image ``index`` after the given iterations, one row per
    method (e.g. DEV and DEV+STA), each panel titled with its variance and the cosine
    similarity of that iteration's update with the previous one."""
    rows = list(histories)
    fig, axes = plt.subplots(len(rows), len(iterations), figsize=(2.6 * len(iterations), 2.6 * len(rows)),
                             squeeze=False)
    for r, name in enumerate(rows):
        h = histories[name]
        if max(iterations) >= len(h):
            raise ValueError(f"{name}: history has {len(h) - 1} iterations, asked for {max(iterations)}")
        cos = consecutive_cosine(h[:, index:index + 1])[:, 0]      # cos[t - 2]: update t vs t - 1
        scale = float(h[max(iterations), index].abs().max()) or 1.0
        for c, t in enumerate(iterations):
            ax = axes[r, c]
            im = _show_perturbation(ax, h[t, index], scale)
            var = float(perturbation_variance(h[t, index:index + 1])[0])
            cos_text = f", cos {float(cos[t - 2]):.2f}" if t >= 2 else ""
            ax.set_title(f"{name} it. {t}\nvar {var:.2e}{cos_text}", fontsize=8)
            ax.axis("off")
        fig.colorbar(im, ax=axes[r].tolist(), shrink=0.8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def segmentation_masks(images: torch.Tensor, truth: torch.Tensor, predictions: dict[str, torch.Tensor],
                       indices: Sequence[int] = (0, 1, 2)):
    """Rows: chosen slices; columns: the image, the true mask, then each method's predicted
    mask ('clean' first), with the slice's Jaccard index in the title."""
    from ...metrics.segmentation import per_image_jaccard

    cols = 2 + len(predictions)
    fig, axes = plt.subplots(len(indices), cols, figsize=(2.2 * cols, 2.2 * len(indices)), squeeze=False)
    for r, i in enumerate(indices):
        axes[r, 0].imshow(images[i].float().mean(0).numpy(), cmap="gray", vmin=0, vmax=1)
        axes[r, 0].set_title("CT slice" if r == 0 else "", fontsize=8)
        axes[r, 1].imshow(truth[i].numpy(), cmap="viridis", vmin=0, vmax=max(1, int(truth.max())))
        axes[r, 1].set_title("ground truth" if r == 0 else "", fontsize=8)
        for c, (name, pred) in enumerate(predictions.items(), start=2):
            score = float(per_image_jaccard(pred[i:i + 1], truth[i:i + 1])[0])
            axes[r, c].imshow(pred[i].numpy(), cmap="viridis", vmin=0, vmax=max(1, int(truth.max())))
            axes[r, c].set_title(f"{name}\nIoU {score:.2f}", fontsize=8)
        for ax in axes[r]:
            ax.axis("off")
    fig.tight_layout()
    return fig


def data_samples(cls_train, seg_train):
    """One training image per grade (top) and five CT slices with the outline of their mask (bottom)."""
    fig, axes = plt.subplots(2, 5, figsize=(11, 4.6))
    for grade, ax in enumerate(axes[0]):
        found = (cls_train.targets == grade).nonzero()
        if len(found):
            image = cls_train.float_images()[int(found[0, 0])]
            ax.imshow(image.permute(1, 2, 0).numpy().squeeze(), cmap="gray" if image.shape[0] == 1 else None)
        ax.set_title(cls_train.class_names[grade] if grade < len(cls_train.class_names) else "", fontsize=9)
    slices = seg_train.float_images()
    for k, ax in enumerate(axes[1][:len(slices)]):
        ax.imshow(slices[k, 0].numpy(), cmap="gray", vmin=0, vmax=1)
        ax.contour(seg_train.targets[k].numpy(), levels=[0.5], colors="lime", linewidths=0.8)
        ax.set_title("CT slice, mask outline" if k == 0 else "", fontsize=9)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    return fig


def sweep_curves(sweeps, scores):
    """Tables 2-4 as curves: mean drop (clean minus attacked) against the swept value, per task."""
    clean = scores[scores["method"] == "clean"].groupby("task")["score"].mean()
    means = sweeps.groupby(["table", "task", "value"], sort=False)["score"].mean().reset_index()
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    for ax, (table, part) in zip(axes, means.groupby("table", sort=False)):
        for task, rows in part.groupby("task", sort=False):
            ax.plot(rows["value"], clean[task] - rows["score"], "o-", label=task)
        ax.set_title(f"Table {table}", fontsize=10)
        ax.set_ylabel("drop in score")
        if table.startswith("3"):
            ax.set_xscale("log")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def evolution(runs: dict, tasks, index: int = 0, iterations: Sequence[int] = (1, 4, 9)):
    """Figure 2 for every task: DEV above DEV + STA."""
    return [perturbation_evolution({"DEV": runs[name, "DEV"].history, "DEV+STA": runs[name, "SMIA"].history},
                                   index=index, iterations=iterations, title=name) for name in tasks]


def attacked_masks(task, runs: dict, device="auto"):
    """Clean and attacked masks of the first three attacked slices, one column per method."""
    from ...training import predict

    masks = {"clean": predict(task.model, task.images, device=device).argmax(1)}
    masks.update({m: predict(task.model, runs[task.name, m].adversarial, device=device).argmax(1)
                  for m in task.methods})
    return segmentation_masks(task.images, task.targets, masks, indices=range(min(3, len(task.images))))


def objective_curves(record):
    """The convergence record (:func:`.experiment.convergence`) per task: the rise of every
    method's ``L_DEV`` and of SMIA's objective ``L_DEV - alpha L_STA`` (Qi et al. Eq. 3, dashed)
    since iteration 0 (the clean image), mean over the images, at the iterations read. The rise,
    not the level: the images' losses differ far more than an attack of a few steps moves them."""
    tasks = list(dict.fromkeys(record["task"]))
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.2 * len(tasks), 3.2), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        part = record[record["task"] == task]
        for (method, quantity), rows in part.groupby(["method", "quantity"], sort=False):
            if quantity not in ("L_DEV", "L_DEV - alpha L_STA"):
                continue
            rows = rows.sort_values("iteration")
            rise = rows["mean"] - rows["mean"].iloc[0]
            ax.plot(rows["iteration"], rise, "-" if quantity == "L_DEV" else "--", marker="o", ms=3,
                    label=method if quantity == "L_DEV" else f"{method}: {quantity}")
        ax.set(title=task, xlabel="iteration", ylabel="objective minus its clean value")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
