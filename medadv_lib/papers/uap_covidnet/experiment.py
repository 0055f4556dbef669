"""The experiments of Hirano, Koga & Takemoto 2020 (UAPs against COVID-Net), as the chapter runs them.

Everything the notebook shows is built here: the data (synthetic, Kermany's two classes, or
COVIDx), the two COVID-Nets, the UAP sweep with its random controls (Sec. 2.2), the paper's tables
with the published cells beside ours (Tables 1-3, % with 95 % Wilson intervals and n), the
confusion matrices (Figs. 1 and 3), adversarial retraining with our clean fine-tuning control
(Sec. 2.4, Fig. 5), and the result tables the claims (:mod:`.claims`) are tested on.

Result tables keep one row per image and configuration, so every rate has its count and every
comparison on the same images is paired:

* ``predictions``: model, norm ("L2"/"Linf"), zeta, target ("none" or a class name), split
  ("train" = the UAP images, "test"), kind ("uap", "random", "clean"), image, true, pred;
* ``retraining``: target ("none": nontargeted, Fig. 5A; a class: targeted, Fig. 5B), zeta, model, arm,
  round, image, true, pred_clean, pred_uap.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd
import torch
import torch.nn as nn

from ...attacks import fit_universal
from ...attacks.uap import (mean_image_norm, perturbation_norm, plateaued, predict_labels, random_perturbation,
                           uap_radius, universal_pgd)
from ...data.datasets import ImageDataset
from ...metrics.uncertainty import wilson
from ...progress import tqdm
from ...training import TrainConfig, TrainResult, train_model
from ...utils import resolve_device
from .published import PUBLISHED

__all__ = ["MODELS", "ChapterData", "load_data", "class_counts", "train_covidnets", "accuracy_table",
           "budget_table", "Sweep", "uap_sweep", "paper_cell", "table1", "targeted_table", "confusion",
           "disease_shares", "RetrainingRound", "adversarial_retraining", "retraining_experiment",
           "rate_cell", "retraining_summary", "paper_retraining", "retraining_hits", "retraining_rate_name",
           "retraining_targets",
           "visibility", "UAPResults", "claim_results", "headline", "convergence",
           "positive_control", "scale_ladder", "ladder_rungs", "uap_settings", "loop_converged", "PLATEAU", "PATIENCE",
           "PAPER_PASSES"]

#: The two COVID-Nets of the paper, by the names its tables use.
MODELS = {"Small": "covidnet-small", "Large": "covidnet-large"}
#: A UAP loop has converged when its last :data:`PATIENCE` passes raised its best rate on the UAP
#: images by at most :data:`PLATEAU` (:func:`~medadv_lib.attacks.uap.plateaued`), or when it ran
#: the paper's i_max = 15 passes (Sec. 2.2), having kept at least one update. :func:`convergence`
#: applies the rule (the convergence premise of :mod:`.claims` reads its column), and
#: :func:`uap_settings` stops the loops by it.
PLATEAU, PATIENCE, PAPER_PASSES = 0.02, 3, 15
#: The paper's keys for its class names (published.py) and ours.
_PAPER_CLASS = {"normal": "normal", "pneumonia": "pneumonia", "COVID-19": "covid19"}


@dataclass
class ChapterData:
    train: ImageDataset
    test: ImageDataset
    uap_set: ImageDataset       # the training images the UAPs are computed on ("train" in the tables)
    classes: tuple[str, ...]
    dataset: str

    @property
    def disease(self) -> str:
        """The class the paper's dominant-label claims name: COVID-19 (pneumonia with two classes)."""
        return self.classes[-1]


def load_data(dataset: str, data_root: str, image_size: int, n_train: int, n_test: int, seed: int,
              imbalance: bool, uap_images: int) -> ChapterData:
    """Synthetic three-class radiographs (COVIDx-like), or a real dataset through the registry."""
    from ...data.covidx import COVIDX_CLASSES, covidx_splits
    from ...data.registry import get_dataset

    if dataset == "synthetic":
        train, test = covidx_splits(None, image_size, n_train, n_test, seed, imbalance)
    else:
        train, test = get_dataset(dataset).load(data_root, image_size, n_train, n_test, seed)
    if dataset == "covidx" and train.class_names != list(COVIDX_CLASSES):
        raise ValueError(f"this chapter needs the three COVIDx classes, got {train.class_names}")
    uap_set = train.subset(np.arange(min(uap_images, len(train)) if uap_images else len(train)))
    return ChapterData(train, test, uap_set, tuple(train.class_names), dataset)


def class_counts(data: ChapterData) -> pd.DataFrame:
    return pd.DataFrame({name: np.bincount(d.targets.numpy(), minlength=len(data.classes)) for name, d in
                         [("train", data.train), ("UAP images", data.uap_set), ("test", data.test)]},
                        index=list(data.classes))


def train_covidnets(data: ChapterData, width: float, image_size: int, epochs: int, batch_size: int,
                    lr: float, optimizer: str, augment: bool, seed: int, device) -> dict[str, TrainResult]:
    """COVIDNet-CXR Small and Large from scratch with the project's one trainer (Adam and
    COVID-Net-style shifts and flips by default, class weights; cached by configuration)."""
    config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer, augment=augment,
                         class_weighted=True, seed=seed)
    kwargs = {"num_classes": len(data.classes), "in_channels": 1, "width": width, "image_size": image_size}
    return {name: train_model(registry_name, kwargs, data.train, config, device=device, test=data.test,
                               keep_epochs=False)
            for name, registry_name in MODELS.items()}


def rate_cell(outcomes) -> str:
    """A rate of ours as the tables print it: percent with its 95 % Wilson interval."""
    return wilson(int(np.sum(outcomes)), len(outcomes)).fmt(percent=True)


def accuracy_table(models: dict[str, nn.Module], data: ChapterData, device) -> pd.DataFrame:
    """Clean accuracy (%) on the UAP images and the test images, ours with its interval and n,
    beside the paper's (Sec. 3.1; the paper's "train" is its whole training set)."""
    rows, test_accuracy = [], {}
    for name, model in models.items():
        for split, dataset in (("train", data.uap_set), ("test", data.test)):
            correct = predict_labels(model, dataset.float_images(), device=device).numpy() == dataset.targets.numpy()
            rows.append({"model": name, "split": split, "paper": PUBLISHED["clean_accuracy_percent"][name][split],
                         "ours": rate_cell(correct), "n": len(correct)})
        test_accuracy[name] = wilson(int(correct.sum()), len(correct))
    table = pd.DataFrame(rows).set_index(["model", "split"])
    table.attrs["test_accuracy"] = test_accuracy  # for medadv_lib.verdicts.display.above_chance
    return table


def budget_table(uap_set: ImageDataset, norms, zetas) -> pd.DataFrame:
    """The UAP radius xi = zeta x mean image norm (0-255 scale) beside the paper's mean norms."""
    images = uap_set.float_images()
    paper = PUBLISHED["setup"]["mean_image_norm_0_255"]
    return pd.DataFrame([{"norm": f"L{p}", "mean image norm (ours, 0-255)": 255 * mean_image_norm(images, p),
                          "mean image norm (paper, 0-255, 224 px)": paper["L2" if p == "2" else "Linf"],
                          **{f"xi at {z:.0%} (ours, 0-255)": 255 * uap_radius(images, z, p) for z in zetas}}
                         for p in norms]).set_index("norm")


# --------------------------------------------------------------------------- the sweep

@dataclass
class Sweep:
    """The UAPs of one sweep and one row per image, configuration and kind (see the module doc)."""

    predictions: pd.DataFrame
    uaps: dict                       # (model, norm "2"/"inf", zeta, target or None) -> UAPResult
    runs: pd.DataFrame               # one row per UAP: xi, passes, seconds


def uap_settings(mode: str, max_passes: int, eps_step: float, stop_at_plateau: bool) -> dict:
    """The UAP loop's keyword arguments for every UAP of the chapter (sweep, ladder, retraining):
    ``max_passes`` is i_max (the paper: 15, Sec. 2.2); ``stop_at_plateau`` also ends a loop once it
    converged by :data:`PLATEAU` (ours: the paper ran every pass; a converged loop's later passes
    move its rate by at most that much, and stopping saves them)."""
    return {"mode": mode, "max_passes": int(max_passes), "eps_step": float(eps_step),
            "plateau": PLATEAU if stop_at_plateau else None, "patience": PATIENCE}


def loop_converged(result) -> bool:
    """The chapter's convergence rule (:data:`PLATEAU`) on one loop's :class:`~medadv_lib.attacks.uap.UAPResult`."""
    return bool(result.updates > 0 and (result.passes >= PAPER_PASSES
                                        or plateaued(result.rate_history, PLATEAU, PATIENCE)))


def _rows(model, norm, zeta, target, split, kind, true, pred):
    """``norm`` "2"/"inf" (shown "L2"/"Linf"), or None for clean predictions."""
    return pd.DataFrame({"model": model, "norm": "none" if norm is None else f"L{norm}", "zeta": zeta,
                         "target": target, "split": split, "kind": kind, "image": np.arange(len(true)),
                         "true": true, "pred": pred})


def uap_sweep(models: dict[str, nn.Module], data: ChapterData, norms, zetas, targets=(None,), *, seed: int = 0,
              device="auto", progress: bool = True, **uap_kwargs) -> Sweep:
    """UAPs for every model x norm x zeta x target (None: nontargeted) on the UAP images, with a
    random control of the same norm (Sec. 2.2), each evaluated on the UAP images ("train") and the
    test images; clean predictions once per model."""
    device = resolve_device(device)
    images = data.uap_set.float_images()
    splits = {"train": data.uap_set, "test": data.test}
    frames, uaps, runs = [], {}, []
    for name, model in models.items():
        for split, dataset in splits.items():
            frames.append(_rows(name, None, 0.0, "none", split, "clean", dataset.targets.numpy(),
                                predict_labels(model, dataset.float_images(), device=device).numpy()))
    combos = [(m, str(p), float(z), t) for m in models for p in norms for z in zetas for t in targets]
    controls = {}  # the random control depends on the model, norm and zeta, not the target: predicted once
    for name, norm, zeta, target in tqdm(combos, desc="UAP sweep", leave=False, disable=not progress):
        xi = uap_radius(images, zeta, norm)
        result = fit_universal("uap" if target is None else "uap-targeted", models[name], images, eps=xi,
                               norm="Linf" if norm == "inf" else "L2", seed=seed, device=device,
                               **({} if target is None else {"target": target}), **uap_kwargs)
        uaps[(name, norm, zeta, target)] = result
        target_name = "none" if target is None else data.classes[target]
        runs.append({"model": name, "norm": f"L{norm}", "zeta": zeta, "target": target_name, "xi": xi,
                     "passes": result.passes, "seconds": result.seconds})
        if (name, norm, zeta) not in controls:
            control = random_perturbation(images.shape[1:], xi, norm, seed=seed + 7)
            controls[(name, norm, zeta)] = {split: predict_labels(models[name], dataset.float_images(), control,
                                                                  device=device).numpy()
                                            for split, dataset in splits.items()}
        for split, dataset in splits.items():
            pred = predict_labels(models[name], dataset.float_images(), result.perturbation, device=device).numpy()
            frames.append(_rows(name, norm, zeta, target_name, split, "uap", dataset.targets.numpy(), pred))
            frames.append(_rows(name, norm, zeta, target_name, split, "random", dataset.targets.numpy(),
                                controls[(name, norm, zeta)][split]))
    return Sweep(pd.concat(frames, ignore_index=True), uaps, pd.DataFrame(runs))


def _selection(predictions: pd.DataFrame, **where) -> pd.DataFrame:
    mask = np.ones(len(predictions), bool)
    for column, value in where.items():
        mask &= predictions[column].to_numpy() == value
    return predictions[mask]


def _outcomes(predictions, classes, model, norm, zeta, target, split, kind) -> np.ndarray:
    """Per image: R_f's outcome (not its true label, Sec. 2.3) or R_s's (classified as the target)."""
    rows = _selection(predictions, model=model, norm=norm, zeta=zeta, target=target, split=split, kind=kind)
    if target == "none":
        return (rows["pred"] != rows["true"]).to_numpy()
    return (rows["pred"] == list(classes).index(target)).to_numpy()


def paper_cell(table: dict, *path) -> list | None:
    """A published [UAP, random] cell, or None where the paper prints none."""
    node = table
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _table(sweep: Sweep, classes, rows_spec, paper_of) -> pd.DataFrame:
    rows = []
    for index, (model, norm, zeta, target) in rows_spec:
        row = {}
        for split in ("train", "test"):
            paper = paper_of(model, norm, zeta, target, split)
            uap = _outcomes(sweep.predictions, classes, model, norm, zeta, target, split, "uap")
            control = _outcomes(sweep.predictions, classes, model, norm, zeta, target, split, "random")
            row[(split, "paper")] = "not printed" if paper is None else f"{paper[0]} ({paper[1]})"
            row[(split, "ours [95% CI]")] = rate_cell(uap)
            row[(split, "ours, random [95% CI]")] = rate_cell(control)
            row[(split, "n")] = len(uap)
        rows.append(pd.Series(row, name=index))
    frame = pd.DataFrame(rows)
    frame.columns = pd.MultiIndex.from_tuples(frame.columns)
    return frame


def _paper_zeta(zeta: float) -> str:
    return f"{round(zeta * 100):d}" if abs(zeta * 100 - round(zeta * 100)) < 1e-9 else f"{zeta * 100:g}"


def table1(sweep: Sweep, classes, models, norms, zetas) -> pd.DataFrame:
    """Table 1: R_f (%) of nontargeted UAPs, train and test; the paper's "UAP (random)" cell beside
    ours with 95 % Wilson intervals, the random control of the same norm, and n."""
    published = PUBLISHED["table1_nontargeted_Rf_percent"]
    spec = [((m, f"L{p}", f"{z:.0%}"), (m, f"L{p}", z, "none")) for m in models for p in norms for z in zetas]
    table = _table(sweep, classes, spec, lambda m, p, z, t, s: paper_cell(published, p[1:], _paper_zeta(z), m, s))
    table.index = pd.MultiIndex.from_tuples(table.index, names=["model", "norm", "zeta"])
    return table


def targeted_table(sweep: Sweep, classes, model: str, norms, zetas) -> pd.DataFrame:
    """Tables 2 (Small) and 3 (Large): R_s (%) of targeted UAPs per target class, as Table 1."""
    published = PUBLISHED[f"table{2 if model == 'Small' else 3}_targeted_Rs_percent_{model}"]
    spec = [((f"L{p}", f"{z:.0%}", t), (model, f"L{p}", z, t)) for p in norms for z in zetas for t in classes]
    table = _table(sweep, classes, spec, lambda m, p, z, t, s: paper_cell(
        published, p[1:], _paper_zeta(z), _PAPER_CLASS.get(t, t), s))
    table.index = pd.MultiIndex.from_tuples(table.index, names=["norm", "zeta", "target"])
    return table


def confusion(predictions: pd.DataFrame, classes, **where) -> np.ndarray:
    """Counts (rows: true class, columns: predicted class) of the selected test rows."""
    from ...metrics.classification import confusion_matrix

    rows = _selection(predictions, **where)
    return confusion_matrix(rows["true"].to_numpy(), rows["pred"].to_numpy(), len(classes))


def disease_shares(sweep: Sweep, classes, models, norms, zeta: float) -> pd.DataFrame:
    """Fig. 1's number: the share of test images (all of them, and those of the other classes)
    predicted as the disease class (COVID-19; pneumonia with two classes), clean and under the
    nontargeted UAP, with 95 % intervals."""
    disease = len(classes) - 1
    rows = []
    for model in models:
        cases = [("clean", dict(model=model, split="test", kind="clean"))]
        cases += [(f"L{p} UAP, zeta {zeta:.0%}", dict(model=model, norm=f"L{p}", zeta=zeta, target="none",
                                                       split="test", kind="uap")) for p in norms]
        for label, where in cases:
            sel = _selection(sweep.predictions, **where)
            pred, true = sel["pred"].to_numpy(), sel["true"].to_numpy()
            rows.append({"model": model, "perturbation": label,
                         f"predicted {classes[-1]}, all test images": rate_cell(pred == disease),
                         f"predicted {classes[-1]}, other classes": rate_cell(pred[true != disease] == disease),
                         "n (other classes)": int((true != disease).sum())})
    return pd.DataFrame(rows).set_index(["model", "perturbation"])


# --------------------------------------------------------------------------- adversarial retraining

@dataclass
class RetrainingRound:
    round: int
    rate: float            # R_f (nontargeted, vs true labels) or R_s (targeted) of a new UAP
    clean_accuracy: float  # on the test images
    uap: torch.Tensor | None = None
    pred_uap: np.ndarray | None = None     # test predictions under the new UAP
    pred_clean: np.ndarray | None = None   # test predictions, clean


def adversarial_retraining(model_name: str, model_kwargs: dict, initial_state: dict,
                           train: ImageDataset, test: ImageDataset, train_config, *, xi: float,
                           norm=2, target: int | None = None, rounds: int = 5,
                           uaps_per_round: int = 10, perturbed_fraction: float = 0.5,
                           uap_kwargs: dict | None = None, uap_data: ImageDataset | None = None,
                           uap_augmented: bool = True, seed: int = 0, device="auto",
                           progress: bool = True, round0: RetrainingRound | None = None
                           ) -> tuple[list[RetrainingRound], nn.Module]:
    """Sec. 2.4: iterative fine-tuning with UAPs (after Hirano & Takemoto 2020).

    Each round: ``uaps_per_round`` UAPs against the current model (step 1 of Sec. 2.4: 10 in the
    paper, with different seeds), add a randomly chosen one of them to a random
    ``perturbed_fraction`` of the training images (labels unchanged; step 2), fine-tune with
    ``train_config`` (5 epochs in the paper; step 3) from the current weights via
    :func:`medadv_lib.training.train_model` (so each round is cached), then compute a new UAP
    against the fine-tuned model (step 4) and report its R_f (nontargeted, on the test images, vs
    true labels) or R_s (targeted) and the clean test accuracy (step 5). Round 0 is the model
    before any fine-tuning. Step 4's UAP is not reused as one of the next round's step-1 UAPs,
    although it is against the same model: tried on 2026-12-08, the reuse saved 18 % of the
    default retraining cell but moved its results (Large's R_f after 2 rounds 11.7 -> 36.3 %) for
    a reason not found, so every step-1 UAP stays fresh, as in the paper. ``uap_data`` (default:
    ``train``) are the images the UAPs are computed on; ``xi`` is in their scale.

    ``uap_augmented=False`` is the control: the same rounds, epochs and evaluation, but fine-tuned
    on the clean training images, so that a model that is still learning can be told apart from
    one that learns to resist UAPs. ``round0``: round 0 already evaluated for the same initial
    weights, seed and UAP settings (the other arm's), reused instead of recomputed.
    """
    from ...models import build_model

    if rounds < 0 or uaps_per_round < 1 or not 0 < perturbed_fraction <= 1:
        raise ValueError("rounds >= 0, uaps_per_round >= 1 and perturbed_fraction in (0, 1] required")
    uap_kwargs = dict(uap_kwargs or {})
    uap_kwargs.pop("progress", None)
    device = resolve_device(device)
    attack, norm_name = ("uap" if target is None else "uap-targeted"), ("Linf" if str(norm) in ("inf", "Linf") else "L2")

    def new_uap(seed_: int) -> torch.Tensor:
        return fit_universal(attack, model, uap_images, eps=xi, norm=norm_name, seed=seed_, device=device,
                             **({} if target is None else {"target": target}), **uap_kwargs).perturbation
    model = build_model(model_name, **model_kwargs)
    model.load_state_dict(initial_state)
    model.to(device).eval()
    test_images = test.float_images()
    train_images = train.float_images()
    truth = test.targets.numpy()
    gen = torch.Generator().manual_seed(seed)
    uap_images = (uap_data if uap_data is not None else train).float_images()

    def evaluate(r: int) -> RetrainingRound:
        uap = new_uap(seed + 1000 * r)
        pred_adv = predict_labels(model, test_images, uap, device=device).numpy()
        pred_clean = predict_labels(model, test_images, None, device=device).numpy()
        rate = float((pred_adv != truth).mean()) if target is None else float((pred_adv == target).mean())
        return RetrainingRound(r, rate, float((pred_clean == truth).mean()), uap, pred_adv, pred_clean)

    history = [round0 if round0 is not None else evaluate(0)]
    bar = tqdm(range(1, rounds + 1), desc="adversarial retraining", leave=False, disable=not progress)
    for r in bar:
        if uap_augmented:
            uaps = torch.stack([new_uap(seed + 1000 * r + k) for k in range(uaps_per_round)])
            n = len(train)
            chosen = torch.randperm(n, generator=gen)[: int(round(perturbed_fraction * n))]
            which = torch.randint(len(uaps), (len(chosen),), generator=gen)
            images = train_images.clone()
            images[chosen] = images[chosen] + uaps[which]
            data = train.with_images(images, f"retraining round {r}: {len(chosen)} images + UAPs")
        else:
            data = train
        state = {k: t.detach().cpu() for k, t in model.state_dict().items()}
        tag = f"uap-retraining-round{r}" if uap_augmented else f"clean-finetuning-round{r}"
        model = train_model(model_name, model_kwargs, data, train_config, device=device,
                            init_state=state, tag=tag, progress=False, keep_epochs=False).model
        history.append(evaluate(r))
        bar.set_postfix(rate=f"{history[-1].rate:.3f}", acc=f"{history[-1].clean_accuracy:.3f}")
    return history, model


def _round_zero(sweep: Sweep | None, models: dict[str, nn.Module], data: ChapterData, name: str, norm: str,
                zeta: float, target: int | None, device) -> RetrainingRound | None:
    """Round 0 of the retraining, read from the sweep when the sweep computed that very UAP: the
    same model before fine-tuning, norm, zeta, target, seed and loop settings give the same UAP
    that round 0 would compute again (the caller passes the sweep's seed and ``uap_kwargs``)."""
    if sweep is None or (name, str(norm), float(zeta), target) not in sweep.uaps:
        return None
    uap = sweep.uaps[(name, str(norm), float(zeta), target)].perturbation
    truth = data.test.targets.numpy()
    images = data.test.float_images()
    pred_adv = predict_labels(models[name], images, uap, device=device).numpy()
    pred_clean = predict_labels(models[name], images, device=device).numpy()
    rate = float((pred_adv != truth).mean()) if target is None else float((pred_adv == target).mean())
    return RetrainingRound(0, rate, float((pred_clean == truth).mean()), uap, pred_adv, pred_clean)


def retraining_targets(targets, zeta: float, targeted_zeta: float) -> dict[str, float]:
    """Each retraining's UAP target and zeta, from the chapter's parameters: nontargeted ("none") at
    ``zeta`` (Fig. 5A: 2 %), a class at ``targeted_zeta`` (Fig. 5B: COVID-19 at 1 %, Sec. 3.4)."""
    return {t: float(zeta if t == "none" else targeted_zeta) for t in targets}


def retraining_experiment(runs: dict[str, TrainResult], data: ChapterData, retrain_models, *,
                          targets: Mapping[str, float], norm: str, rounds: int, uaps: int, epochs: int,
                          batch_size: int, lr: float, optimizer: str, augment: bool, control: bool,
                          uap_kwargs: dict, seed: int, device, sweep: Sweep | None = None
                          ) -> tuple[pd.DataFrame, dict]:
    """Fig. 5 for each target and retrained model, UAP-augmented and (``control``) clean
    fine-tuning: one row per round and test image (``retraining`` table of the module doc) and the
    last UAP-augmented model per (target, model). ``targets``: each retraining's UAP target and zeta
    ("none": nontargeted, Fig. 5A at zeta 2 %; "COVID-19": targeted, Fig. 5B at zeta 1 %, Sec. 3.4).
    ``sweep``: the chapter's UAP sweep with the same seed and ``uap_kwargs``; round 0's UAP is read
    from it where it holds the same model, norm, zeta and target (:func:`_round_zero`). The clean
    control's fine-tuning does not depend on the target, so a second target finds it in the cache."""
    config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer, augment=augment,
                         class_weighted=True, seed=seed)
    arms = {"UAP-augmented": True, **({"clean control": False} if control else {})}
    frames, retrained = [], {}
    for target, zeta in targets.items():
        target_index = None if target == "none" else list(data.classes).index(target)
        xi = uap_radius(data.uap_set.float_images(), zeta, norm)
        for name in retrain_models:
            # the same model, seed and UAP settings in both arms: round 0 is computed once, or read from the sweep
            round0 = _round_zero(sweep, {n: r.model for n, r in runs.items()}, data, name, norm, zeta, target_index,
                                 device)
            for arm, augmented in arms.items():
                history, model = adversarial_retraining(
                    runs[name].model_name, runs[name].model_kwargs, runs[name].model.state_dict(), data.train,
                    data.test, config, xi=xi, norm=norm, target=target_index, rounds=rounds, uaps_per_round=uaps,
                    uap_kwargs=uap_kwargs, uap_data=data.uap_set, uap_augmented=augmented, seed=seed, device=device,
                    round0=round0)
                round0 = history[0]
                if augmented:
                    retrained[(target, name)] = model
                for h in history:
                    frames.append(pd.DataFrame({"target": target, "zeta": float(zeta), "model": name, "arm": arm,
                                                "round": h.round, "image": np.arange(len(data.test)),
                                                "true": data.test.targets.numpy(), "pred_clean": h.pred_clean,
                                                "pred_uap": h.pred_uap}))
    return pd.concat(frames, ignore_index=True), retrained


def retraining_hits(rows: pd.DataFrame, classes) -> np.ndarray:
    """Per row of a ``retraining`` table: the new UAP did what it aims at: fooled the model
    (nontargeted, R_f) or sent the image to its target (R_s)."""
    index = {c: k for k, c in enumerate(classes)}
    goal = rows["target"].map(lambda t: -1 if t == "none" else index[t]).to_numpy()
    pred, true = rows["pred_uap"].to_numpy(), rows["true"].to_numpy()
    return np.where(goal < 0, pred != true, pred == goal)


def retraining_rate_name(target: str) -> str:
    """The rate a retraining reports: R_f (nontargeted) or R_s toward its target."""
    return "R_f" if target == "none" else f"R_s ({target})"


def retraining_summary(retraining: pd.DataFrame, classes) -> pd.DataFrame:
    """Per target, model, arm and round: the new UAP's rate (R_f, or R_s toward the target) and the
    clean test accuracy, in %, with 95 % Wilson intervals (Figs. 5A and 5B)."""
    rows = []
    for (target, zeta, model, arm, round_), part in retraining.groupby(["target", "zeta", "model", "arm", "round"],
                                                                         sort=False):
        hit = retraining_hits(part, classes)
        correct = (part["pred_clean"] == part["true"]).to_numpy()
        rows.append({"UAPs": f"{retraining_rate_name(target)}, zeta {zeta:.0%}", "target": target, "model": model,
                     "arm": arm, "round": round_, "rate": float(hit.mean()), "rate [95% CI] (%)": rate_cell(hit),
                     "clean_accuracy": float(correct.mean()), "clean accuracy [95% CI] (%)": rate_cell(correct),
                     "n": len(part)})
    return pd.DataFrame(rows)


def paper_retraining(published: Mapping = PUBLISHED) -> str:
    """What the paper reports of its adversarial retraining of COVIDNet-CXR Small after 5 rounds
    (Sec. 3.4, Figs. 5A and 5B), as one sentence for the page."""
    r = published["retraining"]
    return (f"after 5 rounds, nontargeted UAPs at zeta 2 % reach R_f "
            f"{r['nontargeted_zeta2_Rf_test_after_5_rounds_percent']} % on the test images "
            f"({r['nontargeted_after_5_rounds']}; Fig. 5A), and UAPs toward COVID-19 at zeta 1 % reach R_s "
            f"{r['targeted_covid19_zeta1_Rs_test_after_5_rounds_percent']} % ({r['targeted_after_5_rounds']}; "
            f"Fig. 5B); clean test accuracy (%): {r['clean_test_accuracy_percent']}.")


def visibility(sweep: Sweep, data: ChapterData, zeta: float) -> pd.DataFrame:
    """How visible each UAP at ``zeta`` is on the test images (our proxy for the paper's "almost
    imperceptible", Figs. 2 and 4): its L-inf size (0-255 scale) and the mean SSIM between each
    test image and the image with the UAP (clipped to [0, 1] for display, as shown)."""
    from ...metrics.perceptibility import ssim

    clean = data.test.float_images()
    rows = []
    for (model, norm, z, target), result in sweep.uaps.items():
        if abs(z - zeta) > 1e-12:
            continue
        adversarial = (clean + result.perturbation).clamp(0, 1)
        rows.append({"model": model, "norm": f"L{norm}", "zeta": z,
                     "target": "none" if target is None else data.classes[target],
                     "linf_255": 255 * float(result.perturbation.abs().max()),
                     "ssim": float(np.mean(ssim(clean, adversarial)))})
    return pd.DataFrame(rows)


def convergence(sweep: Sweep, classes) -> pd.DataFrame:
    """One row per UAP of the sweep: how its loop went (Sec. 2.2's algorithm). Passes, FGSM steps
    taken, kept updates of v, the rate on the UAP images after each pass (against the clean
    predictions: the loop's own stopping criterion), the change over the last pass, ||v|| / xi and
    the share of pixels at the L-inf bound, and whether it converged (:func:`loop_converged`). A loop with few kept updates and a flat, low rate did
    not find a perturbation: a claim on it would measure the loop, not the model."""
    rows = []
    for (model, norm, zeta, target), result in sweep.uaps.items():
        v, xi, history = result.perturbation, float(result.xi), list(result.rate_history)
        at_bound = float((v.abs() >= xi * (1 - 1e-4)).float().mean()) if norm == "inf" else float("nan")
        rows.append({"model": model, "norm": f"L{norm}", "zeta": zeta,
                     "target": "none" if target is None else classes[target], "passes": result.passes,
                     "steps": result.steps, "kept updates": result.updates,
                     "rate per pass (%)": " ".join(f"{100 * h:.1f}" for h in history),
                     "last change (points)": 100 * (history[-1] - history[-2]) if len(history) > 1 else float("nan"),
                     "converged": loop_converged(result),
                     "||v|| / xi": perturbation_norm(v, norm) / xi if xi > 0 else float("nan"),
                     "pixels at the bound (%)": 100 * at_bound})
    return pd.DataFrame(rows)


def positive_control(models: dict[str, nn.Module], data: ChapterData, sweep: Sweep, norm: str, zeta: float, *,
                     steps: int = 25, seed: int = 0, device="auto") -> pd.DataFrame:
    """The chapter's positive control: a stronger universal attack at the same xi, projected
    gradient ascent on one shared perturbation over the UAP images (Shafahi et al. 2020; see
    :func:`medadv_lib.attacks.uap.universal_pgd`), beside the paper's FGSM-step UAP, its random
    control and the clean error, on the test images (R_f against the true labels, % with 95 %
    intervals and n). When the stronger attack fools many more images than the paper's loop, a
    low R_f of the loop says our loop is weak at this budget, not that the model resists UAPs.
    ``steps`` full-batch sign-gradient steps of 2.5 xi / steps each (25 by default: about the
    cost of three of the sweep's UAPs; its rate on the UAP images per step is shown)."""
    images = data.uap_set.float_images()
    truth = data.test.targets.numpy()
    rows, per_image = [], {}
    for name, model in models.items():
        xi = uap_radius(images, zeta, norm)
        strong = universal_pgd(model, images, xi, norm, steps=steps, device=device)
        fooled = predict_labels(model, data.test.float_images(), strong.perturbation, device=device).numpy() != truth
        row = {"model": name, "norm": f"L{norm}", "zeta": f"{zeta:.0%}", "xi": xi}
        for label, kind in (("clean error", "clean"), ("random control", "random"), ("UAP (the paper's loop)", "uap")):
            where = dict(model=name, split="test", kind=kind) if kind == "clean" else dict(
                model=name, norm=f"L{norm}", zeta=zeta, target="none", split="test", kind=kind)
            sel = _selection(sweep.predictions, **where)
            row[f"{label} R_f [95% CI] (%)"] = rate_cell((sel["pred"] != sel["true"]).to_numpy())
        row["universal PGD R_f [95% CI] (%)"] = rate_cell(fooled)
        row["universal PGD rate on the UAP images, first / last step (%)"] = (
            f"{100 * strong.rate_history[0]:.1f} / {100 * strong.rate_history[-1]:.1f}")
        row["n"] = len(truth)
        rows.append(row)
        per_image[name] = fooled
    frame = pd.DataFrame(rows).set_index(["model", "norm", "zeta"])
    frame.attrs["fooled"] = per_image   # per model, per test image: fooled by universal PGD (the premise reads it)
    return frame


def ladder_rungs(uap_images: int, max_passes: int, n_train: int) -> list[tuple[int, int]]:
    """Rungs ``(UAP images, passes)`` from this run's budget toward the paper's (every training
    image, i_max = 15 passes, Sec. 2.2): this run's, the paper's 15 passes on the same images, and
    four times the images (capped at the training set) at this run's passes."""
    first = uap_images or n_train
    more = min(4 * first, n_train)
    rungs = [(first, max_passes), (first, max(max_passes, 15)), (more, max_passes)]
    return list(dict.fromkeys(rungs))


def scale_ladder(models: dict[str, nn.Module], data: ChapterData, norm: str, zeta: float, rungs, *,
                 model: str = "Small", seed: int = 0, device="auto", sweep: Sweep | None = None,
                 **uap_kwargs) -> pd.DataFrame:
    """The headline metric (test R_f of the nontargeted UAP at ``zeta``, Table 1) of ``model`` at
    rungs toward the paper's setting: each rung ``(images, passes)`` computes the UAP on the first
    ``images`` training images with ``passes`` passes (the paper: every training image, i_max = 15)
    at the radius of the chapter's UAPs. The paper's value is the line to reach: a gap that closes
    with budget is one of scale; one that stays flat is not. ``sweep``: the chapter's sweep, with the
    same seed and ``uap_kwargs``; the rung of its own UAP images and ``max_passes`` is read from it,
    not computed again."""
    truth = data.test.targets.numpy()
    xi = uap_radius(data.uap_set.float_images(), zeta, norm)
    own = (len(data.uap_set), int(uap_kwargs.get("max_passes", 0)))
    from_sweep = None if sweep is None else sweep.uaps.get((model, str(norm), float(zeta), None))
    train = data.train.float_images()
    kwargs = {k: v for k, v in uap_kwargs.items() if k != "max_passes"}
    paper = paper_cell(PUBLISHED["table1_nontargeted_Rf_percent"], norm, _paper_zeta(zeta), model, "test")
    rows = []
    for n_images, passes in rungs:
        if from_sweep is not None and (int(n_images), int(passes)) == own:
            result = from_sweep
        else:
            result = fit_universal("uap", models[model], train[: int(n_images)], eps=xi,
                                   norm="Linf" if norm == "inf" else "L2", seed=seed, device=device,
                                   max_passes=int(passes), **kwargs)
        fooled = predict_labels(models[model], data.test.float_images(), result.perturbation,
                                device=device).numpy() != truth
        rows.append({"model": model, "norm": f"L{norm}", "zeta": f"{zeta:.0%}", "UAP images": int(n_images),
                     "passes": result.passes, "kept updates": result.updates,
                     "test R_f [95% CI] (%)": rate_cell(fooled),
                     "paper (%)": "not printed" if paper is None else paper[0], "n": len(truth)})
    return pd.DataFrame(rows)


@dataclass
class UAPResults:
    """What the claims of :mod:`.claims` and their premises are tested on: one run of the chapter.

    ``predictions`` and ``retraining`` keep one row per image and configuration (see the module's
    docstring), so every rate has its count and every comparison on the same images is paired."""

    #: model, norm ("L2"/"Linf"), zeta, target ("none" or a class name), split ("train": the UAP
    #: images; "test"), kind ("uap", "random", "clean"), image, true, pred
    predictions: pd.DataFrame
    #: the classes in label order, the disease class last (COVID-19, or pneumonia with two classes)
    classes: tuple[str, ...]
    #: the COVID-Nets by the paper's names ("Small", "Large")
    models: list[str]
    #: the norms, spelled "L2" / "Linf"
    norms: list[str]
    #: the zetas, sorted (the paper's 1 % and 2 %: our lowest and highest, Sec. 3.1)
    zetas: list[float]
    #: target ("none": nontargeted, Fig. 5A; a class: targeted, Fig. 5B), zeta, model, arm
    #: ("UAP-augmented", "clean control"), round, image, true, pred_clean, pred_uap; None when the
    #: run did no retraining (Sec. 2.4)
    retraining: pd.DataFrame | None = None
    #: the targets of the run's retrainings, as run (:func:`.claims.restrict` may drop some rows)
    retrain_targets: tuple = ()
    #: model, norm, zeta, target, linf_255, ssim (:func:`visibility`)
    visibility: pd.DataFrame | None = None
    #: each model's clean test accuracy as an :class:`~medadv_lib.metrics.uncertainty.Estimate`
    #: (the stand-in premise reads it)
    test_accuracy: dict = field(default_factory=dict)
    #: the per-UAP convergence record (:func:`convergence`; the convergence premise reads it)
    convergence: pd.DataFrame | None = None
    #: per model, per test image: fooled by the positive control, universal PGD at the largest
    #: zeta's xi (:func:`positive_control`; the positive-control premise reads it); empty: not run
    control_fooled: dict = field(default_factory=dict)
    #: the retrained models that a claim's premises left out (:func:`.claims.restrict`)
    retrained_left_out: tuple = ()


def claim_results(sweep: Sweep, data: ChapterData, retraining: pd.DataFrame | None,
                  visible: pd.DataFrame, models, norms, zetas, accuracy: pd.DataFrame | None = None,
                  control: pd.DataFrame | None = None) -> UAPResults:
    """The results the claims of :mod:`.claims` are tested on (``accuracy``: the
    :func:`accuracy_table`, whose test accuracies the premises read; ``control``: the
    :func:`positive_control` table, whose per-image outcomes the positive-control premise reads)."""
    targets = tuple(dict.fromkeys(retraining["target"])) if retraining is not None else ()
    return UAPResults(predictions=sweep.predictions, retraining=retraining, classes=tuple(data.classes),
                      retrain_targets=targets,
                      models=list(models), norms=[f"L{p}" for p in norms], zetas=sorted(float(z) for z in zetas),
                      visibility=visible,
                      test_accuracy=dict(accuracy.attrs["test_accuracy"]) if accuracy is not None else {},
                      convergence=convergence(sweep, data.classes),
                      control_fooled=dict(control.attrs.get("fooled", {})) if control is not None else {})


def headline(sweep: Sweep, data: ChapterData, zeta: float) -> str:
    """The chapter's main result in one line, for the book's front page."""
    test = _selection(sweep.predictions, zeta=zeta, target="none", split="test")
    rates = [(part["pred"] != part["true"]).mean() for _, part in test[test["kind"] == "uap"].groupby(["model", "norm"])]
    controls = [(part["pred"] != part["true"]).mean() for _, part in test[test["kind"] == "random"].groupby(["model", "norm"])]
    n = len(data.test)
    return (f"nontargeted UAPs at zeta {zeta:.0%}: R_f {100 * min(rates):.0f}-{100 * max(rates):.0f} % of {n} test images "
            f"(random {100 * min(controls):.0f}-{100 * max(controls):.0f} %; paper 85.7-87.4 %)")
