"""The statistics behind the gate: pure functions over numpy arrays.

Eval metrics come with per-sample scores for the same documents on both models, so
they are compared *paired* (each document is its own control, which removes the
between-document variance that dominates small evals). Perf metrics are measured in
separate runs, so they are compared *unpaired*.

* ``mcnemar_exact``: the exact McNemar test on paired binary outcomes. Only the
  discordant pairs carry information; under "no difference" a discordant pair is a loss
  for the candidate with probability 1/2, so the loss count is Binomial(n_discordant, 1/2).
* ``paired_bootstrap``: a percentile bootstrap CI of the mean paired difference.
* ``drop_test``: the one-sided test of "the degradation exceeds the allowed margin"
  (H0: true degradation <= margin). Choice and why:

  - the statistic is a *shifted paired t-test*: t = (mean(d) - margin) / (sd(d)/sqrt(n))
    on the per-sample degradations d. It handles any per-sample score (binary accuracy,
    F1, BLEU), it is deterministic (a verdict near the line does not flip with the
    bootstrap seed), and with the evals' n (hundreds) the CLT holds for bounded scores;
  - for binary scores it is intersected with the exact one-sided McNemar test
    (p = max of the two). Rejecting "degradation <= margin" implies rejecting
    "degradation <= 0", so requiring both is an intersection-union test, still of level
    alpha; the exact test guards the t approximation where it is weakest (few
    discordant pairs, where the t-test is anti-conservative);
  - a bootstrap p-value was not chosen: it is seed dependent and, with binary scores and
    small n, anti-conservative - it would fail candidates on noise.
* ``unpaired_bootstrap`` / ``bootstrap_p_above``: for perf samples; the p-value is the
  inversion of the percentile CI (the share of resampled degradations at or below the
  margin), so the p-value and the reported interval always agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np
# scipy.special, not scipy.stats: the same distribution functions for a third of the
# import time, which every gate run pays.
from scipy import special as _special

Alternative = Literal["two-sided", "greater", "less"]

# Bootstrap resamples are drawn in chunks of at most this many indices, so a large eval
# (10k samples x 2000 resamples) does not allocate 160 MB of indices at once.
_CHUNK_ELEMENTS = 2_000_000


# --------------------------------------------------------------------------- McNemar
@dataclass(frozen=True)
class Discordance:
    """Paired binary outcomes reduced to what McNemar's test uses."""

    losses: int  # baseline right, candidate wrong
    wins: int  # candidate right, baseline wrong
    ties: int  # both right or both wrong

    @property
    def discordant(self) -> int:
        return self.losses + self.wins


def is_binary(values: np.ndarray) -> bool:
    """True when every score is 0 or 1 (accuracy, exact match)."""
    values = np.asarray(values, dtype=float)
    return bool(values.size) and bool(np.all((values == 0.0) | (values == 1.0)))


def discordance(candidate: np.ndarray, baseline: np.ndarray) -> Discordance:
    """Count losses, wins and ties of paired binary scores (same order, same length)."""
    c = np.asarray(candidate, dtype=float)
    b = np.asarray(baseline, dtype=float)
    if c.shape != b.shape:
        raise ValueError(f"paired scores differ in length: {c.shape} vs {b.shape}")
    if not (is_binary(c) and is_binary(b)):
        raise ValueError("McNemar's test needs binary (0/1) scores")
    losses = int(np.sum((b == 1.0) & (c == 0.0)))
    wins = int(np.sum((c == 1.0) & (b == 0.0)))
    return Discordance(losses=losses, wins=wins, ties=int(c.size) - losses - wins)


def mcnemar_exact(losses: int, wins: int, alternative: Alternative = "two-sided") -> float:
    """Exact McNemar p-value.

    ``alternative="greater"``: the candidate loses more than it wins (it is worse);
    ``"less"``: it is better; ``"two-sided"``: either. No discordant pair -> p = 1.
    """
    if losses < 0 or wins < 0:
        raise ValueError("counts must be >= 0")
    n = losses + wins
    if n == 0:
        return 1.0
    # Under H0 the losses among the n discordant pairs are Binomial(n, 1/2).
    upper = 1.0 if losses == 0 else float(_special.bdtrc(losses - 1, n, 0.5))  # P(X >= losses)
    lower = float(_special.bdtr(losses, n, 0.5))  # P(X <= losses)
    if alternative == "greater":
        return upper
    if alternative == "less":
        return lower
    # Symmetric null: "as extreme" on both sides is twice the smaller tail.
    return min(1.0, 2.0 * min(upper, lower))


# --------------------------------------------------------------------------- bootstrap
@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided percentile bootstrap interval."""

    estimate: float
    low: float
    high: float
    confidence: float


def _resampled(values: np.ndarray, statistic: Callable, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``statistic`` of ``n_resamples`` resamples (with replacement) of ``values``, vectorised."""
    n = values.size
    out = np.empty(n_resamples, dtype=float)
    rows = max(1, _CHUNK_ELEMENTS // n)
    for start in range(0, n_resamples, rows):
        stop = min(start + rows, n_resamples)
        idx = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = statistic(values[idx], axis=1)
    return out


def _interval(estimate: float, replicates: np.ndarray, confidence: float) -> Interval:
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(replicates, [tail, 1.0 - tail])
    return Interval(float(estimate), float(low), float(high), confidence)


def _check_args(n_resamples: int, confidence: float) -> None:
    if n_resamples < 1:
        raise ValueError("n_resamples must be >= 1")
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")


def paired_bootstrap_replicates(
    candidate: np.ndarray, baseline: np.ndarray, *, n_resamples: int, seed: int
) -> np.ndarray:
    """Bootstrap replicates of mean(candidate - baseline), resampling pairs."""
    diff = np.asarray(candidate, dtype=float) - np.asarray(baseline, dtype=float)
    if diff.size == 0:
        raise ValueError("no paired samples")
    return _resampled(diff, np.mean, n_resamples, np.random.default_rng(seed))


def paired_bootstrap(
    candidate: np.ndarray, baseline: np.ndarray, *, n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> Interval:
    """Mean paired difference (candidate - baseline) and its percentile bootstrap CI."""
    _check_args(n_resamples, confidence)
    c = np.asarray(candidate, dtype=float)
    b = np.asarray(baseline, dtype=float)
    if c.shape != b.shape:
        raise ValueError(f"paired scores differ in length: {c.shape} vs {b.shape}")
    replicates = paired_bootstrap_replicates(c, b, n_resamples=n_resamples, seed=seed)
    return _interval(float(np.mean(c - b)), replicates, confidence)


def _p95(values: np.ndarray, axis: int) -> np.ndarray:
    return np.percentile(values, 95, axis=axis)


STATISTICS: dict[str, Callable] = {"mean": np.mean, "median": np.median, "p95": _p95}


def unpaired_bootstrap_replicates(
    candidate: np.ndarray, baseline: np.ndarray, *, statistic: str = "mean", n_resamples: int, seed: int
) -> np.ndarray:
    """Replicates of stat(candidate*) - stat(baseline*), each group resampled on its own."""
    c = np.asarray(candidate, dtype=float)
    b = np.asarray(baseline, dtype=float)
    if c.size == 0 or b.size == 0:
        raise ValueError("both groups need at least one sample")
    func = STATISTICS[statistic]
    rng = np.random.default_rng(seed)
    return _resampled(c, func, n_resamples, rng) - _resampled(b, func, n_resamples, rng)


def unpaired_bootstrap(
    candidate: np.ndarray,
    baseline: np.ndarray,
    *,
    statistic: str = "mean",
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """stat(candidate) - stat(baseline) with a percentile bootstrap CI (independent samples)."""
    _check_args(n_resamples, confidence)
    func = STATISTICS[statistic]
    replicates = unpaired_bootstrap_replicates(
        candidate, baseline, statistic=statistic, n_resamples=n_resamples, seed=seed
    )
    estimate = float(func(np.asarray(candidate, dtype=float), axis=0) - func(np.asarray(baseline, dtype=float), axis=0))
    return _interval(estimate, replicates, confidence)


def bootstrap_p_above(replicates: np.ndarray, margin: float) -> float:
    """One-sided bootstrap p-value of H0: degradation <= margin, from degradation replicates.

    It is the share of replicates at or below the margin (with the +1 correction that
    keeps it above zero), i.e. the level at which the percentile interval's lower bound
    reaches the margin.
    """
    replicates = np.asarray(replicates, dtype=float)
    return float((1 + np.sum(replicates <= margin)) / (replicates.size + 1))


# --------------------------------------------------------------------------- drop tests
@dataclass(frozen=True)
class DropTest:
    """The one-sided test of "degradation > margin" and how it was made."""

    p_value: float
    method: str
    n: int
    discordance: Discordance | None = None


def shifted_t_p(degradation: np.ndarray, margin: float) -> float:
    """One-sided p of H0: mean(degradation) <= margin (a paired t-test shifted by the margin).

    Equal to ``scipy.stats.ttest_1samp(d, margin, alternative="greater").pvalue`` where
    that is defined; a zero-variance sample gets 0 or 1 instead of NaN.
    """
    d = np.asarray(degradation, dtype=float)
    if d.size < 2:
        return float("nan")
    mean = float(np.mean(d))
    sd = float(np.std(d, ddof=1))
    if sd == 0.0:
        return 0.0 if mean > margin else 1.0
    t = (mean - margin) / (sd / math.sqrt(d.size))
    return float(_special.stdtr(d.size - 1, -t))  # Student t survival function


def drop_test(candidate: np.ndarray, baseline: np.ndarray, *, margin: float, higher_is_better: bool = True) -> DropTest:
    """Test whether the candidate is worse than the baseline by more than ``margin``.

    ``candidate`` and ``baseline`` are per-sample scores of the same documents in the
    same order. ``margin`` is in the metric's units and >= 0. See the module docstring
    for why this test.
    """
    c = np.asarray(candidate, dtype=float)
    b = np.asarray(baseline, dtype=float)
    if c.shape != b.shape:
        raise ValueError(f"paired scores differ in length: {c.shape} vs {b.shape}")
    if margin < 0:
        raise ValueError("margin must be >= 0")
    degradation = (b - c) if higher_is_better else (c - b)
    p_t = shifted_t_p(degradation, margin)
    if is_binary(c) and is_binary(b):
        counts = discordance(c, b)
        losses, wins = (counts.losses, counts.wins) if higher_is_better else (counts.wins, counts.losses)
        p_exact = mcnemar_exact(losses, wins, alternative="greater")
        p = p_exact if math.isnan(p_t) else max(p_t, p_exact)
        return DropTest(p, "exact McNemar (one-sided) and paired t shifted by the margin", int(c.size), counts)
    return DropTest(p_t, "paired t shifted by the margin (one-sided)", int(c.size))


def normal_drop_p(degradation: float, se: float, margin: float) -> float:
    """One-sided p of H0: degradation <= margin from an estimate and its standard error.

    The fallback when no per-sample scores exist (only values and stderrs): a z-test
    with se = sqrt(se_c^2 + se_b^2), which ignores the pairing and is conservative.
    """
    if se <= 0 or math.isnan(se):
        return float("nan")
    return float(_special.ndtr(-(degradation - margin) / se))  # normal survival function


def z_value(confidence: float) -> float:
    """The two-sided normal quantile for ``confidence`` (1.96 for 0.95)."""
    return float(_special.ndtri(0.5 + confidence / 2.0))
