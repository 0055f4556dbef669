"""The UAP chapter's library pieces: sweep with random controls, Table-1 layout, retraining on a
UAP subset, figures, paper spec, and COVID-Net's trainability (zero-initialised extensions)."""
import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from medadv_lib.attacks.uap import uap_radius
from medadv_lib.data.datasets import ImageDataset
from medadv_lib.metrics.classification import fooling_rate
from medadv_lib.models import build_model
from medadv_lib.specs import ParameterError, resolve_parameters
from medadv_lib.papers import get_paper
from medadv_lib.papers.uap_covidnet import experiment as ex
from medadv_lib.papers.uap_covidnet.experiment import ChapterData, adversarial_retraining
from medadv_lib.papers.uap_covidnet.figures import (plot_confusion_matrices, plot_retraining, plot_uaps,
                                                    scale_for_display)
from medadv_lib.training import TrainConfig

CLASSES = ("normal", "pneumonia", "COVID-19")
matplotlib.use("Agg")


def _dataset(n=48, seed=1, size=8):
    g = torch.Generator().manual_seed(seed)
    images = (torch.rand(n, 1, size, size, generator=g) * 255).to(torch.uint8)
    return ImageDataset(images, torch.arange(n) % 3, list(CLASSES), "random test images",
                        [f"img{i}" for i in range(n)])


def _model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.Tanh(), nn.Linear(16, 3)).eval()


def _chapter_data(n=48):
    data = _dataset(n)
    return ChapterData(data, _dataset(n, seed=2), data, CLASSES, "synthetic")


def test_sweep_rows_controls_and_rates_are_consistent():
    data, model = _chapter_data(), _model()
    sweep = ex.uap_sweep({"Small": model}, data, norms=("2", "inf"), zetas=(0.05, 0.3), targets=(None, 1),
                         eps_step=0.05, max_passes=2, device="cpu", progress=False)
    p = sweep.predictions
    assert len(sweep.uaps) == 2 * 2 * 2 and len(sweep.runs) == 8
    assert set(p["kind"]) == {"clean", "uap", "random"} and set(p["target"]) == {"none", "pneumonia"}
    assert len(p) == 2 * 48 + 8 * 2 * 2 * 48                  # clean once per split, then UAP and control
    v = sweep.uaps[("Small", "inf", 0.3, None)].perturbation
    xi = sweep.runs.set_index(["norm", "zeta", "target"]).loc[("Linf", 0.3, "none"), "xi"]
    assert xi == pytest.approx(uap_radius(data.uap_set.float_images(), 0.3, "inf"))
    assert float(v.abs().max()) <= xi + 1e-6
    rows = p[(p["norm"] == "Linf") & (p["zeta"] == 0.3) & (p["target"] == "none") & (p["split"] == "test")
             & (p["kind"] == "uap")]
    pred = model(data.test.float_images() + v).argmax(1)
    assert (rows["pred"].to_numpy() == pred.numpy()).all()
    assert float((rows["pred"] != rows["true"]).mean()) == pytest.approx(fooling_rate(pred, data.test.targets))


def test_tables_put_the_papers_cells_beside_ours():
    data = _chapter_data(60)
    sweep = ex.uap_sweep({"Small": _model(), "Large": _model(1)}, data, norms=("2",), zetas=(0.01, 0.05),
                         targets=(None, 0), eps_step=0.05, max_passes=1, device="cpu", progress=False)
    t1 = ex.table1(sweep, CLASSES, ["Small", "Large"], ["2"], [0.01, 0.05])
    assert t1.loc[("Small", "L2", "1%"), ("test", "paper")] == "58.0 (0.4)"
    assert t1.loc[("Large", "L2", "1%"), ("train", "paper")] == "90.0 (2.5)"
    assert t1.loc[("Small", "L2", "5%"), ("test", "paper")] == "not printed"     # the paper has no zeta 5 %
    assert t1.loc[("Small", "L2", "1%"), ("test", "n")] == 60
    assert t1.loc[("Small", "L2", "1%"), ("test", "ours [95% CI]")].count("[") == 1
    t2 = ex.targeted_table(sweep, CLASSES, "Small", ["2"], [0.01])
    assert t2.loc[("L2", "1%", "normal"), ("test", "paper")] == "78.4 (46.3)"
    assert t2.loc[("L2", "1%", "pneumonia"), ("test", "paper")] == "71.4 (41.6)"


def test_the_papers_retraining_reads_as_a_sentence_with_its_numbers():
    line = ex.paper_retraining()
    assert "R_f 22.1 %" in line and "R_s 16.5 %" in line          # Sec. 3.4, Figs. 5A and 5B
    assert "Fig. 5A" in line and "Fig. 5B" in line
    assert "{" not in line and "'" not in line and "_percent" not in line   # no raw dict on the page

@pytest.mark.slow
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


@pytest.mark.slow
def test_clean_finetuning_control_trains_on_clean_images_only(monkeypatch, tmp_path):
    """The control arm: same schedule, clean images, no UAPs beyond each round's evaluation; its
    weights equal plain fine-tuning of the same start on the clean training set."""
    import medadv_lib.papers.uap_covidnet.experiment as uap_module
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
    real = uap_module.fit_universal
    monkeypatch.setattr(uap_module, "fit_universal", lambda *a, **k: calls.append(1) or real(*a, **k))
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


@pytest.mark.slow
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
        losses.append(float(loss.detach()))
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
    paper = resolve_parameters(spec, "paper")
    assert (paper["n_train"], paper["n_test"], paper["image_size"], paper["max_passes"]) == (13569, 231, 224, 15)
    with pytest.raises(ParameterError, match="'norms'.*'3' is not one of"):
        resolve_parameters(spec, "default", {"norms": "['2', '3']"})
    with pytest.raises(ParameterError, match="'zetas'.*above the maximum"):
        resolve_parameters(spec, "default", {"zetas": "[0.01, 0.9]"})
    with pytest.raises(ParameterError, match="'uap_mode'"):
        resolve_parameters(spec, "default", {"uap_mode": "fast"})
    with pytest.raises(ParameterError, match="multiple of 32"):
        resolve_parameters(spec, "default", {"image_size": "48"})
    with pytest.raises(ParameterError, match="needs a real dataset"):
        resolve_parameters(spec, "default", {"n_train": "0"})
    with pytest.raises(ParameterError, match="retrain_targets: each must be 'none' or one of"):
        resolve_parameters(spec, "default", {"retrain_targets": "['none', 'cancer']"})
    with pytest.raises(ParameterError, match="each target once"):
        resolve_parameters(spec, "default", {"retrain_targets": "['none', 'none']"})
    # Fig. 5A and 5B by default; with two classes the disease class is pneumonia
    assert resolve_parameters(spec, "default")["retrain_targets"] == ["none", "COVID-19"]
    with pytest.raises(ParameterError, match="retrain_models"):
        resolve_parameters(spec, "default", {"retrain_models": "[Medium]"})
    with pytest.raises(ParameterError, match="dataset 'kermany' needs data_root"):
        resolve_parameters(spec, "default", {"dataset": "kermany"})
    with pytest.raises(ParameterError, match="'dataset'.*not one of"):
        resolve_parameters(spec, "default", {"dataset": "retinamnist"})


def test_plateau_stops_a_converged_loop_and_the_premise_reads_the_same_rule():
    """``plateau`` ends the loop after the first pass at which its last ``patience`` passes raised the
    best rate by at most ``plateau``; a loop so stopped meets the chapter's convergence rule (one
    rule, :func:`ex.loop_converged`), which float32 rates and rounded ones decide alike."""
    from medadv_lib.attacks.uap import plateaued, universal_perturbation

    data, model = _chapter_data(), _model()
    xi = uap_radius(data.uap_set.float_images(), 0.3, "inf")
    common = dict(eps_step=0.01, max_passes=12, device="cpu", progress=False)
    full = universal_perturbation(model, data.uap_set, xi, "inf", **common)
    stopped = universal_perturbation(model, data.uap_set, xi, "inf", plateau=ex.PLATEAU, patience=ex.PATIENCE,
                                     **common)
    h = full.rate_history
    first = next(i for i in range(len(h)) if plateaued(h[: i + 1], ex.PLATEAU, ex.PATIENCE))
    assert first + 1 < len(h) and first >= ex.PATIENCE   # the unstopped loop ran on past its plateau
    assert stopped.rate_history == h[: first + 1]        # the same passes, up to the plateau
    assert ex.loop_converged(stopped) == (stopped.updates > 0)
    assert ex.uap_settings("batched", 15, 0.001, True)["plateau"] == ex.PLATEAU
    assert ex.uap_settings("batched", 15, 0.001, False)["plateau"] is None
    # the rule: gains over the last ``patience`` passes against the best before them
    assert plateaued([0.10, 0.20, 0.21, 0.22, 0.215], 0.02, 3)
    assert not plateaued([0.10, 0.20, 0.21, 0.22, 0.225], 0.02, 3)
    assert not plateaued([0.10, 0.11, 0.11], 0.02, 3)                      # too few passes to tell
    assert plateaued([0.36, 0.37, 0.38, 0.38, 0.38], 0.02, 3)               # exactly 2 points: flat
    assert plateaued(np.float32([0.36, 0.36, 0.37, 0.38]).tolist(), 0.02, 3)
    with pytest.raises(ValueError, match="plateau"):
        universal_perturbation(model, data.uap_set, xi, "inf", plateau=1.5, device="cpu", progress=False)


def test_ladder_and_retraining_read_the_sweeps_own_uap_instead_of_computing_it_again(monkeypatch):
    """The ladder's rung at the sweep's own images and passes, and retraining's round 0, are the
    sweep's UAP (same model, norm, zeta, seed and loop settings): read, not computed, and equal to
    what computing it again gives."""
    import medadv_lib.papers.uap_covidnet.experiment as uap_module

    data, model = _chapter_data(), _model()
    settings = ex.uap_settings("batched", 3, 0.05, True)
    sweep = ex.uap_sweep({"Small": model}, data, norms=("inf",), zetas=(0.3,), device="cpu", progress=False,
                         **settings)
    calls = []
    real = uap_module.fit_universal
    monkeypatch.setattr(uap_module, "fit_universal", lambda *a, **k: calls.append(a[2].shape[0]) or real(*a, **k))
    rungs = [(len(data.uap_set), 3), (len(data.uap_set) // 2, 3)]
    reused = ex.scale_ladder({"Small": model}, data, "inf", 0.3, rungs, device="cpu", sweep=sweep, **settings)
    assert calls == [len(data.uap_set) // 2]                  # only the rung the sweep did not compute
    again = ex.scale_ladder({"Small": model}, data, "inf", 0.3, rungs[:1], device="cpu", **settings)
    assert reused.iloc[0].to_dict() == again.iloc[0].to_dict()
    zero = ex._round_zero(sweep, {"Small": model}, data, "Small", "inf", 0.3, None, "cpu")
    truth = data.test.targets.numpy()
    recomputed = real("uap", model, data.uap_set.float_images(), eps=uap_radius(data.uap_set.float_images(), 0.3, "inf"),
                      norm="Linf", seed=0, device="cpu", **settings).perturbation
    assert torch.equal(zero.uap, recomputed)
    assert zero.rate == pytest.approx(float((model(data.test.float_images() + recomputed).argmax(1).numpy()
                                             != truth).mean()))
    assert ex._round_zero(sweep, {"Small": model}, data, "Small", "inf", 0.1, None, "cpu") is None
