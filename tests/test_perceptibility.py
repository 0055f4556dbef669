"""Perceptibility proxies and the Obvious / Mixed / Hard mapping; binary accuracy and AUC."""
import numpy as np
import pytest
import torch

from medadv_lib.metrics.perceptibility import (attack_level, perceptibility_level, perceptibility_table,
                                               perturbation_norms, ssim)
from medadv_lib.metrics.roc import binary_accuracy, binary_auc, positive_scores


def test_norms_and_ssim():
    torch.manual_seed(0)
    clean = torch.rand(3, 1, 16, 16)
    adv = clean.clone()
    adv[1, 0, 0, 0] += 0.5
    adv[2] = 1 - adv[2]
    l2, linf = perturbation_norms(clean, adv)
    assert l2[0] == 0 and linf[1] == pytest.approx(0.5) and l2[2] > l2[1]
    s = ssim(clean, adv)
    assert s[0] == pytest.approx(1.0) and s[2] < 0.5 < s[1]


def test_level_mapping():
    assert perceptibility_level(0.99, 2 / 255) == "Hard"
    assert perceptibility_level(0.90, 2 / 255) == "Mixed"
    assert perceptibility_level(0.99, 20 / 255) == "Mixed"
    assert perceptibility_level(0.99, 100 / 255) == "Obvious"
    assert perceptibility_level(0.5, 1 / 255) == "Obvious"
    assert attack_level(["Hard", "Hard", "Obvious"]) == "Hard"
    assert attack_level(["Hard", "Obvious"]) == "Obvious"  # tie: the more visible level
    assert attack_level([]) == "n/a"


def test_table_keeps_only_successes():
    clean = torch.rand(4, 1, 16, 16)
    adv = (clean + 0.3).clamp(0, 1)
    frame = perceptibility_table(clean, adv, torch.tensor([True, False, True, False]))
    assert len(frame) == 2 and set(frame["level"]) == {"Obvious"}
    with pytest.raises(ValueError, match="shape"):
        perceptibility_table(clean, adv[:2], torch.ones(2, dtype=torch.bool))


def test_binary_metrics_single_logit_and_two_logits():
    labels = torch.tensor([0, 1, 1, 0])
    one = torch.tensor([[-2.0], [1.0], [0.5], [0.2]])
    two = torch.cat([torch.zeros_like(one), one], 1)
    assert np.allclose(positive_scores(one), positive_scores(two))
    assert binary_accuracy(one, labels) == 0.75
    assert binary_auc(one, labels) == 1.0
    assert np.isnan(binary_auc(one, torch.ones(4, dtype=torch.long)))
