"""Poisoning (Nwadike et al. 2020) and the proof that the trigger reaches the network intact."""
import numpy as np
import pytest
import torch

from medadv_lib.attacks.poisoning import (Trigger, apply_trigger, infect_images, mixed_test_set,
                                         poison_training_set, train_victim, trigger_boxes)
from medadv_lib.data.chestxray14 import synthetic_chestxray14
from medadv_lib.data.datasets import ImageDataset
from medadv_lib.models import register_model
from medadv_lib.models.simple import simple_cnn
from medadv_lib.training import TrainConfig, augment_batch, predict, train_model

RECORDED: list[torch.Tensor] = []


@register_model("test-backdoor-recorder")
def _recorder(num_classes: int = 14) -> torch.nn.Module:
    """A tiny CNN that records every input batch it receives (what the network really sees)."""
    model = simple_cnn(num_classes=num_classes, in_channels=1, width=4, depth=2)
    model.register_forward_pre_hook(lambda _m, args: RECORDED.append(args[0].detach().cpu().clone()))
    return model


def _toy(n=20, size=32, uint8=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = 0.3 + 0.7 * torch.rand(n, 1, size, size, generator=g)     # no black pixels anywhere
    if uint8:
        images = (images * 255).round().to(torch.uint8)
    targets = (torch.rand(n, 14, generator=g) < 0.2).float()
    targets[0, 0] = 1.0
    return ImageDataset(images, targets, [f"f{i}" for i in range(14)], "synthetic toy")


def _box_values(images, boxes, k):
    return torch.stack([images[i, :, r:r + k, c:c + k] for i, (r, c) in enumerate(boxes)])


def test_trigger_validation():
    with pytest.raises(ValueError, match="positive int"):
        Trigger(0)
    with pytest.raises(ValueError, match="location"):
        Trigger(2, "corner")
    with pytest.raises(ValueError, match="does not fit"):
        trigger_boxes(Trigger(40), 1, 32, 32, 0)


def test_fixed_boxes_are_central_and_random_boxes_vary_within_bounds():
    fixed = trigger_boxes(Trigger(3, "fixed"), 4, 64, 64, 0)
    assert (fixed == [[30, 30]]).all()
    rand = trigger_boxes(Trigger(4, "random"), 200, 64, 48, 1)
    assert rand[:, 0].min() >= 0 and rand[:, 0].max() <= 60 and rand[:, 1].max() <= 44
    assert len({tuple(b) for b in rand}) > 100
    assert (rand == trigger_boxes(Trigger(4, "random"), 200, 64, 48, 1)).all()


@pytest.mark.parametrize("uint8", [True, False])
def test_apply_trigger_is_one_minus_m_x_plus_m_r(uint8):
    data = _toy(uint8=uint8)
    boxes = trigger_boxes(Trigger(2, "random"), len(data), 32, 32, 3)
    out = apply_trigger(data.images, boxes, Trigger(2, "random"))
    mask = torch.zeros_like(out, dtype=torch.bool)
    for i, (r, c) in enumerate(boxes):
        mask[i, :, r:r + 2, c:c + 2] = True
    assert (out[mask] == 0).all()
    assert torch.equal(out[~mask], data.images[~mask])
    assert int(mask.sum()) == len(data) * 4


def test_poisoning_picks_without_replacement_and_relabels_one_hot():
    data = _toy(n=50)
    before = data.images.clone(), data.targets.clone()
    p = poison_training_set(data, Trigger(3), fraction=0.4, target=0, seed=7)
    assert len(p.infected) == 20 and len(set(p.infected.tolist())) == 20
    clean = np.setdiff1d(np.arange(50), p.infected)
    one_hot = torch.zeros(14)
    one_hot[0] = 1
    assert all(torch.equal(p.dataset.targets[i], one_hot) for i in p.infected)
    assert torch.equal(p.dataset.targets[clean], data.targets[clean])
    assert torch.equal(p.dataset.images[clean], data.images[clean])
    assert (_box_values(p.dataset.images[p.infected], p.boxes, 3) == 0).all()
    assert torch.equal(before[0], data.images) and torch.equal(before[1], data.targets)  # not mutated
    assert "poisoned" in p.dataset.source
    other = poison_training_set(data, Trigger(3), fraction=0.4, target=0, seed=8)
    assert not np.array_equal(other.infected, p.infected)
    with pytest.raises(ValueError, match="fraction"):
        poison_training_set(data, Trigger(3), fraction=0.0)
    with pytest.raises(ValueError, match="target"):
        poison_training_set(data, Trigger(3), target=14)


@pytest.mark.slow
def test_trigger_survives_the_training_and_evaluation_pipelines():
    """Every step between the poisoned dataset and the network: uint8 storage -> float_images ->
    the trainer's batches (augmentation off) -> the model; and predict() at test time."""
    data = _toy(n=16, size=32, uint8=True)
    trigger = Trigger(1, "random")
    p = poison_training_set(data, trigger, fraction=0.5, target=0, seed=1)
    expected = p.dataset.float_images()[p.infected]
    assert (_box_values(expected, p.boxes, 1) == 0).all()          # uint8 -> float keeps the black
    RECORDED.clear()
    config = TrainConfig(epochs=1, batch_size=4, loss="bce", augment=False, seed=0)
    train_model("test-backdoor-recorder", {}, p.dataset, config, device="cpu", use_cache=False,
                progress=False)
    seen = torch.cat(RECORDED)
    assert len(seen) >= len(data)            # training batches (+ the trainer's batch-norm pass)
    for image in expected:                                           # each infected image, bit-exact
        assert any(torch.equal(image, s) for s in seen)

    test = infect_images(_toy(n=6, size=32, uint8=True, seed=1), trigger, seed=2)
    RECORDED.clear()
    from medadv_lib.models import build_model
    predict(build_model("test-backdoor-recorder"), test.dataset.float_images(), device="cpu")
    seen = torch.cat(RECORDED)
    assert (_box_values(seen, test.boxes, 1) == 0).all()
    assert torch.equal(seen, test.dataset.float_images())


def test_augmentation_would_destroy_the_trigger_so_train_victim_refuses_it():
    data = _toy(n=8, size=32, uint8=False)
    p = infect_images(data, Trigger(2, "fixed"))
    moved = augment_batch(p.dataset.images, torch.Generator().manual_seed(0))
    assert not (_box_values(moved, p.boxes, 2) == 0).all()
    with pytest.raises(ValueError, match="augment"):
        train_victim(data, Trigger(2), TrainConfig(loss="bce", augment=True), "densenet-small", {})


def test_trigger_applied_after_resizing_to_model_resolution():
    """The loaders resize first (synthetic images are drawn at model size; the real loader
    resizes on reading); the trigger is then exactly k x k model pixels."""
    data = synthetic_chestxray14(3, 64, seed=0)
    p = infect_images(data, Trigger(2, "fixed"))
    diff = (p.dataset.float_images() != data.float_images())
    assert diff.shape[-1] == 64
    assert int(diff[0].sum()) <= 4 and diff[0, 0, 31:33, 31:33].sum() == int(diff[0].sum())
    assert (p.dataset.float_images()[:, :, 31:33, 31:33] == 0).all()


def test_mixed_test_set_infects_a_fraction_and_keeps_labels():
    data = _toy(n=200)
    mixed = mixed_test_set(data, Trigger(2), 0.1, seed=0)
    assert len(mixed.infected) == 20
    assert torch.equal(mixed.dataset.targets, data.targets)
    assert len(mixed_test_set(data, Trigger(2), 0.001).infected) == 1
    changed = (mixed.dataset.images != data.images).flatten(1).any(1)
    assert set(np.flatnonzero(changed.numpy())) == set(mixed.infected.tolist())


def test_kermany_reads_as_one_label_with_pneumonia_as_the_target(tmp_path):
    """The backdoor chapter on Kermany's layout: (N, 1) float targets named Pneumonia, a one-output
    victim, and the spec refuses any other target finding before the notebook starts."""
    from test_data_real import write_kaggle_layout

    from medadv_lib.specs import ParameterError, resolve_parameters
    from medadv_lib.papers.backdoor import SPEC
    from medadv_lib.papers.backdoor import experiment as ex

    root = write_kaggle_layout(tmp_path / "k", n=3)
    train, test = ex.load_data("kermany", str(root), 32, 0, 0, 0)
    assert train.multilabel and train.class_names == ["Pneumonia"] and tuple(train.targets.shape) == (6, 1)
    assert sorted(train.targets[:, 0].tolist()) == [0, 0, 0, 1, 1, 1]
    assert ex.target_index("Pneumonia", train.class_names) == 0
    assert ex.model_kwargs("densenet-small", len(train.class_names)) == {"num_classes": 1, "in_channels": 1}
    with pytest.raises(ValueError, match="not a label of this dataset"):
        ex.target_index("Atelectasis", train.class_names)
    params = resolve_parameters(SPEC, "smoke", {"dataset": "kermany", "data_root": str(root)})
    assert params["target_finding"] == "Pneumonia"
    with pytest.raises(ParameterError, match="target_finding must be 'Pneumonia'"):
        resolve_parameters(SPEC, "smoke", {"dataset": "kermany", "data_root": str(root),
                                           "target_finding": "Atelectasis"})
    with pytest.raises(ValueError, match="two-class"):
        train.as_one_label()


def test_an_undefined_metric_reads_at_the_last_epoch():
    """AUROC-TT with one label is NaN at every epoch: the claims' arrays then come from the last
    epoch instead of failing (and the AUROC-TT claim says it cannot be tested)."""
    import pandas as pd

    from medadv_lib.papers.backdoor.experiment import _epoch_of

    frame = pd.DataFrame({"model": "trojaned", "location": "fixed", "size": 3, "seed": 0, "epoch": [1, 2, 3],
                          "auroc_tt": [float("nan")] * 3, "asr_0.6": [0.2, 0.9, 0.5]})
    assert _epoch_of(frame, "trojaned", "fixed", 3, 0, "auroc_tt", "max") == 3
    assert _epoch_of(frame, "trojaned", "fixed", 3, 0, "asr_0.6", "max") == 2
    assert _epoch_of(frame, "trojaned", "fixed", 3, 0, "asr_0.6", "min") == 1


# ---------------------------------------------------------------- issue 20: ASR per epoch and the scale ladder

def _per_epoch_table():
    """A per-epoch table as :func:`evaluate` builds it: a clean control and two fixed triggers."""
    import pandas as pd

    rows = []
    for epoch, (clean_nn, small, large) in enumerate([(0.70, 0.10, 0.50), (0.80, 0.40, 1.00), (0.75, 0.30, 0.90),
                                                      (0.82, 0.60, 0.95)], start=1):
        for size in (1, 3):
            rows.append({"model": "clean", "location": "fixed", "size": size, "seed": 0, "epoch": epoch,
                         "asr_0.6": 0.0, "asr_0.9": 0.0, "auroc_nn": clean_nn, "auroc_tt": 0.5, "auroc_tn": clean_nn})
        for size, asr in ((1, small), (3, large)):
            rows.append({"model": "trojaned", "location": "fixed", "size": size, "seed": 0, "epoch": epoch,
                         "asr_0.6": asr, "asr_0.9": asr / 2, "auroc_nn": clean_nn - 0.05, "auroc_tt": 0.9,
                         "auroc_tn": 0.6})
    return pd.DataFrame(rows)


def _test_set(n=20):
    targets = torch.zeros(n, 14)
    targets[:10, 0] = 1.0                      # 10 of 20 have the target: ASR is read on the other 10
    return ImageDataset(torch.zeros(n, 1, 8, 8), targets, [f"f{i}" for i in range(14)], "toy")


def test_scale_ladder_reads_the_max_over_the_first_epochs_with_the_papers_cell():
    from medadv_lib.papers.backdoor.experiment import ladder_epochs, scale_ladder

    assert ladder_epochs(12) == [3, 6, 12] and ladder_epochs(3) == [1, 2, 3] and ladder_epochs(4) == [1, 2, 4]
    ladder = scale_ladder(_per_epoch_table(), _test_set(), 0, [1, 3], [1, 2, 4], seed=0)
    assert list(ladder.index) == [("1x1", 1), ("1x1", 2), ("1x1", 4), ("3x3", 1), ("3x3", 2), ("3x3", 4)]
    assert [cell.split()[0] for cell in ladder.loc["1x1", "max ASR(0.6)"]] == ["0.100", "0.400", "0.600"]
    assert list(ladder.loc["1x1", "at epoch"]) == [1, 2, 4]
    assert list(ladder.loc["3x3", "at epoch"]) == [1, 2, 2]      # the maximum, not the last epoch
    assert (ladder["n (ASR)"] == 10).all()
    assert (ladder.loc["1x1", "paper ASR(0.6)"] == "1.000").all() and (ladder.loc["3x3", "paper ASR(0.6)"] == "0.999").all()
    assert (ladder["AUROC-NN drop (clean minus trojaned)"] == "0.050").all()
    assert (ladder.loc["1x1", "paper AUROC-NN drop"] == "0.022").all()


def test_asr_per_epoch_sits_beside_the_training_loss():
    from types import SimpleNamespace

    from medadv_lib.papers.backdoor.experiment import asr_per_epoch

    history = [{"epoch": e, "loss": 1.0 / e} for e in range(1, 5)]
    runs = {(place, k, 0): SimpleNamespace(history=history) for place, k in (("clean", None), ("fixed", 1), ("fixed", 3))}
    table = asr_per_epoch(runs, _per_epoch_table(), _test_set(), 0, focus_size=3, seed=0)
    assert list(table.index) == ["clean (control)", "trojaned, fixed 1 px", "trojaned, fixed 3 px"]
    assert table.loc["trojaned, fixed 1 px", "ASR(0.6) per epoch"] == "0.10 0.40 0.30 0.60"
    assert table.loc["trojaned, fixed 3 px", "training loss per epoch"] == "1.000 0.500 0.333 0.250"
    assert table.loc["clean (control)", "AUROC-NN per epoch"] == "0.700 0.800 0.750 0.820"
    assert (table["epochs"] == 4).all() and (table["n (ASR)"] == 10).all()


@pytest.mark.slow
def test_asr_is_recorded_after_every_epoch_from_the_trainers_checkpoints(tmp_path, monkeypatch):
    """A tiny victim trained for three epochs: one ASR per epoch, each from that epoch's checkpoint
    (rebuilt by the cache, so a cached model gives the same record without retraining)."""
    from medadv_lib.papers.backdoor.experiment import asr_per_epoch, evaluate

    monkeypatch.setenv("MEDADV_CACHE", str(tmp_path))
    train, test = _toy(n=24, size=32, uint8=False), _toy(n=12, size=32, uint8=False, seed=3)
    config = TrainConfig(epochs=3, batch_size=8, loss="bce", augment=False, seed=0)
    kwargs = {"num_classes": 14, "in_channels": 1, "width": 4, "depth": 2}
    runs = {("clean", None, 0): train_victim(train, None, config, "simple-cnn", kwargs, target=0, device="cpu",
                                             progress=False)[0],
            ("fixed", 3, 0): train_victim(train, Trigger(3), config, "simple-cnn", kwargs, 0.5, 0, "cpu",
                                          progress=False)[0]}
    infected = {("fixed", 3): infect_images(test, Trigger(3), seed=1).dataset}
    per_epoch, _, _ = evaluate(runs, test, infected, [3], "simple-cnn", kwargs, 0, "cpu")
    table = asr_per_epoch(runs, per_epoch, test, 0, focus_size=3, seed=0)
    asr = table.loc["trojaned, fixed 3 px", "ASR(0.6) per epoch"].split()
    assert len(asr) == 3 and all(0.0 <= float(v) <= 1.0 for v in asr)
    cached = train_victim(train, Trigger(3), config, "simple-cnn", kwargs, 0.5, 0, "cpu", progress=False)[0]
    assert cached.from_cache
    again, _, _ = evaluate({("fixed", 3, 0): cached}, test, infected, [3], "simple-cnn", kwargs, 0, "cpu")
    assert asr == asr_per_epoch({("fixed", 3, 0): cached}, again, test, 0, 3, 0).loc[
        "trojaned, fixed 3 px", "ASR(0.6) per epoch"].split()
