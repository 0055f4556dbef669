# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Universal adversarial perturbations against COVID-Net
#
# Hirano, Koga, Takemoto, *Vulnerability of deep neural networks for detecting COVID-19 cases
# from chest X-ray images to universal adversarial attacks* (PLoS ONE 15(12): e0243963, 2020;
# arXiv:2005.11061).
#
# **Question.** Can one small, image-agnostic perturbation $v$ (a *universal adversarial
# perturbation*, UAP) make COVID-Net misdiagnose most chest radiographs (nontargeted), or send them
# to a class of the attacker's choice (targeted)?
#
# **Method (Sec. 2.2).** The iterative algorithm of Moosavi-Dezfooli et al. (2017) with an FGSM
# inner step: in each of at most $i_{max}$ passes over the images, in random order, an image that
# is not yet fooled (nontargeted) or not yet at the target (targeted) gets one FGSM step of
# strength 0.001 from $x + v$; the update is kept only if that step fools it (or reaches the
# target), and $v$ is projected back onto the $L_p$ ball of radius $\xi$ ($p = 2$ or $\infty$).
# The radius is set by $\zeta$, the ratio of $\|v\|_p$ to the mean $\|x\|_p$ of the images
# ($\zeta$ = 1 % and 2 %). Random controls: uniform on the $L_2$ sphere of the same radius, or
# uniform in $[-\xi, \xi]$ per pixel. **Metrics (Sec. 2.3):** the fooling rate $R_f$, the share of
# perturbed images *not classified as their true label*, and the targeted success rate $R_s$,
# the share classified as the target. **Retraining (Sec. 2.4):** fine-tune with UAP-perturbed
# images, compute a new UAP, repeat.
#
# **What is ours and what is not.**
# * *COVID-Net is a reconstruction.* Its architecture code was never published (it came out of a
#   generative-synthesis tool). `medadv_lib.models.covidnet` rebuilds COVIDNet-CXR Small and Large
#   from the COVID-Net paper (PEPX modules, dense stages, Large's extra 1x1 shortcuts, three fully
#   connected layers); a `width` knob shrinks it so it trains on a CPU in a minute.
# * *No pretrained weights, no COVIDx* in the embedded default: the models are trained here from
#   scratch on the library's synthetic three-class radiographs (see the banner below). Pass
#   `data_root` to run on real COVIDx.
# * *UAP engine.* `medadv_lib.attacks.uap.universal_perturbation` follows ART's
#   `UniversalPerturbation`, which the paper's code used. Its `exact` mode (the paper preset)
#   returns ART's perturbation bit for bit on the CPU. Its `batched` mode, used by the default
#   preset, lets a mini-batch share $v$; it is about 10x faster, and its fooling rates land
#   within 3 points of ART's (README, benchmarks).
#   The default preset computes UAPs on a subset of the training images (`uap_images`) with
#   fewer passes than the paper's $i_{max} = 15$ (`max_passes`).

# %% tags=["parameters"]
preset = "default"
seed = 0
device = "auto"
data_root = ""
image_size = 64
n_train = 1800
n_test = 300
imbalance = False
width = 0.125
epochs = 16
batch_size = 32
lr = 0.001
zetas = [0.01, 0.02]
norms = ["2", "inf"]
uap_images = 200
uap_mode = "batched"
max_passes = 8
fgsm_strength = 0.001
retrain_models = ["Small"]
retrain_target = "none"
retrain_norm = "2"
retrain_zeta = 0.02
retrain_rounds = 3
retrain_uaps = 2
retrain_epochs = 2
retrain_control = True

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown, display

from medadv_lib.attacks.uap import (adversarial_retraining, mean_image_norm, rate_table, uap_radius,
                                    uap_rate, uap_sweep)
from medadv_lib.data.covidx import covidx_splits
from medadv_lib.metrics.classification import accuracy, confusion_matrix
from medadv_lib.models import count_parameters
from medadv_lib.papers.uap_covidnet import (CLASSES, PAPER_ABSTRACT_BOUNDS, PAPER_NOTE, PAPER_SETTINGS,
                                            paper_table1, paper_targeted_table)
from medadv_lib.plotting.uap import plot_confusion_matrices, plot_retraining, plot_uaps
from medadv_lib.reporting import Claim, claims_table, data_banner, format_claims, side_by_side
from medadv_lib.training import TrainConfig, predict, train_model
from medadv_lib.utils import resolve_device

pd.set_option("display.precision", 3)
device = resolve_device(device)
if image_size % 32:
    raise ValueError(f"image_size must be a multiple of 32 (COVID-Net pools five times), got {image_size}")
if not data_root and (n_train == 0 or n_test == 0):
    raise ValueError("n_train = 0 / n_test = 0 (whole split) needs real data: set data_root")
if retrain_target != "none" and retrain_target not in CLASSES:
    raise ValueError(f"retrain_target must be 'none' or one of {CLASSES}, got {retrain_target!r}")
bad_models = [m for m in retrain_models if m not in ("Small", "Large")]
if bad_models:
    raise ValueError(f"retrain_models: {bad_models} not in ['Small', 'Large']")
zetas, norms = sorted(zetas), list(dict.fromkeys(norms))
top_zeta = zetas[-1]
MODELS = {"Small": "covidnet-small", "Large": "covidnet-large"}
model_kwargs = {"num_classes": 3, "in_channels": 1, "width": width, "image_size": image_size}
uap_kwargs = {"mode": uap_mode, "max_passes": max_passes, "eps_step": fgsm_strength}

# %% [markdown]
# ## Data
# The three classes of COVIDx (normal, non-COVID pneumonia, COVID-19). Synthetic by default: the
# classes overlap on purpose (mild cases, confounding opacities), so that a classifier is clearly
# above chance but not perfect. COVID-Net's preprocessing (top sixth cropped, resized, scaled to
# [0, 1], no mean/std normalisation) applies to real images. The UAPs are computed on the first
# `uap_images` training images ("train" in the tables) and tested on the test images.

# %%
train, test = covidx_splits(data_root, image_size, n_train, n_test, seed, imbalance)
uap_set = train.subset(np.arange(min(uap_images, len(train)) if uap_images else len(train)))
display(Markdown(data_banner(train, test)))
counts = pd.DataFrame({name: np.bincount(d.targets.numpy(), minlength=3) for name, d in
                       [("train", train), ("UAP images", uap_set), ("test", test)]}, index=list(CLASSES))
counts

# %% [markdown]
# ## The two COVID-Nets
# Both are trained by the project's one trainer (cached by configuration): Adam, class weights,
# COVID-Net-style augmentation (small shifts and flips), batch-norm statistics recalibrated after
# every epoch. The paper used the authors' pretrained COVIDNet-CXR Small and Large.

# %%
config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, augment=True, class_weighted=True, seed=seed)
runs = {name: train_model(registry_name, model_kwargs, train, config, device=device, test=test)
        for name, registry_name in MODELS.items()}
models = {name: run.model for name, run in runs.items()}
clean_pred = {name: {split: predict(model, d.float_images(), device=device).argmax(1)
                     for split, d in [("train", uap_set), ("test", test)]} for name, model in models.items()}
accuracies = pd.DataFrame({name: {"parameters": count_parameters(model),
                                  "train accuracy (UAP images)": accuracy(clean_pred[name]["train"], uap_set.targets),
                                  "test accuracy": accuracy(clean_pred[name]["test"], test.targets)}
                           for name, model in models.items()}).T
accuracies

# %%
# NBVAL_CHECK_OUTPUT
print(f"clean accuracy at {image_size} px, width {width} (chance 0.333):")
print(accuracies[["train accuracy (UAP images)", "test accuracy"]].round(3).to_string())

# %% [markdown]
# ## The UAP budget
# $\xi = \zeta \times$ the mean norm of the UAP images, per channel as in the paper's code (which
# projected one gray channel). The paper's mean norms were on 224 x 224 images in the 0-255 scale;
# the $L_\infty$ radii compare directly, the $L_2$ radii grow with the image side.

# %%
images = uap_set.float_images()
budget = pd.DataFrame([{"norm": f"L{p}", "mean image norm (ours, 0-255)": 255 * mean_image_norm(images, p),
                        "mean image norm (paper, 0-255)": PAPER_SETTINGS["mean image norm (0-255 scale)"][f"L{p}"],
                        **{f"xi at {z:.0%} (ours, 0-255)": 255 * uap_radius(images, z, p) for z in zetas}}
                       for p in norms]).set_index("norm")
budget

# %% [markdown]
# ## Table 1: nontargeted UAPs
# $R_f$ (%) on the UAP images ("train") and the test images; the random control of the same norm
# in brackets.

# %%
nontargeted, nontargeted_uaps = uap_sweep(models, uap_set, {"train": uap_set, "test": test}, norms, zetas,
                                          seed=seed, device=device, **uap_kwargs)
table1 = rate_table(nontargeted)
print(PAPER_NOTE)
side_by_side(paper_table1(list(MODELS), norms, zetas), table1)

# %%
# NBVAL_CHECK_OUTPUT
print("Table 1 (ours): R_f % (random control)")
print(table1.to_string())

# %% [markdown]
# ## Figure 1: where the nontargeted UAPs send the test images
# Confusion matrices on the test images, clean and with the nontargeted UAP at the largest
# $\zeta$ (rows: true class, columns: predicted class).

# %%
def predictions(model_name, v):
    return uap_rate(models[model_name], test, v, device=device)[1]


fig1 = {}
for name in MODELS:
    fig1[f"{name}, clean"] = confusion_matrix(test.targets, clean_pred[name]["test"], 3)
    for p in norms:
        uap = nontargeted_uaps[(name, p, top_zeta, None)].perturbation
        fig1[f"{name}, L{p} UAP, zeta {top_zeta:.0%}"] = confusion_matrix(test.targets, predictions(name, uap), 3)
fig = plot_confusion_matrices(fig1, CLASSES, columns=1 + len(norms))
plt.show()
to_covid = {key: float(m[:, CLASSES.index("COVID-19")].sum() / m.sum()) for key, m in fig1.items()}

# %%
# NBVAL_CHECK_OUTPUT
print("share of test images predicted COVID-19:")
print("\n".join(f"  {key}: {share:.3f}" for key, share in to_covid.items()))

# %% [markdown]
# ## Figure 2: the nontargeted UAPs and an adversarial image
# Each UAP scaled to [0, 1] for display (top) and added to one test image, with the model's label
# (bottom; the image is clipped to [0, 1] for display only).

# %%
shown = test.subset([0])
shown_image = shown.float_images()[0]
for name in MODELS:
    keys = {f"{name}, L{p}, {top_zeta:.0%}": nontargeted_uaps[(name, p, top_zeta, None)].perturbation for p in norms}
    labels = {k: CLASSES[int(predictions(name, v)[0])] for k, v in keys.items()}
    fig = plot_uaps(keys, shown_image, f"{CLASSES[int(clean_pred[name]['test'][0])]} (true: "
                    f"{CLASSES[int(shown.targets[0])]})", labels)
    plt.show()

# %% [markdown]
# ## Tables 2 and 3: targeted UAPs
# $R_s$ (%) per target class, one table per model, random control in brackets.

# %%
targeted, targeted_uaps = uap_sweep(models, uap_set, {"train": uap_set, "test": test}, norms, zetas,
                                    targets=range(len(CLASSES)), seed=seed, device=device, **uap_kwargs)
targeted["target"] = targeted["target"].map(lambda t: CLASSES[t])
targeted_tables = {name: rate_table(targeted[targeted["model"] == name], ("norm", "zeta", "target"))
                   for name in MODELS}
paper_targeted = paper_targeted_table(list(MODELS), norms, zetas, CLASSES)
for number, name in zip((2, 3), MODELS):
    display(Markdown(f"**Table {number}: COVIDNet-CXR {name}** (paper beside ours)"))
    display(side_by_side(paper_targeted.loc[name], targeted_tables[name]))

# %%
# NBVAL_CHECK_OUTPUT
for number, name in zip((2, 3), MODELS):
    print(f"Table {number} (ours, {name}): R_s % (random control)")
    print(targeted_tables[name].to_string())

# %% [markdown]
# ## Figures 3 and 4: targeted UAPs
# Confusion matrices on the test images under the targeted UAP for each target ($L_{p}$ with the
# first norm, largest $\zeta$), and the UAPs with the labels they produce on one image.

# %%
norm_shown = norms[0]
fig3 = {f"{name}, target {CLASSES[t]}": confusion_matrix(
            test.targets, predictions(name, targeted_uaps[(name, norm_shown, top_zeta, t)].perturbation), 3)
        for name in MODELS for t in range(len(CLASSES))}
fig = plot_confusion_matrices(fig3, CLASSES, columns=len(CLASSES))
plt.show()
for name in MODELS:
    keys = {f"{name} → {CLASSES[t]}": targeted_uaps[(name, norm_shown, top_zeta, t)].perturbation
            for t in range(len(CLASSES))}
    labels = {k: CLASSES[int(predictions(name, v)[0])] for k, v in keys.items()}
    fig = plot_uaps(keys, shown_image, CLASSES[int(clean_pred[name]["test"][0])], labels)
    plt.show()

# %% [markdown]
# ## Figure 5: adversarial retraining (Sec. 2.4)
# Each round computes `retrain_uaps` UAPs on the UAP images, adds a randomly chosen one to a random
# half of the training images (labels unchanged), fine-tunes for `retrain_epochs` epochs, and then
# computes a fresh UAP against the fine-tuned model. Round 0 is the model before fine-tuning. The
# paper: 5 rounds of 10 UAPs and 5 epochs.
#
# **The control (ours, not in the paper).** The paper fine-tuned converged, pretrained COVID-Nets.
# Ours are trained for a few minutes and are still learning, so every fine-tuning epoch is also
# ordinary extra training. With `retrain_control` on, the same rounds and epochs are also run on
# the *clean* training images and evaluated the same way, with a fresh UAP each round. Only the
# part of the drop in the UAP's rate that the control does not show can be credited to the
# UAP-perturbed images.

# %%
retrain_target_index = None if retrain_target == "none" else CLASSES.index(retrain_target)
retrain_config = TrainConfig(epochs=retrain_epochs, batch_size=batch_size, lr=lr, augment=True,
                             class_weighted=True, seed=seed)
arms = {"UAP-augmented": True, **({"clean control": False} if retrain_control else {})}
retraining_rows, retrained = [], {}
for name in retrain_models:
    xi = uap_radius(uap_set.float_images(), retrain_zeta, retrain_norm)
    for arm, uap_augmented in arms.items():
        history, model = adversarial_retraining(
            MODELS[name], model_kwargs, runs[name].model.state_dict(), train, test, retrain_config, xi=xi,
            norm=retrain_norm, target=retrain_target_index, rounds=retrain_rounds, uaps_per_round=retrain_uaps,
            uap_kwargs=uap_kwargs, uap_data=uap_set, uap_augmented=uap_augmented, seed=seed, device=device)
        if uap_augmented:
            retrained[name] = model
        retraining_rows += [{"model": name, "arm": arm, "round": h.round, "rate": h.rate,
                             "clean_accuracy": h.clean_accuracy} for h in history]
retraining = pd.DataFrame(retraining_rows)
rate_name = "R_f" if retrain_target == "none" else f"R_s ({retrain_target})"
fig = plot_retraining(retraining.assign(model=retraining["model"] + ", " + retraining["arm"]), rate_name)
plt.show()
after = {name: confusion_matrix(test.targets, uap_rate(model, test, None, device=device)[1], 3)
         for name, model in retrained.items()}
fig = plot_confusion_matrices({f"{name} after round {retrain_rounds}, clean": m for name, m in after.items()},
                              CLASSES)
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
print(f"adversarial retraining ({rate_name} of a new L{retrain_norm} UAP at zeta {retrain_zeta:.0%} on the "
      "test images; clean test accuracy)")
print(retraining.round(3).to_string(index=False))

# %% [markdown]
# ## Claims checked
# Each claim of the paper is tested on this run's numbers with the threshold stated in it.

# %%
test_rows = nontargeted[nontargeted["split"] == "test"].set_index(["model", "norm", "zeta"])
low_zeta = zetas[0]
pairs = [(m, f"L{p}") for m in MODELS for p in norms]
rf_top = {k: test_rows.loc[(*k, top_zeta), "rate"] for k in pairs}
rf_low = {k: test_rows.loc[(*k, low_zeta), "rate"] for k in pairs}
rf_rand = {k: test_rows.loc[(*k, top_zeta), "random_rate"] for k in pairs}
targeted_test = targeted[(targeted["split"] == "test") & (targeted["zeta"] == top_zeta)]
covid_shares = [to_covid[f"{m}, L{p} UAP, zeta {top_zeta:.0%}"] for m in MODELS for p in norms]
augmented = retraining[retraining["arm"] == "UAP-augmented"]
first = augmented.groupby("model").first()
last = augmented.groupby("model").last()
control_last = retraining[retraining["arm"] == "clean control"].groupby("model").last()
fmt = lambda d: ", ".join(f"{m} {p} {v:.3f}" for (m, p), v in d.items())  # noqa: E731
claims = [
    Claim(f"R_f grows with the UAP's size (here: R_f at zeta {top_zeta:.0%} > at {low_zeta:.0%}, every "
          "model and norm, test images)", bool(all(rf_top[k] > rf_low[k] for k in pairs)) if len(zetas) > 1 else None,
          f"{top_zeta:.0%}: {fmt(rf_top)}; {low_zeta:.0%}: {fmt(rf_low)}"),
    Claim("UAPs fool far more than random noise of the same norm (here: R_f at least twice the random "
          "control and 0.2 above it, every model and norm)",
          bool(all(rf_top[k] >= 2 * rf_rand[k] and rf_top[k] >= rf_rand[k] + 0.2 for k in pairs)),
          f"UAP: {fmt(rf_top)}; random: {fmt(rf_rand)}"),
    Claim(f"Nontargeted UAPs at zeta 2 % reach R_f > 85 % (abstract; here at zeta {top_zeta:.0%}, every "
          "model and norm)", bool(all(v > PAPER_ABSTRACT_BOUNDS["nontargeted R_f at zeta 2%"] for v in rf_top.values())),
          fmt(rf_top)),
    Claim("Nontargeted UAPs make the models classify most images as COVID-19 (here: > 50 % of the test "
          "images predicted COVID-19, every model and norm)", bool(all(s > 0.5 for s in covid_shares)),
          "shares: " + ", ".join(f"{s:.3f}" for s in covid_shares)),
    Claim(f"Targeted UAPs at zeta 2 % reach R_s > 90 % for every target (abstract; here at zeta "
          f"{top_zeta:.0%}, test images)", bool((targeted_test["rate"] > PAPER_ABSTRACT_BOUNDS["targeted R_s at zeta 2%"]).all()),
          f"min {targeted_test['rate'].min():.3f}, mean {targeted_test['rate'].mean():.3f}"),
    Claim("Adversarial retraining lowers the UAP's rate while clean accuracy holds (here: last round at "
          "least 0.1 below round 0, clean accuracy down by at most 0.05, every retrained model)",
          bool(((first["rate"] - last["rate"] >= 0.1) & (first["clean_accuracy"] - last["clean_accuracy"] <= 0.05)).all())
          if retrain_rounds > 0 else None,
          "; ".join(f"{m}: rate {first.loc[m, 'rate']:.3f} -> {last.loc[m, 'rate']:.3f}, accuracy "
                    f"{first.loc[m, 'clean_accuracy']:.3f} -> {last.loc[m, 'clean_accuracy']:.3f}" for m in first.index)),
    Claim("The drop comes from the UAP-perturbed images, not from extra training (ours, the control: here "
          "the last round's rate at least 0.05 below that of clean fine-tuning with the same schedule, every "
          "retrained model)",
          bool((control_last["rate"] - last["rate"] >= 0.05).all()) if retrain_rounds > 0 and len(control_last) else None,
          "; ".join(f"{m}: last round {last.loc[m, 'rate']:.3f} (UAP-augmented) vs {control_last.loc[m, 'rate']:.3f} "
                    f"(clean control)" for m in control_last.index) or "control not run"),
]
claims_table(claims)

# %%
# NBVAL_CHECK_OUTPUT
print(format_claims(claims))

# %% [markdown]
# **Reading the verdicts.** On the embedded default these verdicts test whether the paper's
# *method and claims* carry over to small COVID-Net reconstructions trained from scratch on
# synthetic radiographs; they are not the paper's results reproduced, and the paper's numbers
# beside ours are only the bounds its abstract states. Our models are far weaker than the
# pretrained COVID-Nets of the paper (see the accuracy table), and a weak model is fooled
# differently: where a claim does not hold here, that is a finding about this setting, not a
# tuning target.
