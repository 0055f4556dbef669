"""torchxrayvision's published weights as `medadv evaluate --arch xrv:NAME` takes them: the state dict
a user saves from ``xrv.models.DenseNet(weights=NAME)``, made here by running torchxrayvision's own
constructor on a local weights file (``get_weights`` pointed at it: nothing is downloaded; random
weights, with the ``op_threshs`` buffer, labels and resolution the published names carry)."""
import pytest
import torch

from medadv_lib.evaluation.flags import PROBABILITIES, model_flags
from medadv_lib.evaluation.user_models import ModelInputError, build_xrv, load_model, parse_arch

xrv = pytest.importorskip("torchxrayvision")

NIH_FINDINGS = ["Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia",
                "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia"]


def published(name, tmp_path, monkeypatch):
    """``xrv.models.DenseNet(weights=name)`` (or ``ResNet``) built by torchxrayvision itself from a
    local file of random weights in the published format (a pickled module for the DenseNets, a
    state dict for the ResNet), as a user holds it after the download."""
    torch.manual_seed(0)
    weights = tmp_path / f"{name}-download.pt"
    if name.startswith("resnet"):
        import torchvision

        inner = torchvision.models.resnet50(num_classes=18, weights=None)
        inner.conv1 = torch.nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
        torch.save(inner.state_dict(), weights)
        monkeypatch.setattr(xrv.models, "get_weights", lambda w, cache_dir=None: str(weights))
        return xrv.models.ResNet(weights=name)
    module = xrv.models.DenseNet(weights=None, num_classes=18)
    for m in module.modules():                        # trained-looking batch-norm statistics, not 0/1
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_var.fill_(4.0)
    torch.save(module, weights)
    monkeypatch.setattr(xrv.models, "get_weights", lambda w, cache_dir=None: str(weights))
    return xrv.models.DenseNet(weights=name)


def test_every_published_name_is_an_architecture():
    assert parse_arch("xrv:densenet121-res224-all") == ("xrv", "densenet121-res224-all")
    for name in xrv.models.model_urls:
        parse_arch(f"xrv:{name}")
    with pytest.raises(ModelInputError, match="torchxrayvision architectures: .*densenet121-res224-nih"):
        parse_arch("xrv:densenet121-res224-everything")


def test_built_like_torchxrayvision_builds_it(tmp_path, monkeypatch):
    for name in ("densenet121-res224-all", "densenet121-res224-chex"):
        theirs, ours = published(name, tmp_path, monkeypatch), build_xrv(name)
        shapes = lambda model: {k: v.shape for k, v in model.state_dict().items()}   # noqa: E731
        assert shapes(theirs) == shapes(ours)
        assert "op_threshs" in ours.state_dict() and ours.targets == xrv.models.model_urls[name]["labels"]
        assert ours.input_resolution == theirs.input_resolution == 224 and repr(ours) == repr(theirs)
        torch.testing.assert_close(ours.op_threshs, theirs.op_threshs, equal_nan=True)


def test_a_published_densenet_state_dict_is_attacked_on_its_calibrated_logits(tmp_path, monkeypatch):
    theirs = published("densenet121-res224-all", tmp_path, monkeypatch)
    path = tmp_path / "xrv-all.pt"
    torch.save(theirs.state_dict(), path)                               # what the README tells the user to do
    loaded = load_model(path, "xrv:densenet121-res224-all", task="multilabel", classes=NIH_FINDINGS, channels=1)
    notes = " ".join(loaded.notes)
    assert "op_threshs set to None" in notes and "logit(op_thresh)" in notes and "224 px" in notes
    x = torch.rand(2, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    big = torch.nn.functional.interpolate(x, size=(224, 224), mode="bilinear", antialias=True)
    order = [theirs.targets.index(f) for f in NIH_FINDINGS]
    with torch.no_grad():
        calibrated = theirs(big * 2048 - 1024)[:, order]             # op_norm: 0.5 at the operating point
        ours = loaded.model(x)
    assert theirs.op_threshs is not None and loaded.model.model.op_threshs is None
    assert ours.shape == (2, 14) and torch.equal(ours > 0, calibrated > 0.5)
    ops = torch.tensor(xrv.models.model_urls["all"]["op_threshs"])[order]
    torch.testing.assert_close(torch.sigmoid(ours + torch.logit(ops)), torch.sigmoid(
        theirs.classifier(theirs.features2(big * 2048 - 1024)))[:, order], atol=1e-5, rtol=1e-4)
    flags = {f.name: f for f in model_flags(loaded.model, x, (calibrated > 0.5).float(), "multilabel")}
    assert flags[PROBABILITIES].raised is False                        # logits, not op_norm's probabilities


def test_a_finding_the_weight_does_not_predict_is_refused_by_name(tmp_path, monkeypatch):
    theirs = published("densenet121-res224-chex", tmp_path, monkeypatch)
    path = tmp_path / "xrv-chex.pt"
    torch.save(theirs.state_dict(), path)
    with pytest.raises(ModelInputError, match=r"xrv:densenet121-res224-chex predicts no 'Infiltration', 'Mass', "
                                              r"'Nodule', 'Emphysema', 'Fibrosis', 'Pleural_Thickening', "
                                              r"'Hernia'.*\(7 blank"):
        load_model(path, "xrv:densenet121-res224-chex", task="multilabel", classes=NIH_FINDINGS, channels=1)
    loaded = load_model(path, "xrv:densenet121-res224-chex", task="binary", classes=["Normal", "Pneumonia"],
                        channels=1)
    assert loaded.outputs == ["Pneumonia"]


def test_bare_and_published_names_are_not_mixed_up(tmp_path, monkeypatch):
    theirs = published("densenet121-res224-all", tmp_path, monkeypatch)
    path = tmp_path / "xrv-all.pt"
    torch.save(theirs.state_dict(), path)
    with pytest.raises(ModelInputError, match="op_threshs buffer: it was saved from a model with published "
                                              "weights; name them, e.g. --arch xrv:densenet121-res224-all"):
        load_model(path, "xrv:densenet121", task="multilabel", classes=NIH_FINDINGS, channels=1)
    theirs.op_threshs = None                                          # a user who already switched it off
    torch.save(theirs.state_dict(), path)
    loaded = load_model(path, "xrv:densenet121-res224-all", task="multilabel", classes=NIH_FINDINGS, channels=1)
    assert "no op_threshs in the file" in " ".join(loaded.notes)
    bare = tmp_path / "bare.pt"
    torch.save(build_xrv("densenet121").state_dict(), bare)
    assert load_model(bare, "xrv:densenet121", task="multilabel", classes=NIH_FINDINGS, channels=1).model.size == 224


@pytest.mark.slow
def test_the_published_resnet50_at_512_px(tmp_path, monkeypatch):
    theirs = published("resnet50-res512-all", tmp_path, monkeypatch)
    path = tmp_path / "xrv-r50.pt"
    torch.save(theirs.state_dict(), path)
    loaded = load_model(path, "xrv:resnet50-res512-all", task="multilabel", classes=NIH_FINDINGS, channels=1)
    x = torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    big = torch.nn.functional.interpolate(x, size=(512, 512), mode="bilinear", antialias=True)
    order = [theirs.targets.index(f) for f in NIH_FINDINGS]
    with torch.no_grad():
        assert torch.equal(loaded.model(x) > 0, theirs(big * 2048 - 1024)[:, order] > 0.5)
    assert loaded.model.size == 512 and "512 px" in " ".join(loaded.notes)
