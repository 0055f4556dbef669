import numpy as np
import pytest
from sklearn.metrics import jaccard_score

from medadv_lib.metrics.segmentation import dice, jaccard, per_image_jaccard


def test_jaccard_and_dice_match_sklearn_and_definition():
    rng = np.random.default_rng(0)
    pred, truth = rng.integers(0, 2, (3, 8, 8)), rng.integers(0, 2, (3, 8, 8))
    expected = np.mean([jaccard_score(t.ravel(), p.ravel()) for p, t in zip(pred, truth)])
    assert jaccard(pred, truth) == pytest.approx(expected)
    j = per_image_jaccard(pred, truth).numpy()
    assert dice(pred, truth) == pytest.approx(np.mean(2 * j / (1 + j)))
    assert jaccard(truth, truth) == 1.0 and jaccard(1 - truth, truth) == 0.0


def test_empty_masks_and_bad_input():
    empty = np.zeros((1, 4, 4), int)
    assert jaccard(empty, empty) == 1.0
    with pytest.raises(TypeError):
        jaccard(empty.astype(float), empty)
    with pytest.raises(ValueError):
        jaccard(empty, np.zeros((1, 5, 5), int))
    with pytest.raises(ValueError):
        jaccard(empty + 2, empty)
