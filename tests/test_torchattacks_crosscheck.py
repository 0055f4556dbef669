"""The registry's PGD against torchattacks' PGD (Kim 2020, torchattacks 3.5.1) on one trained model:
robust accuracy within 3 points at the same budget, steps, step size and random start.

torchattacks is a test-only dependency, installed with ``--no-deps`` (it pins ``requests~=2.25.1``;
see pyproject.toml's ``[tool.medadv] test-no-deps``); the test is skipped without it."""
import pytest
import torch
import torch.nn as nn

from medadv_lib.attacks import run_attack

STEPS = 40
N_TEST = 200


def _data(n: int, generator: torch.Generator):
    """Two classes of 16 px gray images: a faint bright square on one side or the other, in noise."""
    labels = torch.randint(0, 2, (n,), generator=generator)
    images = 0.5 + 0.15 * torch.randn(n, 1, 16, 16, generator=generator)
    images[labels == 0, :, 4:12, 2:7] += 0.12
    images[labels == 1, :, 4:12, 9:14] += 0.12
    return images.clamp(0, 1), labels


def _trained_model():
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1),
                          nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 4 * 4, 2))
    x, y = _data(800, generator)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(6):
        for i in range(0, len(x), 32):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x[i:i + 32]), y[i:i + 32]).backward()
            optimizer.step()
    return model.eval(), _data(N_TEST, generator)


def crosscheck(budgets=(2 / 255, 4 / 255, 8 / 255)) -> list[dict]:
    """Per budget: clean accuracy, the registry's and torchattacks' PGD robust accuracy."""
    import torchattacks

    model, (x, y) = _trained_model()
    with torch.no_grad():
        clean = float((model(x).argmax(1) == y).float().mean())
    ours = run_attack("pgd", model, x, y, eps=list(budgets), steps=STEPS, random_start=True, device="cpu", seed=0)
    rows = []
    for eps, result in zip(budgets, ours):
        torch.manual_seed(0)
        attack = torchattacks.PGD(model, eps=eps, alpha=2.5 * eps / STEPS, steps=STEPS, random_start=True)
        adversarial = attack(x, y)
        with torch.no_grad():
            theirs = float((model(adversarial).argmax(1) == y).float().mean())
        rows.append({"eps": eps, "clean": clean, "registry": result.robust_accuracy, "torchattacks": theirs})
    return rows


def test_registry_pgd_matches_torchattacks_within_3_points():
    pytest.importorskip("torchattacks")
    rows = crosscheck()
    print(rows)
    assert rows[0]["clean"] > 0.8, "the model must be trained for the comparison to mean anything"
    assert rows[-1]["registry"] < rows[0]["clean"] - 0.2, "the budgets must bite"
    for row in rows:
        assert abs(row["registry"] - row["torchattacks"]) <= 0.03, row


if __name__ == "__main__":     # the README's numbers: python tests/test_torchattacks_crosscheck.py
    for row in crosscheck():
        print(f"eps {row['eps'] * 255:g}/255: clean {row['clean']:.3f}, registry PGD {row['registry']:.3f}, "
              f"torchattacks PGD {row['torchattacks']:.3f}")
