"""APGD (Croce & Hein 2020) for every task of the collection, checked against ART's implementation."""
import numpy as np
import pytest
import torch
import torch.nn as nn

from medadv_lib.attacks import infer_task, is_fooled
from medadv_lib.attacks.apgd import apgd, checkpoints


def _ten_class_model():
    g = torch.Generator().manual_seed(0)
    n = 600
    centers = torch.rand(10, 3, 16, 16, generator=g)
    labels = torch.randint(0, 10, (n,), generator=g)
    x = (centers[labels] * 0.6 + 0.4 * torch.rand(n, 3, 16, 16, generator=g)).clamp(0, 1)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(32, 10))
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    for _ in range(40):
        perm = torch.randperm(n, generator=g)
        for i in range(0, n, 64):
            idx = perm[i:i + 64]
            loss = nn.functional.cross_entropy(model(x[idx]), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval(), x[:200], labels[:200]


@pytest.mark.slow
def test_same_robust_accuracy_as_arts_apgd_on_a_ten_class_model():
    from art.attacks.evasion import AutoProjectedGradientDescent  # the [bench] extra: must be present
    from art.estimators.classification import PyTorchClassifier

    model, x, y = _ten_class_model()
    clean = float((model(x).argmax(1) == y).float().mean())
    assert clean > 0.7
    eps = 4 / 255
    adversarial, fooled, _ = apgd(model, x, y, eps=eps, steps=100, loss="ce", seed=0)
    ours = float((model(adversarial).argmax(1) == y).float().mean())
    classifier = PyTorchClassifier(model, loss=nn.CrossEntropyLoss(), input_shape=(3, 16, 16),
                                   nb_classes=10, clip_values=(0, 1))
    reference = AutoProjectedGradientDescent(classifier, norm=np.inf, eps=eps, eps_step=2 * eps, max_iter=100,
                                             nb_random_init=1, batch_size=64, loss_type="cross_entropy",
                                             verbose=False).generate(x.numpy(), y=y.numpy())
    theirs = float((model(torch.from_numpy(reference)).argmax(1) == y).float().mean())
    assert ours == pytest.approx(1 - float(fooled.float().mean()))
    assert (adversarial - x).abs().max() <= eps + 1e-6
    assert 0.0 < theirs < clean and abs(ours - theirs) <= 0.05, (ours, theirs)


class Tiny(nn.Module):
    """A small model whose output a large budget can move: one logit, K logits, K labels (a
    linear map of the pixels after a ReLU layer), or a K-class mask (two 3x3 convolutions)."""

    def __init__(self, outputs, segmentation=False, side=12):
        super().__init__()
        torch.manual_seed(1)
        self.segmentation = segmentation
        if segmentation:
            self.net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, outputs, 3, padding=1))
        else:
            self.net = nn.Sequential(nn.Flatten(), nn.Linear(side * side, 32), nn.ReLU(), nn.Linear(32, outputs))

    def forward(self, x):
        return self.net(x)


def _decisions(logits, task):
    """The model's own clean decisions, used as the labels: every input starts correct."""
    if task == "binary":
        return (logits[:, 0] > 0).long()
    if task == "multilabel":
        return (logits > 0).float()
    return logits.argmax(1)


@pytest.mark.parametrize("outputs, task", [(1, "binary"), (2, "multiclass"), (3, "multiclass"), (4, "multilabel")])
@pytest.mark.parametrize("loss", ["ce", "margin"])
def test_every_task_and_loss_reaches_zero_robust_accuracy_at_a_large_budget(outputs, task, loss):
    model = Tiny(outputs).eval()
    x = torch.rand(16, 1, 12, 12, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        logits = model(x)
        labels = _decisions(logits, task)
        assert infer_task(logits, labels) == task and not bool(is_fooled(logits, labels, task).any())
    adversarial, fooled, calls = apgd(model, x, labels, eps=0.5, steps=40, loss=loss, restarts=2)
    assert bool(fooled.all()), f"{task}/{loss}: {int((~fooled).sum())} inputs not fooled at eps 0.5"
    with torch.no_grad():
        assert bool(is_fooled(model(adversarial), labels, task).all())
    assert (adversarial - x).abs().max() <= 0.5 + 1e-6 and adversarial.min() >= 0 and adversarial.max() <= 1
    assert calls > 40


def test_segmentation_is_flipped_at_a_large_budget_and_l2_budget_holds():
    torch.manual_seed(4)
    model = nn.Conv2d(1, 2, 3, padding=1).eval()          # a per-pixel classifier of the neighbourhood
    x = torch.rand(4, 1, 12, 12, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        masks = model(x).argmax(1)                       # the clean prediction as ground truth
    assert 0.1 < masks.float().mean() < 0.9
    adversarial, fooled, _ = apgd(model, x, masks, eps=0.5, steps=40, loss="ce")
    with torch.no_grad():
        assert (model(adversarial).argmax(1) != masks).float().mean() > 0.5 and bool(fooled.all())
    flipped = []
    for eps in (0.5, 3.0):
        adversarial, _, _ = apgd(model, x, masks, eps=eps, norm="L2", steps=40, loss="ce")
        assert float((adversarial - x).flatten(1).norm(dim=1).max()) <= eps + 1e-4
        with torch.no_grad():
            flipped.append(float((model(adversarial).argmax(1) != masks).float().mean()))
    assert 0 < flipped[0] < flipped[1]


def test_checkpoints_and_bad_arguments():
    assert checkpoints(100) == [22, 41, 57, 70, 80, 87, 93, 99]
    model = Tiny(3).eval()
    x, y = torch.rand(2, 1, 12, 12), torch.tensor([0, 1])
    with pytest.raises(ValueError, match="norm"):
        apgd(model, x, y, eps=0.1, norm="L1")
    with pytest.raises(ValueError, match="loss"):
        apgd(model, x, y, eps=0.1, loss="dlr")


def test_segmentation_success_is_judged_on_the_foreground():
    """A U-Net that misses a small lesion is fooled although 96 % of its pixels stay right (the
    old all-pixel majority never counted it); a mask right on most of the lesion is not; an
    input with no foreground in the truth or the prediction is handled correctly."""
    labels = torch.zeros(4, 10, 10, dtype=torch.long)
    labels[:3, 2:4, 2:4] = 1                                   # a 4-pixel lesion in the first three
    pred = labels.clone()
    pred[0] = 0                                                # lesion missed: Jaccard 0
    pred[1, 2, 2] = 0                                          # 3 of 4 found: Jaccard 0.75
    pred[2, 5:7, 5:7] = 1                                      # 4 false pixels: Jaccard 0.5, not below
    logits = torch.nn.functional.one_hot(pred, 2).permute(0, 3, 1, 2).float()
    assert is_fooled(logits, labels, "segmentation").tolist() == [True, False, False, False]
    pred[3, 0, :6] = 1                                         # a hallucinated lesion on an empty slice
    logits = torch.nn.functional.one_hot(pred, 2).permute(0, 3, 1, 2).float()
    assert is_fooled(logits, labels, "segmentation")[3]
