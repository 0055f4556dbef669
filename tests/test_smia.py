import foolbox as fb
import pytest
import torch
import torch.nn as nn

from medadv_lib.attacks.smia import SMIAAttack, fgsm, gaussian_kernel, smia, smooth_perturbation
from medadv_lib.metrics.perturbation import consecutive_cosine, perturbation_variance, share_positive_cosine
from medadv_lib.models import build_model


def tiny_classifier(channels=3):
    torch.manual_seed(0)
    return build_model("simple-cnn", num_classes=5, in_channels=channels, width=4, depth=2).eval()


def test_kernel_is_centred_normalised_and_depthwise():
    k = gaussian_kernel(5, 1.0)
    assert torch.isclose(k.sum(), torch.tensor(1.0)) and k.argmax() == 12
    assert torch.allclose(k, k.T) and torch.allclose(k, k.flip(0))
    eta = torch.zeros(1, 4, 9, 9)
    eta[0, 2, 4, 4] = 1.0
    out = smooth_perturbation(eta, k)
    assert out[0, [0, 1, 3]].abs().max() == 0          # no channel mixing, any channel count
    assert torch.allclose(out[0, 2, 2:7, 2:7], k)
    with pytest.raises(ValueError):
        gaussian_kernel(4, 1.0)


def test_smia_steps_budget_history_and_determinism():
    model = tiny_classifier()
    x, y = torch.rand(6, 3, 16, 16), torch.randint(0, 5, (6,))
    run = smia(model, x, y, epsilon=0.01, iterations=5, alpha=1.0, record=True, device="cpu")
    assert run.history.shape == (6, 6, 3, 16, 16)
    assert run.adversarial.min() >= 0 and run.adversarial.max() <= 1
    assert (run.adversarial - x).abs().max() <= 5 * 0.01 + 1e-6
    assert ((run.history[1:] - run.history[:-1]).abs() <= 0.01 + 1e-6).all()
    again = smia(model, x, y, epsilon=0.01, iterations=5, alpha=1.0, device="cpu")
    assert torch.equal(run.adversarial, again.adversarial)
    proj = smia(model, x, y, epsilon=0.01, iterations=5, budget=0.015, device="cpu")
    assert (proj.adversarial - x).abs().max() <= 0.015 + 1e-6
    # the stabilization term changes the path after iteration 1 only
    dev = smia(model, x, y, epsilon=0.01, iterations=5, alpha=0.0, record=True, device="cpu")
    assert torch.equal(dev.history[1], run.history[1]) and not torch.equal(dev.history[5], run.history[5])


def test_attack_raises_loss_and_matches_foolbox_fgsm():
    model = tiny_classifier()
    x, y = torch.rand(8, 3, 16, 16), torch.randint(0, 5, (8,))
    ours = fgsm(model, x, y, budget=0.03, device="cpu").adversarial
    fmodel = fb.PyTorchModel(model, bounds=(0, 1), device="cpu")
    _, theirs, _ = fb.attacks.LinfFastGradientAttack()(fmodel, x, y, epsilons=0.03)
    assert torch.allclose(ours, theirs, atol=1e-6)
    loss = nn.CrossEntropyLoss()
    adv = smia(model, x, y, epsilon=0.01, iterations=5, device="cpu").adversarial
    assert loss(model(adv), y) > loss(model(x), y)


def test_foolbox_smia_equals_library():
    model = tiny_classifier(1)
    x, y = torch.rand(4, 1, 16, 16), torch.randint(0, 5, (4,))
    lib = smia(model, x, y, epsilon=0.01, iterations=4, alpha=1.0, device="cpu").adversarial
    _, adv, _ = SMIAAttack(steps=4, abs_stepsize=0.01)(fb.PyTorchModel(model, bounds=(0, 1)), x, y, epsilons=0.04)
    assert torch.allclose(adv, lib, atol=1e-6)


def _segmentation_task():
    from medadv_lib.papers.smia.experiment import SEGMENTATION_METHODS, Task, per_image_score

    torch.manual_seed(0)
    # a per-pixel threshold at 0.5 (logits 10 (x - 0.5) for the foreground): the attacks can flip every
    # pixel within their budget of the threshold, about 40 % of them at budget 0.2
    unet = nn.Conv2d(1, 2, 1).eval()
    with torch.no_grad():
        unet.weight.copy_(torch.tensor([-10.0, 10.0]).view(2, 1, 1, 1))
        unet.bias.copy_(torch.tensor([5.0, -5.0]))
    x = torch.rand(6, 1, 16, 16)
    y = unet(x).argmax(1).detach()          # the model's own masks: clean Jaccard 1
    task = Task("segmentation", unet, x, y, 0.05, SEGMENTATION_METHODS, "Jaccard (IoU)", None, None)
    task.clean = per_image_score(unet, x, y, "cpu")
    return task


def test_segmentation_methods_lower_jaccard():
    from medadv_lib.papers.smia.experiment import per_image_score, run_method

    task = _segmentation_task()
    assert task.clean == pytest.approx(1.0)
    for method in task.methods:
        step = 0.3 if method == "DAG" else 0.05  # DAG needs a larger step on this random model
        run = run_method(method, task, epsilon=step, iterations=4, device="cpu")
        attacked = per_image_score(task.model, run.adversarial, task.targets, "cpu")
        # every method takes away at least a fifth of the foreground overlap on every slice
        assert attacked.max() < 0.8, (method, attacked)
        assert (run.adversarial - task.images).abs().max() <= 4 * step + 1e-6


def test_bad_arguments_fail_early():
    from medadv_lib.papers.smia.experiment import run_method

    model = tiny_classifier()
    x, y = torch.rand(2, 3, 16, 16), torch.randint(0, 5, (2,))
    for kwargs in ({"epsilon": 0}, {"epsilon": 0.1, "iterations": 0}, {"epsilon": 0.1, "alpha": -1}):
        with pytest.raises(ValueError):
            smia(model, x, y, **kwargs)
    with pytest.raises(ValueError, match="unknown method 'DAG'"):
        run_method("DAG", _segmentation_task().__class__("classification", model, x, y, 0.1,
                                                         ("FGSM", "PGD", "DeepFool", "DEV", "SMIA"), "accuracy",
                                                         None, None), iterations=2)


def test_perturbation_statistics():
    h = torch.zeros(4, 1, 2, 2)
    h[1] = torch.tensor([[1.0, 1], [1, 1]])
    h[2] = h[1] * 2                       # same direction: cosine 1
    h[3] = h[2] - torch.tensor([[1.0, 1], [1, 1]])  # reversed: cosine -1
    cos = consecutive_cosine(h.unsqueeze(2))
    assert torch.allclose(cos[:, 0], torch.tensor([1.0, -1.0], dtype=torch.float64))
    assert share_positive_cosine(h.unsqueeze(2)) == 0.5
    assert perturbation_variance(torch.tensor([[[[1.0, -1.0]]]]))[0] == pytest.approx(1.0)


# ---------------------------------------------------------------- issue 20: convergence and the scale ladder

def _classification_task(epsilon=0.01):
    from medadv_lib.papers.smia.experiment import CLASSIFICATION_METHODS, Task, per_image_score

    model = tiny_classifier()
    g = torch.Generator().manual_seed(1)
    x = torch.rand(8, 3, 16, 16, generator=g)
    y = model(x).argmax(1).detach()            # the model's own labels: clean accuracy 1
    task = Task("classification", model, x, y, epsilon, CLASSIFICATION_METHODS, "accuracy", None, None)
    task.clean = per_image_score(model, x, y, "cpu")
    return task


def test_objective_record_is_the_loops_objective_and_rises():
    """The record read after each step is the loop's own objective (Qi et al. Eq. 3) read before
    the next one: L_DEV at iteration 1, L_DEV - alpha L_STA after it; DEV's L_DEV rises."""
    from medadv_lib.attacks.smia import objective_record

    model = tiny_classifier()
    x, y = torch.rand(6, 3, 16, 16), torch.randint(0, 5, (6,))
    run = smia(model, x, y, epsilon=0.002, iterations=5, alpha=1.0, record=True, device="cpu")
    record = objective_record(model, x, y, run.history, alpha=1.0, device="cpu")
    assert record["objective"].shape == (6, 6)
    assert run.objective[0] == pytest.approx(float(record["dev"][0].sum()), rel=1e-5)
    for t in range(2, 6):
        assert run.objective[t - 1] == pytest.approx(float(record["objective"][t - 1].sum()), rel=1e-4, abs=1e-5)
    assert torch.allclose(record["objective"], record["dev"] - record["sta"])
    dev = smia(model, x, y, epsilon=0.002, iterations=5, alpha=0.0, record=True, device="cpu")
    rising = objective_record(model, x, y, dev.history, alpha=0.0, device="cpu")["dev"].mean(1)
    assert (rising[1:] > rising[:-1]).all(), rising


def test_the_baselines_kept_iterates_are_the_runs_stopped_early():
    """run_all's PGD and DAG runs keep their iterates after convergence_iterations' steps (the
    registry's record_steps), and each is bit for bit (torch.equal) the same attack stopped after t
    steps, the replay the convergence record read before (same seed, random start and step
    rel_stepsize = 1 / T, DAG's step budget / T); on segmentation they also follow the recorded
    paths of the same algorithms (smia.pgd and dag with record=True, allclose at 1e-6)."""
    from medadv_lib.attacks.dag import dag
    from medadv_lib.attacks import run_attack
    from medadv_lib.attacks.smia import pgd
    from medadv_lib.papers.smia.experiment import convergence_iterations, run_all

    tasks = {"classification": _classification_task(), "segmentation": _segmentation_task()}
    T = 4
    _, runs = run_all(tasks, T, 1.0, 5, 1.0, "cpu")
    for task in tasks.values():
        budget = T * task.epsilon
        for method in [m for m in ("PGD", "DAG") if m in task.methods]:
            kept = runs[task.name, method].iterates
            assert sorted(kept) == convergence_iterations(T) == [1, 2, T]
            assert torch.equal(kept[T], runs[task.name, method].adversarial)
            assert not torch.equal(kept[1], task.images)
            for t in (1, 2):
                params = {"PGD": {"steps": t, "rel_stepsize": 1.0 / T}, "DAG": {"steps": t, "step": budget / T}}[method]
                stopped = run_attack(method.lower(), task.model, task.images, task.targets, eps=budget, seed=0,
                                     device="cpu", **params).adversarial
                assert torch.equal(kept[t], stopped), (task.name, method, t)
    for no_record in ("FGSM", "DeepFool", "DEV", "SMIA"):
        assert runs["classification", no_record].iterates is None
    task = tasks["segmentation"]
    eps = task.epsilon
    path = {"PGD": pgd(task.model, task.images, task.targets, epsilon=eps, iterations=T, budget=T * eps,
                       record=True, device="cpu").history,
            "DAG": dag(task.model, task.images, task.targets, epsilon=eps, iterations=T, budget=T * eps,
                       record=True, device="cpu").history}
    for method in ("PGD", "DAG"):
        for t, adversarial in runs[task.name, method].iterates.items():
            assert torch.allclose(adversarial, (task.images + path[method][t]).clamp(0, 1), atol=1e-6), (method, t)


def test_convergence_record_per_method_and_its_table():
    from medadv_lib.attacks.smia import per_image_loss
    from medadv_lib.papers.smia.experiment import convergence, convergence_iterations, convergence_table, run_all

    tasks = {"classification": _classification_task(), "segmentation": _segmentation_task()}
    T = 4
    _, runs = run_all(tasks, T, 1.0, 5, 1.0, "cpu")
    record = convergence(tasks, runs, T, 1.0, 5, 1.0, "cpu")
    assert convergence_iterations(10) == [1, 3, 5, 10] and convergence_iterations(4) == [1, 2, 4]

    def curve(task, method, quantity):
        part = record[(record["task"] == task) & (record["method"] == method) & (record["quantity"] == quantity)]
        return part.set_index("iteration")["mean"]

    for task in tasks:
        assert list(curve(task, "SMIA", "L_DEV - alpha L_STA").index) == [0, 1, 2, T]
        assert list(curve(task, "PGD", "L_DEV").index) == [0, 1, 2, T]
        dev = curve(task, "DEV", "L_DEV").to_numpy()
        assert dev[-1] > dev[0]                                  # the attack raised its loss
        with torch.no_grad():                                    # PGD's last point is the run's own result
            final = per_image_loss(tasks[task].model(runs[task, "PGD"].adversarial), tasks[task].targets).mean()
        assert curve(task, "PGD", "L_DEV")[T] == pytest.approx(float(final), rel=1e-5)
    share = curve("segmentation", "DAG", "share of pixels correct")
    assert share[0] == pytest.approx(1.0) and share[T] < 1.0
    assert "DAG" not in set(record[record["task"] == "classification"]["method"])
    table = convergence_table(record, T)
    assert list(table.columns) == ["t = 1", "t = 2", "t = 4", "n"]
    assert table.loc[("classification", "SMIA", "L_DEV - alpha L_STA"), "n"] == 8


def test_ladder_rungs_reach_the_papers_step_and_the_control():
    from medadv_lib.papers.smia.experiment import ladder_rungs

    assert ladder_rungs(5e-5, 5e-5, 64) == [1.0, 8.0, 64.0]      # this run = the paper's step
    assert ladder_rungs(0.005, 0.05, 4) == [1.0, 4.0, 10.0]      # a tenth of the paper's step
    assert ladder_rungs(1e-4, 5e-5, 1) == [0.5, 0.7071, 1.0]
    assert ladder_rungs(0.01, 0.01, 1) == [1.0, 4.0, 16.0]


def test_scale_ladder_reuses_table6_and_the_positive_control(monkeypatch):
    from medadv_lib.papers.smia import experiment as ex

    tasks = {"segmentation": _segmentation_task()}
    T = 2
    scores, _ = ex.run_all(tasks, T, 1.0, 5, 1.0, "cpu")
    control = ex.positive_control(tasks, T, 1.0, 5, 1.0, "cpu", factors=(0.1, 2))
    factor = control.loc["segmentation", "step factor"]
    assert factor == 2
    computed = []
    real = ex._drops_at
    monkeypatch.setattr(ex, "_drops_at", lambda task, f, *a, **k: computed.append(f) or real(task, f, *a, **k))
    ladder = ex.scale_ladder(tasks, scores, control, T, 1.0, 5, 1.0, "cpu", rungs={"segmentation": [1.0, 3.0, factor]})
    assert computed == [3.0]                                     # only the new rung ran the attacks
    rows = ladder.loc["segmentation"]
    assert list(rows.index) == sorted({1.0, 3.0, float(factor)})
    assert rows.loc[1.0, "rung"] == "Table 6 (the paper's step)" and rows.loc[factor, "rung"].startswith("positive control")
    table6 = ex.table6(scores)
    for method in ("FGSM", "PGD", "SMIA"):
        assert rows.loc[1.0, f"{method} drop"] == table6.loc[("segmentation", method), "drop"]
        assert rows.loc[factor, f"{method} drop"] == control.loc["segmentation", f"{method} drop"]
    assert rows["paper: SMIA minus the second best"].str.startswith("about +0.09").all()
