"""The own-model example (medadv_lib.evaluation.own_model): a ResNet-18 trained in plain torch, saved as a state
dict and evaluated through `medadv evaluate`'s path; its PGD cross-checked against torchattacks'."""
import numpy as np
import pytest
import torch
import torch.nn as nn

from conftest import shared_or_skip
from medadv_lib.evaluation import own_model
from medadv_lib.evaluation.own_model import Recipe, accuracy, load_split, train_resnet18


def _fake_medmnist(folder, n=48):
    """A pneumoniamnist.npz of two separable classes (bright or dark left half), 28 px."""
    g = np.random.default_rng(0)
    arrays = {}
    for split in ("train", "val", "test"):
        labels = g.integers(0, 2, (n, 1)).astype(np.uint8)
        images = g.integers(60, 120, (n, 28, 28)).astype(np.uint8)
        images[labels[:, 0] == 1, :, :14] += 100
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = images, labels
    np.savez(folder / "pneumoniamnist.npz", **arrays)
    return folder


def test_load_split_resizes_as_the_evaluation_loader_does(tmp_path):
    root = shared_or_skip("data/medmnist")
    from medadv_lib.data.medmnist import load_medmnist

    images, labels = load_split(root, "test", 32)
    theirs = load_medmnist(root, "pneumoniamnist", "test", image_size=32)
    assert images.shape == (624, 1, 32, 32) and 0 <= images.min() and images.max() <= 1
    assert torch.equal(images, theirs.float_images()) and torch.equal(labels, theirs.targets)
    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        load_split(tmp_path, "test", 32)


@pytest.mark.slow
def test_trained_in_plain_torch_saved_and_loaded_as_medadv_evaluate_loads_it(tmp_path):
    from medadv_lib.evaluation.user_models import check_model, load_model

    root = _fake_medmnist(tmp_path)
    images, labels = load_split(root, "train", 32)
    recipe, losses = Recipe(epochs=3, batch_size=16, lr=1e-3), []
    model = train_resnet18(images, labels, recipe, log=losses.append)
    assert len(losses) == 3 and float(losses[-1].split()[-1]) < float(losses[0].split()[-1])
    again = train_resnet18(images, labels, recipe)                  # same seed, same weights on CPU
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    path = tmp_path / "mine.pt"
    torch.save(model.state_dict(), path)
    loaded = load_model(path, own_model.ARCH, task="binary", classes=["normal", "pneumonia"], channels=1)
    x, y = load_split(root, "test", 32)
    check_model(loaded, x, y, "binary")                              # no flag refuses it
    with torch.no_grad():
        assert torch.allclose(loaded.model(x)[:, 0], model(x.repeat(1, 3, 1, 1))[:, 0], atol=1e-5)


def test_the_command_refuses_a_missing_file_with_exit_2(tmp_path, capsys):
    assert own_model.main(["--data-root", str(tmp_path), "--out", str(tmp_path / "m.pt")]) == 2
    assert "pneumoniamnist.npz not found" in capsys.readouterr().err


class _TwoLogits(nn.Module):
    """[0, z] for one logit z: torchattacks' cross-entropy on it is the registry's binary
    cross-entropy with logits on z (log(1 + e^z) - y z), so both attacks follow one gradient. In
    eval mode: torchattacks puts a model that came in training mode back into it afterwards."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        z = self.model(x)
        return torch.cat([torch.zeros_like(z), z], 1)


def crosscheck(model, x, y, budgets, steps=10):
    """Robust accuracy of the registry's PGD and torchattacks' PGD (same budget, steps, step
    2.5 eps / steps, random start) on the wrapped one-logit model."""
    import torchattacks

    from medadv_lib.attacks import run_attack

    ours = run_attack("pgd", model, x, y, eps=list(budgets), steps=steps, random_start=True, device="cpu", seed=0,
                      task="binary")
    rows = []
    for eps, result in zip(budgets, ours):
        torch.manual_seed(0)
        adversarial = torchattacks.PGD(_TwoLogits(model).eval(), eps=eps, alpha=2.5 * eps / steps, steps=steps,
                                       random_start=True)(x, y)
        with torch.no_grad():
            theirs = float(((model(adversarial)[:, 0] > 0).long() == y).float().mean())
        rows.append({"eps": eps, "registry": result.robust_accuracy, "torchattacks": theirs})
    return rows


@pytest.mark.slow
def test_own_model_registry_pgd_matches_torchattacks_within_3_points(tmp_path):
    """On the example's model (PneumoniaMNIST, the smoke recipe), 200 test images: the registry's
    PGD and torchattacks' within 3 points at each budget, and the budgets bite."""
    pytest.importorskip("torchattacks")
    root = shared_or_skip("data/medmnist")
    from medadv_lib.evaluation.user_models import load_model

    images, labels = load_split(root, "train", 32)
    model = train_resnet18(images, labels, own_model.SMOKE_RECIPE)
    torch.save(model.state_dict(), tmp_path / "mine.pt")
    loaded = load_model(tmp_path / "mine.pt", own_model.ARCH, task="binary", classes=["normal", "pneumonia"],
                        channels=1).model
    x, y = load_split(root, "test", 32)
    keep = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:200]
    x, y = x[keep], y[keep]
    clean = accuracy(model, x, y)
    rows = crosscheck(loaded, x, y, (1 / 255, 4 / 255, 8 / 255))
    print(clean, rows)
    assert clean > 0.7, "the model must be trained for the comparison to mean anything"
    assert rows[-1]["registry"] < clean - 0.1, "the budgets must bite"
    for row in rows:
        assert abs(row["registry"] - row["torchattacks"]) <= 0.03, row


def test_the_book_adds_the_example_page_only_where_the_data_is(tmp_path, monkeypatch):
    from medadv_lib.book import build as book

    calls = []
    monkeypatch.setattr(book, "run_notebook", lambda spec, preset, overrides, **k: calls.append((spec.name, overrides)))
    monkeypatch.setattr(own_model, "book_evaluation", lambda root, preset: {"model_file": "m.pt", "root": str(root)})
    assert book.execute_own_model("smoke", None) == [] and book.execute_own_model("smoke", tmp_path) == []
    assert calls == []
    (tmp_path / "medmnist").mkdir()
    (tmp_path / "medmnist" / "pneumoniamnist.npz").write_bytes(b"")
    assert book.execute_own_model("smoke", tmp_path) == []
    assert calls == [("evaluate", {"model_file": "m.pt", "root": str(tmp_path / "medmnist")})]


def test_the_example_page_says_where_its_model_comes_from():
    text = own_model.describe(own_model.RECIPE)
    assert "trained in plain torch outside the collection's trainer" in text and "all 4,708 images" in text
    assert "1500 of a seeded shuffle" in own_model.describe(own_model.SMOKE_RECIPE)
    assert own_model.EVALUATION["arch"] == own_model.ARCH == "torchvision:resnet18"


@pytest.mark.slow
def test_book_evaluation_trains_once_and_names_the_page(tmp_path, monkeypatch):
    """The smoke book's example: trained on the real file at the smoke recipe, cached (a second call
    trains nothing), and its parameters pass the evaluation page's checks."""
    root = shared_or_skip("data/medmnist")
    from medadv_lib.evaluation.page import SPEC
    from medadv_lib.specs import resolve_parameters

    monkeypatch.setenv("MEDADV_CACHE", str(tmp_path / "cache"))
    lines = []
    values = own_model.book_evaluation(root, "smoke", log=lines.append)
    assert any("training the example's ResNet-18" in line for line in lines) and "n_inputs" not in values
    assert SPEC.run_name(values) == "evaluate-resnet18-pneumoniamnist--pneumoniamnist"
    monkeypatch.setattr(own_model, "train_resnet18", lambda *a, **k: pytest.fail("trained twice"))
    assert own_model.book_evaluation(root, "smoke", log=lines.append) == values
    resolve_parameters(SPEC, "smoke", values)
