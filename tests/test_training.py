"""The trainer: learns, caches by configuration, resumes, reproduces on CPU."""
import json

import pytest
import torch

from medadv_lib.data import covidx_splits
from medadv_lib.models import build_model, model_names
from medadv_lib.training import TrainConfig, evaluate_accuracy, load_epoch, train_model
from medadv_lib.utils import config_key, resolve_device

KW = {"num_classes": 3, "width": 12, "depth": 4}


@pytest.fixture(scope="module")
def data():
    return covidx_splits(None, 64, 450, 150, seed=0)


@pytest.mark.slow
def test_trains_above_chance_and_caches(data):
    train, test = data
    cfg = TrainConfig(epochs=6, batch_size=32, lr=1e-3, seed=1)
    first = train_model("simple-cnn", KW, train, cfg, "cpu", test=test, progress=False)
    assert not first.from_cache and len(first.history) == 6
    acc = evaluate_accuracy(first.model, test)
    assert acc > 0.45, f"accuracy {acc} not above chance (1/3)"
    again = train_model("simple-cnn", KW, train, cfg, "cpu", test=test, progress=False)
    assert again.from_cache and again.history == first.history
    for a, b in zip(first.model.state_dict().values(), again.model.state_dict().values()):
        assert torch.equal(a, b)
    config = json.loads((first.checkpoint_dir / "config.json").read_text())
    assert config["train"]["epochs"] == 6 and config["model"] == "simple-cnn"
    e2 = load_epoch(first, 2, "cpu")
    assert isinstance(e2, torch.nn.Module)


@pytest.mark.slow
def test_same_seed_same_numbers_different_config_different_key(data):
    train, _ = data
    cfg = TrainConfig(epochs=1, batch_size=32, seed=5)
    a = train_model("simple-cnn", KW, train, cfg, "cpu", use_cache=False, progress=False)
    b = train_model("simple-cnn", KW, train, cfg, "cpu", use_cache=False, progress=False)
    for x, y in zip(a.model.state_dict().values(), b.model.state_dict().values()):
        assert torch.equal(x, y)
    assert a.history == b.history
    assert config_key({"a": 1, "b": [1, 2]}) == config_key({"b": [1, 2], "a": 1})
    assert config_key({"a": 1}) != config_key({"a": 2})


class _Crash(Exception):
    """A process killed in the middle of training."""


@pytest.mark.slow
def test_resume_after_interruption_gives_the_same_model(data, monkeypatch):
    import medadv_lib.training as training

    train, _ = data
    cfg = TrainConfig(epochs=3, seed=2)
    full = train_model("simple-cnn", KW, train, cfg, "cpu", progress=False, tag="uninterrupted")
    # a crash in epoch 2, after epoch 1's checkpoint was written
    calls, crashed, recalibrate = [], [], training.recalibrate_batchnorm

    def crash_in_epoch_2(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2 and not crashed:
            crashed.append(1)
            raise _Crash("crash in epoch 2")
        return recalibrate(*args, **kwargs)

    monkeypatch.setattr(training, "recalibrate_batchnorm", crash_in_epoch_2)
    with pytest.raises(_Crash):
        train_model("simple-cnn", KW, train, cfg, "cpu", progress=False)
    calls.clear()
    resumed = train_model("simple-cnn", KW, train, cfg, "cpu", progress=False)
    assert not resumed.from_cache and len(resumed.history) == 3
    assert len(calls) == 2, f"{len(calls)} epochs trained after the crash, not 2: epoch 1 was retrained, not resumed"
    assert not (resumed.checkpoint_dir / "quarantine").exists()
    for x, y in zip(full.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(x, y)


@pytest.mark.slow
def test_a_finished_run_keeps_each_epochs_weights_without_the_optimizer_state(data):
    """Only the newest epoch's checkpoint can resume a run; once ``final.pt`` is written every epoch
    file holds the weights and history alone (what ``load_epoch`` reads), a third of Adam's."""
    train, _ = data
    cfg = TrainConfig(epochs=3, seed=4)
    result = train_model("simple-cnn", KW, train, cfg, "cpu", progress=False)
    for epoch in (1, 2, 3):
        blob = torch.load(result.checkpoint_dir / f"epoch_{epoch:03d}.pt", weights_only=True)
        assert set(blob) == {"model", "history"}, epoch
        assert len(json.loads(blob["history"])) == epoch
    model = load_epoch(result, 3, "cpu")
    for x, y in zip(model.state_dict().values(), result.model.state_dict().values()):
        assert torch.equal(x, y)


@pytest.mark.slow
def test_keep_epochs_false_keeps_only_what_resuming_needs(data, monkeypatch, tmp_path):
    """A chapter that reads no epoch but the last: one resumable checkpoint at a time (written at
    most every RESUME_SECONDS), none once final.pt is written; the same weights, the same resume,
    and load_epoch still works (it trains the run again keeping every epoch)."""
    import medadv_lib.training as training

    monkeypatch.setenv("MEDADV_CACHE", str(tmp_path))
    train, _ = data
    cfg = TrainConfig(epochs=3, seed=6)
    reference = train_model("simple-cnn", KW, train, cfg, "cpu", progress=False, use_cache=False)
    monkeypatch.setattr(training, "RESUME_SECONDS", 0.0)      # a checkpoint after every epoch
    files, recalibrate = [], training.recalibrate_batchnorm

    def crash_in_epoch_3(model, *args, **kwargs):
        folder = next((training.cache_dir() / "checkpoints").glob("simple-cnn-*"))
        files.append(sorted(p.name for p in folder.glob("epoch_*.pt")))
        if len(files) == 3:
            raise _Crash("crash in epoch 3")
        return recalibrate(model, *args, **kwargs)

    monkeypatch.setattr(training, "recalibrate_batchnorm", crash_in_epoch_3)
    with pytest.raises(_Crash):
        train_model("simple-cnn", KW, train, cfg, "cpu", progress=False, tag="lean", keep_epochs=False)
    assert files == [[], ["epoch_001.pt"], ["epoch_002.pt"]]       # the newest one only
    files.clear()
    monkeypatch.setattr(training, "recalibrate_batchnorm", recalibrate)
    lean = train_model("simple-cnn", KW, train, cfg, "cpu", progress=False, tag="lean", keep_epochs=False)
    assert len(lean.history) == 3 and lean.history == reference.history
    assert (lean.checkpoint_dir / "final.pt").is_file() and not list(lean.checkpoint_dir.glob("epoch_*.pt"))
    for x, y in zip(reference.model.state_dict().values(), lean.model.state_dict().values()):
        assert torch.equal(x, y)
    assert train_model("simple-cnn", KW, train, cfg, "cpu", progress=False, tag="lean", keep_epochs=False).from_cache
    first = load_epoch(lean, 1, "cpu")                               # trains again, keeping the epochs
    assert len(list(lean.checkpoint_dir.glob("epoch_*.pt"))) == 3
    kept = train_model("simple-cnn", KW, train, cfg, "cpu", progress=False, tag="lean")
    assert kept.from_cache
    for x, y in zip(first.state_dict().values(), load_epoch(kept, 1, "cpu").state_dict().values()):
        assert torch.equal(x, y)


@pytest.mark.slow
def test_checkpoints_load_with_weights_only(data, monkeypatch):
    train, _ = data
    res = train_model("simple-cnn", KW, train, TrainConfig(epochs=1), "cpu", progress=False)
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    train_model("simple-cnn", KW, train, TrainConfig(epochs=1), "cpu", progress=False)
    assert calls and all(c is True for c in calls)
    assert res.checkpoint_dir.is_dir()


def test_bad_config_and_model_names():
    with pytest.raises(ValueError, match="optimizer must be one of"):
        TrainConfig(optimizer="lbfgs")
    with pytest.raises(ValueError, match="unknown model 'nope'; available:"):
        build_model("nope")
    assert "simple-cnn" in model_names()
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu")
    assert resolve_device("auto").type in ("cpu", "cuda")


@pytest.mark.slow
def test_class_weights_enter_the_loss():
    train, _ = covidx_splits(None, 32, 300, 3, seed=0, imbalance=True)
    w = train.class_weights()
    counts = train.class_counts().float()
    assert bool((counts > 0).all()), f"every class should occur in 300 imbalanced images: {counts}"
    assert counts.max() > 2 * counts.min(), "the imbalance option should make the classes unequal"
    # inverse frequency, normalised to mean 1: weight x count is the same for every class
    assert torch.allclose(w * counts, (w * counts)[0].expand(3), rtol=1e-5)
    assert float(w.mean()) == pytest.approx(1.0)
    from medadv_lib.training import _loss_fn
    loss = _loss_fn(TrainConfig(), train, "cpu")
    assert torch.equal(loss.weight, w)
    assert _loss_fn(TrainConfig(class_weighted=False), train, "cpu").weight is None


def test_calibration_subset_is_fixed_sorted_and_capped():
    """Batch norm is recalibrated on every image of a small set and on the same 1,024 of a large
    one, whatever the training generator did."""
    from medadv_lib.training import CALIBRATION_IMAGES, calibration_subset

    assert calibration_subset(10).tolist() == list(range(10))
    big = calibration_subset(3000)
    assert len(big) == CALIBRATION_IMAGES == 1024 and len(set(big.tolist())) == 1024
    assert big.tolist() == sorted(big.tolist()) and big.max() < 3000
    torch.manual_seed(123)
    assert torch.equal(big, calibration_subset(3000))
