"""The experiments of Taghanaki, Das & Hamarneh 2018 (ten attacks, max vs average pooling).

Built here: the binary "finding" data (synthetic ChestX-ray14-style, NIH ChestX-ray14, or
Kermany's pneumonia X-rays), the four networks (Inception-ResNet-v2 and NASNet-Large, each with
max and with average pooling), the ten attacks through the attack registry (Foolbox 1 semantics:
minimal perturbations), white-box and black-box (transfer) evaluation, perceptibility, and the
paper's tables with its cells beside ours (Table 1 white-box, Table 2 black-box; accuracy with 95 %
Wilson intervals, AUC with bootstrap intervals, and n).

Result tables, one row per attacked image (so every number has its count): ``attacks``, ``clean``
and ``calls`` of :class:`AttackTables`, their columns listed on :class:`TenAttacksResults` (what the
claims of :mod:`.claims` are tested on, built by :func:`claim_results`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ...attacks import TAGHANAKI, get_attack, run_attack
from ...data.datasets import ImageDataset, stratified_subset
from ...metrics.perceptibility import attack_level, perceptibility_level, ssim
from ...metrics.roc import positive_scores
from ...metrics.uncertainty import auroc, wilson
from ...progress import tqdm
from ...training import TrainConfig, TrainResult, predict, train_model
from . import ATTACK_EFFORT, PAPER_S2_SHARE
from ...verdicts import NOT_PRINTED
from .published import PUBLISHED

#: The paper's attack ids in Table 1's order (the registry classes' ``paper_id``).
ATTACK_IDS = list(TAGHANAKI)

__all__ = ["positive_control", "SLOW", "S1_NL_AP", "images_per_attack", "scale_ladder", "ladder_rungs", "paper_gradient_accuracy",
           "ARCHS", "VARIANTS", "AttackTables", "load_data", "train_networks", "nasnet_recipe", "attack_all", "attack_settings",
           "clean_table", "test_predictions", "table1", "TenAttacksResults",
           "table2", "perceptibility", "success_rates", "search_counts", "convergence", "claim_results", "headline",
           "s2_max_pixels"]

ARCHS = {"inception-resnet-v2": "IR2", "nasnet-large": "NL"}
POOLINGS = {"max": "MP", "avg": "AP"}
#: The four networks by the paper's row names: (architecture, pooling).
VARIANTS = {f"{ARCHS[a]}/{POOLINGS[p]}": (a, p) for p in POOLINGS for a in ARCHS}

@dataclass
class ChapterData:
    splits: dict[int, tuple[ImageDataset, ImageDataset]]    # input side -> (train, test)
    sizes: dict[str, int]                                     # architecture -> input side
    dataset: str

    def test_of(self, variant: str) -> ImageDataset:
        return self.splits[self.sizes[VARIANTS[variant][0]]][1]

    def train_of(self, arch: str) -> ImageDataset:
        return self.splits[self.sizes[arch]][0]


def load_data(dataset: str, data_root: str, image_size: int, nasnet_image_size: int, n_train: int, n_test: int,
              seed: int) -> ChapterData:
    """The binary task of the paper ("finding" against "no finding") at each network's input side:
    synthetic ChestX-ray14-style radiographs, NIH ChestX-ray14 (any of the 14 findings) or Kermany's
    pediatric X-rays (pneumonia)."""
    from ...data.chestxray14 import chestxray14_splits
    from ...data.registry import get_dataset

    sizes = {"inception-resnet-v2": image_size, "nasnet-large": nasnet_image_size}
    splits = {}
    for size in sorted(set(sizes.values())):
        if dataset == "synthetic":
            splits[size] = chestxray14_splits(None, size, n_train, n_test, seed, task="binary")
        elif dataset == "nih-cxr14":
            splits[size] = get_dataset(dataset).load(data_root, size, n_train, n_test, seed, task="binary")
        else:
            splits[size] = get_dataset(dataset).load(data_root, size, n_train, n_test, seed)
    return ChapterData(splits, sizes, dataset)


def train_networks(data: ChapterData, irv2_depth: str, nasnet_width: str, config: TrainConfig,
                   device, nasnet_config: TrainConfig | None = None) -> dict[str, TrainResult]:
    """The four networks, each with one sigmoid output and a gray input, trained from scratch by the
    project's one trainer; the average-pooling copies come from ``swap_max_to_avg_pooling``.
    ``irv2_depth`` and ``nasnet_width`` say whether the published sizes (``"full"``) or the reduced
    ones of :mod:`medadv_lib.models.timm_models` are built. ``nasnet_config``: the NASNets' recipe
    (None: ``config``); both poolings of an architecture always share one recipe, so the pooling
    comparison (Sec. 2.1) compares networks trained alike."""
    runs = {}
    for variant, (arch, pooling) in VARIANTS.items():
        kwargs = {"num_classes": 1, "in_chans": 1, "pooling": pooling}
        if arch == "nasnet-large":
            kwargs["width"] = nasnet_width
        else:
            kwargs["depth"] = irv2_depth
        recipe = nasnet_config if arch == "nasnet-large" and nasnet_config is not None else config
        runs[variant] = train_model(arch, kwargs, data.train_of(arch), recipe, device=device, keep_epochs=False)
    return runs


def nasnet_recipe(config: TrainConfig, nasnet_epochs: int, nasnet_augment: bool) -> TrainConfig:
    """The NASNets' recipe: ``config`` with their own epochs and augmentation (random shifts and
    flips, :func:`medadv_lib.training.augment_batch`). At the default preset the reduced NASNet
    (NASNet-A 2 @ 768) memorises 320 images without augmentation (training AUC 1.00, test 0.63
    [0.55, 0.71] after 6 epochs) and learns the finding with it (issue 29, item 5)."""
    return replace(config, epochs=int(nasnet_epochs), augment=bool(nasnet_augment))


def _probs(model, images, device) -> np.ndarray:
    return positive_scores(predict(model, images, device=device))


def _transfer(images: torch.Tensor, size: int) -> torch.Tensor:
    return images if images.shape[-1] == size else F.interpolate(images, size=(size, size), mode="bilinear",
                                                                  align_corners=False)


def s2_max_pixels(settings: dict, height: int, width: int) -> int:
    """Single Pixel's (S2) pixel budget on ``height`` x ``width`` images: ``max_pixels``, or
    ``pixel_share`` of the pixels (at least one), or Foolbox 1.2's default of 1,000."""
    if "pixel_share" in settings:
        return max(1, math.ceil(settings["pixel_share"] * height * width))
    return int(settings.get("max_pixels", 1000))


def _attack_kwargs(attack_id: str, params: dict, x) -> dict:
    """The registry keywords of ``attack_id`` at the effort ``params`` on the images ``x`` (S2's
    ``pixel_share`` turned into its ``max_pixels``)."""
    kwargs = dict(params.get(attack_id, {}))
    if "pixel_share" in kwargs:
        kwargs["max_pixels"] = s2_max_pixels(kwargs, *x.shape[-2:])
        del kwargs["pixel_share"]
    return kwargs


def _white_box(variant: str, model, x, y, attack_id: str, params: dict, seed: int, device):
    """One attack white-box on ``x``: its rows of the ``attacks`` table and the registry's result.

    ``ran_out``: the search ran out of its grid or iterations without an adversarial
    (:attr:`~medadv_lib.attacks.AttackResult.exhausted`), except for an S2 that tried at least the
    paper's share of the pixels (:data:`PAPER_S2_SHARE`): its failure is the paper's method failing,
    as the paper's own S2 did, not a budget of ours cut short."""
    kwargs = _attack_kwargs(attack_id, params, x)
    result = run_attack(TAGHANAKI[attack_id], model, x, y, seed=seed, device=device, **kwargs)
    ran_out = result.exhausted.numpy()
    if attack_id == "S2" and s2_max_pixels(kwargs, *x.shape[-2:]) >= math.ceil(PAPER_S2_SHARE * x.shape[-2] * x.shape[-1]):
        ran_out = np.zeros_like(ran_out)
    ok = result.success & result.clean_correct
    similarity = np.full(len(y), np.nan)
    if ok.any():
        similarity[ok.numpy()] = ssim(x[ok], result.adversarial[ok])
    frame = pd.DataFrame({
        "variant": variant, "source": variant, "setting": "white", "attack": attack_id,
        "image": np.arange(len(y)), "label": y.numpy(), "prob": _probs(model, result.adversarial, device),
        "success": result.success.numpy(), "clean_correct": result.clean_correct.numpy(),
        "l2": result.l2.numpy(), "linf": result.linf.numpy(), "ssim": similarity,
        "ran_out": ran_out})
    return frame, result


@dataclass
class AttackTables:
    """What :func:`attack_all` returns: the result tables (their columns on :class:`TenAttacksResults`)
    and the images they were measured on."""

    attacks: pd.DataFrame
    clean: pd.DataFrame
    calls: pd.DataFrame
    adversarials: dict          # (variant, attack id) -> the white-box adversarial images
    images: dict                # variant -> the attacked clean images
    #: S1 white-box on NL/AP on every image it attacked (``n_attack_s1_nl_ap``; the first
    #: ``n_attack_slow`` of them are in ``attacks``), the rows of :data:`S1_NL_AP`'s claim; None
    #: when no NL/AP was attacked
    s1_nl_ap: pd.DataFrame | None = None


#: The two slow searches (per attacked image nearly as long as the other eight together at the
#: default effort on 2 CPU cores, measured: 1.3 s against 1.6 s on IR2/MP, 2.0 s against 2.6 s on
#: NL/AP, uncontended estimates): Local Search's rounds of candidate scoring and L-BFGS's solves. They run on the first ``n_attack_slow`` of the attacked images.
SLOW = ("G5", "S1")


#: The one (network, attack) a claim reads alone with a rate bound: "Local Search (S1) completely
#: fails against NASNet-Large with average pooling" (Sec. 4; :mod:`.claims`). Its 10 % bound needs
#: at least 35 images correct when clean (``claims.decidable_n``), so S1 attacks ``n_attack_s1_nl_ap``
#: images there (more than the other networks' ``n_attack_slow``; issue 29's power).
S1_NL_AP = ("NL/AP", "S1")


def images_per_attack(n_attack: int, n_attack_slow: int | None = None) -> dict[str, int]:
    """Attacked images per network for each attack: ``n_attack``, and ``n_attack_slow`` (at most
    ``n_attack``; None: ``n_attack``) for the slow ones (:data:`SLOW`)."""
    slow = n_attack if n_attack_slow is None else min(int(n_attack_slow), int(n_attack))
    return {a: slow if a in SLOW else int(n_attack) for a in ATTACK_IDS}


def attack_all(models: dict, data: ChapterData, n_attack: int, effort: str, seed: int, device,
               n_attack_slow: int | None = None, n_attack_s1_nl_ap: int | None = None) -> AttackTables:
    """The ten attacks white-box on the first ``n_attack`` test images of each network (the slow
    ones, :data:`SLOW`, on the first ``n_attack_slow``; S1 on NL/AP, :data:`S1_NL_AP`, on the first
    ``n_attack_s1_nl_ap``, None: as on the others), then each adversarial transferred (resized when
    the input sides differ) to the other architecture with the same pooling (black-box; S1 from
    NL/AP on its first ``n_attack_slow``, as the other networks')."""
    params = ATTACK_EFFORT[effort]
    counts = images_per_attack(n_attack, n_attack_slow)
    rows, clean_rows, calls = [], [], []
    adversarials, images = {}, {}
    for variant, model in tqdm(models.items(), desc="attacks", leave=False):
        test = data.test_of(variant)
        x, y = test.float_images()[:n_attack], test.targets[:n_attack]
        images[variant] = x
        clean_rows.append(pd.DataFrame({"variant": variant, "image": np.arange(len(y)), "label": y.numpy(),
                                        "prob": _probs(model, x, device)}))
        for attack_id in ATTACK_IDS:
            k = counts[attack_id]
            xk, yk = x[:k], y[:k]
            if (variant, attack_id) == S1_NL_AP and n_attack_s1_nl_ap:
                xk, yk = test.float_images()[:int(n_attack_s1_nl_ap)], test.targets[:int(n_attack_s1_nl_ap)]
            frame, result = _white_box(variant, model, xk, yk, attack_id, params, seed, device)
            if (variant, attack_id) == S1_NL_AP:
                s1_nl_ap = frame                     # every image; the tables keep the first k, as elsewhere
            adversarials[(variant, attack_id)] = result.adversarial[:k]
            rows.append(frame[frame["image"] < k])
            calls.append({"variant": variant, "attack": attack_id, "model_calls": result.model_calls,
                          "model_inputs": result.model_inputs, "images": len(yk)})
    for target, (arch, pooling) in VARIANTS.items():
        source = next(v for v, (a, p) in VARIANTS.items() if p == pooling and a != arch)
        test = data.test_of(target)
        y_all = test.targets[:n_attack].numpy()
        pred_all = _probs(models[target], test.float_images()[:n_attack], device) > 0.5
        for attack_id in ATTACK_IDS:
            transferred = _transfer(adversarials[(source, attack_id)][:counts[attack_id]], data.sizes[arch])
            y, clean_pred = y_all[:len(transferred)], pred_all[:len(transferred)]
            prob = _probs(models[target], transferred, device)
            rows.append(pd.DataFrame({
                "variant": target, "source": source, "setting": "black", "attack": attack_id, "image": np.arange(len(y)),
                "label": y, "prob": prob, "success": (prob > 0.5) != y.astype(bool),
                "clean_correct": clean_pred == y.astype(bool), "l2": np.nan, "linf": np.nan, "ssim": np.nan,
                "ran_out": False}))
    return AttackTables(pd.concat(rows, ignore_index=True), pd.concat(clean_rows, ignore_index=True),
                        pd.DataFrame(calls), adversarials, images, s1_nl_ap if S1_NL_AP[0] in models else None)


def _accuracy(label, prob):
    correct = (prob > 0.5) == label.astype(bool)
    return wilson(int(correct.sum()), len(correct))


def _cells(frame: pd.DataFrame, seed: int) -> dict:
    label, prob = frame["label"].to_numpy(), frame["prob"].to_numpy()
    return {"Acc.": _accuracy(label, prob), "AU": auroc(label, prob, seed=seed)}


def _table(attacks: pd.DataFrame, clean: pd.DataFrame, setting: str, published: dict, seed: int) -> pd.DataFrame:
    columns = PUBLISHED["columns"]
    rows = {}
    for variant in VARIANTS:
        arch, pooling = variant.split("/")
        estimates = {"Clean": _cells(clean[clean["variant"] == variant], seed)}
        part = attacks[(attacks["variant"] == variant) & (attacks["setting"] == setting)]
        for attack_id, frame in part.groupby("attack"):
            estimates[attack_id] = _cells(frame, seed)
        for metric in ("Acc.", "AU"):
            paper = published.get(pooling, {}).get(arch, {}).get("Acc" if metric == "Acc." else "AU")
            row = {}
            for k, column in enumerate(columns):
                row[(column, "paper")] = NOT_PRINTED if paper is None else f"{paper[k]:.2f}"
                est = estimates.get(column, {}).get(metric)
                row[(column, "ours")] = "n/a" if est is None else est.fmt(2)
            row[("n", "")] = len(clean[clean["variant"] == variant])
            rows[(pooling, arch, metric)] = row
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.columns = pd.MultiIndex.from_tuples(frame.columns)
    frame.index = pd.MultiIndex.from_tuples(frame.index, names=["pooling", "network", "metric"])
    return frame


def table1(attacks: pd.DataFrame, clean: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Table 1 (white-box): accuracy and ROC AUC per network and pooling, Clean and G1..S2, the
    paper's cell beside ours (fractions, as the paper prints; ours with a 95 % interval)."""
    return _table(attacks, clean, "white", PUBLISHED["table1_whitebox"], seed)


def table2(attacks: pd.DataFrame, clean: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Table 2 (black-box): images crafted on the other architecture with the same pooling, scored by
    the row's network (the paper does not say which network a row names; its Clean column equals
    the row network's own clean score, so we read rows as the classifying network)."""
    return _table(attacks, clean, "black", PUBLISHED["table2_blackbox"], seed)


def attack_settings(effort: str) -> pd.DataFrame:
    """The ten attacks, their families and the search settings of ``effort`` (Foolbox 1.2's defaults
    where none is given)."""
    return pd.DataFrame({a: {"name": get_attack(TAGHANAKI[a]).paper_name, "family": get_attack(TAGHANAKI[a]).family,
                             "settings": str(ATTACK_EFFORT[effort].get(a, "Foolbox 1 defaults"))}
                         for a in ATTACK_IDS}).T


def test_predictions(runs: dict, data: ChapterData, device) -> pd.DataFrame:
    """Each network's clean predictions on its whole test split, one row per image: variant, image,
    label, prob (P(finding)). :func:`clean_table` summarises them; the clean-accuracy claim reads
    them (:attr:`TenAttacksResults.test_predictions`)."""
    frames = []
    for variant, run in runs.items():
        test = data.test_of(variant)
        frames.append(pd.DataFrame({"variant": variant, "image": np.arange(len(test)), "label": test.targets.numpy(),
                                    "prob": _probs(run.model, test.float_images(), device)}))
    return pd.concat(frames, ignore_index=True)


def clean_table(predictions: pd.DataFrame) -> pd.DataFrame:
    """Clean accuracy and ROC AUC of each network on its whole test split (:func:`test_predictions`),
    with intervals; the AUC estimates are kept in ``attrs["auc"]`` (for
    :func:`medadv_lib.verdicts.display.above_chance` and the stand-in premise)."""
    rows, aucs = [], {}
    for variant, frame in predictions.groupby("variant", sort=False):
        cells = _cells(frame, 0)
        aucs[variant] = cells["AU"]
        rows.append({"network": variant, "accuracy": cells["Acc."].fmt(3), "AUC": cells["AU"].fmt(3),
                     "n": len(frame), "finding share": f"{float(frame['label'].mean()):.2f}"})
    table = pd.DataFrame(rows).set_index("network")
    table.attrs["auc"] = aucs
    return table


def perceptibility(attacks: pd.DataFrame) -> pd.DataFrame:
    """Our measured proxy for the paper's by-eye levels (Figs. 2 and 4): per attack, the majority level
    of its successful white-box images (SSIM and L-inf thresholds in metrics.perceptibility), the mean
    L2, L-inf and SSIM, the share judged Obvious, and how many images decided it."""
    white = attacks[(attacks["setting"] == "white") & attacks["success"] & attacks["clean_correct"]]
    rows = []
    for attack_id in ATTACK_IDS:
        part = white[white["attack"] == attack_id]
        levels = [perceptibility_level(s, m) for s, m in zip(part["ssim"], part["linf"])]
        obvious = wilson(sum(level == "Obvious" for level in levels), len(levels))
        rows.append({"attack": attack_id, "name": get_attack(TAGHANAKI[attack_id]).paper_name, "family": get_attack(TAGHANAKI[attack_id]).family,
                     "our level": attack_level(levels), "Obvious share": obvious.fmt(2),
                     "mean l2": part["l2"].mean(), "mean linf": part["linf"].mean(), "mean ssim": part["ssim"].mean(),
                     "n successful": len(part)})
    return pd.DataFrame(rows).set_index("attack")


def success_rates(attacks: pd.DataFrame, setting: str = "white") -> pd.DataFrame:
    """Share of the correctly classified attacked images that each attack fooled, per network, with
    95 % Wilson intervals and the count."""
    part = attacks[(attacks["setting"] == setting) & attacks["clean_correct"]]
    table = {}
    for (attack_id, variant), frame in part.groupby(["attack", "variant"], sort=False):
        table.setdefault(attack_id, {})[variant] = wilson(int(frame["success"].sum()), len(frame)).fmt(2) + f" (n={len(frame)})"
    return pd.DataFrame(table).T.reindex(ATTACK_IDS)


def positive_control(models: dict, data: ChapterData, tables: AttackTables, n_attack: int, seed: int, device,
                     steps: int = 40) -> pd.DataFrame:
    """The chapter's positive control (issue 29: "PGD at the median minimal size"): a budget attack
    where the minimal searches may fail. Per network, L-inf PGD (``steps`` steps, random start; the
    registry's ``pgd``) on the same attacked images at the median L-inf size of that network's
    successful white-box minimal attacks (all ten pooled). When PGD at that budget fools most images
    while a minimal search failed on them, the search ran out of its grid or effort: "the network
    resists" and "the search is weak" are told apart. Columns: the budget, the minimal attacks'
    success, PGD's success with its 95 % Wilson interval, and the counts the claims' premise reads
    (``PGD fooled`` of ``n``, the images correct when clean; :func:`.claims.premises`)."""
    white = tables.attacks[(tables.attacks["setting"] == "white") & tables.attacks["clean_correct"]]
    rows = []
    for variant, model in models.items():
        mine = white[white["variant"] == variant]
        ok = mine[mine["success"].astype(bool)]
        if ok.empty:
            rows.append({"network": variant, "median minimal L-inf (x255)": float("nan"),
                         "minimal attacks' success (%)": "0.0",
                         "PGD success at that budget [95% CI] (%)": "no successful minimal attack, so no budget",
                         "PGD fooled": 0, "n": 0})
            continue
        eps = float(np.median(ok["linf"]))
        test = data.test_of(variant)
        x, y = test.float_images()[:n_attack], test.targets[:n_attack]
        result = run_attack("pgd", model, x, y, eps=eps, norm="Linf", steps=steps, seed=seed, device=device)
        correct = result.clean_correct.numpy().astype(bool)
        pgd = result.success.numpy().astype(bool)[correct]
        minimal = mine.groupby("image")["success"].mean().reindex(np.arange(len(y))).to_numpy()[correct]
        rows.append({"network": variant, "median minimal L-inf (x255)": round(255 * eps, 2),
                     "minimal attacks' success (%)": f"{100 * np.nanmean(minimal):.1f}",
                     "PGD success at that budget [95% CI] (%)": wilson(int(pgd.sum()), len(pgd)).fmt(percent=True),
                     "PGD fooled": int(pgd.sum()), "n": int(correct.sum())})
    return pd.DataFrame(rows).set_index("network")


def search_counts(attacks):
    """Per network and attack (white-box), the images correct when clean that the search was run
    on (``n``), those it fooled, those whose search ran out of its grid or iterations
    (``ran_out``) and those it failed on for another reason (``failed_otherwise``); None when the
    table has no ``ran_out`` record."""
    if "ran_out" not in attacks.columns:
        return None
    white = attacks[(attacks["setting"] == "white") & attacks["clean_correct"].astype(bool)]
    rows = []
    for (variant, attack_id), part in white.groupby(["variant", "attack"], sort=False):
        fooled, ran_out = part["success"].astype(bool), part["ran_out"].astype(bool) & ~part["success"].astype(bool)
        rows.append({"variant": variant, "attack": attack_id, "n": len(part), "fooled": int(fooled.sum()),
                     "ran_out": int(ran_out.sum()), "failed_otherwise": int((~fooled & ~ran_out).sum())})
    return pd.DataFrame(rows, columns=["variant", "attack", "n", "fooled", "ran_out", "failed_otherwise"])


def convergence(attacks: pd.DataFrame) -> pd.DataFrame:
    """Did the minimal searches converge? Every attack is a search over a grid of sizes or a
    bounded number of iterations (:func:`attack_settings`; at the paper's effort Foolbox 1.2's
    defaults: the paper set "all attack parameters as proposed by their authors", Sec. 2). Per attack and network, of the ``n`` attacked images correct
    when clean, how many the search ran out of its grid or iterations on ("k/n": no adversarial
    within the largest size or the iteration limit), then pooled over the four networks: the share
    that ran out with its 95 % Wilson interval, the images fooled and those the attack failed on
    for another reason (Single Pixel tried every pixel; an adversarial lost on the re-check). A
    claim that rests on searches that mostly ran out (:data:`.claims.MAX_RAN_OUT`) cannot be
    tested: its failures measure our grid, not the network."""
    counts = search_counts(attacks)
    if counts is None:
        raise ValueError("the attack table has no ran_out record (attack_all writes it)")
    rows = {}
    for attack_id in ATTACK_IDS:
        part = counts[counts["attack"] == attack_id]
        row = {"name": get_attack(TAGHANAKI[attack_id]).paper_name}
        for variant in VARIANTS:
            cell = part[part["variant"] == variant]
            row[f"{variant} ran out"] = f"{int(cell['ran_out'].sum())}/{int(cell['n'].sum())}" if len(cell) else "n/a"
        k, n = int(part["ran_out"].sum()), int(part["n"].sum())
        row["ran out, all four [95% CI] (%)"] = wilson(k, n).fmt(percent=True) if n else "n/a"
        row["fooled"], row["failed otherwise"], row["n"] = int(part["fooled"].sum()), int(part["failed_otherwise"].sum()), n
        rows[attack_id] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("attack")


GRADIENT_IDS = ATTACK_IDS[:5]


def ladder_rungs(n_train: int, n_attack: int) -> list[tuple[int, int]]:
    """Rungs ``(training images, attacked images per network)`` toward the paper's (95,128 training
    images, 200 attacked test images, Sec. 3): networks trained on a quarter of this run's training
    images, attacked on an eighth of its attacked images; this run's networks on the same images;
    this run's networks on all its attacked images (the last two are this run's own results). An
    eighth: the trained rung costs a quarter of the training plus G1-G5 on those images (measured
    at the default preset with a quarter, 4 images per network: about 120 s of one loaded core,
    a fifth of the run; 2 images about halve its attack part)."""
    few = max(1, n_attack // 8)
    return list(dict.fromkeys([(max(8, n_train // 4), few), (n_train, few), (n_train, n_attack)]))


def paper_gradient_accuracy() -> float:
    """The paper's white-box accuracy under G1-G5, the mean of Table 1's twenty cells (four
    networks; they read 0.00-0.01)."""
    table, columns = PUBLISHED["table1_whitebox"], PUBLISHED["columns"]
    cells = [table[pool][net]["Acc"][columns.index(a)] for pool in POOLINGS.values() for net in ARCHS.values()
             for a in GRADIENT_IDS]
    return float(np.mean(cells))


def scale_ladder(runs: dict, data: ChapterData, tables: AttackTables, rungs, config: TrainConfig, irv2_depth: str,
                 nasnet_width: str, effort: str, seed: int, device,
                 nasnet_config: TrainConfig | None = None) -> pd.DataFrame:
    """The headline metric (Table 1: white-box accuracy under the gradient attacks G1-G5, pooled
    over the four networks; the paper: 0.00-0.01 on 200 images, networks trained on 95,128) at
    rungs ``(training images, attacked images)`` toward the paper's (:func:`ladder_rungs`). A rung
    with this run's training images reads this run's results on its first attacked images; a
    smaller one trains the four networks on that many training images (a stratified draw) (``train_model``: cached by
    configuration, so a second run pays nothing) and runs G1-G5 at this run's effort on the same
    test images. The paper's value is the line to reach: a gap that closes along the rungs is one
    of scale; one that stays is not."""
    params, paper = ATTACK_EFFORT[effort], paper_gradient_accuracy()
    n_run = len(next(iter(data.splits.values()))[0])
    rows = []
    for n_train, n_images in rungs:
        if n_train >= n_run:
            white = tables.attacks[(tables.attacks["setting"] == "white") & tables.attacks["attack"].isin(GRADIENT_IDS)]
            frame, networks = white[white["image"] < n_images], "this run's"
        else:
            small = ChapterData({size: (train.subset(stratified_subset(train.targets.numpy(), n_train, seed)), test)
                                 for size, (train, test) in data.splits.items()},
                                data.sizes, data.dataset)
            models = {v: r.model for v, r in train_networks(small, irv2_depth, nasnet_width, config, device,
                                                                   nasnet_config).items()}
            parts = []
            for variant, model in models.items():
                test = data.test_of(variant)
                x, y = test.float_images()[:n_images], test.targets[:n_images]
                parts += [_white_box(variant, model, x, y, a, params, seed, device)[0] for a in GRADIENT_IDS]
            frame, networks = pd.concat(parts, ignore_index=True), f"trained on {n_train}"
        acc = _accuracy(frame["label"].to_numpy(), frame["prob"].to_numpy())
        rows.append({"training images": n_train if n_train < n_run else n_run, "networks": networks,
                     "attacked images per network": int(frame.groupby("variant")["image"].nunique().max()),
                     "accuracy under G1-G5 [95% CI]": acc.fmt(2), "paper (Table 1)": f"{paper:.3f}",
                     "gap to the paper (points)": round(100 * (acc.value - paper), 1), "n": acc.n})
    return pd.DataFrame(rows)


@dataclass
class TenAttacksResults:
    """What the claims of :mod:`.claims` and their premises are tested on: one run of the chapter.

    Variants are the paper's row names (:data:`VARIANTS`: "IR2/MP", "NL/MP", "IR2/AP", "NL/AP"),
    attacks its ids G1..D3 (:data:`ATTACK_IDS`), settings "white" and "black"."""

    #: one row per attacked image: variant (the network that classifies), source (the network that
    #: crafted the image: the variant itself for white-box), setting ("white", "black"), attack
    #: (G1..D3), image, label, prob (P(finding) of the classifying network), success
    #: (misclassified), clean_correct, l2, linf, ssim (of the adversarial against the clean image;
    #: NaN where the attack failed), ran_out (white-box: the search ran out of its grid or
    #: iterations without an adversarial, :attr:`~medadv_lib.attacks.AttackResult.exhausted`;
    #: False for black-box rows; the convergence premises read it)
    attacks: pd.DataFrame
    #: the attacked images, clean: variant, image, label, prob
    clean: pd.DataFrame
    #: the attacks' model queries, white-box: variant, attack, model_calls (batched forward calls),
    #: model_inputs (the inputs those calls evaluated: the queries), images
    calls: pd.DataFrame
    #: each network's clean ROC AUC on its whole test split as an
    #: :class:`~medadv_lib.metrics.uncertainty.Estimate` (:func:`clean_table`; the stand-in premise
    #: reads it); empty: the premise reads the AUC on the attacked images (``clean``: fewer images,
    #: a wider interval)
    test_auc: dict = field(default_factory=dict)
    #: each network's clean predictions on its whole test split (:func:`test_predictions`): variant,
    #: image, label, prob; the clean-accuracy claim reads it (Table 1's Clean column is measured on
    #: the test split); None: that claim reads ``clean`` (the attacked images only)
    test_predictions: pd.DataFrame | None = None
    #: the positive control (:func:`positive_control`), one row per network (the index): PGD at the
    #: median minimal L-inf size, ``PGD fooled`` of ``n`` images correct when clean; the premise
    #: :data:`medadv_lib.verdicts.claims.POSITIVE_CONTROL` reads it; None: no control was run
    control: pd.DataFrame | None = None
    #: S1 white-box on NL/AP on every image it attacked (:attr:`AttackTables.s1_nl_ap`, the
    #: ``attacks`` columns): what "S1 completely fails against NL/AP" and its convergence premise
    #: read; None: they read the S1 rows of ``attacks``
    s1_nl_ap: pd.DataFrame | None = None


def claim_results(tables: AttackTables, clean_test: pd.DataFrame | None = None,
                  control: pd.DataFrame | None = None, predictions: pd.DataFrame | None = None) -> TenAttacksResults:
    """The results the claims of :mod:`.claims` are tested on: ``clean_test``, the networks'
    :func:`clean_table` on their whole test splits (whose AUCs the stand-in premise reads);
    ``control``, :func:`positive_control`; ``predictions``, :func:`test_predictions` (what the
    clean-accuracy claim reads)."""
    return TenAttacksResults(attacks=tables.attacks, clean=tables.clean, calls=tables.calls,
                             test_auc=dict(clean_test.attrs["auc"]) if clean_test is not None else {},
                             test_predictions=predictions, control=control,
                             s1_nl_ap=getattr(tables, "s1_nl_ap", None))


def headline(attacks: pd.DataFrame) -> str:
    white = attacks[(attacks["setting"] == "white") & attacks["clean_correct"]]
    gradient = white[white["attack"].isin(GRADIENT_IDS)]
    other = white[~white["attack"].isin(GRADIENT_IDS)]
    n = attacks.groupby("variant")["image"].nunique().min()
    return (f"white-box success of the gradient attacks {100 * gradient['success'].mean():.0f} %, of the score and "
            f"decision attacks {100 * other['success'].mean():.0f} % ({n} images per network; paper: accuracy 0.00-0.01 "
            "under G1-G5)")
