"""The UAP chapter's library pieces: sweep with random controls, Table-1 layout, retraining on a
UAP subset, figures, paper spec, and COVID-Net's trainability (zero-initialised extensions)."""
import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from medadv_lib.attacks.uap import (adversarial_retraining, rate_table, uap_radius, uap_rate,
                                    uap_sweep, universal_perturbation)
from medadv_lib.data.datasets import ImageDataset
from medadv_lib.metrics.classification import fooling_rate
from medadv_lib.models import build_model
from medadv_lib.papers import ParameterError, get_paper, resolve_parameters
from medadv_lib.papers.uap_covidnet import CLASSES, paper_table1, paper_targeted_table
from medadv_lib.plotting.uap import plot_confusion_matrices, plot_retraining, plot_uaps, scale_for_display
from medadv_lib.training import TrainConfig

matplotlib.use("Agg")


def _dataset(n=48, seed=1, size=8):
    g = torch.Generator().manual_seed(seed)
    images = (torch.rand(n, 1, size, size, generator=g) * 255).to(torch.uint8)
    return ImageDataset(images, torch.arange(n) % 3, list(CLASSES), "random test images",
                        [f"img{i}" for i in range(n)])


def _model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.Tanh(), nn.Linear(16, 3)).eval()


def test_sweep_rows_controls_and_rates_are_consistent():
    data, model = _dataset(), _model()
    sweep, uaps = uap_sweep({"m": model}, data, {"train": data}, norms=("2", "inf"), zetas=(0.05, 0.3),
                            targets=(None, 1), eps_step=0.05, max_passes=2, device="cpu", progress=False)
    assert len(sweep) == 2 * 2 * 2 and len(uaps) == 8
    assert set(sweep["norm"]) == {"L2", "Linf"} and set(sweep["target"]) == {"none", 1}
    assert sweep["rate"].between(0, 1).all() and sweep["random_rate"].between(0, 1).all()
    row = sweep[(sweep["norm"] == "Linf") & (sweep["zeta"] == 0.3) & (sweep["target"] == "none")].iloc[0]
    v = uaps[("m", "inf", 0.3, None)].perturbation
    assert row["xi"] == pytest.approx(uap_radius(data.float_images(), 0.3, "inf"))
    assert float(v.abs().max()) <= row["xi"] + 1e-6
    pred = model(data.float_images() + v).argmax(1)
    assert row["rate"] == pytest.approx(fooling_rate(pred, data.targets))   # R_f vs TRUE labels
    targeted = sweep[(sweep["target"] == 1) & (sweep["zeta"] == 0.3)]
    assert (targeted["rate"] >= targeted["random_rate"]).all()


def test_rate_table_has_the_papers_layout():
    sweep = pd.DataFrame([{"model": "Small", "norm": "L2", "zeta": 0.02, "split": s, "rate": r,
                           "random_rate": c} for s, r, c in [("train", 0.876, 0.1), ("test", 0.85, 0.125)]])
    table = rate_table(sweep)
    assert list(table.columns) == ["train", "test"]
    assert table.loc[("Small", "L2", "2%"), "train"] == "87.6 (10.0)"
    assert table.loc[("Small", "L2", "2%"), "test"] == "85.0 (12.5)"


def test_paper_tables_hold_only_the_abstracts_bounds():
    t1 = paper_table1(["Small", "Large"], ["2", "inf"], [0.01, 0.02])
    assert t1.loc[("Small", "L2", "2%"), "test"] == "> 85"
    assert pd.isna(t1.loc[("Large", "Linf", "1%"), "train"])
    t2 = paper_targeted_table(["Small"], ["2"], [0.01, 0.02], CLASSES)
    assert (t2.xs("2%", level="zeta")["test"] == "> 90").all()


def test_retraining_uses_the_uap_subset_and_reports_each_round():
    data = _dataset(60)
    kwargs = {"num_classes": 3, "in_channels": 1, "width": 0.0625, "image_size": 32}
    full = ImageDataset(torch.nn.functional.interpolate(data.float_images(), size=32).mul(255).to(torch.uint8),
                        data.targets, list(CLASSES), "upsampled", data.ids)
    model = build_model("covidnet-small", **kwargs)
    subset = full.subset(np.arange(12))
    xi = uap_radius(subset.float_images(), 0.05, "inf")
    history, tuned = adversarial_retraining(
        "covidnet-small", kwargs, model.state_dict(), full, full, TrainConfig(epochs=1, batch_size=16), xi=xi,
        norm="inf", rounds=1, uaps_per_round=2, uap_kwargs={"max_passes": 1}, uap_data=subset, device="cpu",
        progress=False)
    assert [h.round for h in history] == [0, 1]
    assert all(0 <= h.rate <= 1 and 0 <= h.clean_accuracy <= 1 for h in history)
    assert float(history[1].uap.abs().max()) <= xi + 1e-6
    assert any(not torch.equal(a, b) for a, b in zip(tuned.state_dict().values(), model.state_dict().values()))


def test_clean_finetuning_control_trains_on_clean_images_only(monkeypatch, tmp_path):
    """The control arm: same schedule, clean images, no UAPs beyond each round's evaluation; its
    weights equal plain fine-tuning of the same start on the clean training set."""
    import medadv_lib.attacks.uap as uap_module
    from medadv_lib.training import train_model

    monkeypatch.setenv("MEDADV_CACHE", str(tmp_path))
    data = _dataset(48)
    kwargs = {"num_classes": 3, "in_channels": 1, "width": 0.0625, "image_size": 32}
    full = ImageDataset(torch.nn.functional.interpolate(data.float_images(), size=32).mul(255).to(torch.uint8),
                        data.targets, list(CLASSES), "upsampled", data.ids)
    config = TrainConfig(epochs=1, batch_size=16)
    # a briefly trained start: an untrained COVID-Net answers every image alike, so its UAPs are 0
    start = train_model("covidnet-small", kwargs, full, TrainConfig(epochs=2, batch_size=16), device="cpu",
                        tag="start", progress=False, use_cache=False).model.state_dict()
    calls = []
    real = uap_module.universal_perturbation
    monkeypatch.setattr(uap_module, "universal_perturbation", lambda *a, **k: calls.append(1) or real(*a, **k))
    xi = uap_radius(full.float_images(), 0.05, "inf")
    common = dict(xi=xi, norm="inf", rounds=1, uaps_per_round=3, uap_kwargs={"max_passes": 2, "eps_step": 0.05},
                  device="cpu",
                  progress=False)
    history, control = adversarial_retraining("covidnet-small", kwargs, start, full, full, config,
                                              uap_augmented=False, **common)
    assert float(history[0].uap.abs().max()) > 0
    assert len(calls) == 2 and [h.round for h in history] == [0, 1]          # one evaluation UAP per round
    plain = train_model("covidnet-small", kwargs, full, config, device="cpu", init_state=start,
                        tag="reference", progress=False, use_cache=False).model
    assert all(torch.equal(a, b) for a, b in zip(control.state_dict().values(), plain.state_dict().values()))
    calls.clear()
    _, augmented = adversarial_retraining("covidnet-small", kwargs, start, full, full, config, **common)
    assert len(calls) == 2 + 3
    assert any(not torch.equal(a, b) for a, b in zip(augmented.state_dict().values(), plain.state_dict().values()))


def test_uap_rate_targeted():
    data, model = _dataset(), _model()
    rate, pred = uap_rate(model, data, None, target=2, device="cpu")
    assert rate == pytest.approx(float((pred == 2).float().mean()))


def test_covidnet_learns_a_batch():
    """Later PEPX extensions start at zero; without it the loss stayed at ln 3 (no learning)."""
    model = build_model("covidnet-small", width=0.125, image_size=32)
    stage = model.stages[0]
    assert float(stage[0].body[-1].weight.detach().abs().sum()) > 0
    assert all(float(m.body[-1].weight.detach().abs().sum()) == 0 for m in stage[1:])
    torch.manual_seed(0)
    x = torch.rand(32, 1, 32, 32)
    y = torch.arange(32) % 3
    x[y == 1, :, :16] += 0.5     # a learnable signal: a bright top half for class 1, bottom for 2
    x[y == 2, :, 16:] += 0.5
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    model.train()
    losses = []
    for _ in range(40):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])


def test_figures_have_their_panels():
    m = np.array([[5, 1, 0], [0, 3, 3], [1, 1, 4]])
    fig = plot_confusion_matrices({"a": m, "b": m, "c": m, "d": m}, CLASSES, columns=3)
    assert sum(ax.axison for ax in fig.axes) == 4
    uaps = {"L2": torch.randn(1, 8, 8) * 0.1, "Linf": torch.randn(1, 8, 8) * 0.1}
    fig = plot_uaps(uaps, torch.rand(1, 8, 8), "normal", {"L2": "COVID-19", "Linf": "pneumonia"})
    assert len(fig.axes) == 6 and "COVID-19" in fig.axes[4].get_title()
    shown = scale_for_display(uaps["L2"])
    assert shown.min() == 0 and shown.max() == 1
    hist = pd.DataFrame({"model": "Small", "round": [0, 1], "rate": [0.9, 0.4], "clean_accuracy": [0.8, 0.78]})
    fig = plot_retraining(hist, "R_f")
    assert len(fig.axes[0].lines) == 2


def test_spec_presets_resolve_and_bad_values_fail():
    spec = get_paper("uap-covidnet")
    for preset in ("smoke", "default", "paper"):
        params = resolve_parameters(spec, preset)
        assert params["preset"] == preset
    assert resolve_parameters(spec, "paper")["uap_mode"] == "exact"
    with pytest.raises(ParameterError, match="'norms'.*'3' is not one of"):
        resolve_parameters(spec, "default", {"norms": "['2', '3']"})
    with pytest.raises(ParameterError, match="'zetas'.*above the maximum"):
        resolve_parameters(spec, "default", {"zetas": "[0.01, 0.9]"})
    with pytest.raises(ParameterError, match="'uap_mode'"):
        resolve_parameters(spec, "default", {"uap_mode": "fast"})
