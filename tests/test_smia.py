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
