"""The ten attacks through the registry by their paper ids; our Foolbox 3 L-BFGS, Local Search and Single Pixel."""
import pytest
import torch
import torch.nn as nn

from medadv_lib import attacks
from medadv_lib.attacks import TAGHANAKI, get_attack
from medadv_lib.attacks.tasks import TwoLogits

ATTACK_IDS = list(TAGHANAKI)


def run_attack(attack_id, model, x, y, **kwargs):
    """One of the ten attacks by the paper's id, through the registry."""
    return attacks.run_attack(TAGHANAKI.get(attack_id, attack_id), model, x, y, **kwargs)
from medadv_lib.attacks.minimal_search import epsilon_grid


class MeanModel(nn.Module):
    """Single sigmoid logit: "finding" when the mean intensity exceeds 0.5."""

    def forward(self, x):
        return (40 * (x.mean((1, 2, 3)) - 0.5))[:, None]


class ConstantModel(nn.Module):
    """Always "finding", whatever the input: no attack can succeed."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return (5.0 + self.scale * x.mean((1, 2, 3)))[:, None]


class PixelModel(nn.Module):
    """Class 1 unless pixel (3, 5) is at the minimum: one pixel flips it."""

    def forward(self, x):
        return (50 * (x[:, :, 3, 5].mean(1) - 0.02))[:, None]


class PatchModel(nn.Module):
    """Class 1 while the central patch is darker than 0.8 (Local Search can brighten it)."""

    def forward(self, x):
        return (30 * (0.8 - x[:, :, 2:6, 2:6].mean((1, 2, 3))))[:, None]


FAST = {"G1": {"steps": 20}, "G2": {"iterations": 10, "search_steps": 3}, "G3": {"steps": 20},
        "G4": {"search_steps": 3}, "G5": {"search_steps": 4, "max_iter": 20, "initial_const": 1e-2},
        "S1": {"R": 5}, "S2": {"max_pixels": 64}, "D1": {"steps": 20}, "D2": {"steps": 20},
        "D3": {"steps": 20}}


@pytest.fixture
def near_boundary():
    torch.manual_seed(0)
    x = 0.45 + 0.1 * torch.rand(6, 1, 8, 8)
    y = (x.mean((1, 2, 3)) > 0.5).long()
    return x, y


@pytest.mark.parametrize("attack_id", ["G1", "G2", "G3", "G4", "G5", "D3"])
def test_attacks_succeed_on_a_sigmoid_grayscale_model(attack_id, near_boundary):
    x, y = near_boundary
    result = run_attack(attack_id, MeanModel(), x, y, device="cpu", **FAST[attack_id])
    assert result.success.all()
    assert result.clean_correct.all()
    logit = MeanModel()(result.adversarial)[:, 0]
    assert ((logit > 0).long() != y).all()
    assert (result.l2 > 0).all() and result.adversarial.min() >= 0 and result.adversarial.max() <= 1


@pytest.mark.parametrize("attack_id", ATTACK_IDS)
def test_every_attack_fails_on_a_constant_model(attack_id, near_boundary):
    x, _ = near_boundary
    y = torch.ones(len(x), dtype=torch.long)
    result = run_attack(attack_id, ConstantModel(), x, y, device="cpu", **FAST[attack_id])
    assert not result.success.any()
    assert torch.equal(result.adversarial, x) and (result.l2 == 0).all()


def test_lbfgs_finds_small_perturbations(near_boundary):
    x, y = near_boundary
    lbfgs = run_attack("G5", MeanModel(), x, y, device="cpu", **FAST["G5"])
    fgsm_max = run_attack("G1", MeanModel(), x, y, device="cpu", steps=1)  # epsilon 1 only
    assert lbfgs.success.all() and (lbfgs.l2 < fgsm_max.l2).all()


def test_lbfgs_box_solver_follows_scipys_iterates(monkeypatch):
    """minimize_box drives scipy's compiled L-BFGS-B directly (arrays for the box); it must take
    the very iterates of scipy.optimize.minimize, and it must not silently fall back here."""
    import numpy as np

    import medadv_lib.attacks.lbfgs as lbfgs

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(30, 400)) / 10, rng.normal(size=30)
    evaluations = []

    def objective(x):
        evaluations.append(x.copy())
        r = a @ x - b
        return float(r @ r + 0.1 * np.cos(3 * x).sum()), 2 * a.T @ r - 0.3 * np.sin(3 * x)

    start = rng.uniform(0, 1, 400)
    reference = lbfgs.minimize_box(objective, start, 0.0, 1.0, memory=15, max_iter=40, use_private=False)
    expected = list(evaluations)
    evaluations.clear()

    def no_fallback(*args, **kwargs):
        raise AssertionError("minimize_box fell back to scipy.optimize.minimize")

    monkeypatch.setattr(lbfgs, "minimize", no_fallback)
    direct = lbfgs.minimize_box(objective, start, 0.0, 1.0, memory=15, max_iter=40)
    assert len(expected) > 10 and len(evaluations) == len(expected)
    assert all(np.array_equal(p, q) for p, q in zip(evaluations, expected))
    assert np.array_equal(direct, reference) and direct.min() >= 0 and direct.max() <= 1


def test_lbfgs_box_solver_falls_back_only_when_scipys_routine_changed(monkeypatch):
    import numpy as np

    import medadv_lib.attacks.lbfgs as lbfgs
    from medadv_lib.attacks.lbfgs import minimize_box

    goal = np.array([-1.0, 0.3, 2.0])
    quadratic = lambda x: (float(((x - goal) ** 2).sum()), 2 * (x - goal))  # noqa: E731
    calls = []

    def broken(x):
        calls.append(1)
        raise ValueError("objective failed")

    with pytest.raises(ValueError, match="objective failed"):
        minimize_box(broken, np.zeros(3), 0.0, 1.0)
    assert len(calls) == 1                     # an error of the objective is not a reason to retry
    tried = []

    def changed(*args):
        tried.append(1)
        raise TypeError("setulb() takes other arguments")

    monkeypatch.setattr(lbfgs, "_private_setulb", lambda: changed)
    assert np.allclose(minimize_box(quadratic, np.zeros(3), 0.0, 1.0), [0.0, 0.3, 1.0], atol=1e-6)
    assert tried == [1]                        # tried once, then scipy.optimize.minimize


def test_single_pixel_succeeds_and_changes_one_pixel():
    x = torch.full((2, 1, 8, 8), 0.5)
    y = torch.ones(2, dtype=torch.long)
    result = run_attack("S2", PixelModel(), x, y, device="cpu", max_pixels=64)
    assert result.success.all()
    changed = (result.adversarial != x).flatten(1).sum(1)
    assert changed.tolist() == [1, 1]
    assert (result.adversarial[:, 0, 3, 5] == 0).all()


def test_single_pixel_fails_when_it_may_not_reach_the_pixel():
    x = torch.full((1, 1, 8, 8), 0.5)
    y = torch.ones(1, dtype=torch.long)
    found = [run_attack("S2", PixelModel(), x, y, device="cpu", max_pixels=1, seed=s).success.item()
             for s in range(6)]
    assert found.count(True) <= 1  # one random pixel of 64: almost never the right one


def test_local_search_succeeds_and_fails():
    torch.manual_seed(0)
    x = 0.65 + 0.1 * torch.rand(3, 1, 8, 8)
    y = torch.ones(3, dtype=torch.long)
    result = run_attack("S1", PatchModel(), x, y, device="cpu", R=20, d=2, initial_fraction=0.5)
    assert result.success.all()
    failed = run_attack("S1", ConstantModel(), x, y, device="cpu", R=20, d=2, initial_fraction=0.5)
    assert not failed.success.any()


def test_minimal_search_recovers_smallest_epsilon(near_boundary):
    x, y = near_boundary
    coarse = run_attack("G1", MeanModel(), x, y, device="cpu", steps=2)
    fine = run_attack("G1", MeanModel(), x, y, device="cpu", steps=50)
    assert (fine.linf <= coarse.linf + 1e-6).all() and (fine.linf < coarse.linf).any()
    assert epsilon_grid(0.3, 3, "geometric").tolist() == pytest.approx([0.075, 0.15, 0.3])


class ContrastModel(nn.Module):
    """Class 1 while the image has contrast (standard deviation above 0.05)."""

    def forward(self, x):
        return (100 * (x.flatten(1).std(1) - 0.05))[:, None]


@pytest.mark.parametrize("attack_id", ["D1", "D2"])
def test_blur_and_contrast_succeed_on_a_contrast_model(attack_id):
    torch.manual_seed(1)
    x = torch.rand(3, 1, 8, 8) * 0.4 + 0.3
    y = torch.ones(3, dtype=torch.long)
    result = run_attack(attack_id, ContrastModel(), x, y, device="cpu", steps=50)
    assert result.success.all()


def test_two_logit_wrapper_matches_sigmoid():
    z = torch.tensor([[-2.0], [0.3]])
    wrapped = TwoLogits(nn.Identity())(z)
    assert torch.allclose(wrapped.softmax(1)[:, 1], torch.sigmoid(z[:, 0]))


def test_same_seed_same_result(near_boundary):
    x, y = near_boundary
    a = run_attack("D3", MeanModel(), x, y, device="cpu", seed=3, steps=10)
    b = run_attack("D3", MeanModel(), x, y, device="cpu", seed=3, steps=10)
    assert torch.equal(a.adversarial, b.adversarial)


def test_bad_requests_fail_early(near_boundary):
    x, y = near_boundary
    with pytest.raises(ValueError, match="unknown attack"):
        run_attack("G9", MeanModel(), x, y, device="cpu")
    with pytest.raises(TypeError, match=r"unknown hyperparameter\(s\) \['stepsize_typo'\]; valid: epsilon"):
        get_attack(TAGHANAKI["G2"])(stepsize_typo=1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        run_attack("G1", MeanModel(), x * 3, y, device="cpu")
    with pytest.raises(ValueError, match="labels"):
        run_attack("G1", MeanModel(), x, y[:2], device="cpu")


# --------------------------------------------------------------------------- convergence (issue 20)

@pytest.mark.parametrize("attack_id", ATTACK_IDS)
def test_a_search_that_cannot_fool_runs_out_of_its_grid(attack_id, near_boundary):
    """The constant model is never fooled: every search uses its whole grid or iterations."""
    x, _ = near_boundary
    y = torch.ones(len(x), dtype=torch.long)
    params = {**FAST[attack_id], **({"max_pixels": 16} if attack_id == "S2" else {})}   # 16 of 64 pixels
    result = run_attack(attack_id, ConstantModel(), x, y, device="cpu", **params)
    assert result.exhausted is not None and result.exhausted.dtype == torch.bool
    assert result.exhausted.tolist() == [True] * len(x)


@pytest.mark.parametrize("attack_id", ["G1", "G2", "G3", "G4", "G5", "D3"])
def test_a_search_that_fools_did_not_run_out(attack_id, near_boundary):
    x, y = near_boundary
    result = run_attack(attack_id, MeanModel(), x, y, device="cpu", **FAST[attack_id])
    assert result.success.all() and not result.exhausted.any()


def test_single_pixel_that_tried_every_pixel_failed_for_another_reason():
    x = torch.full((3, 1, 4, 4), 0.5)
    y = torch.ones(3, dtype=torch.long)
    every = run_attack("S2", ConstantModel(), x, y, device="cpu", max_pixels=16)     # all 16 pixels
    assert not every.success.any() and not every.exhausted.any()
    some = run_attack("S2", ConstantModel(), x, y, device="cpu", max_pixels=15)
    assert some.exhausted.all()


def test_inputs_wrong_clean_never_ran_out_and_budget_attacks_keep_no_record(near_boundary):
    x, _ = near_boundary
    y = torch.tensor([0, 1, 0, 1, 0, 1])                    # the constant model says 1: half wrong clean
    result = run_attack("G1", ConstantModel(), x, y, device="cpu", steps=5)
    assert result.exhausted.tolist() == [False, True] * 3
    assert attacks.run_attack("pgd", MeanModel(), x, y, eps=0.1, steps=2, device="cpu").exhausted is None


def test_single_pixel_at_the_papers_share_of_pixels_failed_as_the_paper_did_not_ran_out():
    """S2 in the ten-attacks chapter: ``pixel_share`` becomes a pixel budget for the image size, and
    an S2 that tried at least the paper's share (Foolbox 1.2's 1,000 pixels of 331 x 331, Sec. 2)
    and found nothing did not run out of a grid of ours; below that share it did."""
    import math

    from medadv_lib.papers.ten_attacks import ATTACK_EFFORT, PAPER_S2_SHARE
    from medadv_lib.papers.ten_attacks.experiment import _white_box, s2_max_pixels

    assert s2_max_pixels({"pixel_share": PAPER_S2_SHARE}, 75, 75) == 52
    assert s2_max_pixels({"pixel_share": PAPER_S2_SHARE}, 331, 331) == 1000
    assert s2_max_pixels({}, 75, 75) == 1000 and s2_max_pixels({"max_pixels": 7}, 75, 75) == 7
    assert ATTACK_EFFORT["default"]["S2"] == {"pixel_share": PAPER_S2_SHARE}
    x, y = torch.full((3, 1, 20, 20), 0.5), torch.ones(3, dtype=torch.long)
    share = {"S2": {"pixel_share": PAPER_S2_SHARE}}
    frame, result = _white_box("IR2/MP", ConstantModel(), x, y, "S2", share, 0, "cpu")
    assert result.model_inputs >= 3 * 2 * math.ceil(PAPER_S2_SHARE * 400)     # both extremes per pixel tried
    assert result.exhausted.all() and not frame["ran_out"].any() and not frame["success"].any()
    frame, result = _white_box("IR2/MP", ConstantModel(), x, y, "S2", {"S2": {"max_pixels": 2}}, 0, "cpu")
    assert frame["ran_out"].all()                                              # 2 < 4 pixels: a budget cut short
