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
# # The robustness matrix: every model of the collection, every attack
#
# **This chapter is not from a paper.** Each of the four papers attacked its own models with its
# own attacks and settings, so a reader cannot compare across them: is the fundus grader more
# fragile than the chest X-ray classifiers? Does average pooling help against every attack, or
# only against Taghanaki's? Here every model the other chapters train is attacked by every
# fixed-budget attack of the collection's one registry (`medadv attacks`) that applies to its
# task, at one shared set of budgets on the [0, 1] pixel scale:
#
# - the chest X-ray classifiers: COVID-Net Small and Large (3 classes, Hirano et al.), and
#   Inception-ResNet-v2 and NASNet with max and average pooling (one sigmoid output, Taghanaki et al.);
# - the fundus grader (5 grades) and the CT U-Net (segmentation) of Qi et al.;
# - the clean 14-finding DenseNet of Nwadike et al. (multi-label).
#
# The attacks: FGSM, BIM, PGD, DeepFool (classifiers), APGD with cross-entropy and with a margin
# loss that is defined for 2 and 3 classes and for multi-label models (where AutoAttack's DLR loss
# is not), SMIA (classifiers and the U-Net), DAG (the U-Net), each at L-inf budgets from 0.5/255 to
# 8/255 and at L2 budgets; a random-noise control of the same norm; a universal perturbation
# (Hirano et al.'s UAP) at one budget; and PGD's inputs transferred between the models of one
# chapter. The **worst case** of an input is robust only when it survives every attack at that
# budget.
#
# An input counts as **robust** when the model still handles it correctly after the attack
# (classified correctly; no finding flipped; for a U-Net, most of its foreground right: a Jaccard
# index of at least 0.5 between the predicted and the true lesion or organ, since a small lesion
# can be missed while nearly every pixel stays right), so an input the model gets wrong clean is
# never robust. Every number is a share of the attacked inputs with its 95 % Wilson
# interval and n. The checks at the end are AutoAttack's flags (Croce and Hein 2020) and the
# sanity checks of an adversarial evaluation (Carlini et al. 2019, "On Evaluating Adversarial
# Robustness", Sec. 5): they test the *evaluation* as much as the models.
#
# **Models and data.** The matrix trains nothing of its own: it builds each chapter's models with
# that chapter's parameters at the same preset, so their checkpoints come from the shared cache
# (after `medadv book`, or after the chapters ran). The inputs are the first `n_inputs` test
# images of each chapter's data, named in the banner below. With `-p dataset NAME` (a real
# dataset of the book) the matrix attacks the models that the chapters running on that dataset
# train there, on its test images.

# %% tags=["parameters", "hide-input"]
preset = "default"
seed = 0
device = "auto"
dataset = "synthetic"
data_root = ""
chapters = ["uap-covidnet", "ten-attacks", "smia", "backdoor"]
n_inputs = 32
linf_budgets = [0.5, 2.0, 8.0]
l2_budgets = [1.0]
heat_budget = 2.0
steps = 10
restarts = 1
uap_zeta = 0.02
uap_images = 64
uap_passes = 2
batch_size = 32

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from medadv_lib.evaluation.flags import flags_frame
from medadv_lib.verdicts import check_claims, claims_report, format_claims
from medadv_lib.papers import run_fidelity
from medadv_lib.papers.robustness_matrix import experiment as ex
from medadv_lib.papers.robustness_matrix import figures
from medadv_lib.papers.robustness_matrix.claims import CLAIMS
from medadv_lib.verdicts import data_banner
from medadv_lib.utils import resolve_device

fidelity = run_fidelity("robustness-matrix", globals())
dev = resolve_device(device)

# %% [markdown]
# ## The models
# Each chapter's models at the `preset` of this page, with the task and the clean accuracy on the
# attacked inputs.

# %% tags=["hide-input"]
victims = ex.collection_models(chapters, preset, seed, n_inputs, uap_images, dev, dataset, data_root)
display(Markdown(data_banner(*{id(v.data): v.data for v in victims}.values(), dataset=dataset)))
budgets = ex.MatrixBudgets.from_parameters(linf_budgets, l2_budgets, heat_budget)   # on the [0, 1] scale from here on
matrix = ex.run_matrix(victims, budgets, steps=steps, restarts=restarts,
                       uap_zeta=uap_zeta, uap_passes=uap_passes, batch_size=batch_size, seed=seed, device=dev)

# %% [markdown]
# ## The heat map: robust accuracy at one budget
# Robust accuracy (%) of every model under every attack at L-inf `heat_budget`/255, with the worst
# case over the attacks, the noise control and the clean accuracy; blank where an attack does not
# apply to the model's task.

# %% tags=["hide-input"]
figures.heat_map(ex.heat_values(matrix, budgets.heat), budgets.heat)
plt.show()

# %% tags=["remove-cell"]
# NBVAL_CHECK_OUTPUT
print(f"robust accuracy (%) [95 % Wilson interval] at L-inf {heat_budget:g}/255, n inputs per model:")
print(ex.heat_table(matrix, budgets.heat).to_string())

# %% [markdown]
# ## Robust accuracy against the budget, and the worst case
# One panel per model: each attack (thin), the noise control (dashed), the worst case (thick) and
# the clean accuracy (dotted), against the L-inf budget. A curve that stays flat while the budget
# grows 16-fold is a warning sign (gradient masking) rather than robustness.

# %% tags=["hide-input"]
clean = {m: ex.outcomes(matrix, m, "clean").mean() for m in ex.models(matrix)}
figures.budget_curves(ex.curve_table(matrix, "Linf"), clean)
plt.show()

# %% tags=["remove-cell"]
# NBVAL_CHECK_OUTPUT
print("worst case over the attacks, robust accuracy (%) [95 % interval], L-inf:")
print(ex.worst_case_table(matrix, "Linf").to_string())
print("\nworst case, L2 (budgets on the [0, 1] scale):")
print(ex.worst_case_table(matrix, "L2").to_string())
print("\nstrongest attack per model at", f"{heat_budget:g}/255:", ex.strongest_attacks(matrix, budgets.heat))

# %% [markdown]
# ## Universal perturbation and transfer
# A UAP (Hirano et al.) fitted on `uap_images` training inputs of each classifier at L-inf
# `uap_zeta` (on the [0, 1] scale, where Hirano's zeta is relative to the images' norm) and added to
# the attacked test inputs; and PGD's inputs at the heat-map budget crafted on one model and
# scored by each other model of the same chapter (same inputs): a black-box transfer.

# %% tags=["remove-cell"]
# NBVAL_CHECK_OUTPUT
print(ex.other_settings_table(matrix).to_string())

# %% [markdown]
# ## Signs of gradient masking
# Per model at the largest budget: a flat curve (the worst case within 5 points of the clean
# accuracy), FGSM stronger than PGD, noise as strong as the attacks. A flagged model is possibly
# gradient-masked, not robust.

# %% tags=["hide-input"]
ex.masking_flags(matrix, budgets)

# %% [markdown]
# ## AutoAttack's flags
# Per model, the traps AutoAttack's `checks.py` warns of (Croce and Hein 2020;
# `medadv_lib.evaluation.flags`, the same flags as on every evaluation page), each raised or not
# with its evidence: **randomness** (two forward passes differ), **probability outputs** (outputs
# in [0, 1], rows summing to 1 for a softmax), **zero gradients** (inputs a gradient attack cannot
# move), probed on the attacked inputs, and the **control beats white-box** (the noise control or
# PGD transferred from another model leaving fewer inputs robust than every white-box attack
# together, at some L-inf budget). A raised flag means that model's white-box numbers overestimate
# its robustness.

# %% tags=["hide-input"]
flags = ex.autoattack_flags(victims, matrix, dev)
display(flags_frame(flags))

# %% tags=["remove-cell"]
# NBVAL_CHECK_OUTPUT
print(flags_frame(flags).map(lambda cell: cell.split(":")[0]).to_string())

# %% [markdown]
# ## Claims checked
# The sanity checks of the evaluation, per model with paired 95 % intervals on the same inputs
# (`medadv_lib.papers.robustness_matrix.claims`): *inconclusive* when our sample cannot decide. No
# paper makes them, so the paper's column reads "not a paper's claim".

# %% tags=["hide-input"]
checked = check_claims(CLAIMS, ex.claim_results(matrix, budgets), fidelity=fidelity)
claims_report(checked, "robustness-matrix", dataset, headline=ex.headline(matrix, budgets.heat), preset=preset)

# %% tags=["remove-cell"]
# NBVAL_CHECK_OUTPUT
print(format_claims(checked))

# %% [markdown]
# ## What this page shows and what it does not
# The models are the small CPU models of the chapters at this page's preset, trained on the data
# named in the banner: their robustness is theirs, not that of the papers' networks. The attacks
# use `steps` iterations and `restarts` APGD restarts; the paper preset uses 100 steps, 4
# restarts and 200 inputs per model. Run time per attack is in the `seconds` column of
# `matrix` for anyone re-running this page.
