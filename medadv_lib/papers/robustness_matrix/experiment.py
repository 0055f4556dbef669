"""The robustness matrix: the collection's trained models, every applicable attack of the registry,
one shared set of budgets (the chapter is not from a paper; see the package docstring).

Every attack runs through :func:`medadv_lib.attacks.registry.run_attack`, so "robust" means the
same thing for every model: the input is still handled correctly after the attack (classified
correctly; no finding flipped for the multi-label model; for a U-Net, most of the foreground right,
a foreground Jaccard of at least 0.5: :func:`~medadv_lib.attacks.apgd.is_fooled`), and an
input the model gets wrong clean counts as not robust. Each number is a share of the attacked
inputs with its Wilson interval; the per-input outcomes are kept, so comparisons on the same inputs
(budget against budget, attack against noise, white-box against transfer) are paired.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ...attacks.registry import attack_names, get_attack, run_attack
from ...evaluation.rows import (NOISE, TRANSFER, Victim, budget_label, clean_fooled, models, outcome_row, outcomes,
                               robust_rate, select_rows, white_box_rows)
from ...metrics.uncertainty import wilson
from ...progress import tqdm
from ...evaluation.sanity import MatrixResults
from .. import get_paper
from ...spec import resolve_parameters

__all__ = ["Victim", "chapter_parameters", "chapters_for", "collection_models", "attack_plan", "run_matrix", "budget_label",
           "robust_rate", "outcomes", "select_rows", "models", "heat_table", "heat_values", "curve_table", "strongest_attacks", "worst_case_table", "masking_flags", "MatrixResults", "claim_results",
           "headline", "other_settings_table", "autoattack_flags", "NOISE", "UAP", "TRANSFER"]

UAP = "uap"


def chapter_parameters(chapter: str, preset: str, seed: int, dataset: str = "synthetic", data_root: str = "") -> dict:
    """The parameters a chapter's notebook runs with at ``preset`` (and our seed) on ``dataset``:
    training the matrix's copy of its models with them hits that chapter's cached checkpoints."""
    from ...data.registry import resolve_root

    overrides = {"seed": seed}
    if dataset != "synthetic":  # a relative data_root is read from the project root, as the loaders do
        overrides.update(dataset=dataset, data_root=str(resolve_root(data_root)))
    return resolve_parameters(get_paper(chapter), preset, overrides)


def chapters_for(chapters, dataset: str) -> list[str]:
    """The chapters of ``chapters`` that train models on ``dataset`` (every one on the synthetic default)."""
    return [c for c in chapters if dataset in get_paper(c).datasets]


def _first(dataset, n: int):
    return dataset.float_images()[:n], dataset.targets[:n]


def _uap_models(p: dict, n: int, n_fit: int, device) -> list[Victim]:
    from ..uap_covidnet import experiment as ex

    data = ex.load_data(p["dataset"], p["data_root"], p["image_size"], p["n_train"], p["n_test"], p["seed"],
                        p["imbalance"], p["uap_images"])
    runs = ex.train_covidnets(data, p["width"], p["image_size"], p["epochs"], p["batch_size"], p["lr"],
                              p["optimizer"], p["augment"], p["seed"], device)
    return [Victim(f"COVID-Net {name}", "uap-covidnet", "multiclass", run.model, *_first(data.test, n),
                   data.train.float_images()[:n_fit], data.test) for name, run in runs.items()]


def _ten_attacks_models(p: dict, n: int, n_fit: int, device) -> list[Victim]:
    from ...training import TrainConfig
    from ..ten_attacks import experiment as ex

    data = ex.load_data(p["dataset"], p["data_root"], p["image_size"], p["nasnet_image_size"], p["n_train"],
                        p["n_test"], p["seed"])
    config = TrainConfig(epochs=p["epochs"], batch_size=p["batch_size"], lr=p["lr"], optimizer=p["optimizer"],
                         loss="bce", class_weighted=False, lr_decay=p["lr_decay"],
                         lr_decay_every=p["lr_decay_every"], seed=p["seed"])
    nasnet = ex.nasnet_recipe(config, p["nasnet_epochs"], p["nasnet_augment"])   # the chapter's own NASNet recipe
    runs = ex.train_networks(data, p["irv2_depth"], p["nasnet_width"], config, device, nasnet)
    victims = []
    for variant, run in runs.items():
        arch = ex.VARIANTS[variant][0]
        victims.append(Victim(variant, "ten-attacks", "binary", run.model, *_first(data.test_of(variant), n),
                              data.train_of(arch).float_images()[:n_fit], data.test_of(variant)))
    return victims


def _smia_models(p: dict, n: int, n_fit: int, device) -> list[Victim]:
    from ..smia import experiment as ex

    data = ex.load_data(p["dataset"], p["data_root"], p["cls_image_size"], p["n_train_cls"], p["n_test_cls"],
                        p["seg_image_size"], p["n_train_seg"], p["n_test_seg"], p["seed"])
    runs = ex.train_models(data, p["cls_model"], p["cls_width"], p["cls_epochs"], p["cls_lr"], p["seg_width"],
                           p["seg_depth"], p["seg_epochs"], p["seg_lr"], p["seed"], device)
    (cls_train, cls_test), (_, seg_test) = data["classification"], data["segmentation"]
    return [Victim("fundus grader (ResNet)", "smia", "multiclass", runs["classification"].model,
                   *_first(cls_test, n), cls_train.float_images()[:n_fit], cls_test),
            Victim("CT U-Net", "smia", "segmentation", runs["segmentation"].model, *_first(seg_test, n),
                   None, seg_test)]


def _backdoor_models(p: dict, n: int, n_fit: int, device) -> list[Victim]:
    from ..backdoor import experiment as ex

    train, test = ex.load_data(p["dataset"], p["data_root"], p["image_size"], p["n_train"], p["n_test"], p["seed"])
    k = len(train.class_names)
    runs = ex.train_models(train, [p["seed"]], p["trigger_sizes"], p["focus_size"], p["model_name"],
                           ex.model_kwargs(p["model_name"], k), p["epochs"], p["batch_size"], p["lr"],
                           p["poison_fraction"], ex.target_index(p["target_finding"], train.class_names), device)
    images, labels = _first(test, n)
    return [Victim(f"DenseNet {k} finding{'s' if k > 1 else ''} (clean)", "backdoor", "multilabel",
                   runs[("clean", None, p["seed"])].model,
                   images, labels.float(), None, test)]


_BUILDERS = {"uap-covidnet": _uap_models, "ten-attacks": _ten_attacks_models, "smia": _smia_models,
             "backdoor": _backdoor_models}


def collection_models(chapters, preset: str, seed: int, n_inputs: int, uap_images: int, device,
                      dataset: str = "synthetic", data_root: str = "") -> list[Victim]:
    """Every trained model of ``chapters``, built and trained exactly as each chapter does at
    ``preset`` (so a warm cache trains nothing), with the first ``n_inputs`` of its test split.
    On a real ``dataset``: the models of the chapters that run on it, trained on it (a chapter's
    other task, still synthetic there, is left out)."""
    victims = []
    for chapter in chapters_for(chapters, dataset):
        victims += _BUILDERS[chapter](chapter_parameters(chapter, preset, seed, dataset, data_root), n_inputs,
                                      uap_images, device)
    if dataset != "synthetic":
        victims = [v for v in victims if not v.data.is_synthetic]
    for v in victims:
        v.model.eval()
    return victims


def attack_plan(task: str, linf_budgets, l2_budgets) -> list[tuple[str, str, float]]:
    """``(attack, norm, eps)`` for every fixed-budget attack of the registry that applies to
    ``task``, at every budget of each norm it supports (the noise control included); L-inf budgets
    are given in units of 1/255."""
    plan = []
    for norm, budgets in (("Linf", [b / 255 for b in linf_budgets]), ("L2", list(l2_budgets))):
        for name in attack_names(task=task, kind="budget", norm=norm):
            plan += [(name, norm, float(eps)) for eps in budgets]
    return plan


def run_matrix(victims: list[Victim], linf_budgets, l2_budgets, *, steps: int, restarts: int, heat_budget: float,
               uap_zeta: float, uap_passes: int, batch_size: int = 32, seed: int = 0, device="auto",
               progress: bool = True) -> pd.DataFrame:
    """Every victim against every applicable attack at every budget (``setting`` ``white``), its
    clean accuracy (``clean``), a UAP at ``uap_zeta`` fitted on training inputs (``universal``,
    classifiers), and PGD's white-box inputs at ``heat_budget`` transferred to every other victim
    of the same chapter with the same inputs (``transfer``). One row per (model, attack, budget)
    with the per-input outcomes in ``robust``."""
    rows, pgd_inputs = [], {}
    plans = {v.name: attack_plan(v.task, linf_budgets, l2_budgets) for v in victims}
    for v in victims:
        rows.append(outcome_row(v, "clean", "none", "clean", "none", 0.0, ~clean_fooled(v, v.images, batch_size, device),
                                label="clean"))
    heat_eps = heat_budget / 255
    with tqdm(total=sum(map(len, plans.values())), desc="robustness matrix", disable=not progress) as bar:
        for v in victims:
            white, kept = white_box_rows(v, plans[v.name], steps=steps, restarts=restarts, batch_size=batch_size,
                                         seed=seed, device=device, progress=bar,
                                         keep=lambda name, norm, eps: name == "pgd" and norm == "Linf"
                                         and np.isclose(eps, heat_eps))
            rows += white
            pgd_inputs.update({v.name: adversarial for adversarial in kept.values()})
    for v in victims:
        if v.fit_images is None or v.task not in get_attack(UAP).tasks:
            continue
        result = run_attack(UAP, v.model, v.images, v.labels, eps=uap_zeta, norm="Linf", task=v.task,
                            fit_images=v.fit_images, batch_size=batch_size, seed=seed, device=device,
                            max_passes=uap_passes)
        rows.append(outcome_row(v, UAP, "universal", "universal", "Linf", uap_zeta, (~result.success).numpy(),
                         result.seconds, result.model_calls, label=f"zeta {uap_zeta:g}"))
    rows += _transfer_rows(victims, pgd_inputs, heat_eps, batch_size, device)
    return pd.DataFrame(rows)


def _transfer_rows(victims, pgd_inputs: dict, eps: float, batch_size: int, device) -> list[dict]:
    """PGD's white-box inputs of one model scored by each other model of the same chapter that was
    attacked on the same clean inputs (a black-box transfer, as in Taghanaki et al.'s Table 2)."""
    rows = []
    for source in victims:
        if source.name not in pgd_inputs:
            continue
        for target in victims:
            same = (target is not source and target.chapter == source.chapter and target.task == source.task
                    and target.images.shape == source.images.shape and torch.equal(target.images, source.images)
                    and torch.equal(target.labels, source.labels))
            if not same:
                continue
            robust = ~clean_fooled(target, pgd_inputs[source.name], batch_size, device)
            row = outcome_row(target, TRANSFER, "gradient", "transfer", "Linf", eps, robust)
            row["source"] = source.name
            rows.append(row)
    return rows


def heat_table(matrix: pd.DataFrame, heat_budget: float) -> pd.DataFrame:
    """Robust accuracy (%) per model (rows) and attack (columns) at the L-inf ``heat_budget``
    (1/255), with the worst case over the attacks, the noise control, the clean accuracy and n."""
    eps = heat_budget / 255
    table = {}
    for model in models(matrix):
        white = select_rows(matrix, model, norm="Linf", eps=eps, setting="white")
        row = {"clean": robust_rate(matrix, model, "clean")}
        row.update({a: robust_rate(matrix, model, a, "Linf", eps) for a in white["attack"]})
        row["worst case"] = robust_rate(matrix, model, "worst", "Linf", eps)
        table[model] = row
    frame = pd.DataFrame(table).T
    out = frame.map(lambda e: e.fmt(1, percent=True) if hasattr(e, "fmt") else "n/a")
    out["n"] = [int(select_rows(matrix, m, "clean")["n"].iloc[0]) for m in frame.index]
    return out


def heat_values(matrix: pd.DataFrame, heat_budget: float) -> pd.DataFrame:
    """The numbers of :func:`heat_table` (fractions; NaN where an attack does not apply)."""
    eps = heat_budget / 255
    rows = matrix[(matrix["setting"] == "white") & (matrix["norm"] == "Linf") & np.isclose(matrix["eps"], eps)]
    values = rows.pivot_table(index="model", columns="attack", values="robust_accuracy", sort=False)
    values["worst case"] = [outcomes(matrix, m, "worst", "Linf", eps).mean() for m in values.index]
    return values


def curve_table(matrix: pd.DataFrame, norm: str = "Linf") -> pd.DataFrame:
    """Robust accuracy against the budget: one row per (model, budget), the worst case and each
    attack (fractions), for the curves."""
    rows = []
    white = matrix[(matrix["setting"] == "white") & (matrix["norm"] == norm)]
    for model in models(white):
        for eps in sorted(set(white[white["model"] == model]["eps"])):
            cell = {"model": model, "eps": eps, "budget": budget_label(norm, eps),
                    "worst case": outcomes(matrix, model, "worst", norm, eps).mean()}
            part = select_rows(white, model, eps=eps)
            cell.update(dict(zip(part["attack"], part["robust_accuracy"])))
            rows.append(cell)
    return pd.DataFrame(rows)


def worst_case_table(matrix: pd.DataFrame, norm: str = "Linf") -> pd.DataFrame:
    """Per model: clean accuracy and the worst case over every attack at each budget (%, Wilson
    interval), the strongest attack at each budget, and n."""
    table = {}
    white = matrix[(matrix["setting"] == "white") & (matrix["norm"] == norm)]
    for model in models(white):
        row = {"clean": robust_rate(matrix, model, "clean").fmt(1, percent=True)}
        for eps in sorted(set(select_rows(white, model)["eps"])):
            row[budget_label(norm, eps)] = robust_rate(matrix, model, "worst", norm, eps).fmt(1, percent=True)
        table[model] = row
        row["n"] = int(select_rows(matrix, model, "clean")["n"].iloc[0])
    return pd.DataFrame(table).T


def strongest_attacks(matrix: pd.DataFrame, eps: float, norm: str = "Linf") -> dict[str, str]:
    """Per model: the attack with the lowest robust accuracy at ``eps`` (the noise control aside)."""
    out = {}
    for model in models(matrix):
        part = select_rows(matrix, model, norm=norm, eps=eps, setting="white")
        part = part[part["attack"] != NOISE]
        if not part.empty:
            out[model] = part.sort_values("robust_accuracy", kind="stable")["attack"].iloc[0]
    return out


def masking_flags(matrix: pd.DataFrame, linf_budgets, flat_within: float = 0.05) -> pd.DataFrame:
    """Per model, the symptoms of gradient masking (Carlini et al. 2019, Sec. 5): a flat curve
    (the worst case at the largest budget within ``flat_within`` of the clean accuracy), FGSM
    stronger than PGD at the largest budget, and noise as strong as the attacks there."""
    eps = max(linf_budgets) / 255
    rows = {}
    for model in models(matrix):
        clean = outcomes(matrix, model, "clean").mean()
        worst = outcomes(matrix, model, "worst", "Linf", eps).mean()
        noise = outcomes(matrix, model, NOISE, "Linf", eps).mean()
        fgsm = outcomes(matrix, model, "fgsm", "Linf", eps).mean()
        pgd = outcomes(matrix, model, "pgd", "Linf", eps).mean()
        flags = [name for name, hit in (("flat curve", clean - worst <= flat_within and clean > 0),
                                        ("FGSM stronger than PGD", fgsm < pgd),
                                        ("noise as strong as the attacks", noise <= worst)) if hit]
        rows[model] = {**{k: round(float(v), 3) for k, v in (("clean", clean), ("worst case", worst), ("FGSM", fgsm),
                                                             ("PGD", pgd), ("noise", noise))},
                       "possibly gradient-masked": "; ".join(flags) if flags else "no"}
    frame = pd.DataFrame(rows).T
    frame.columns.name = f"at {budget_label('Linf', eps)}"
    return frame


def autoattack_flags(victims: list[Victim], matrix: pd.DataFrame, device="cpu") -> dict[str, list]:
    """AutoAttack's flags per model (:mod:`medadv_lib.evaluation.flags`, the same as on every
    evaluation page): randomness, probability outputs and zero gradients probed on its attacked
    inputs, and the noise or transfer control beating its white-box worst case (L-inf rows)."""
    from ...evaluation.flags import control_flag, model_flags

    return {v.name: model_flags(v.model, v.images, v.labels, v.task, device) + [control_flag(matrix, v.name, "Linf")]
            for v in victims}


def other_settings_table(matrix: pd.DataFrame) -> pd.DataFrame:
    """The universal and the transfer rows: model, setting, source, budget, robust accuracy (%) with
    its Wilson interval beside the same model's white-box PGD at that budget (transfer), and n."""
    rows = []
    for _, row in matrix[matrix["setting"].isin(["universal", "transfer"])].iterrows():
        est = wilson(int(row["robust"].sum()), row["n"])
        white = "n/a"
        if row["setting"] == "transfer":
            pgd = outcomes(matrix, row["model"], "pgd", "Linf", row["eps"])
            white = wilson(int(pgd.sum()), len(pgd)).fmt(1, percent=True)
        rows.append({"model": row["model"], "setting": row["setting"],
                     "crafted on": row.get("source") if isinstance(row.get("source"), str) else row["model"],
                     "budget": row["budget"], "robust accuracy (%)": est.fmt(1, percent=True),
                     "white-box PGD (%)": white, "n": row["n"]})
    if not rows:
        return pd.DataFrame({"note": ["no universal or transfer setting in this run"]})
    return pd.DataFrame(rows).set_index(["model", "setting"])


def claim_results(matrix: pd.DataFrame, linf_budgets, heat_budget: float) -> MatrixResults:
    """The results the sanity claims (:mod:`.claims`, whose home is :mod:`medadv_lib.evaluation.sanity`,
    as is :class:`~medadv_lib.evaluation.sanity.MatrixResults`) are tested on (budgets given in /255)."""
    return MatrixResults(matrix=matrix, linf_budgets=[b / 255 for b in linf_budgets], heat_eps=heat_budget / 255)


def headline(matrix: pd.DataFrame, heat_budget: float) -> str:
    """Most and least robust model at the heat budget (worst case over the attacks)."""
    eps = heat_budget / 255
    worst = {m: outcomes(matrix, m, "worst", "Linf", eps).mean() for m in models(matrix)}
    n = len(outcomes(matrix, next(iter(worst)), "clean"))

    def named(value):                      # every model at that value: ties are named, not hidden
        return ", ".join(m for m, v in worst.items() if v == value) + f" {value:.0%}"
    return (f"worst-case robust accuracy at {budget_label('Linf', eps)} L-inf: most robust "
            f"{named(max(worst.values()))}; least robust {named(min(worst.values()))} (n = {n} inputs per model)")
