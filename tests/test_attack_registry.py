"""One attack interface: every registered attack on every task it applies to, the same way."""
import pytest
import torch
import torch.nn as nn

from medadv_lib.attacks import ATTACKS, TAGHANAKI, AttackResult, attack_names, run_attack

SMALL = {  # small searches, so that the whole matrix of attacks x tasks runs in seconds
    "lbfgs": {"max_iter": 5, "search_steps": 2}, "minimal-fgsm": {"steps": 10}, "blur": {"steps": 10},
    "contrast": {"steps": 10}, "gaussian-noise": {"steps": 10}, "local-search": {"R": 3},
    "single-pixel": {"max_pixels": 20}, "minimal-pgd": {"iterations": 5, "search_steps": 2},
    "minimal-bim": {"iterations": 5, "search_steps": 2}, "minimal-deepfool": {"steps": 10},
    "uap-targeted": {"target": 0, "max_passes": 2}, "uap": {"max_passes": 2}, "pgd": {"steps": 10},
    "apgd-ce": {"steps": 20}, "apgd-margin": {"steps": 20},
}


def _model(task, channels=1):
    torch.manual_seed(1)
    if task == "segmentation":
        return nn.Conv2d(channels, 2, 3, padding=1).eval()
    outputs = {"binary": 1, "multiclass": 3, "multilabel": 4}[task]
    return nn.Sequential(nn.Flatten(), nn.Linear(channels * 144, 32), nn.ReLU(), nn.Linear(32, outputs)).eval()


def _labels(model, x, task):
    """The model's own clean decisions: every input starts correct."""
    with torch.no_grad():
        out = model(x)
    return {"binary": lambda: (out[:, 0] > 0).long(), "multiclass": lambda: out.argmax(1),
            "multilabel": lambda: (out > 0).float(), "segmentation": lambda: out.argmax(1)}[task]()


CASES = [(task, name) for task in ("binary", "multiclass", "multilabel", "segmentation")
         for name in attack_names(task=task)]


@pytest.mark.parametrize("task, name", CASES, ids=[f"{t}-{n}" for t, n in CASES])
def test_every_attack_on_every_task_it_applies_to(task, name):
    channels = 3 if task == "multiclass" else 1          # colour and gray inputs
    model = _model(task, channels)
    x = torch.rand(6, channels, 12, 12, generator=torch.Generator().manual_seed(0))
    y = _labels(model, x, task)
    result = run_attack(name, model, x, y, eps=0.1, norm="Linf", batch_size=4, device="cpu", **SMALL.get(name, {}))
    assert isinstance(result, AttackResult) and result.task == task
    assert result.adversarial.shape == x.shape and result.success.shape == (6,) and result.clean_correct.all()
    assert result.adversarial.min() >= 0 and result.adversarial.max() <= 1
    assert result.model_calls >= 2 * 2 and result.seconds > 0   # two batches: a clean and an attacked call each
    if ATTACKS[name].kind != "minimal":
        assert float(result.linf.max()) <= 0.1 + 1e-5, f"{name} left its L-inf budget"
    if ATTACKS[name].kind == "universal":
        assert result.perturbation.shape == x.shape[1:] and float(result.perturbation.abs().max()) <= 0.1 + 1e-6
    assert all(p.requires_grad for p in model.parameters()), "parameters must be restored"


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
@pytest.mark.parametrize("name", ["fgsm", "pgd", "apgd-ce", "apgd-margin"])
def test_gradient_attacks_reach_zero_robust_accuracy_at_a_large_budget(task, name):
    model = _model(task)
    x = torch.rand(16, 1, 12, 12, generator=torch.Generator().manual_seed(2))
    y = _labels(model, x, task)
    result = run_attack(name, model, x, y, eps=0.5, device="cpu", **SMALL.get(name, {}))
    noise = run_attack("noise", model, x, y, eps=0.5, device="cpu")
    if name == "fgsm":       # one step: beats noise of the same size, need not reach 0
        assert result.robust_accuracy < noise.robust_accuracy
    else:
        assert result.robust_accuracy == 0.0 and noise.robust_accuracy > 0


def test_l2_budget_seed_and_universal_fit_on_one_set_apply_to_another():
    model = _model("multiclass")
    fit = torch.rand(20, 1, 12, 12, generator=torch.Generator().manual_seed(3))
    x = torch.rand(10, 1, 12, 12, generator=torch.Generator().manual_seed(4))
    y = _labels(model, x, "multiclass")
    a = run_attack("pgd", model, x, y, eps=1.0, norm="L2", device="cpu", steps=10, seed=5)
    b = run_attack("pgd", model, x, y, eps=1.0, norm="L2", device="cpu", steps=10, seed=5)
    assert torch.equal(a.adversarial, b.adversarial) and float(a.l2.max()) <= 1.0 + 1e-4
    universal = run_attack("uap", model, x, y, eps=0.2, fit_images=fit, device="cpu", max_passes=3)
    again = run_attack("uap", model, x, y, eps=0.2, fit_images=fit, device="cpu", max_passes=3)
    assert torch.equal(universal.perturbation, again.perturbation)
    assert torch.allclose(universal.adversarial, (x + universal.perturbation).clamp(0, 1))


def test_clear_errors_before_any_work():
    model = _model("multiclass")
    x, y = torch.rand(2, 1, 12, 12), torch.tensor([0, 1])
    with pytest.raises(ValueError, match="unknown attack 'nope'; registered: fgsm"):
        run_attack("nope", model, x, y, eps=0.1)
    with pytest.raises(ValueError, match="needs a budget"):
        run_attack("pgd", model, x, y)
    with pytest.raises(ValueError, match="norms"):
        run_attack("smia", model, x, y, eps=0.1, norm="L2")
    with pytest.raises(ValueError, match="applies to"):
        run_attack("dag", model, x, y, eps=0.1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        run_attack("fgsm", model, x * 3, y, eps=0.1)


def test_model_inputs_count_the_queries_a_batched_call_makes():
    """``model_calls`` counts a batched forward call once; ``model_inputs`` counts every input it
    evaluated: the queries that tell a score-based search (Local Search tries candidates in batches)
    from a gradient step (Taghanaki et al. 2018, Sec. 4: S1 "needs relatively more time")."""
    model = _model("multiclass")
    x = torch.rand(6, 1, 12, 12, generator=torch.Generator().manual_seed(0))
    y = _labels(model, x, "multiclass")
    fgsm = run_attack("fgsm", model, x, y, eps=0.1, norm="Linf", batch_size=3, device="cpu")
    # the probe on 1 input, then every call on a batch of 3 (the clean check, Foolbox's forwards,
    # the adversarial check)
    assert fgsm.model_calls >= 1 + 2 * 3 and fgsm.model_inputs == 1 + 3 * (fgsm.model_calls - 1)
    search = run_attack("local-search", model, x, y, batch_size=3, device="cpu", R=3)
    assert search.model_inputs > 5 * search.model_calls      # many candidates per batched call


def test_the_ten_attacks_of_taghanaki_are_registered_by_their_ids():
    assert list(TAGHANAKI) == ["G1", "G2", "G3", "G4", "G5", "S1", "S2", "D1", "D2", "D3"]
    assert all(ATTACKS[name].kind == "minimal" for name in TAGHANAKI.values())


# --------------------------------------------------------------------------- the typed classes

def test_hyperparameters_are_typed_keyword_only_and_checked():
    from medadv_lib.attacks import PGD, get_attack, hyperparameters

    assert get_attack("pgd") is PGD and PGD.kind == "budget"
    assert [(h.name, h.default) for h in hyperparameters("pgd")] == [
        ("steps", 40), ("rel_stepsize", None), ("abs_stepsize", None), ("random_start", True)]
    assert all(h.doc for name in ATTACKS for h in hyperparameters(name))
    with pytest.raises(TypeError, match=r"unknown hyperparameter\(s\) \['stpes'\]; valid: steps=40, rel_stepsize"):
        PGD(stpes=3)
    with pytest.raises(TypeError, match="'steps' must be int, got float 2.5"):
        PGD(steps=2.5)
    with pytest.raises(TypeError, match="'random_start' must be bool"):
        PGD(random_start="yes")
    with pytest.raises(TypeError, match="keyword only"):
        PGD(10)
    with pytest.raises(TypeError, match="must be one of"):
        get_attack("uap")(mode="fast")
    model = _model("multiclass")
    x = torch.rand(2, 1, 12, 12)
    with pytest.raises(TypeError, match=r"unknown hyperparameter\(s\) \['stpes'\]"):   # by name: before any work
        run_attack("pgd", model, x, torch.tensor([0, 1]), eps=0.1, stpes=3)
    assert PGD(rel_stepsize=1).rel_stepsize == 1.0 and isinstance(PGD(rel_stepsize=1).rel_stepsize, float)
    assert TAGHANAKI["G4"] == "minimal-bim" and get_attack("minimal-bim").paper_name == "L-inf BIM"


@pytest.mark.parametrize("name", ["pgd", "apgd-ce", "noise", "deepfool"])
def test_several_budgets_in_one_call_equal_separate_calls(name):
    model = _model("multiclass")
    x = torch.rand(6, 1, 12, 12, generator=torch.Generator().manual_seed(7))
    y = _labels(model, x, "multiclass")
    budgets = [1 / 255, 4 / 255, 0.1]
    many = run_attack(name, model, x, y, eps=budgets, device="cpu", seed=2, batch_size=4, **SMALL.get(name, {}))
    assert [r.eps for r in many] == budgets
    for eps, result in zip(budgets, many):
        alone = run_attack(name, model, x, y, eps=eps, device="cpu", seed=2, batch_size=4, **SMALL.get(name, {}))
        assert torch.equal(result.adversarial, alone.adversarial) and torch.equal(result.success, alone.success)
        assert result.model_calls == alone.model_calls


RECORDING = [("multiclass", "pgd", "Linf"), ("binary", "pgd", "Linf"), ("multiclass", "pgd", "L2"),
             ("segmentation", "pgd", "Linf"), ("multilabel", "pgd", "Linf"), ("multiclass", "bim", "Linf"),
             ("segmentation", "bim", "L2"), ("segmentation", "dag", "Linf")]


@pytest.mark.parametrize("task, name, norm", RECORDING, ids=[f"{t}-{n}-{m}" for t, n, m in RECORDING])
def test_recorded_iterates_are_the_run_stopped_after_those_steps(task, name, norm):
    """``record_steps``: the iterate after step t is bit for bit (torch.equal) the same attack's
    result with ``steps=t``, at the step size of the T-step run (PGD/BIM ``rel_stepsize = 1 / T``,
    DAG ``step = eps / T``, as the SMIA chapter runs them), the same seed and random start, over
    several batches (Foolbox's loop on classifiers, ours on multi-label and masks); the run itself,
    its result and its count of model calls, is the same with or without the record."""
    T, eps = 5, 0.2
    model = _model(task)
    x = torch.rand(7, 1, 12, 12, generator=torch.Generator().manual_seed(11))
    y = _labels(model, x, task)
    step = {"dag": {"step": eps / T}}.get(name, {"rel_stepsize": 1.0 / T})
    run = dict(eps=eps, norm=norm, seed=3, batch_size=4, device="cpu")
    full = run_attack(name, model, x, y, steps=T, record_steps=(2, 1, T, 2), **run, **step)
    plain = run_attack(name, model, x, y, steps=T, **run, **step)
    assert plain.iterates is None and sorted(full.iterates) == [1, 2, T]
    assert torch.equal(full.adversarial, plain.adversarial) and torch.equal(full.success, plain.success)
    assert full.model_calls == plain.model_calls
    assert torch.equal(full.iterates[T], full.adversarial)
    assert not torch.equal(full.iterates[1], x)
    for t in (1, 2):
        stopped = run_attack(name, model, x, y, steps=t, **run, **step)
        assert torch.equal(full.iterates[t], stopped.adversarial), t


def test_record_steps_only_where_the_attack_records_and_within_its_steps():
    model = _model("multiclass")
    x = torch.rand(3, 1, 12, 12, generator=torch.Generator().manual_seed(12))
    y = _labels(model, x, "multiclass")
    assert {n for n, a in ATTACKS.items() if a.records_steps} == {"pgd", "bim", "dag"}
    with pytest.raises(ValueError, match="does not record"):
        run_attack("fgsm", model, x, y, eps=0.1, device="cpu", record_steps=(1,))
    for bad in [(0,), (4,), (1.5,), ()]:
        with pytest.raises(ValueError, match="record_steps"):
            run_attack("pgd", model, x, y, eps=0.1, steps=3, device="cpu", record_steps=bad)


def test_the_callers_model_and_the_global_rng_come_back_as_they_were():
    model = _model("multiclass")
    model.train()
    model[1].eval()                              # a mixed state, kept module by module
    model[3].weight.requires_grad_(False)
    flags = [p.requires_grad for p in model.parameters()]
    modes = [m.training for m in model.modules()]
    x = torch.rand(4, 1, 12, 12, generator=torch.Generator().manual_seed(8))
    y = torch.tensor([0, 1, 2, 0])
    torch.manual_seed(123)
    before = torch.get_rng_state()
    for name, params in [("pgd", {"steps": 3}), ("noise", {}), ("apgd-ce", {"steps": 3}), ("gaussian-noise", {"steps": 5})]:
        run_attack(name, model, x, y, eps=0.1, device="cpu", seed=4, **params)
    assert torch.equal(torch.get_rng_state(), before), "the global RNG state must be untouched"
    assert [p.requires_grad for p in model.parameters()] == flags
    assert [m.training for m in model.modules()] == modes
    assert next(model.parameters()).device.type == "cpu"


def test_medadv_attacks_prints_every_attacks_hyperparameters_and_defaults(capsys):
    from medadv_lib import cli
    from medadv_lib.attacks import hyperparameters

    assert cli.main(["attacks"]) == 0
    out = capsys.readouterr().out
    for name in ATTACKS:
        assert f"  {name} " in out
        for h in hyperparameters(name):
            assert str(h) in out
    assert "steps: int = 40  # gradient steps" in out and "[G5]" in out
