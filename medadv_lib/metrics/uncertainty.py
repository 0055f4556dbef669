"""95 % intervals for every number of ours, with the count behind it.

DEVELOPERS.md: "Every number of ours says which data it comes from, how many images are behind
it, and its uncertainty." The methods, all from scipy:

* **rates** (accuracy, fooling rate R_f, success rate R_s, ASR, a share of images): the Wilson
  score interval (Wilson 1927; ``scipy.stats.binomtest(...).proportion_ci(method="wilson")``),
  which stays inside [0, 1] and behaves at 0 and 1 and at small n;
* **binary AUROC**: stratified percentile bootstrap (positives and negatives resampled apart,
  AUROC as the Mann-Whitney U / (n1 n0), ``scipy.stats.bootstrap``);
* **anything else computed from images** (micro-averaged multi-label AUROC, a mean Jaccard
  index, the difference of two rates on the same images): percentile bootstrap over the images,
  resampling image indices so paired outcomes stay paired.

Bootstraps are seeded (``seed``), so the same inputs give the same interval.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
from scipy import stats

__all__ = ["Estimate", "CONFIDENCE", "wilson", "rate", "auroc", "micro_auc", "bootstrap", "mean",
           "paired_difference", "independent_difference", "point"]

CONFIDENCE = 0.95
N_RESAMPLES = 2000


@dataclass(frozen=True)
class Estimate:
    """A number of ours: ``value`` with its 95 % interval ``[low, high]`` from ``n`` images."""

    value: float
    low: float
    high: float
    n: int
    method: str

    def fmt(self, digits: int = 3, percent: bool = False) -> str:
        """``0.457 [0.401, 0.514]`` (or ``45.7 [40.1, 51.4]`` in percent), NaN as ``n/a``."""
        if not math.isfinite(self.value):
            return "n/a"
        scale, digits = (100.0, max(digits - 2, 0)) if percent else (1.0, digits)
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            return f"{scale * self.value:.{digits}f}"
        return (f"{scale * self.value:.{digits}f} [{scale * self.low:.{digits}f}, "
                f"{scale * self.high:.{digits}f}]")

    def __str__(self) -> str:
        return f"{self.fmt()} (n={self.n})"

    def to_dict(self) -> dict:
        return asdict(self)

    def above(self, threshold: float) -> bool | None:
        """True when the whole interval lies above ``threshold``, False when it lies at or below
        it, None when the interval straddles it (our sample cannot decide)."""
        if not math.isfinite(self.value):
            return None
        if self.low > threshold:
            return True
        if self.high <= threshold:
            return False
        return None

    def below(self, threshold: float) -> bool | None:
        """True when the whole interval lies below ``threshold`` (see :meth:`above`)."""
        if not math.isfinite(self.value):
            return None
        if self.high < threshold:
            return True
        if self.low >= threshold:
            return False
        return None


def point(value: float, n: int, method: str = "no interval") -> Estimate:
    """A number without an interval (for example a count, or a value from a single run)."""
    return Estimate(float(value), float("nan"), float("nan"), int(n), method)


def _nan(n: int, method: str) -> Estimate:
    return Estimate(float("nan"), float("nan"), float("nan"), int(n), method)


def wilson(successes: int, n: int, confidence: float = CONFIDENCE) -> Estimate:
    """A rate ``successes / n`` with its Wilson score interval (NaN when ``n`` is 0)."""
    successes, n = int(successes), int(n)
    if n < 0 or not 0 <= successes <= max(n, 0):
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return _nan(0, "Wilson")
    ci = stats.binomtest(successes, n).proportion_ci(confidence_level=confidence, method="wilson")
    return Estimate(successes / n, float(ci.low), float(ci.high), n, "Wilson")


def rate(outcomes, confidence: float = CONFIDENCE) -> Estimate:
    """The share of true entries of a boolean vector (one entry per image), Wilson interval."""
    arr = np.asarray(outcomes.detach().cpu() if hasattr(outcomes, "detach") else outcomes).reshape(-1)
    if arr.dtype != bool and not np.isin(arr, (0, 1)).all():
        raise ValueError("rate() needs one boolean (or 0/1) outcome per image")
    return wilson(int(arr.astype(bool).sum()), len(arr), confidence)


def _interval(result, value: float, n: int, method: str) -> Estimate:
    low, high = result.confidence_interval
    return Estimate(float(value), float(low), float(high), int(n), method)


def bootstrap(statistic: Callable[[np.ndarray], float], n: int, seed: int = 0,
              confidence: float = CONFIDENCE, n_resamples: int = N_RESAMPLES) -> Estimate:
    """Percentile bootstrap of ``statistic(indices)`` over ``n`` images, resampling image indices
    (so several per-image arrays indexed together stay paired). Resamples on which the
    statistic is undefined (NaN, e.g. one class only) are dropped."""
    if n < 1:
        return _nan(n, "bootstrap")
    value = float(statistic(np.arange(n)))
    if n < 2 or not math.isfinite(value):
        return Estimate(value, float("nan"), float("nan"), n, "bootstrap")
    rng = np.random.default_rng(seed)
    draws = np.array([statistic(rng.integers(0, n, n)) for _ in range(n_resamples)], dtype=float)
    draws = draws[np.isfinite(draws)]
    if len(draws) < n_resamples // 2:
        return Estimate(value, float("nan"), float("nan"), n, "bootstrap")
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return Estimate(value, float(low), float(high), n, "bootstrap")


def _binary_auc(positives, negatives, axis=-1):
    u = stats.mannwhitneyu(positives, negatives, axis=axis).statistic
    return u / (positives.shape[axis] * negatives.shape[axis])


def auroc(labels, scores, seed: int = 0, confidence: float = CONFIDENCE,
          n_resamples: int = N_RESAMPLES) -> Estimate:
    """ROC AUC with a bootstrap interval.

    ``labels`` (N,) 0/1 with ``scores`` (N,): binary AUROC, stratified bootstrap. ``labels``
    (N, K) with ``scores`` (N, K): micro-averaged AUROC over all (image, label) pairs
    (scikit-learn ``average="micro"``), bootstrap over images. NaN when only one class occurs;
    no interval (NaN bounds, so no verdict rests on it) when a class has a single image.
    """
    y = np.asarray(labels.detach().cpu() if hasattr(labels, "detach") else labels, dtype=float)
    s = np.asarray(scores.detach().cpu() if hasattr(scores, "detach") else scores, dtype=float)
    if y.shape != s.shape:
        raise ValueError(f"labels {y.shape} and scores {s.shape} differ in shape")
    n = len(y)
    if y.ndim == 1:
        pos, neg = s[y == 1], s[y == 0]
        if len(pos) == 0 or len(neg) == 0:
            return _nan(n, "bootstrap")
        value = float(_binary_auc(pos, neg))
        if len(pos) < 2 or len(neg) < 2:   # one image of a class: nothing to resample, no interval
            return Estimate(value, float("nan"), float("nan"), n, "stratified bootstrap (one image of a class)")
        result = stats.bootstrap((pos, neg), _binary_auc, vectorized=True, paired=False,
                                 n_resamples=n_resamples, confidence_level=confidence,
                                 method="percentile", random_state=np.random.default_rng(seed))
        return _interval(result, value, n, "stratified bootstrap")

    return bootstrap(lambda idx: micro_auc(y[idx], s[idx]), n, seed, confidence, n_resamples)


def micro_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Micro-averaged AUROC: the AUROC of all (image, label) pairs pooled (scikit-learn's
    ``average="micro"``), as the Mann-Whitney U of the ranks; NaN when only one class occurs."""
    flat_y, flat_s = np.asarray(labels, dtype=float).ravel(), np.asarray(scores, dtype=float).ravel()
    n_pos = flat_y.sum()
    n_neg = len(flat_y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = stats.rankdata(flat_s)
    return float((ranks[flat_y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def mean(values, seed: int = 0, confidence: float = CONFIDENCE,
         n_resamples: int = N_RESAMPLES) -> Estimate:
    """The mean of one value per image (e.g. a per-slice Jaccard index), bootstrap interval."""
    v = np.asarray(values.detach().cpu() if hasattr(values, "detach") else values, dtype=float).reshape(-1)
    return bootstrap(lambda idx: float(v[idx].mean()), len(v), seed, confidence, n_resamples)


def paired_difference(a, b, seed: int = 0, confidence: float = CONFIDENCE,
                      n_resamples: int = N_RESAMPLES) -> Estimate:
    """``mean(a) - mean(b)`` for two per-image outcomes on the *same* images (booleans or values),
    bootstrap over images: the interval of, say, R_f at zeta 2 % minus R_f at zeta 1 %.

    When every image gives the same difference of two yes/no outcomes (all pairs agree, say), the
    bootstrap has nothing to resample and would claim certainty; the interval is then widened by
    the Wilson bound on a share of discordant images that is 0 of ``n`` (method says so)."""
    a = np.asarray(a.detach().cpu() if hasattr(a, "detach") else a, dtype=float).reshape(-1)
    b = np.asarray(b.detach().cpu() if hasattr(b, "detach") else b, dtype=float).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"paired outcomes need the same images: {a.shape} vs {b.shape}")
    d = a - b
    binary = np.isin(a, (0, 1)).all() and np.isin(b, (0, 1)).all()
    if binary and len(d) and (d == d[0]).all():
        bound = wilson(0, len(d), confidence).high
        return Estimate(float(d[0]), max(float(d[0]) - bound, -1.0), min(float(d[0]) + bound, 1.0), len(d),
                        "Wilson bound (every pair gives the same difference)")
    return bootstrap(lambda idx: float(d[idx].mean()), len(d), seed, confidence, n_resamples)


def _mean_difference(a, b, axis=-1):
    return a.mean(axis=axis) - b.mean(axis=axis)


def independent_difference(a, b, seed: int = 0, confidence: float = CONFIDENCE,
                           n_resamples: int = N_RESAMPLES) -> Estimate:
    """``mean(a) - mean(b)`` for outcomes on two *different* sets of images (e.g. the training and
    the test images), each resampled on its own (percentile bootstrap); ``n`` is the smaller set."""
    a = np.asarray(a.detach().cpu() if hasattr(a, "detach") else a, dtype=float).reshape(-1)
    b = np.asarray(b.detach().cpu() if hasattr(b, "detach") else b, dtype=float).reshape(-1)
    n = min(len(a), len(b))
    if n == 0:
        return _nan(0, "bootstrap")
    value = float(a.mean() - b.mean())
    if n < 2:
        return Estimate(value, float("nan"), float("nan"), n, "bootstrap")
    result = stats.bootstrap((a, b), _mean_difference, vectorized=True, paired=False, n_resamples=n_resamples,
                             confidence_level=confidence, method="percentile",
                             random_state=np.random.default_rng(seed))
    return _interval(result, value, n, "bootstrap")
