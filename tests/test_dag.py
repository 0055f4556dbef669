import torch
import torch.nn as nn

from medadv_lib.attacks.dag import adversarial_labels, dag


def test_adversarial_labels_always_wrong():
    labels = torch.randint(0, 4, (100,))
    adv = adversarial_labels(labels, 4, torch.Generator().manual_seed(0))
    assert (adv != labels).all() and adv.max() < 4


def test_dag_flips_pixels_within_steps():
    torch.manual_seed(0)
    unet = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 2, 3, padding=1)).eval()
    x = torch.rand(2, 1, 16, 16)
    y = unet(x).argmax(1).detach()
    run = dag(unet, x, y, epsilon=0.3, iterations=5, record=True, device="cpu")
    assert run.history.shape[0] == 6
    steps = (run.history[1:] - run.history[:-1]).flatten(2).abs().amax(-1)
    assert (steps <= 0.3 + 1e-6).all()
    assert run.objective[0] == 1.0 and min(run.objective) < 1.0   # share of targets still correct
    assert (unet(run.adversarial).argmax(1) != y).float().mean() > 0
