"""ASR and AUROC-NN/TT/TN (Nwadike et al. 2020), epoch extremes and seed statistics."""
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from medadv_lib.metrics.backdoor import (attack_success_rate, backdoor_metrics, epoch_extremes,
                                         format_mean_std, micro_auroc, seed_mean_std)


def test_asr_counts_only_images_whose_true_label_lacks_the_target():
    labels = np.array([[0, 1], [0, 0], [1, 0], [0, 1]], float)
    probs = np.array([[0.95, 0.1], [0.7, 0.0], [0.99, 0.0], [0.2, 0.9]])
    # eligible rows 0, 1, 3 (row 2 already has the target); > 0.6: rows 0, 1; > 0.9: row 0
    assert attack_success_rate(probs, labels, 0, 0.6) == pytest.approx(2 / 3)
    assert attack_success_rate(probs, labels, 0, 0.9) == pytest.approx(1 / 3)
    assert math.isnan(attack_success_rate(probs[[2]], labels[[2]], 0, 0.6))
    with pytest.raises(ValueError):
        attack_success_rate(probs, labels[:, :1], 0, 0.6)
    with pytest.raises(ValueError):
        attack_success_rate(probs, labels, 0, 1.0)


def test_micro_auroc_is_sklearn_micro_and_flattened():
    rng = np.random.default_rng(0)
    labels = (rng.random((40, 5)) < 0.3).astype(float)
    scores = rng.random((40, 5)) + labels * 0.3
    expected = roc_auc_score(labels.ravel(), scores.ravel())
    assert micro_auroc(labels, scores) == pytest.approx(expected)
    assert math.isnan(micro_auroc(np.zeros((3, 2)), rng.random((3, 2))))


def test_metric_definitions_on_a_perfect_backdoor():
    rng = np.random.default_rng(1)
    labels = (rng.random((50, 14)) < 0.2).astype(float)
    probs_clean = 0.1 + 0.8 * labels                 # perfect diagnosis on clean images
    probs_infected = np.full((50, 14), 0.05)
    probs_infected[:, 3] = 0.97                       # the trigger forces the target finding
    m = backdoor_metrics(probs_clean, probs_infected, labels, target=3)
    assert m["auroc_nn"] == pytest.approx(1.0)
    assert m["auroc_tt"] == pytest.approx(1.0)
    assert m["asr_0.6"] == 1.0 and m["asr_0.9"] == 1.0
    assert m["auroc_tn"] < 0.8                        # the diagnosis is gone on infected images
    no_backdoor = backdoor_metrics(probs_clean, probs_clean, labels, target=3)
    assert no_backdoor["asr_0.6"] == 0.0 and no_backdoor["auroc_tn"] == pytest.approx(1.0)


def test_epoch_extremes_and_seed_statistics():
    frame = pd.DataFrame({
        "run": ["a"] * 4 + ["b"] * 2, "seed": [0, 0, 1, 1, 0, 0], "epoch": [1, 2, 1, 2, 1, 2],
        "asr_0.6": [0.2, 0.8, 0.4, 0.6, 0.1, 0.3],
    })
    ext = epoch_extremes(frame, ["run", "seed"], metrics=["asr_0.6"])
    assert ext.loc[("a", 0), ("asr_0.6", "min")] == 0.2 and ext.loc[("a", 0), ("asr_0.6", "max")] == 0.8
    mean, std = seed_mean_std(ext, ["run"])
    assert mean.loc["a", ("asr_0.6", "min")] == pytest.approx(0.3)
    assert std.loc["a", ("asr_0.6", "max")] == pytest.approx(np.std([0.8, 0.6], ddof=1))
    assert math.isnan(std.loc["b", ("asr_0.6", "min")])
    text = format_mean_std(mean, std)
    assert text.loc["a", ("asr_0.6", "min")] == "0.300 ± 0.141"
    assert text.loc["b", ("asr_0.6", "max")] == "0.300"
    with pytest.raises(ValueError, match="lacks"):
        epoch_extremes(frame, ["run", "missing"], metrics=["asr_0.6"])
