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
# # Attack your own model
#
# **Not from a paper.** Your model, loaded from your weights file (`medadv evaluate --model FILE
# --arch ARCH`), under every fixed-budget attack of the collection's registry (`medadv attacks`)
# that applies to its task, at each budget, beside a random-noise control of the same norm: the
# robustness-matrix row of your model (`medadv_lib.evaluate`). An input counts as **robust** when
# the model still handles it correctly after the attack (classified correctly; no finding flipped
# for a multi-label model); an input it gets wrong clean is never robust. The **worst case** of an
# input is robust only when it survives every attack at that budget. Every number is a share of the
# attacked inputs with its 95 % Wilson interval and n. The checks at the end are AutoAttack's flags
# (Croce and Hein 2020) and the sanity checks of an adversarial evaluation (Carlini et al. 2019,
# "On Evaluating Adversarial Robustness", Sec. 5): they test the *evaluation* as much as the model.

# %% tags=["parameters", "hide-input"]
preset = "default"
seed = 0
device = "auto"
dataset = "nih-cxr14"
data_root = ""
model_file = ""
arch = "xrv:densenet121"
arch_options = {}
name = ""
about = ""
normalize = "none"
threat_model = "Linf"
eps = []
attacks = []
n_inputs = 32
image_size = 224
steps = 10
restarts = 1
batch_size = 16

# %% tags=["hide-input"]
from IPython.display import Markdown, display

from medadv_lib.verdicts import claims_report, format_claims
import medadv_lib
from medadv_lib.evaluation.page import page_parameters, prepare, model_banner
from medadv_lib.verdicts import data_banner
from medadv_lib.utils import resolve_device

dev = resolve_device(device)
p = page_parameters(globals())

# %% [markdown]
# ## The model and the data

# %% tags=["hide-input"]
run = prepare(p, dev)
display(Markdown(data_banner(run.data, dataset=dataset) + "\n\n" + model_banner(run, about)))

# %% tags=["hide-input"]
result = medadv_lib.evaluate(run.loaded.model, run.images, run.labels, threat_model=threat_model, eps=p["budgets"],
                             attacks=attacks or None, task=run.task, name=run.name, steps=steps, restarts=restarts,
                             batch_size=batch_size, seed=seed, device=dev, progress=True)

# %% [markdown]
# ## Robust accuracy per budget
# Clean accuracy, each attack, the worst case over the attacks and the noise control (%, [95 %
# Wilson interval]), the strongest attack at each budget, and n.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
print(result.table().to_string())

# %% [markdown]
# ## AutoAttack's flags
# The traps AutoAttack's `checks.py` warns of (Croce and Hein 2020; `medadv_lib.evaluation.flags`),
# each raised or not with its evidence: **randomness** (two forward passes differ), **probability
# outputs** (outputs in [0, 1], rows summing to 1 for a softmax: the attacks' losses read logits),
# **zero gradients** (inputs a gradient attack cannot move), probed on the first inputs before any
# attack, and the **control beats white-box** (the noise control leaving fewer inputs robust than
# every attack together: gradient masking). `medadv evaluate` refuses randomness and softmax
# outputs before any attack (exit 2, with the fix): those numbers would be wrong, not just
# doubtful. The other two are flagged here: a raised flag means the robust accuracy above
# overestimates the model's robustness.

# %% tags=["hide-input"]
display(result.flags_table())

# %% tags=["remove-cell"]
# NBVAL_CHECK_OUTPUT
print(result.flags_table()["status"].to_string())

# %% [markdown]
# ## Claims checked
# The robustness matrix's sanity checks on this model (the transfer check needs two models and is
# left out): *inconclusive* when our sample cannot decide.

# %% tags=["hide-input"]
claims_report(result.checks, "evaluate", dataset, headline=result.headline(), preset=preset)

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
print(format_claims(result.checks))

# %% [markdown]
# ## What this page shows and what it does not
# The attacks use `steps` iterations and `restarts` APGD restarts on the first `n_inputs` test
# images; a model that survives them is not proven robust (a stronger or adaptive attack may still
# break it), and a flat curve or noise as strong as the attacks is a warning sign of gradient
# masking rather than robustness.
