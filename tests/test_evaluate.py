"""Attack your own model: medadv_lib.evaluate, the model sources of `medadv evaluate`, every bad input."""
import pytest
import torch
import torch.nn as nn

from conftest import shared_or_skip
from medadv_lib import cli
from medadv_lib.attacks import run_attack
from medadv_lib.evaluation.flags import FLAGS
import medadv_lib
from medadv_lib.evaluation.robustness import evaluate
from medadv_lib.evaluation.user_models import ModelInputError, check_model, load_model

NIH_FINDINGS = ["Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia",
                "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia"]


def _tiny(outputs=3, channels=1):
    torch.manual_seed(1)
    return nn.Sequential(nn.Flatten(), nn.Linear(channels * 144, 32), nn.ReLU(), nn.Linear(32, outputs)).eval()


def test_evaluate_returns_the_matrix_row_of_one_model():
    model = _tiny()
    x = torch.rand(12, 1, 12, 12, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        y = model(x).argmax(1)
    y[:3] = (y[:3] + 1) % 3                                         # three inputs wrong when clean
    budgets = [1 / 255, 0.05, 0.3]
    result = medadv_lib.evaluate(model, x, y, eps=budgets, attacks=["fgsm", "pgd"], steps=5, device="cpu")
    assert medadv_lib.evaluate is evaluate
    assert result.task == "multiclass" and result.n == 12 and result.eps == budgets
    assert result.clean.value == pytest.approx(0.75) and result.clean.n == 12
    pgd = run_attack("pgd", model, x, y, eps=0.05, steps=5, device="cpu")
    assert result.robust["pgd"][0.05].value == pytest.approx(pgd.robust_accuracy)
    for eps in budgets:
        assert result.worst[eps].value <= min(result.robust[a][eps].value for a in ("fgsm", "pgd"))
        assert result.noise[eps].n == 12 and result.worst[eps].low <= result.worst[eps].value <= result.worst[eps].high
    assert result.worst[0.3].value == 0.0 and result.noise[1 / 255].value == pytest.approx(0.75)
    table = result.table()
    assert list(table.columns) == ["clean", "fgsm", "pgd", "worst case", "noise", "strongest", "n"]
    assert list(table.index) == ["1/255", "12.75/255", "76.5/255"]
    assert {c.claim.id for c in result.checks} == {"matrix-falls-with-budget", "matrix-near-zero",
                                                  "matrix-beats-noise", "matrix-pgd-not-weaker"}
    assert next(c for c in result.checks if c.claim.id == "matrix-falls-with-budget").verdict == "holds"
    l2 = evaluate(model, x, y, threat_model="L2", eps=[0.1, 2.0], attacks=["pgd"], steps=5, device="cpu")
    assert l2.table().index.name == "L2 budget" and l2.worst[2.0].value == 0.0


def test_evaluate_refuses_bad_arguments():
    model, x, y = _tiny(), torch.rand(4, 1, 12, 12), torch.tensor([0, 1, 2, 0])
    with pytest.raises(ValueError, match="threat_model"):
        evaluate(model, x, y, threat_model="L1")
    with pytest.raises(ValueError, match="increasing order"):
        evaluate(model, x, y, eps=[0.1, 0.01])
    with pytest.raises(ValueError, match=r"\['dag'\] do not apply to a multiclass model"):
        evaluate(model, x, y, attacks=["dag"])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        evaluate(model, x * 300, y)


# --------------------------------------------------------------------------- model sources

def _save_state(model, path):
    torch.save(model.state_dict(), path)
    return str(path)


def test_each_model_source_loads_from_a_state_dict_or_torchscript(tmp_path):
    import timm
    import torchvision

    x = torch.rand(2, 1, 32, 32)
    sources = {
        "timm:resnet10t": timm.create_model("resnet10t", pretrained=False, num_classes=2, in_chans=1),
        "torchvision:resnet18": torchvision.models.resnet18(weights=None, num_classes=2),
        "medadv:simple-cnn": __import__("medadv_lib.models", fromlist=["build_model"]).build_model(
            "simple-cnn", num_classes=2, in_channels=1),
    }
    for arch, model in sources.items():
        path = _save_state(model, tmp_path / f"{arch.replace(':', '-')}.pt")
        loaded = load_model(path, arch, task="multiclass", classes=["a", "b"], channels=1)
        check_model(loaded, x, torch.tensor([0, 1]), "multiclass")
        assert loaded.format == "state dict" and loaded.model(x).shape == (2, 2)
        if arch.startswith("torchvision"):          # three channels: the gray image repeated
            assert "repeated" in " ".join(loaded.notes)
            assert torch.allclose(loaded.model(x), model.eval()(x.repeat(1, 3, 1, 1)), atol=1e-5)
    scripted = torch.jit.script(_tiny(outputs=1).eval())
    scripted.save(str(tmp_path / "tiny.ts"))
    loaded = load_model(tmp_path / "tiny.ts", "medadv:anything", task="binary", classes=["normal", "pneumonia"],
                        channels=1)
    assert loaded.format == "TorchScript" and loaded.outputs == ["pneumonia"]
    check_model(loaded, torch.rand(3, 1, 12, 12), torch.tensor([0, 1, 0]), "binary")


def test_torchxrayvision_densenet_with_random_weights_on_the_nih_sample(tmp_path):
    """xrv's DenseNet from a file: its scaling to [-1024, 1024] at 224 px, its 18 outputs mapped by
    name onto the 14 findings of NIH's CSV, on the shared nih-cxr14 sample."""
    xrv = pytest.importorskip("torchxrayvision")
    root = shared_or_skip("data/nih-cxr14-1000")
    from medadv_lib.evaluation.page import SPEC, prepare
    from medadv_lib.specs import notebook_parameters

    torch.manual_seed(0)
    base = xrv.models.DenseNet(weights=None).eval()
    path = _save_state(base, tmp_path / "xrv-densenet.pt")
    p = {**notebook_parameters(SPEC), "model_file": path, "arch": "xrv:densenet121", "dataset": "nih-cxr14",
         "data_root": str(root), "n_inputs": 2, "image_size": 64}    # the spec's checks: the CLI tests
    run = prepare(p)
    assert run.task == "multilabel" and run.loaded.outputs == NIH_FINDINGS and run.images.shape == (2, 1, 64, 64)
    order = [base.targets.index(f) for f in NIH_FINDINGS]
    with torch.no_grad():
        ours = run.loaded.model(run.images)
        big = torch.nn.functional.interpolate(run.images, size=(224, 224), mode="bilinear", align_corners=False)
        theirs = base(big * 2048 - 1024)[:, order]
    assert ours.shape == (2, 14) and torch.allclose(ours, theirs, atol=1e-4)
    assert torch.allclose(torch.from_numpy(xrv.datasets.normalize(big.numpy() * 255, 255)), big * 2048 - 1024, atol=1e-3)


# --------------------------------------------------------------------------- bad input, exit 2

@pytest.fixture
def nih(tmp_path):
    return str(shared_or_skip("data/nih-cxr14-1000"))


def _evaluate(capsys, tmp_path, *args):
    code = cli.main(["evaluate", "--dataset", "nih-cxr14", "--n-inputs", "2", "--image-size", "32",
                     "--out", str(tmp_path / "out"), *args])
    err = capsys.readouterr().err
    return code, err


def test_every_bad_input_is_refused_before_any_attack_with_exit_2(capsys, tmp_path, nih, monkeypatch):
    import torchvision

    from medadv_lib import attacks

    monkeypatch.setattr(attacks.Attack, "run", lambda *a, **k: pytest.fail("an attack ran"))
    cases = []
    missing = tmp_path / "nowhere.pt"
    cases.append(([str(missing), "torchvision:resnet18"], f"parameter 'model_file': path does not exist: {missing}"))
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    cases.append(([str(junk), "torchvision:resnet18"], "is not a checkpoint torch.load(..., weights_only=True)"))
    pickled = tmp_path / "pickled.pt"
    torch.save(nn.Linear(2, 2), pickled)
    cases.append(([str(pickled), "torchvision:resnet18"], "a pickled model object is refused"))
    r18 = _save_state(torchvision.models.resnet18(weights=None, num_classes=14), tmp_path / "r18.pt")
    cases.append(([r18, "torchvision:resnet34"], "is not a state dict of torchvision:resnet34 for this dataset: "
                                                 "96 missing keys: layer1.2.conv1.weight, layer1.2.bn1.weight"))
    r18_3 = _save_state(torchvision.models.resnet18(weights=None, num_classes=3), tmp_path / "r18-3.pt")
    cases.append(([r18_3, "torchvision:resnet18"],
                  "2 mis-shaped: fc.weight (3, 512) in the file, (14, 512) in torchvision:resnet18, fc.bias"))
    five = tmp_path / "five.ts"
    torch.jit.script(nn.Sequential(nn.Conv2d(1, 5, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())).save(str(five))
    cases.append(([str(five), "medadv:simple-cnn"],
                  "outputs (2, 5); a multilabel dataset with outputs ['Atelectasis'"))
    rgb = tmp_path / "rgb.ts"
    torch.jit.script(nn.Sequential(nn.Conv2d(4, 14, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())).save(str(rgb))
    cases.append(([str(rgb), "medadv:simple-cnn"], "takes 4 input channel(s); the dataset has 1"))
    cases.append(([r18, "keras:resnet18"], "arch 'keras:resnet18': expected SOURCE:NAME"))
    for (model, arch, *extra), message in cases:
        code, err = _evaluate(capsys, tmp_path, "--model", model, "--arch", arch, "--data-root", nih, *extra)
        assert code == 2, (arch, err)
        assert message in err and err.count("error:") == 1, (message, err)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.ipynb"))


def test_images_outside_the_models_range_are_refused(tmp_path):
    torch.jit.script(_tiny(outputs=1)).save(str(tmp_path / "tiny.ts"))
    loaded = load_model(tmp_path / "tiny.ts", "medadv:x", task="binary", classes=["normal", "pneumonia"], channels=1)
    images = torch.linspace(0, 255, 2 * 144).view(2, 1, 12, 12)          # 0-255 images, not [0, 1]
    with pytest.raises(ModelInputError, match=r"images lie in \[0, 255\]; the model expects \[0, 1\]"):
        check_model(loaded, images, torch.tensor([0, 1]), "binary")
    check_model(loaded, images / 255, torch.tensor([0, 1]), "binary")


def test_medadv_evaluate_executes_one_page_with_provenance(capsys, tmp_path, nih):
    """The whole command on the nih-cxr14 sample: a small medadv model's state dict, two budgets."""
    import json

    from medadv_lib.models import build_model

    model = build_model("simple-cnn", num_classes=14, in_channels=1, width=4, depth=2)
    path = _save_state(model, tmp_path / "my-cnn.pt")
    code = cli.main(["evaluate", "--model", path, "--arch", "medadv:simple-cnn", "-p", "arch_options",
                     "{width: 4, depth: 2}", "--dataset", "nih-cxr14", "--data-root", nih, "--eps", "1/255",
                     "8/255", "--attacks", "fgsm", "pgd", "--n-inputs", "4", "--image-size", "32", "--steps", "2",
                     "--preset", "smoke", "--out", str(tmp_path / "out"), "--quiet"])
    assert code == 0, capsys.readouterr().err
    page = tmp_path / "out" / "evaluate-my-cnn--nih-cxr14.ipynb"
    prov = json.loads((tmp_path / "out" / "evaluate-my-cnn--nih-cxr14.provenance.json").read_text())
    assert page.is_file() and prov["parameters"]["eps"] == [1 / 255, 8 / 255] and prov["paper"] == "evaluate"
    text = page.read_text()
    assert "worst case" in text and "8/255" in text and "matrix-beats-noise" in text
    assert "AutoAttack's flags" in text and all(flag in text for flag in FLAGS)   # each raised or not


def test_book_evaluate_file_is_read_and_checked_before_anything_runs(capsys, tmp_path, monkeypatch):
    from medadv_lib.book import build as book

    spec = tmp_path / "mine.yaml"
    spec.write_text("model_file: weights/missing.pt\narch: xrv:densenet121\ndataset: nih-cxr14\n"
                    "data_root: data\neps: [1/255, 0.01]\nattacks: [pgd]\n")
    values = book.evaluation_overrides(spec)
    assert values["model_file"] == str(tmp_path / "weights" / "missing.pt") and values["eps"] == [1 / 255, 0.01]
    assert values["data_root"] == str(tmp_path / "data") and values["attacks"] == ["pgd"]
    monkeypatch.setattr(book, "execute_all", lambda *a, **k: pytest.fail("a chapter ran"))
    (tmp_path / "data").mkdir()
    assert cli.main(["book", "--evaluate", str(spec)]) == 2
    assert capsys.readouterr().err.count("error:") == 1


def test_evaluation_pages_have_their_place_in_the_toc():
    """`medadv book --evaluate` writes evaluate-MODEL--DATASET pages: the table of contents lists
    them (under the robustness matrix) and still parses."""
    from pathlib import Path

    import yaml
    from sphinx_external_toc.parsing import parse_toc_yaml

    toc_path = Path(__file__).resolve().parents[1] / "_toc.yml"
    toc = yaml.safe_load(toc_path.read_text())
    globs = [s.get("glob") for part in toc["parts"] for chapter in part["chapters"]
             for s in chapter.get("sections", [])]
    assert "book/notebooks/evaluate-*" in globs
    parse_toc_yaml(toc_path)
