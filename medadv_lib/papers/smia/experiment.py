"""The experiments of Qi, Gong, Song, Ma & Zheng 2021 (SMIA) on classification and segmentation.

Built here: the two tasks (5-grade diabetic-retinopathy grading and lung or infection segmentation
on CT slices; synthetic by default, RetinaMNIST or the COVID-19 CT infection slices when asked),
their models from the project's one trainer, every method of the paper's Table 6 at one step,
number of iterations and L-inf budget, the ablation of Table 1, the sweeps of Tables 2-4, and the
tables with the paper's statements beside our numbers (every score with its 95 % interval and n).

Methods (Sec. 4): FGSM, PGD and DeepFool (classification) or DAG (segmentation) through the attack
registry at radius ``T * epsilon``; "DEV" is SMIA with ``alpha = 0`` (iterative FGSM on L_DEV) and
"SMIA" the full objective, both run by :func:`medadv_lib.attacks.smia.smia` with every iteration
recorded (Table 1's cosines and Figure 2 need the record).

Result tables (one row per attacked image, so every number has its count), gathered for the
claims in :class:`SMIAResults`:

* ``scores``: task, method ("clean", "FGSM", ..., "SMIA"), image, score (1/0 correct, or the
  slice's Jaccard index), variance (of the final perturbation), linf, cosine (share of positive
  cosines between consecutive updates; NaN for unrecorded methods);
* ``sweeps``: table ("2: iterations", "3: epsilon", "4: alpha"), task, value, image, score.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
import torch.nn as nn

from ...attacks import run_attack
from ...attacks.kernel import AttackRun
from ...attacks.smia import smia
from ...data.datasets import ImageDataset
from ...metrics.perturbation import consecutive_cosine, perturbation_variance
from ...metrics.segmentation import per_image_jaccard
from ...metrics.uncertainty import Estimate, mean, paired_difference
from ...training import TrainConfig, predict, train_model
from ...verdicts import NOT_PRINTED
from .published import PUBLISHED

__all__ = ["positive_control", "CONTROL_BAND", "PAPER_LEAD", "ladder_rungs", "scale_ladder", "convergence",
           "convergence_iterations", "convergence_table", "CLASSIFICATION_METHODS", "SEGMENTATION_METHODS", "BASELINES", "Task", "load_data", "train_models",
           "make_tasks", "clean_summary", "run_method", "per_image_score", "performance", "run_all", "sweep", "table6",
           "table1", "sweep_table", "comparison", "SMIAResults", "claim_results", "headline"]

CLASSIFICATION_METHODS = ("FGSM", "PGD", "DeepFool", "DEV", "SMIA")
SEGMENTATION_METHODS = ("FGSM", "PGD", "DAG", "DEV", "SMIA")
#: The baselines of Table 6 by task (DEV is the ablation, not a baseline).
BASELINES = {"classification": ("FGSM", "PGD", "DeepFool"), "segmentation": ("FGSM", "PGD", "DAG")}
_REGISTRY = {"FGSM": "fgsm", "PGD": "pgd", "DeepFool": "deepfool", "DAG": "dag"}


@dataclass
class Task:
    """One attacked task: its model, the attacked test images, the step ``epsilon`` and its methods."""

    name: str                     # classification | segmentation
    model: nn.Module
    images: torch.Tensor
    targets: torch.Tensor
    epsilon: float
    methods: tuple[str, ...]
    metric: str
    train: ImageDataset
    test: ImageDataset
    clean: np.ndarray = field(default=None)   # per-image clean score of the attacked images


def load_data(dataset: str, data_root: str, cls_image_size: int, n_train_cls: int, n_test_cls: int,
              seg_image_size: int, n_train_seg: int, n_test_seg: int, seed: int) -> dict:
    """``{"classification": (train, test), "segmentation": (train, test)}``: synthetic fundus
    photographs (5 DR grades) and synthetic lung-CT slices by default; ``retinamnist`` replaces the
    classification data (MedMNIST's 5-grade fundus images), ``covid-ct-infection`` the segmentation
    data (infection masks on COVID-19 CT slices, the paper's segmentation task)."""
    from ...data.ct import ct_lung_splits
    from ...data.fundus import aptos_splits
    from ...data.registry import get_dataset

    if dataset == "retinamnist":
        cls = get_dataset(dataset).load(data_root, cls_image_size, n_train_cls, n_test_cls, seed)
    else:
        cls = aptos_splits(None, cls_image_size, n_train_cls, n_test_cls, seed)
    if dataset == "covid-ct-infection":
        seg = get_dataset(dataset).load(data_root, seg_image_size, n_train_seg, n_test_seg, seed)
    else:
        seg = ct_lung_splits(None, seg_image_size, n_train_seg, n_test_seg, seed)
    return {"classification": cls, "segmentation": seg}


def train_models(data: dict, cls_model: str, cls_width: int, cls_epochs: int, cls_lr: float, seg_width: int,
                 seg_depth: int, seg_epochs: int, seg_lr: float, seed: int, device) -> dict:
    """The classifier (torchvision ResNet; ``slim-resnet`` narrows its stages) and the U-Net, from
    scratch, by the project's one trainer (cached by configuration)."""
    cls_train, seg_train = data["classification"][0], data["segmentation"][0]
    cls_kwargs = {"num_classes": len(cls_train.class_names), "in_channels": cls_train.images.shape[1]}
    if cls_model == "slim-resnet":
        cls_kwargs["width"] = cls_width
    classifier = train_model(cls_model, cls_kwargs, cls_train,
                             TrainConfig(epochs=cls_epochs, batch_size=32, lr=cls_lr, seed=seed), device=device,
                             keep_epochs=False)
    seg_kwargs = {"in_channels": seg_train.images.shape[1], "num_classes": 2, "width": seg_width, "depth": seg_depth}
    segmenter = train_model("unet", seg_kwargs, seg_train,
                            TrainConfig(epochs=seg_epochs, batch_size=16, lr=seg_lr, loss="segmentation-ce",
                                        class_weighted=False, seed=seed), device=device, keep_epochs=False)
    return {"classification": classifier, "segmentation": segmenter}


def per_image_score(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, device="auto",
                    batch_size: int = 128) -> np.ndarray:
    """The paper's score per image: 1/0 correct (classification, targets (N,)) or the slice's
    foreground Jaccard index (segmentation, targets (N, H, W))."""
    logits = predict(model, images.float(), batch_size, device)
    predictions = logits.argmax(1)
    if targets.ndim == 3:
        return per_image_jaccard(predictions, targets, num_classes=logits.shape[1]).numpy()
    return (predictions == targets).double().numpy()


def performance(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, device="auto") -> Estimate:
    """Accuracy or mean Jaccard index with a 95 % bootstrap interval over the images."""
    return mean(per_image_score(model, images, targets, device))


def make_tasks(data: dict, models: dict, n_attack: int, epsilon_cls: float, epsilon_seg: float, device) -> dict:
    """The two attacked tasks on the first ``n_attack`` test images of each."""
    spec = {"classification": (epsilon_cls, CLASSIFICATION_METHODS, "accuracy"),
            "segmentation": (epsilon_seg, SEGMENTATION_METHODS, "Jaccard (IoU)")}
    tasks = {}
    for name, (epsilon, methods, metric) in spec.items():
        train, test = data[name]
        task = Task(name, models[name], test.float_images()[:n_attack], test.targets[:n_attack], epsilon, methods,
                    metric, train, test)
        task.clean = per_image_score(task.model, task.images, task.targets, device)
        tasks[name] = task
    return tasks


def clean_summary(tasks: dict, device) -> pd.DataFrame:
    """Each model's clean score on its whole test split and on the attacked images, with intervals
    and counts. ``attrs``: the classifier's test accuracy and its chance level, the share of the
    test split's most frequent grade (for :func:`medadv_lib.verdicts.display.above_chance`)."""
    rows = []
    table_attrs = {}
    for task in tasks.values():
        whole = performance(task.model, task.test.float_images(), task.test.targets, device)
        rows.append({"task": task.name, "metric": task.metric, "test split": whole.fmt(3), "n test": len(task.test),
                     "attacked images": mean(task.clean).fmt(3), "n attacked": len(task.clean)})
        if task.name == "classification":
            counts = np.bincount(task.test.targets.numpy())
            table_attrs = {"accuracy": {"fundus grader": whole}, "chance": float(counts.max() / counts.sum())}
    table = pd.DataFrame(rows).set_index("task")
    table.attrs.update(table_attrs)
    return table


def run_method(method: str, task: Task, *, iterations: int, alpha: float = 1.0, kernel_size: int = 5,
               sigma: float = 1.0, epsilon: float | None = None, device="auto", seed: int = 0,
               record_steps=None) -> AttackRun:
    """One method of Table 6 at step ``epsilon`` (default the task's), ``iterations`` steps and the
    L-inf budget ``iterations * epsilon`` (the largest perturbation the unprojected SMIA reaches).
    Baselines run through the attack registry (PGD: steps of ``epsilon`` from a random start;
    DeepFool: ``iterations`` steps; DAG: step ``epsilon``); DEV and SMIA record every iteration.
    ``record_steps`` (PGD and DAG): the run also keeps its attacked images after those steps
    (``iterates`` of the result; the registry's ``record_steps``)."""
    epsilon = task.epsilon if epsilon is None else epsilon
    if method not in task.methods:
        raise ValueError(f"unknown method {method!r} for {task.name}; choose from {task.methods}")
    if method in ("DEV", "SMIA"):
        return smia(task.model, task.images, task.targets, epsilon=epsilon, iterations=iterations,
                    alpha=0.0 if method == "DEV" else alpha, kernel_size=kernel_size, sigma=sigma, record=True,
                    device=device, seed=seed, desc=method)
    params = {"PGD": {"steps": iterations, "rel_stepsize": 1.0 / iterations},
              "DeepFool": {"steps": iterations}, "DAG": {"steps": iterations}}.get(method, {})
    result = run_attack(_REGISTRY[method], task.model, task.images, task.targets, eps=iterations * epsilon,
                        seed=seed, device=device, record_steps=record_steps, **params)
    return AttackRun(result.adversarial, iterates=result.iterates)


def _record(task: Task, method: str, run: AttackRun, device) -> pd.DataFrame:
    perturbation = run.adversarial - task.images.float()
    cosine = np.full(len(task.images), np.nan)
    if run.history is not None and len(run.history) >= 3:
        cosine = (consecutive_cosine(run.history) > 0).double().mean(0).numpy()
    return pd.DataFrame({"task": task.name, "method": method, "image": np.arange(len(task.images)),
                         "score": per_image_score(task.model, run.adversarial, task.targets, device),
                         "variance": perturbation_variance(perturbation).numpy(),
                         "linf": perturbation.flatten(1).abs().amax(1).numpy(), "cosine": cosine})


#: The registry baselines whose runs keep their iterates for :func:`convergence`.
_RECORDED = ("PGD", "DAG")


def run_all(tasks: dict, iterations: int, alpha: float, kernel_size: int, sigma: float, device,
            seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Every method on every task: the per-image ``scores`` table (with the clean rows) and the runs
    (PGD's and DAG's keep their iterates after :func:`convergence_iterations`' steps)."""
    frames, runs = [], {}
    for task in tasks.values():
        frames.append(pd.DataFrame({"task": task.name, "method": "clean", "image": np.arange(len(task.clean)),
                                    "score": task.clean, "variance": 0.0, "linf": 0.0, "cosine": np.nan}))
        for method in task.methods:
            record_steps = convergence_iterations(iterations) if method in _RECORDED else None
            run = run_method(method, task, iterations=iterations, alpha=alpha, kernel_size=kernel_size, sigma=sigma,
                             device=device, seed=seed, record_steps=record_steps)
            runs[task.name, method] = run
            frames.append(_record(task, method, run, device))
    return pd.concat(frames, ignore_index=True), runs


#: The positive control's budget: where FGSM moves the model by 20-40 points (issue 20, item 3).
CONTROL_BAND = (0.20, 0.40)


def _drops_at(task: Task, factor: float, iterations: int, alpha: float, kernel_size: int, sigma: float, device,
              seed: int = 0, methods=("FGSM", "PGD", "SMIA")) -> dict[str, np.ndarray]:
    """Per-image drops (clean minus attacked score) of ``methods`` at the task's step times
    ``factor``, each run as in :func:`run_all` (L-inf budget ``iterations`` x the step)."""
    drops = {}
    for method in methods:
        run = run_method(method, task, iterations=iterations, alpha=alpha, kernel_size=kernel_size, sigma=sigma,
                         epsilon=task.epsilon * factor, device=device, seed=seed)
        drops[method] = task.clean - per_image_score(task.model, run.adversarial, task.targets, device)
    return drops


def positive_control(tasks: dict, iterations: int, alpha: float, kernel_size: int, sigma: float, device,
                     seed: int = 0, factors=(1, 4, 16, 64, 256, 1024)) -> pd.DataFrame:
    """The method comparison of Table 6 again at a budget where it can show a difference: the
    task's step times the smallest of ``factors`` at which FGSM lowers the mean per-image score by
    at least :data:`CONTROL_BAND`'s lower end (20 points; the largest factor when none does). There
    SMIA, FGSM and PGD run as in :func:`run_all`; the drops (clean minus attacked, paired 95 %
    bootstrap) and SMIA minus the stronger baseline are reported. At the paper's tiny steps every
    method may flip the same few images; this tells "SMIA is no stronger" from "no method could
    move the model at this budget". ``attrs["drops"]``: ``{task: (factor, {method: per-image
    drops})}``, the rung :func:`scale_ladder` reuses."""
    rows, kept = [], {}
    for task in tasks.values():
        clean = task.clean
        chosen, fgsm_drop = factors[-1], None
        for factor in factors:
            run = run_method("FGSM", task, iterations=iterations, epsilon=task.epsilon * factor, device=device, seed=seed)
            drop = float(np.mean(clean - per_image_score(task.model, run.adversarial, task.targets, device)))
            if drop >= CONTROL_BAND[0]:
                chosen, fgsm_drop = factor, drop
                break
        drops = _drops_at(task, chosen, iterations, alpha, kernel_size, sigma, device, seed)
        kept[task.name] = (chosen, drops)
        best = max(("FGSM", "PGD"), key=lambda m: drops[m].mean())
        diff = paired_difference(drops["SMIA"], drops[best], seed=seed)
        rows.append({"task": task.name, "step factor": chosen, "step epsilon": task.epsilon * chosen,
                     "L-inf budget": iterations * task.epsilon * chosen,
                     "FGSM in the 20-40 point band": fgsm_drop is not None and fgsm_drop <= CONTROL_BAND[1],
                     **{f"{m} drop": mean(drops[m], seed=seed).fmt(3) for m in drops},
                     "stronger baseline": best, "SMIA minus the stronger baseline": diff.fmt(3), "n": len(clean)})
    table = pd.DataFrame(rows).set_index("task")
    table.attrs["drops"] = kept
    return table


#: The paper's lead of SMIA over the second-best method (Sec. 4.2, Table 6, prose): "about 10
#: points" on APTOS-2019 (over PGD), "about 9 points" on COVID-19 CT (over DAG): the ladder's line.
PAPER_LEAD = {"classification": (0.10, "table6_aptos"), "segmentation": (0.09, "table6_covid19")}


def ladder_rungs(epsilon: float, paper_epsilon: float, control_factor: float) -> list[float]:
    """Step factors of :func:`scale_ladder` (multiples of this run's step ``epsilon``): 1 (this
    run, Table 6), the paper's step (Sec. 4: ``paper_epsilon / epsilon``) and the positive
    control's factor; while fewer than three differ, the geometric middle of the outer two, then
    4 and 16 times the largest."""
    rungs = {1.0, float(f"{paper_epsilon / epsilon:.4g}"), float(control_factor)}
    if len(rungs) < 3 and min(rungs) < max(rungs):
        rungs.add(float(f"{np.sqrt(min(rungs) * max(rungs)):.4g}"))
    top = max(rungs)
    for extra in (4.0, 16.0):
        if len(rungs) < 3:
            rungs.add(top * extra)
    return sorted(rungs)


def scale_ladder(tasks: dict, scores: pd.DataFrame, control: pd.DataFrame, iterations: int, alpha: float,
                 kernel_size: int, sigma: float, device, seed: int = 0, rungs: dict | None = None) -> pd.DataFrame:
    """The headline comparison (Table 6: SMIA's drop against FGSM's and PGD's, per-image paired
    95 % bootstrap) at the step factors of :func:`ladder_rungs` per task (``rungs``: ``{task:
    factors}`` to choose them), toward and around the paper's step (Sec. 4), with the paper's lead
    of SMIA over the second best (:data:`PAPER_LEAD`) as the line to reach. Factor 1 is read off
    ``scores`` (:func:`run_all`) and the positive control's factor off ``control.attrs["drops"]``
    (:func:`positive_control`); only the other rungs run the three attacks again."""
    rows = []
    paper_steps = PUBLISHED["setup"]
    for task in tasks.values():
        control_factor, control_drops = control.attrs["drops"][task.name]
        factors = sorted({float(f) for f in (rungs or {}).get(task.name, [])}) or ladder_rungs(
            task.epsilon, paper_steps[task.name]["epsilon"], control_factor)
        lead, key = PAPER_LEAD[task.name]
        for factor in factors:
            if factor == 1.0:
                clean = _scores(scores, task.name, "clean")
                drops, source = {m: clean - _scores(scores, task.name, m) for m in ("FGSM", "PGD", "SMIA")}, "Table 6"
            elif factor == control_factor:
                drops, source = control_drops, "positive control"
            else:
                drops, source = _drops_at(task, factor, iterations, alpha, kernel_size, sigma, device, seed), "ladder"
            step = task.epsilon * factor
            best = max(("FGSM", "PGD"), key=lambda m: drops[m].mean())
            diff = paired_difference(drops["SMIA"], drops[best], seed=seed)
            rows.append({"task": task.name, "step factor": factor, "step epsilon": f"{step:.3g}",
                         "L-inf budget": f"{iterations * step:.3g}",
                         "rung": source + (" (the paper's step)" if np.isclose(step, paper_steps[task.name]["epsilon"])
                                           else ""),
                         **{f"{m} drop": mean(drops[m], seed=seed).fmt(3) for m in ("FGSM", "PGD", "SMIA")},
                         "SMIA minus the stronger of FGSM/PGD": diff.fmt(3),
                         "paper: SMIA minus the second best": f"about +{lead:.2f} ({PUBLISHED['text'][key]})",
                         "n": len(task.clean)})
    return pd.DataFrame(rows).set_index(["task", "step factor"])


def convergence_iterations(iterations: int) -> list[int]:
    """The iterations the convergence table shows: 1, T/4, T/2 and T (rounded up)."""
    return sorted({1, int(np.ceil(iterations / 4)), int(np.ceil(iterations / 2)), int(iterations)})


def _iterates(method: str, task: Task, runs: dict, steps) -> dict:
    """A registry baseline's attacked images after each of ``steps`` iterations, as its run in
    :func:`run_all` kept them (``record_steps``): each equal to the same attack stopped there."""
    kept = runs[task.name, method].iterates or {}
    missing = [t for t in steps if t not in kept]
    if missing:
        raise ValueError(f"the {task.name} {method} run kept no iterates after steps {missing}: "
                         "run it by run_all (record_steps)")
    return {t: kept[t] for t in steps}


def convergence(tasks: dict, runs: dict, iterations: int, alpha: float, kernel_size: int, sigma: float, device,
                seed: int = 0) -> pd.DataFrame:
    """The attacks' own per-iteration record, averaged over the attacked images: one row per
    (task, method, quantity, iteration) with the mean, its 95 % bootstrap interval and n.

    * SMIA: its objective ``L_DEV - alpha * L_STA`` (Qi et al. 2021, Sec. 3, Eq. 3) and both
      terms (:func:`medadv_lib.attacks.smia.objective_record` on the run's recorded
      perturbations); DEV (``alpha = 0``): ``L_DEV``, its whole objective.
    * PGD (and DAG on segmentation), run through the registry as in Table 6: ``L_DEV`` (PGD's
      loss), each read off the iterate the run kept after ``t`` steps (the registry's
      ``record_steps``: what the same attack stopped there returns); DAG also by its own
      criterion (Xie et al. 2017, Alg. 1), the share of pixels still labelled correctly (it stops
      when none is).

    Every method is read at iteration 0 (the clean image; PGD's random start is not recorded) and
    at iterations 1, T/4, T/2 and T (:func:`convergence_iterations`)."""
    from ...attacks.smia import objective_record
    from ...training import predict

    rows = []

    def add(task, method, quantity, t, values):
        est = mean(np.asarray(values, dtype=float), seed=seed)
        rows.append({"task": task.name, "method": method, "quantity": quantity, "iteration": int(t),
                     "mean": est.value, "low": est.low, "high": est.high, "n": est.n})

    steps = convergence_iterations(iterations)
    read = [0, *steps]
    for task in tasks.values():
        for method, a in (("DEV", 0.0), ("SMIA", alpha)):
            record = objective_record(task.model, task.images, task.targets, runs[task.name, method].history[read],
                                      alpha=a, kernel_size=kernel_size, sigma=sigma, device=device)
            for j, t in enumerate(read):
                add(task, method, "L_DEV", t, record["dev"][j])
                if method == "SMIA" and a > 0:
                    add(task, method, "L_STA", t, record["sta"][j])
                    add(task, method, "L_DEV - alpha L_STA", t, record["objective"][j])
        clean_dev = record["dev"][0]
        for method in [m for m in ("PGD", "DAG") if m in task.methods]:
            add(task, method, "L_DEV", 0, clean_dev)
            for t, adversarial in _iterates(method, task, runs, steps).items():
                delta = (adversarial - task.images.float()).unsqueeze(0)
                add(task, method, "L_DEV", t, objective_record(task.model, task.images, task.targets, delta,
                                                               alpha=0.0, device=device)["dev"][0])
                if method == "DAG":
                    correct = predict(task.model, adversarial, device=device).argmax(1) == task.targets
                    add(task, method, "share of pixels correct", t, correct.flatten(1).double().mean(1).numpy())
        if "DAG" in task.methods:
            correct = predict(task.model, task.images, device=device).argmax(1) == task.targets
            add(task, "DAG", "share of pixels correct", 0, correct.flatten(1).double().mean(1).numpy())
    return pd.DataFrame(rows)


def convergence_table(record: pd.DataFrame, iterations: int) -> pd.DataFrame:
    """:func:`convergence` at iterations 1, T/4, T/2 and T (mean over the images), one row per
    task, method and quantity, with n."""
    steps = convergence_iterations(iterations)
    part = record[record["iteration"].isin(steps)]
    table = part.pivot_table(index=["task", "method", "quantity"], columns="iteration", values="mean", sort=False)
    table = table.round(4)
    table.columns = [f"t = {t}" for t in table.columns]
    table["n"] = part.groupby(["task", "method", "quantity"], sort=False)["n"].first()
    return table


def sweep(tasks: dict, runs: dict, iterations: int, alpha: float, kernel_size: int, sigma: float,
          sweep_iterations, sweep_epsilon_factors, sweep_alphas, device, seed: int = 0) -> pd.DataFrame:
    """Tables 2-4: SMIA's score after ``t`` iterations (read off the recorded run: an iteration does not
    depend on how many follow), at multiples of the task's step, and at other weights ``alpha``
    (``alpha = 0`` is DEV)."""
    rows = []

    def add(table, task, value, adversarial):
        score = per_image_score(task.model, adversarial, task.targets, device)
        rows.append(pd.DataFrame({"table": table, "task": task.name, "value": float(value),
                                  "image": np.arange(len(score)), "score": score}))

    for task in tasks.values():
        history = runs[task.name, "SMIA"].history
        for t in sweep_iterations:
            add("2: iterations", task, t, task.images + history[t])
        for factor in sorted(set(sweep_epsilon_factors) | {1.0}):
            adversarial = runs[task.name, "SMIA"].adversarial if factor == 1.0 else smia(
                task.model, task.images, task.targets, epsilon=task.epsilon * factor, iterations=iterations,
                alpha=alpha, kernel_size=kernel_size, sigma=sigma, device=device, seed=seed).adversarial
            add("3: epsilon", task, task.epsilon * factor, adversarial)
        known = {0.0: "DEV", float(alpha): "SMIA"}
        for a in sorted(set(map(float, sweep_alphas)) | {float(alpha)}):
            adversarial = runs[task.name, known[a]].adversarial if a in known else smia(
                task.model, task.images, task.targets, epsilon=task.epsilon, iterations=iterations, alpha=a,
                kernel_size=kernel_size, sigma=sigma, device=device, seed=seed).adversarial
            add("4: alpha", task, a, adversarial)
    return pd.concat(rows, ignore_index=True)


def _scores(scores: pd.DataFrame, task: str, method: str, column: str = "score") -> np.ndarray:
    part = scores[(scores["task"] == task) & (scores["method"] == method)].sort_values("image")
    return part[column].to_numpy()


def _paper_table6(task: str, method: str) -> str:
    text = PUBLISHED["text"]
    if method == "SMIA":
        key = "table6_aptos" if task == "classification" else "table6_covid19"
        return f"{text[key]}; {text['table6_variance']}"
    return NOT_PRINTED


def table6(scores: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Table 6: score and drop (clean minus attacked, paired over the images) per method, with 95 %
    intervals, the mean variance and largest L-inf of the perturbation, the share of positive
    cosines (recorded methods), n, and the paper's statement beside SMIA's row (its text prints no
    cell of Table 6)."""
    rows = []
    for (task, method), part in scores.groupby(["task", "method"], sort=False):
        if method == "clean":
            continue
        attacked, clean = _scores(scores, task, method), _scores(scores, task, "clean")
        cosine = part["cosine"].to_numpy()
        rows.append({"task": task, "method": method, "score": mean(attacked, seed).fmt(3),
                     "drop": paired_difference(clean, attacked, seed).fmt(3),
                     "variance": f"{part['variance'].mean():.2e}", "linf": f"{part['linf'].max():.2e}",
                     "positive cosine": "-" if np.isnan(cosine).all() else f"{np.nanmean(cosine):.3f}",
                     "n": len(attacked), "paper (Sec. 4.2, prose)": _paper_table6(task, method)})
    return pd.DataFrame(rows).set_index(["task", "method"])


def table1(scores: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Table 1: DEV against DEV + STA per task: score, drop, share of positive cosines between
    consecutive updates, variance; the paper's finding beside ours."""
    rows = []
    for task in scores["task"].unique():
        clean = _scores(scores, task, "clean")
        for method, label in (("DEV", "DEV"), ("SMIA", "DEV+STA")):
            attacked = _scores(scores, task, method)
            rows.append({"task": task, "loss": label, "score": mean(attacked, seed).fmt(3),
                         "drop": paired_difference(clean, attacked, seed).fmt(3),
                         "positive cosine": mean(_scores(scores, task, method, "cosine"), seed).fmt(3),
                         "variance": f"{_scores(scores, task, method, 'variance').mean():.2e}", "n": len(attacked),
                         "paper (Sec. 4.1)": PUBLISHED["text"]["table1"] if label == "DEV+STA" else ""})
    return pd.DataFrame(rows).set_index(["task", "loss"])


def sweep_table(sweeps: pd.DataFrame, scores: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Tables 2-4: the drop (clean minus attacked, paired) at each value, with its interval and n; the
    paper's finding beside each table."""
    paper = {"2: iterations": PUBLISHED["text"]["table2"], "3: epsilon": PUBLISHED["text"]["table3"],
             "4: alpha": PUBLISHED["text"]["table4"]}
    rows = []
    for (table, task, value), part in sweeps.groupby(["table", "task", "value"], sort=False):
        attacked = part.sort_values("image")["score"].to_numpy()
        rows.append({"table": table, "task": task, "value": f"{value:g}",
                     "drop": paired_difference(_scores(scores, task, "clean"), attacked, seed).fmt(3),
                     "n": len(attacked), "paper": paper[table]})
    return pd.DataFrame(rows).set_index(["table", "task", "value"])


def comparison(settings: dict, models: dict) -> pd.DataFrame:
    """The paper's setting beside ours (Sec. 4)."""
    from ...models import count_parameters

    setup = PUBLISHED["setup"]
    rows = [
        ("iterations / alpha", f"{setup['iterations']} / {setup['alpha']}",
         f"{settings['iterations']} / {settings['alpha']:g}"),
        ("epsilon (step), classification", f"{setup['classification']['epsilon']:g}", f"{settings['epsilon_cls']:g} on [0, 1]"),
        ("epsilon (step), segmentation", f"{setup['segmentation']['epsilon']:g}", f"{settings['epsilon_seg']:g} on [0, 1]"),
        ("classification", f"{setup['classification']['model']}; {setup['classification']['datasets']}",
         f"{settings['cls_model']} ({count_parameters(models['classification']):,} parameters)"),
        ("segmentation", f"{setup['segmentation']['model']}; {setup['segmentation']['dataset']}",
         f"U-Net ({count_parameters(models['segmentation']):,} parameters)"),
        ("detection", f"{setup['detection']['model']}; {setup['detection']['dataset']}", "left out (no data here)"),
    ]
    return pd.DataFrame(rows, columns=["item", "paper", "ours"]).set_index("item")


@dataclass
class SMIAResults:
    """What the claims of :mod:`.claims` and their premises are tested on: one run of the chapter.

    ``scores`` and ``sweeps`` keep one row per attacked image (see the module's docstring), so every
    comparison of two methods on the same images is paired."""

    #: task ("classification", "segmentation"), method ("clean", then the task's methods: "FGSM",
    #: "PGD", "DeepFool" or "DAG", "DEV", "SMIA"), image, score (1/0 correct, or the slice's Jaccard
    #: index), variance (of the final perturbation), linf, cosine (share of positive cosines between
    #: consecutive updates; NaN for the unrecorded baselines)
    scores: pd.DataFrame
    #: table ("2: iterations", "3: epsilon", "4: alpha"), task, value (the iterations, the step
    #: epsilon or the weight alpha), image, score (SMIA's)
    sweeps: pd.DataFrame
    #: the weight of L_STA in this run's SMIA (the parameter ``alpha``; the paper's 1)
    alpha: float = 1.0
    #: the fundus grader's clean test accuracy by name (``{"fundus grader": Estimate}``); empty when
    #: the run has no classifier (the stand-in premise reads it)
    accuracy: dict = field(default_factory=dict)
    #: the share of the commonest grade in the classifier's test split: the accuracy of always
    #: answering it, the stand-in's minimum (None without a classifier)
    chance: float | None = None
    #: the positive control per task (:func:`positive_control`): ``{task: (step factor, step epsilon,
    #: {"FGSM"|"PGD"|"SMIA": per-image drops})}``; empty when the run did not compute it
    control: dict = field(default_factory=dict)
    #: the tasks a claim's test was not given because they miss its premises, each with the premises
    #: it misses and their evidence (set by :func:`.claims.restrict`)
    left_out: dict = field(default_factory=dict)


def claim_results(scores: pd.DataFrame, sweeps: pd.DataFrame, alpha: float, accuracy: dict | None = None,
                  chance: float | None = None, control: pd.DataFrame | None = None) -> SMIAResults:
    """The results the claims of :mod:`.claims` are tested on (``accuracy`` and ``chance``: the
    :func:`clean_summary` table's ``attrs``, which the premises read; ``control``: the
    :func:`positive_control` table, whose per-image drops give the positive control premise)."""
    kept = {}
    if control is not None:
        for task, (factor, drops) in control.attrs["drops"].items():
            kept[task] = (float(factor), float(control.loc[task, "step epsilon"]), dict(drops))
    return SMIAResults(scores=scores, sweeps=sweeps, alpha=float(alpha), accuracy=dict(accuracy or {}),
                       chance=None if chance is None else float(chance), control=kept)


def headline(scores: pd.DataFrame) -> str:
    parts = []
    for task in scores["task"].unique():
        clean = _scores(scores, task, "clean")
        drops = {m: float((clean - _scores(scores, task, m)).mean()) for m in scores[scores["task"] == task]["method"].unique()
                 if m not in ("clean", "DEV")}
        best = max((m for m in drops if m != "SMIA"), key=drops.get)
        parts.append(f"{task}: SMIA drop {drops['SMIA']:.3f} against {best} {drops[best]:.3f}")
    n = scores.groupby("task")["image"].nunique().min()
    return "; ".join(parts) + f" ({n} images per task; paper: SMIA about 9-10 points ahead of the second best)"
