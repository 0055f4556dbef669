"""``medadv evaluate``: one page for *your* model on one dataset (``notebooks/evaluate.py``).

:data:`SPEC` is the page's :class:`~medadv_lib.specs.PaperSpec`: the same parameter checks as
``medadv run`` (names, types, ranges, the dataset's folder), then :func:`validate` loads the data and
the model and refuses, before the kernel starts and before any attack, a model that cannot be
evaluated there (:mod:`medadv_lib.evaluation.user_models`: a missing or unreadable file, a state dict of
another architecture, outputs that do not fit the dataset, the wrong input channels, images outside
the model's range, a model whose two forward passes differ or whose outputs are a softmax), as a :class:`~medadv_lib.specs.ParameterError` (exit 2). The page is not a
chapter of the book: ``medadv book --evaluate FILE`` adds it (FILE: YAML of these parameters).

The run is named ``evaluate-<model file stem>--<dataset>``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..specs import REPO_ROOT, PaperSpec, ParameterError, Rule, require
from ..specs.budgets import budgets_in_order

__all__ = ["SPEC", "EvaluateSpec", "Prepared", "prepare", "validate", "REAL_DATASETS"]

#: The datasets a user's model can be evaluated on (the real datasets of the registry).
REAL_DATASETS = ("nih-cxr14", "kermany", "covidx", "retinamnist", "pneumoniamnist", "covid-ct-infection")
_ARCH = re.compile(r"^(timm|torchvision|medadv|xrv):[A-Za-z0-9_.\-]+$")


@dataclass(frozen=True)
class EvaluateSpec(PaperSpec):
    def run_name(self, parameters: dict) -> str:
        stem = re.sub(r"[^A-Za-z0-9_.]+", "-", Path(str(parameters.get("model_file", "model"))).stem) or "model"
        return f"{self.name}-{stem}--{parameters.get('dataset', 'dataset')}"


@dataclass
class Prepared:
    """What the page evaluates: the wrapped model, its inputs, the task and the data."""

    loaded: object          # medadv_lib.evaluation.user_models.LoadedModel
    images: object
    labels: object
    task: str
    data: object            # the test split (for the data banner)
    name: str


def prepare(p: dict, device="cpu") -> Prepared:
    """Load the first ``n_inputs`` test images of the dataset and the user's model, and check them
    together (:func:`medadv_lib.evaluation.user_models.check_model`); raises ModelInputError."""
    from ..data.registry import get_dataset
    from .user_models import check_model, load_model

    dataset = get_dataset(p["dataset"])
    _, test = dataset.load(p["data_root"], p["image_size"], 1, p["n_inputs"], p["seed"])
    images, labels = test.float_images()[:p["n_inputs"]], test.targets[:p["n_inputs"]]
    if dataset.task == "multilabel":
        labels = labels.float()
    loaded = load_model(p["model_file"], p["arch"], task=dataset.task, classes=list(test.class_names),
                        channels=int(images.shape[1]), normalize=p["normalize"], options=p["arch_options"])
    check_model(loaded, images, labels, dataset.task, device)
    name = p["name"] or Path(p["model_file"]).stem
    return Prepared(loaded, images, labels, dataset.task, test, name)


def validate(p: dict) -> None:
    """Cheap checks first, then the model loaded and probed on the data: every refusal before the kernel."""
    require(p["dataset"] in REAL_DATASETS, f"dataset {p['dataset']!r}: evaluate runs on a real dataset, one of "
                                           f"{list(REAL_DATASETS)} (with data_root or --data-dir)")
    require(bool(p["model_file"]), "model_file is required: your weights file (a state dict or TorchScript)")
    require(Path(str(p["model_file"])).expanduser().is_file(), f"model file not found: {p['model_file']} "
                                                                "(nothing is downloaded: save your weights there)")
    require(bool(_ARCH.match(str(p["arch"]))), f"arch {p['arch']!r}: expected SOURCE:NAME with SOURCE timm, "
                                                "torchvision, medadv or xrv (e.g. xrv:densenet121)")
    require(not p["eps"] or budgets_in_order(p["eps"], upper=1.0),
            f"eps {p['eps']}: budgets in (0, 1] (on the [0, 1] scale, e.g. 2/255), in increasing order")
    from ..attacks import attack_names

    applicable = attack_names(kind="budget", norm=p["threat_model"])
    unknown = [a for a in p["attacks"] if a not in applicable or a == "noise"]
    require(not unknown, f"attack(s) {unknown} are not fixed-budget attacks at {p['threat_model']}; "
                         f"choose from {[a for a in applicable if a != 'noise']} (noise always runs)")
    try:
        prepared = prepare(p)
    except ValueError as exc:           # ModelInputError, DataFileError and the loaders' own checks
        raise ParameterError(str(exc)) from None
    applicable = attack_names(task=prepared.task, kind="budget", norm=p["threat_model"])
    bad = [a for a in p["attacks"] if a not in applicable]
    require(not bad, f"attack(s) {bad} do not apply to a {prepared.task} model; "
                     f"applicable: {[a for a in applicable if a != 'noise']}")


SPEC = EvaluateSpec(
    name="evaluate",
    title="Attack your own model",
    citation=("Your model under the collection's attacks; the sanity checks after N. Carlini et al., On "
              "Evaluating Adversarial Robustness, arXiv:1902.06705, 2019; torchxrayvision models: J. P. Cohen "
              "et al., TorchXRayVision: A library of chest X-ray datasets and models, MIDL 2022."),
    source=REPO_ROOT / "notebooks" / "evaluate.py",
    expected_seconds={"smoke": 40, "default": 120, "paper": 1000},
    presets={"smoke": {"n_inputs": 8, "steps": 3}, "default": {},
             "paper": {"n_inputs": 200, "steps": 100, "restarts": 4}},
    validate=validate,
    datasets=REAL_DATASETS,
    rules={
        "model_file": Rule(path=True, doc="your weights: a state dict or a TorchScript file"),
        "arch": Rule(doc="timm:NAME, torchvision:NAME, medadv:NAME, xrv:densenet121 or xrv:WEIGHTS "
                         "(a name of torchxrayvision's model_urls, e.g. xrv:densenet121-res224-all)"),
        "arch_options": Rule(doc="keyword arguments of the architecture's builder, e.g. {width: 0.25}"),
        "about": Rule(doc="a sentence on where the model comes from, shown under the model banner"),
        "normalize": Rule(choices=("none", "imagenet"), doc="normalisation inside the model (torchvision/timm)"),
        "threat_model": Rule(choices=("Linf", "L2"), doc="the norm of the budgets"),
        "eps": Rule(min=0, budgets=True, doc="budgets on the [0, 1] scale (e.g. 2/255); empty: 0.5, 2, 8/255 (L2: 0.25, 0.5, 1)"),
        "attacks": Rule(min=0, doc="registry names (medadv attacks); empty: every fixed-budget attack that applies"),
        "n_inputs": Rule(min=2, max=100000, doc="test inputs attacked (the first of the test split)"),
        "image_size": Rule(min=32, max=1024, doc="side the images are loaded at (xrv models resize to 224 inside)"),
        "steps": Rule(min=1, max=10000, doc="steps of the iterative attacks"),
        "restarts": Rule(min=1, max=100, doc="APGD restarts"),
        "batch_size": Rule(min=1, max=4096),
    },
)


def page_parameters(namespace: dict) -> dict:
    """The page's parameters from the notebook's namespace, with ``budgets``: ``eps`` on the
    [0, 1] scale (None: the default budgets of the threat model)."""
    from ..specs import notebook_parameters

    p = {k: namespace[k] for k in notebook_parameters(SPEC)}
    p["budgets"] = list(p["eps"]) or None
    return p


def model_banner(run: Prepared, about: str = "") -> str:
    """Markdown naming the model, its file, its format and what the wrapper does (its notes: for a
    torchxrayvision model with published weights, what was done with its outputs), and ``about``."""
    loaded = run.loaded
    notes = "; ".join(loaded.notes)
    return (f"**Model:** {run.name} (`{loaded.arch}`, {loaded.format} `{Path(loaded.file).name}`), a {run.task} "
            f"model with outputs {', '.join(map(str, loaded.outputs))}; {len(run.images)} test inputs of "
            f"{tuple(run.images.shape[1:])}." + (f" {notes}." if notes else "") + (f"\n\n{about}" if about else ""))
