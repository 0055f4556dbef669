"""UAP engine: radius, projection, random controls, exact mode equals the sequential reference."""
import random

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from medadv_lib.attacks.uap import (perturbation_norm, project_lp, random_perturbation,
                                    universal_perturbation, uap_radius)
from medadv_lib.metrics.classification import confusion_matrix, fooling_rate, targeted_success_rate


def _model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.Tanh(), nn.Linear(16, 3)).eval()


def _images(n=40, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 8, 8, generator=g)


@pytest.mark.parametrize("norm", ["2", "inf"])
def test_projection_and_random_control_norms(norm):
    v = torch.randn(1, 8, 8) * 5
    assert perturbation_norm(project_lp(v, 0.7, norm), norm) <= 0.7 + 1e-6
    r = random_perturbation((1, 8, 8), 0.7, norm, seed=3)
    if norm == "2":
        assert abs(float(r.norm()) - 0.7) < 1e-5                 # on the sphere
    else:
        assert float(r.abs().max()) <= 0.7 and float(r.abs().max()) > 0.6
    assert torch.equal(r, random_perturbation((1, 8, 8), 0.7, norm, seed=3))


def test_radius_is_zeta_times_mean_norm():
    x = _images()
    assert uap_radius(x, 0.02, "inf") == pytest.approx(0.02 * float(x.flatten(1).abs().max(1).values.mean()), rel=1e-5)


def _reference_exact(model, x, xi, norm, eps, passes, seed):
    """The sequential loop of ART's UniversalPerturbation (nontargeted, FGSM step, clip to [0, 1]),
    written out with ART's arithmetic: the FGSM step re-projected onto its eps-ball, v = P(adv - x)."""
    clean = model(x).argmax(1)
    v = torch.zeros(1, *x.shape[1:])
    rng = random.Random(seed)
    for _ in range(passes):
        for i in rng.sample(range(len(x)), len(x)):
            xv = (x[i:i + 1] + v).requires_grad_(True)
            logits = model(xv)
            if int(logits.argmax(1)) != int(clean[i]):
                continue
            (g,) = torch.autograd.grad(F.cross_entropy(logits, clean[i:i + 1]), xv)
            adv = (xv.detach() + eps * g.sign()).clamp(0, 1)
            adv = xv.detach() + (adv - xv.detach()).clamp(-eps, eps)
            if int(model(adv).argmax(1)) != int(clean[i]):
                v = project_lp(adv - x[i:i + 1], xi, norm, like_art=True)
    return v[0]


@pytest.mark.parametrize("norm", ["2", "inf"])
def test_exact_mode_matches_the_sequential_reference(norm):
    model, x = _model(), _images()
    xi = uap_radius(x, 0.3, norm)
    ours = universal_perturbation(model, x, xi, norm, eps_step=0.05, max_passes=3, mode="exact",
                                  seed=7, device="cpu", clip=(0.0, 1.0), progress=False)
    ref = _reference_exact(model, x, xi, norm, 0.05, 3, seed=7)
    assert ours.updates > 0 and ours.steps >= ours.updates
    assert torch.equal(ours.perturbation, ref)
    assert perturbation_norm(ours.perturbation, norm) <= xi + 1e-5


@pytest.mark.parametrize("norm", ["2", "inf"])
def test_exact_mode_returns_arts_perturbation_bit_for_bit(norm):
    """The paper's code ran ART's UniversalPerturbation; exact mode must reproduce it exactly
    (same visiting order: ART draws it from Python's global ``random``)."""
    # ART is in the dev environment (the [bench] extra): this test must run, never skip
    from art.attacks.evasion import UniversalPerturbation
    from art.estimators.classification import PyTorchClassifier

    model, x = _model(), _images(48)
    xi = uap_radius(x, 0.1, norm)
    classifier = PyTorchClassifier(model=model, loss=nn.CrossEntropyLoss(), input_shape=(1, 8, 8),
                                   nb_classes=3, clip_values=(0.0, 1.0), device_type="cpu")
    attack = UniversalPerturbation(classifier, attacker="fgsm", attacker_params={"eps": 0.02}, delta=1e-6,
                                   max_iter=3, eps=xi, norm=2 if norm == "2" else float("inf"),
                                   batch_size=64, verbose=False)
    random.seed(5)
    attack.generate(x.numpy())
    ours = universal_perturbation(model, x, xi, norm, eps_step=0.02, max_passes=3, mode="exact",
                                  seed=5, device="cpu", clip=(0.0, 1.0), progress=False)
    assert ours.updates >= 10 and ours.rate_history[-1] < 1  # many kept updates; the ball binds
    assert torch.equal(ours.perturbation, torch.from_numpy(attack.noise[0]))


def test_batched_and_targeted_modes_fool_and_stay_in_the_ball():
    model, x = _model(), _images(60)
    xi = uap_radius(x, 0.5, "inf")
    res = universal_perturbation(model, x, xi, "inf", eps_step=0.05, max_passes=4, mode="batched",
                                 seed=0, device="cpu", progress=False)
    assert perturbation_norm(res.perturbation, "inf") <= xi + 1e-6 and res.rate_history[-1] > 0.2
    tgt = universal_perturbation(model, x, xi, "inf", target=1, eps_step=0.05, max_passes=4,
                                 seed=0, device="cpu", progress=False)
    pred = model(x + tgt.perturbation).argmax(1)
    assert targeted_success_rate(pred, 1) == pytest.approx(tgt.rate_history[-1])
    assert targeted_success_rate(pred, 1) > float((model(x).argmax(1) == 1).float().mean())
    with pytest.raises(ValueError, match="target 5 is not a class"):
        universal_perturbation(model, x, xi, "inf", target=5, device="cpu", progress=False)
    with pytest.raises(ValueError, match="mode must be one of"):
        universal_perturbation(model, x, xi, "inf", mode="fast", device="cpu", progress=False)


def test_rates_and_confusion_matrix_on_hand_made_cases():
    assert fooling_rate([0, 1, 2, 2], [0, 1, 1, 0]) == 0.5
    assert targeted_success_rate([2, 2, 0, 1], 2) == 0.5
    cm = confusion_matrix([0, 0, 1, 2], [0, 2, 1, 2], 3)
    assert cm.tolist() == [[1, 0, 1], [0, 1, 0], [0, 0, 1]]
