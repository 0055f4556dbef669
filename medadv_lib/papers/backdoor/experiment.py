"""The experiments of Nwadike, Miyawaki, Sarkar, Maniatakos & Shamout 2020 (backdoor triggers).

Built here: the 14-finding multi-label data (synthetic ChestX-ray14-style radiographs or NIH
ChestX-ray14), a clean model and one trojaned model per trigger size and place per seed (the
victim's ordinary training on the poisoned set, :func:`medadv_lib.attacks.poisoning.train_victim`),
the five metrics of every epoch (ASR at p = 0.6 and 0.9, AUROC-NN, -TT, -TN), the paper's Tables
1-3 with its cells beside ours, Grad-CAM's mass on the trigger per epoch (Fig. 1), and the
per-image arrays the claims are tested on (:class:`BackdoorResults`, so every verdict has an
interval and its n).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...attacks.poisoning import Trigger, infect_images, mixed_test_set, train_victim
from ...data.chestxray14 import CHESTXRAY14_FINDINGS
from ...metrics.backdoor import (METRICS, epoch_extremes, evaluate_epochs, evaluate_mixed_epochs, format_mean_std,
                                 predict_probabilities, seed_mean_std)
from ...training import TrainConfig, load_epoch
from ...verdicts import NOT_PRINTED
from .published import PUBLISHED

__all__ = ["load_data", "train_models", "clean_quality", "evaluate", "table1", "table2", "table3", "gradcam",
           "figure3_data", "TrojanedProbs", "BackdoorResults", "claim_results", "headline", "asr_per_epoch",
           "ladder_epochs", "scale_ladder", "PAPER_METRICS", "infected_tests", "target_index", "model_kwargs"]

#: Our metric names -> the paper's Table 1 rows.
PAPER_METRICS = {"asr_0.6": "ASR_p0.6", "asr_0.9": "ASR_p0.9", "auroc_tt": "AUROC_TT", "auroc_nn": "AUROC_NN",
                 "auroc_tn": "AUROC_TN"}


def load_data(dataset: str, data_root: str, image_size: int, n_train: int, n_test: int, seed: int):
    """(train, test) of the multi-label task: the 14 findings of synthetic ChestX-ray14-style
    radiographs or NIH ChestX-ray14 (its official test list when the folder has one), or Kermany's
    pediatric radiographs as one sigmoid label, Pneumonia (the paper's finding name)."""
    from ...data.chestxray14 import chestxray14_splits
    from ...data.registry import get_dataset

    if dataset == "synthetic":
        return chestxray14_splits(None, image_size, n_train, n_test, seed, task="multilabel")
    if dataset == "kermany":
        return tuple(d.as_one_label("Pneumonia") for d in
                     get_dataset(dataset).load(data_root, image_size, n_train, n_test, seed))
    return get_dataset(dataset).load(data_root, image_size, n_train, n_test, seed, task="multilabel")


def train_models(train, seeds, trigger_sizes, focus_size: int, model_name: str, model_kwargs: dict, epochs: int,
                 batch_size: int, lr: float, poison_fraction: float, target: int, device) -> dict:
    """``{(location or "clean", size or None, seed): TrainResult}``: per seed a clean model, a
    trojaned model per fixed (centre) trigger size, and one with the ``focus_size`` trigger at
    random places. BCE with per-class positive weights, Adam, no augmentation (it would move the
    trigger)."""
    runs = {}
    for s in seeds:
        config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, loss="bce", class_weighted=True,
                             augment=False, seed=s)
        runs[("clean", None, s)] = train_victim(train, None, config, model_name, model_kwargs, target=target,
                                                device=device)[0]
        for k in trigger_sizes:
            runs[("fixed", k, s)] = train_victim(train, Trigger(k, "fixed"), config, model_name, model_kwargs,
                                                 poison_fraction, target, device)[0]
        runs[("random", focus_size, s)] = train_victim(train, Trigger(focus_size, "random"), config, model_name,
                                                       model_kwargs, poison_fraction, target, device)[0]
    return runs


def clean_quality(runs: dict, test, seed: int, device) -> dict:
    """The clean model's AUROC on the clean test images (as trained, micro over the labels) with its
    bootstrap interval, for :func:`medadv_lib.verdicts.display.above_chance`."""
    from ...metrics.uncertainty import auroc

    probs = predict_probabilities(runs[("clean", None, seed)].model, test, device)
    return {"clean DenseNet": auroc(test.targets.numpy(), probs, seed)}


def infected_tests(test, trigger_sizes, focus_size: int, seed: int) -> dict:
    """The test images with each trigger: ``{(location, size): ImageDataset}``."""
    pairs = [("fixed", k) for k in trigger_sizes] + [("random", focus_size)]
    return {(location, k): infect_images(test, Trigger(k, location), seed=seed + 1000).dataset
            for location, k in pairs}


def evaluate(runs: dict, test, infected: dict, trigger_sizes, model_name: str, model_kwargs: dict, target: int,
             device):
    """The five metrics for every epoch of every model; the clean model (the control) is tested with
    each fixed trigger. Returns ``(per_epoch, mean, std)``: per-epoch rows, and the mean and sample
    std over seeds of each metric's minimum and maximum over epochs (Table 1's reading)."""
    frames = []
    for (place, k, s), result in runs.items():
        triggers = [("fixed", size) for size in trigger_sizes] if place == "clean" else [(place, k)]
        for trig_location, trig_size in triggers:
            frame = evaluate_epochs(result, model_name, model_kwargs, test, infected[(trig_location, trig_size)],
                                    target, device)
            frames.append(frame.assign(model="clean" if place == "clean" else "trojaned", location=trig_location,
                                       size=trig_size, seed=s))
    per_epoch = pd.concat(frames, ignore_index=True)
    extremes = epoch_extremes(per_epoch, ["model", "location", "size", "seed"])
    mean, std = seed_mean_std(extremes, ["model", "location", "size"])
    return per_epoch, mean, std


def _ours(mean, std, key, metric, n_seeds: int) -> str:
    m, s = mean.loc[key, (metric, "max")], std.loc[key, (metric, "max")]
    if pd.isna(m):
        return "n/a"
    return f"{m:.3f}" + ("" if n_seeds < 2 or pd.isna(s) else f" ± {s:.3f}")


def table1(mean: pd.DataFrame, std: pd.DataFrame, trigger_sizes, focus_size: int, n_seeds: int,
           n_test: int) -> pd.DataFrame:
    """Table 1 (fixed place): each metric's maximum over epochs, mean ± std over seeds, the paper's
    cell beside ours (its columns clean, 1x1 ... 4x4; our "clean" column is the clean model tested
    with the ``focus_size`` trigger). Minimums over epochs are in :func:`figure3_data`."""
    table = PUBLISHED["table1_max_over_epochs"]
    columns = [("clean", ("clean", "fixed", focus_size))] + [(f"{k}x{k}", ("trojaned", "fixed", k))
                                                              for k in trigger_sizes]
    rows = {}
    for metric, paper_metric in PAPER_METRICS.items():
        row = {}
        for name, key in columns:
            cell = table[paper_metric][table["columns"].index(name)] if name in table["columns"] else None
            row[(name, "paper")] = NOT_PRINTED if cell is None else f"{cell[0]:.3f} ± {cell[1]:.3f}"
            row[(name, "ours")] = _ours(mean, std, key, metric, n_seeds)
        rows[paper_metric] = row
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.columns = pd.MultiIndex.from_tuples(frame.columns)
    frame.index.name = f"max over epochs (ours: {n_seeds} seed(s), {n_test} test images)"
    return frame


def table2(mean: pd.DataFrame, std: pd.DataFrame, focus_size: int, n_seeds: int) -> pd.DataFrame:
    """Table 2: fixed (centre) against random place of the ``focus_size`` trigger, min and max over
    epochs (mean ± std over seeds). The paper's text prints no cell of it."""
    out = format_mean_std(mean, std) if n_seeds > 1 else format_mean_std(mean, std * np.nan)
    out.columns = [f"{m} {e}" for m, e in out.columns]
    rows = out.loc[[("trojaned", "fixed", focus_size), ("trojaned", "random", focus_size)]]
    rows.index = pd.Index([f"fixed, {focus_size} px", f"random, {focus_size} px"], name="trigger")
    rows["paper"] = NOT_PRINTED
    return rows


def table3(runs: dict, test, epsilons, focus_size: int, seeds, model_name: str, model_kwargs: dict, target: int,
           seed: int, device) -> tuple[pd.DataFrame, dict]:
    """Table 3: test sets in which a share ``epsilon`` of the images carries the ``focus_size``
    trigger; the micro AUROC against the true findings and against the attacker's labels, min and
    max over epochs (mean over seeds), with the paper's statement beside it. Also returns the mixed
    test sets (for the claims)."""
    rows, mixed_sets = [], {}
    for eps in epsilons:
        mixed = mixed_test_set(test, Trigger(focus_size, "fixed"), eps, seed=seed + 2000)
        mixed_sets[eps] = mixed
        for s in seeds:
            frame = evaluate_mixed_epochs(runs[("fixed", focus_size, s)], model_name, model_kwargs, mixed.dataset,
                                          mixed.infected, target, device)
            rows.append({"epsilon": eps, "infected images": len(mixed.infected), "test images": len(test),
                         "auroc_true min": frame["auroc_true"].min(), "auroc_true max": frame["auroc_true"].max(),
                         "auroc_attacker min": frame["auroc_attacker"].min(),
                         "auroc_attacker max": frame["auroc_attacker"].max()})
    table = pd.DataFrame(rows).groupby(["epsilon", "infected images", "test images"]).mean().round(3)
    table["paper (Sec. 4, prose)"] = PUBLISHED["text"]["table3"]
    return table, mixed_sets


def figure3_data(mean: pd.DataFrame, std: pd.DataFrame):
    """Fig. 3: each metric's minimum over epochs against trigger size (trojaned, fixed place), its std
    over seeds, and the clean model's level."""
    min_cols = [(m, "min") for m in METRICS]
    troj_mean = mean.loc[("trojaned", "fixed")][min_cols].droplevel(1, axis=1)
    troj_std = std.loc[("trojaned", "fixed")][min_cols].droplevel(1, axis=1)
    clean_line = mean.loc[("clean", "fixed")][min_cols].droplevel(1, axis=1).mean()
    return troj_mean, troj_std, clean_line


def gradcam(run, test, focus_size: int, target: int, n_images: int, model_name: str, model_kwargs: dict, seed: int,
            device):
    """Fig. 1: Grad-CAM for the target finding at the last layer and a middle layer, every epoch, on
    ``n_images`` test images whose true label lacks the target, clean and with the trigger. Returns
    ``(mass, maps, clean images, infected Poisoned, layers)``; ``mass`` has the share of Grad-CAM mass
    inside the trigger region per (epoch, layer, images), its per-image values and its chance level."""
    from ...explain import gradcam_per_epoch
    from ...models import build_model
    from ...models.densenet import gradcam_layers

    lacks_target = np.flatnonzero(test.targets[:, target].numpy() == 0)[:n_images]
    explained = test.subset(lacks_target)
    infected = infect_images(explained, Trigger(focus_size, "fixed"), seed=seed + 3000)
    layers = gradcam_layers(build_model(model_name, **model_kwargs))
    mass, maps = gradcam_per_epoch(run, model_name, model_kwargs, explained.float_images(),
                                   infected.dataset.float_images(), infected.boxes, focus_size, target, layers,
                                   device=device)
    return mass, maps, explained, infected, layers


def _model_label(model: str, location: str, size: int) -> str:
    return "clean (control)" if model == "clean" else f"trojaned, {location} {size} px"


def _eligible(test, target: int) -> int:
    """The test images ASR is measured on: those whose true label lacks the target (Sec. "Evaluation")."""
    return int((test.targets[:, target] == 0).sum())


def asr_per_epoch(runs: dict, per_epoch: pd.DataFrame, test, target: int, focus_size: int, seed: int) -> pd.DataFrame:
    """The backdoor's success after every training epoch, beside the training loss (the paper reads
    Table 1 and Fig. 3 over epochs): per model of seed ``seed``, the loss the trainer recorded after
    each epoch and, from that epoch's checkpoint on the held-out test images, ASR at p = 0.6 and 0.9
    (triggered images lacking the target; n of them) and the clean AUROC-NN (all test images). Read
    off :func:`evaluate`'s per-epoch table, which rebuilds every epoch from the trainer's per-epoch
    checkpoints: nothing is retrained and the cached models serve as they are. The clean model,
    tested with the ``focus_size`` trigger, is the control."""
    rows = []
    for (place, k, s), run in runs.items():
        if s != seed:
            continue
        model, location, size = ("clean", "fixed", focus_size) if place == "clean" else ("trojaned", place, k)
        part = per_epoch[(per_epoch["model"] == model) & (per_epoch["location"] == location)
                         & (per_epoch["size"] == size) & (per_epoch["seed"] == s)].sort_values("epoch")
        loss = {h["epoch"]: h["loss"] for h in run.history}
        rows.append({"model": _model_label(model, location, size), "epochs": len(part),
                     "training loss per epoch": " ".join(f"{loss[e]:.3f}" for e in part["epoch"]),
                     "ASR(0.6) per epoch": " ".join(f"{v:.2f}" for v in part["asr_0.6"]),
                     "ASR(0.9) per epoch": " ".join(f"{v:.2f}" for v in part["asr_0.9"]),
                     "AUROC-NN per epoch": " ".join(f"{v:.3f}" for v in part["auroc_nn"]),
                     "n (ASR)": _eligible(test, target), "n (AUROC)": len(test)})
    return pd.DataFrame(rows).set_index("model")


def ladder_epochs(epochs: int) -> list[int]:
    """The epoch rungs of :func:`scale_ladder`: a quarter, half and all of this run's epochs."""
    return sorted({int(np.ceil(epochs / 4)), int(np.ceil(epochs / 2)), int(epochs)})


def scale_ladder(per_epoch: pd.DataFrame, test, target: int, trigger_sizes, epoch_rungs, seed: int) -> pd.DataFrame:
    """The headline metrics of Table 1 (max over epochs of ASR(0.6), and the clean model's minus the
    trojaned model's max AUROC-NN: the stealth cost) at rungs of two budgets toward the paper's,
    trigger size (its columns 1x1 ... 4x4) and training epochs (the maximum over the first ``e``
    epochs: what Table 1 would read had training stopped there), with the paper's cell (4 seeds,
    DenseNet-121 on ChestX-ray14) beside ours (seed ``seed``, the fixed-place models). Every rung
    is read off the cached per-epoch checkpoints (:func:`evaluate`): nothing is trained. ASR has
    its Wilson interval over the eligible test images (those lacking the target)."""
    from ...metrics.uncertainty import wilson

    table = PUBLISHED["table1_max_over_epochs"]
    n = _eligible(test, target)
    clean = per_epoch[(per_epoch["model"] == "clean") & (per_epoch["seed"] == seed)].drop_duplicates("epoch")
    clean = clean.set_index("epoch")["auroc_nn"]
    paper_clean = table["AUROC_NN"][table["columns"].index("clean")][0]
    rows = []
    for k in trigger_sizes:
        part = per_epoch[(per_epoch["model"] == "trojaned") & (per_epoch["location"] == "fixed")
                         & (per_epoch["size"] == k) & (per_epoch["seed"] == seed)].set_index("epoch").sort_index()
        column = f"{k}x{k}"
        paper = table["columns"].index(column) if column in table["columns"] else None
        for e in epoch_rungs:
            upto = part.loc[:e]
            asr = upto["asr_0.6"]
            best = wilson(int(round(asr.max() * n)), n) if asr.notna().any() else None
            rows.append({"trigger": column, "epochs": int(e),
                         "max ASR(0.6)": "n/a" if best is None else best.fmt(3),
                         "at epoch": "n/a" if best is None else int(asr.idxmax()),
                         "paper ASR(0.6)": NOT_PRINTED if paper is None else f"{table['ASR_p0.6'][paper][0]:.3f}",
                         "AUROC-NN drop (clean minus trojaned)": f"{clean.loc[:e].max() - upto['auroc_nn'].max():.3f}",
                         "paper AUROC-NN drop": NOT_PRINTED if paper is None
                         else f"{paper_clean - table['AUROC_NN'][paper][0]:.3f}", "n (ASR)": n})
    return pd.DataFrame(rows).set_index(["trigger", "epochs"])


def _probs_at(run, epoch: int, dataset, device) -> np.ndarray:
    return predict_probabilities(load_epoch(run, epoch, device), dataset, device)


def _epoch_of(per_epoch, model, location, size, seed, metric, how):
    """The epoch where ``metric`` is extreme; the last epoch where it is undefined at every epoch
    (AUROC-TT with one label: the attacker's labels hold no negative)."""
    part = per_epoch[(per_epoch["model"] == model) & (per_epoch["location"] == location)
                     & (per_epoch["size"] == size) & (per_epoch["seed"] == seed)].set_index("epoch")[metric]
    if part.isna().all():
        return int(part.index.max())
    return int(part.idxmax() if how == "max" else part.idxmin())


@dataclass(frozen=True)
class TrojanedProbs:
    """One trojaned model's (fixed location: the centre) sigmoid outputs, (test images, labels), each
    from the epoch where its metric is extreme, as the paper reads Table 1 and Fig. 3."""

    #: on the clean test images, at the epoch of the highest AUROC-NN (the stealth claim)
    nn: np.ndarray
    #: on the infected test images, at the epoch of the highest AUROC-TT
    tt_max: np.ndarray
    #: on the infected test images, at the epoch of the highest ASR(0.6)
    asr_max: np.ndarray
    #: on the infected test images, at the epoch of the lowest ASR(0.6)
    asr_min: np.ndarray
    #: on the infected test images, at the epoch of the lowest AUROC-TN
    tn_min: np.ndarray


@dataclass
class BackdoorResults:
    """What the claims of :mod:`.claims` and their premises are tested on: the first seed's models,
    as per-image arrays (rows: the test images, in order; columns: the dataset's labels, 14
    findings or Kermany's one), so every verdict has an interval and its n."""

    #: (N, labels) the true findings of the test images, 0/1
    labels: np.ndarray
    #: the index of the attacker's target finding among the labels
    target: int
    #: (N, labels) the clean model's outputs on the clean test images, at its best AUROC-NN epoch
    #: (the stand-in premise and the stealth claim read it)
    clean_probs: np.ndarray
    #: trigger size (px) -> the trojaned model's (fixed location) outputs at its extreme epochs
    trojaned: dict[int, TrojanedProbs]
    #: the trigger size of Table 2, Table 3 and Grad-CAM (one of ``trojaned``'s sizes)
    focus_size: int
    #: epsilon (the infected share of a Table 3 test set) -> (its labels (N, labels), the
    #: ``focus_size`` model's outputs on it at the last epoch)
    mixed: dict[float, tuple[np.ndarray, np.ndarray]]
    #: Grad-CAM's mass on the trigger (:func:`gradcam`): epoch, images ("clean", "infected"), layer
    #: ("last", ...), mass_share, chance_share, n, empty_maps, per_image (array of the shares)
    mass: pd.DataFrame


def claim_results(runs, per_epoch, test, infected, mixed_sets, mass, trigger_sizes, focus_size: int, target: int,
                  seed: int, device) -> BackdoorResults:
    """The per-image arrays the claims of :mod:`.claims` are tested on (first seed ``seed``), each
    at the epoch where its metric is extreme, as the paper reads its Table 1 and Fig. 3."""
    labels = test.targets.numpy()
    clean_run = runs[("clean", None, seed)]
    ep = _epoch_of(per_epoch, "clean", "fixed", focus_size, seed, "auroc_nn", "max")
    trojaned = {}
    for k in trigger_sizes:
        run, data = runs[("fixed", k, seed)], infected[("fixed", k)]

        def at(metric, how, dataset):
            return _probs_at(run, _epoch_of(per_epoch, "trojaned", "fixed", k, seed, metric, how), dataset, device)

        trojaned[k] = TrojanedProbs(nn=at("auroc_nn", "max", test), tt_max=at("auroc_tt", "max", data),
                                    asr_max=at("asr_0.6", "max", data), asr_min=at("asr_0.6", "min", data),
                                    tn_min=at("auroc_tn", "min", data))
    last = max(h["epoch"] for h in runs[("fixed", focus_size, seed)].history)
    mixed = {}
    for eps, m in mixed_sets.items():
        mixed[eps] = (m.dataset.targets.numpy(), _probs_at(runs[("fixed", focus_size, seed)], last, m.dataset, device))
    return BackdoorResults(labels=labels, target=target, clean_probs=_probs_at(clean_run, ep, test, device),
                           trojaned=trojaned, focus_size=focus_size, mixed=mixed, mass=mass)


def headline(mean: pd.DataFrame, trigger_sizes) -> str:
    troj = mean.loc[("trojaned", "fixed")]
    smallest = min(trigger_sizes)
    clean_nn = mean.loc[("clean", "fixed")][("auroc_nn", "max")].mean()
    return (f"max ASR(0.6) {troj.loc[smallest, ('asr_0.6', 'max')]:.2f} with a {smallest} px trigger; clean-image "
            f"AUROC {troj[('auroc_nn', 'max')].min():.2f}-{troj[('auroc_nn', 'max')].max():.2f} trojaned against "
            f"{clean_nn:.2f} clean (paper: ASR 1.00, AUROC-NN 0.82-0.85 against 0.85)")


def model_kwargs(model_name: str, n_labels: int = len(CHESTXRAY14_FINDINGS)) -> dict:
    """The victim's ``n_labels`` sigmoid outputs on a gray input (14 findings; one on Kermany's data)."""
    return {"num_classes": n_labels, "in_channels": 1}


def target_index(finding: str, labels=CHESTXRAY14_FINDINGS) -> int:
    """Index of ``finding`` among the dataset's labels (the 14 ChestX-ray14 findings by default)."""
    labels = list(labels)
    if finding not in labels:
        raise ValueError(f"target finding {finding!r} is not a label of this dataset: {labels}")
    return labels.index(finding)
