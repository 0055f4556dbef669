"""The robustness matrix: the collection's trained models, every applicable attack of the registry,
one shared set of budgets (the chapter is not from a paper; see the package docstring).

Every attack runs through :func:`medadv_lib.attacks.run_attack`, so "robust" means the
same thing for every model: the input is still handled correctly after the attack (classified
correctly; no finding flipped for the multi-label model; for a U-Net, most of the foreground right,
a foreground Jaccard of at least 0.5: :func:`~medadv_lib.attacks.tasks.is_fooled`), and an
input the model gets wrong clean counts as not robust. Each number is a share of the attacked
inputs with its Wilson interval; the per-input outcomes are kept, so comparisons on the same inputs
(budget against budget, attack against noise, white-box against transfer) are paired.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ...attacks import attack_names, get_attack, run_attack
from ...evaluation.rows import (NOISE, TRANSFER, MatrixRow, Victim, budget_label, clean_fooled, matrix_frame, models,
                               outcome_row, outcomes, robust_rate, select_rows, white_box_rows)
from ...metrics.uncertainty import wilson
from ...progress import tqdm
from ...evaluation.sanity import MatrixResults
from .. import get_paper
from ...specs import resolve_parameters
from ...specs.budgets import from_gray_levels

__all__ = ["MatrixBudgets", "Victim", "chapter_parameters", "chapters_for", "collection_models", "attack_plan", "run_matrix", "budget_label",
           "robust_rate", "outcomes", "select_rows", "models", "heat_table", "heat_values", "curve_table", "strongest_attacks", "worst_case_table", "masking_flags", "MatrixResults", "claim_results",
           "headline", "other_settings_table", "autoattack_flags", "NOISE", "UAP", "TRANSFER"]

UAP = "uap"


@dataclass(frozen=True)
class MatrixBudgets:
    """The matrix's budgets, on the [0, 1] scale from here on: the L-inf and L2 budgets every
    attack runs at, and the L-inf budget of the heat map, the transfer and the headline. The
    chapter's parameters give the L-inf ones in gray levels (units of 1/255); they are converted
    once, by :meth:`from_parameters`."""

    linf: tuple[float, ...]
    l2: tuple[float, ...]
    heat: float

    @classmethod
    def from_parameters(cls, linf_budgets, l2_budgets, heat_budget: float) -> "MatrixBudgets":
        """From the notebook's ``linf_budgets`` and ``heat_budget`` (gray levels) and ``l2_budgets``
        ([0, 1] scale), as the spec checked them."""
        return cls(tuple(from_gray_levels(linf_budgets)), tuple(float(b) for b in l2_budgets),
                   from_gray_levels(heat_budget))


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


def collection_models(chapters, preset: str, seed: int, n_inputs: int, uap_images: int, device,
                      dataset: str = "synthetic", data_root: str = "") -> list[Victim]:
    """Every trained model of ``chapters``, built and trained exactly as each chapter does at
    ``preset`` (so a warm cache trains nothing), with the first ``n_inputs`` of its test split.
    On a real ``dataset``: the models of the chapters that run on it, trained on it (a chapter's
    other task, still synthetic there, is left out)."""
    victims = []
    for chapter in chapters_for(chapters, dataset):   # each chapter's own recipe: its spec's `victims`
        victims += get_paper(chapter).victims(chapter_parameters(chapter, preset, seed, dataset, data_root),
                                              n_inputs, uap_images, device)
    if dataset != "synthetic":
        victims = [v for v in victims if not v.data.is_synthetic]
    for v in victims:
        v.model.eval()
    return victims


def attack_plan(task: str, budgets: MatrixBudgets) -> list[tuple[str, str, float]]:
    """``(attack, norm, eps)`` for every fixed-budget attack of the registry that applies to
    ``task``, at every budget of each norm it supports (the noise control included)."""
    plan = []
    for norm, epsilons in (("Linf", budgets.linf), ("L2", budgets.l2)):
        for name in attack_names(task=task, kind="budget", norm=norm):
            plan += [(name, norm, float(eps)) for eps in epsilons]
    return plan


def run_matrix(victims: list[Victim], budgets: MatrixBudgets, *, steps: int, restarts: int,
               uap_zeta: float, uap_passes: int, batch_size: int = 32, seed: int = 0, device="auto",
               progress: bool = True) -> pd.DataFrame:
    """Every victim against every applicable attack at every budget (``setting`` ``white``), its
    clean accuracy (``clean``), a UAP at ``uap_zeta`` fitted on training inputs (``universal``,
    classifiers), and PGD's white-box inputs at ``budgets.heat`` transferred to every other victim
    of the same chapter with the same inputs (``transfer``). One row per (model, attack, budget)
    with the per-input outcomes in ``robust``."""
    rows, pgd_inputs = [], {}
    plans = {v.name: attack_plan(v.task, budgets) for v in victims}
    for v in victims:
        rows.append(outcome_row(v, "clean", "none", "clean", "none", 0.0, ~clean_fooled(v, v.images, batch_size, device),
                                label="clean"))
    heat_eps = budgets.heat
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
    return matrix_frame(rows)


def _transfer_rows(victims, pgd_inputs: dict, eps: float, batch_size: int, device) -> list[MatrixRow]:
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
            rows.append(outcome_row(target, TRANSFER, "gradient", "transfer", "Linf", eps, robust,
                                    source=source.name))
    return rows


def heat_table(matrix: pd.DataFrame, eps: float) -> pd.DataFrame:
    """Robust accuracy (%) per model (rows) and attack (columns) at the L-inf budget ``eps``, with
    the worst case over the attacks, the noise control, the clean accuracy and n."""
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


def heat_values(matrix: pd.DataFrame, eps: float) -> pd.DataFrame:
    """The numbers of :func:`heat_table` (fractions; NaN where an attack does not apply)."""
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


def masking_flags(matrix: pd.DataFrame, budgets: MatrixBudgets, flat_within: float = 0.05) -> pd.DataFrame:
    """Per model, the symptoms of gradient masking (Carlini et al. 2019, Sec. 5): a flat curve
    (the worst case at the largest budget within ``flat_within`` of the clean accuracy), FGSM
    stronger than PGD at the largest budget, and noise as strong as the attacks there."""
    eps = max(budgets.linf)
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


def claim_results(matrix: pd.DataFrame, budgets: MatrixBudgets) -> MatrixResults:
    """The results the sanity claims (:mod:`.claims`, whose home is :mod:`medadv_lib.evaluation.sanity`,
    as is :class:`~medadv_lib.evaluation.sanity.MatrixResults`) are tested on."""
    return MatrixResults(matrix=matrix, linf_budgets=list(budgets.linf), heat_eps=budgets.heat)


def headline(matrix: pd.DataFrame, eps: float) -> str:
    """Most and least robust model at the L-inf budget ``eps`` (worst case over the attacks)."""
    worst = {m: outcomes(matrix, m, "worst", "Linf", eps).mean() for m in models(matrix)}
    n = len(outcomes(matrix, next(iter(worst)), "clean"))

    def named(value):                      # every model at that value: ties are named, not hidden
        return ", ".join(m for m, v in worst.items() if v == value) + f" {value:.0%}"
    return (f"worst-case robust accuracy at {budget_label('Linf', eps)} L-inf: most robust "
            f"{named(max(worst.values()))}; least robust {named(min(worst.values()))} (n = {n} inputs per model)")
