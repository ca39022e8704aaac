"""The statistics behind the gate: one-sided confidence bounds on a degradation.

The gate decides by *non-inferiority*: a check passes when the upper confidence bound
of the degradation is within ``max_drop``, fails when the lower bound exceeds it, and is
inconclusive otherwise (``gate.policy``). Every kind of measurement is reduced to an
:class:`Evidence` that gives those bounds at any confidence level (the level differs by
look and by check under ``gate.sequential``'s alpha spending and Holm's procedure), the
nominal p-value of "the degradation exceeds a margin", and a standard error for the
resolution figures (minimum detectable effect, samples needed).

* Paired binary scores (accuracy, exact match): :class:`PairedBinary`, Tango's score
  interval for the difference of paired proportions (Tango 1998, Stat Med 17:891). Only
  the discordant pairs carry information; the score statistic uses the restricted
  maximum-likelihood variance, so it stays well behaved with few discordant pairs, where
  the Wald interval claims certainty it does not have (zero discordant pairs in 100 give
  an upper bound of 2.6pt, not 0).
* Paired continuous scores (F1, BLEU per sample): :class:`MeanDifference` with Student's
  t on the per-sample degradations; with only values and stderrs (no per-sample scores)
  the same class with a normal quantile on the combined stderr (unpaired, conservative).
* Perf samples (separate runs, unpaired): :class:`Bootstrap`, percentile bounds of the
  bootstrapped statistic's difference.
* Exact measurements (size on disk): :class:`Exact`, bounds equal to the value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable, Protocol

import numpy as np
# scipy.special, not scipy.stats: the same distribution functions for a third of the
# import time, which every deciding gate run pays.
from scipy import special as _special

# Bootstrap resamples are drawn in chunks of at most this many indices, so a large sample
# (10k x 2000 resamples) does not allocate 160 MB of indices at once.
_CHUNK_ELEMENTS = 2_000_000
# Resolution figures are given at this power (the usual design value).
POWER = 0.8


def z_quantile(confidence: float) -> float:
    """The one-sided normal quantile: 1.645 for 0.95."""
    return float(_special.ndtri(confidence))


def z_value(confidence: float) -> float:
    """The two-sided normal quantile for ``confidence`` (1.96 for 0.95)."""
    return float(_special.ndtri(0.5 + confidence / 2.0))


def normal_sf(z: float) -> float:
    return float(_special.ndtr(-z))


class Evidence(Protocol):
    """What one comparison says about the degradation (positive = candidate worse)."""

    estimate: float  # observed degradation, in the metric's units
    n: int  # paired samples (eval) or candidate samples (perf)
    method: str  # how the bounds are made, for the report

    def bounds(self, confidence: float) -> tuple[float, float]:
        """(lower, upper): each a one-sided bound at ``confidence``."""

    def p_above(self, margin: float) -> float:
        """Nominal one-sided p-value of H0: degradation <= margin."""

    @property
    def se(self) -> float:
        """Standard error of ``estimate`` (0 for an exact value; NaN when unknown)."""


def _bisect(f: Callable[[float], bool], lo: float, hi: float, iterations: int = 60) -> float:
    """The boundary in [lo, hi] where the monotone predicate ``f`` turns from True to False."""
    for _ in range(iterations):
        mid = (lo + hi) / 2.0
        if f(mid):
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


# --------------------------------------------------------------------------- paired binary
@dataclass(frozen=True)
class PairedBinary:
    """Paired 0/1 scores reduced to what the difference of proportions depends on."""

    losses: int  # baseline right, candidate wrong
    wins: int  # candidate right, baseline wrong
    n: int  # all pairs (ties included)
    method: str = "Tango score bound (paired 0/1 scores)"

    def __post_init__(self):
        if self.losses < 0 or self.wins < 0 or self.losses + self.wins > self.n:
            raise ValueError(f"impossible counts: {self.losses} losses, {self.wins} wins of {self.n}")

    @classmethod
    def from_scores(cls, candidate: np.ndarray, baseline: np.ndarray) -> "PairedBinary":
        c = np.asarray(candidate, dtype=float)
        b = np.asarray(baseline, dtype=float)
        if c.shape != b.shape:
            raise ValueError(f"paired scores differ in length: {c.shape} vs {b.shape}")
        return cls(int(np.sum((b == 1.0) & (c == 0.0))), int(np.sum((c == 1.0) & (b == 0.0))), int(c.size))

    @property
    def estimate(self) -> float:
        return (self.losses - self.wins) / self.n if self.n else float("nan")

    @property
    def se(self) -> float:
        if not self.n:
            return float("nan")
        pl, pw = self.losses / self.n, self.wins / self.n
        return math.sqrt(max(pl + pw - (pl - pw) ** 2, 0.0) / self.n)

    def score(self, delta: float) -> float:
        """Tango's statistic for H0: P(loss) - P(win) = delta (large = worse than delta).

        The variance is taken at the restricted MLE of P(win) under H0, the root of
        2n q^2 + W q - wins*delta*(1 - delta) = 0 with W = -losses - wins + (2n - losses + wins) delta.
        """
        n, b, c = self.n, self.losses, self.wins
        w = -b - c + (2 * n - b + c) * delta
        x = 8.0 * n * c * delta * (1.0 - delta)
        # hypot: w * w underflows for a tiny delta, which would put q below 0.
        root = math.hypot(w, math.sqrt(x)) if x >= 0 else math.sqrt(max(w * w + x, 0.0))
        # q is P(win) and q + delta is P(loss): neither below 0.
        q = max((-w + root) / (4.0 * n), 0.0, -delta)
        var = n * (2.0 * q + delta * (1.0 - delta))
        num = b - c - n * delta
        if var <= 0.0:
            return 0.0 if num == 0 else math.copysign(math.inf, num)
        return num / math.sqrt(var)

    def bounds(self, confidence: float) -> tuple[float, float]:
        if not self.n:
            return -1.0, 1.0
        z = z_quantile(confidence)
        # The score is decreasing in delta: the bounds are where it crosses -z and +z.
        upper = _bisect(lambda d: self.score(d) >= -z, -1.0, 1.0)
        lower = _bisect(lambda d: self.score(d) > z, -1.0, 1.0)
        return lower, upper

    def p_above(self, margin: float) -> float:
        return normal_sf(self.score(margin)) if self.n else float("nan")


# --------------------------------------------------------------------------- means
@dataclass(frozen=True)
class MeanDifference:
    """A mean degradation with its standard error: Student's t (``df``) or normal (``df`` None)."""

    estimate: float
    se: float
    n: int
    df: int | None
    method: str

    @classmethod
    def paired(cls, degradation: np.ndarray) -> "MeanDifference":
        """From per-sample degradations (baseline - candidate for higher-is-better scores)."""
        d = np.asarray(degradation, dtype=float)
        se = float(np.std(d, ddof=1)) / math.sqrt(d.size) if d.size >= 2 else float("nan")
        return cls(float(np.mean(d)) if d.size else float("nan"), se, int(d.size), max(d.size - 1, 1),
                   "paired t bound (per-sample scores)")

    def _quantile(self, confidence: float) -> float:
        return z_quantile(confidence) if self.df is None else float(_special.stdtrit(self.df, confidence))

    def bounds(self, confidence: float) -> tuple[float, float]:
        if math.isnan(self.se):
            return -math.inf, math.inf
        half = self._quantile(confidence) * self.se
        return self.estimate - half, self.estimate + half

    def p_above(self, margin: float) -> float:
        if math.isnan(self.se):
            return float("nan")
        if self.se == 0.0:
            return 0.0 if self.estimate > margin else 1.0
        t = (self.estimate - margin) / self.se
        return normal_sf(t) if self.df is None else float(_special.stdtr(self.df, -t))


# --------------------------------------------------------------------------- bootstrap
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
    if n_resamples < 1:
        raise ValueError("n_resamples must be >= 1")
    func = STATISTICS[statistic]
    rng = np.random.default_rng(seed)
    return _resampled(c, func, n_resamples, rng) - _resampled(b, func, n_resamples, rng)


@dataclass(frozen=True)
class Bootstrap:
    """Percentile bounds from bootstrap replicates of the degradation."""

    estimate: float
    replicates: np.ndarray  # of the degradation, centred like ``estimate``
    n: int
    method: str

    @property
    def se(self) -> float:
        return float(np.std(self.replicates, ddof=1)) if self.replicates.size >= 2 else float("nan")

    def bounds(self, confidence: float) -> tuple[float, float]:
        low, high = np.quantile(self.replicates, [1.0 - confidence, confidence])
        return float(low), float(high)

    def p_above(self, margin: float) -> float:
        """The share of replicates at or below the margin (+1 correction: never 0), i.e. the
        level at which the lower percentile bound reaches the margin."""
        return float((1 + np.sum(self.replicates <= margin)) / (self.replicates.size + 1))


# --------------------------------------------------------------------------- exact
@dataclass(frozen=True)
class Exact:
    """A deterministic measurement: the observed degradation is the truth."""

    estimate: float
    n: int = 1
    method: str = "exact (a deterministic measurement)"
    se: float = 0.0

    def bounds(self, confidence: float) -> tuple[float, float]:
        return self.estimate, self.estimate

    def p_above(self, margin: float) -> float:
        return 0.0 if self.estimate > margin else 1.0


# --------------------------------------------------------------------------- resolution
@dataclass(frozen=True)
class Resolution:
    """What more data would settle an inconclusive check (at its level, power 0.8)."""

    mde: float  # the distance from max_drop this sample size resolves
    samples_needed: int | None  # samples that would resolve the observed distance; None: never


def resolution(evidence: Evidence, margin: float, *, confidence: float, power: float = POWER) -> Resolution | None:
    """What more data would settle a check held to ``confidence`` (one-sided, after Holm and
    the alpha spent at its look), from the evidence's own bound method; None when the
    evidence has no standard error.

    The usual power formula, n = (z_c * sd_0 + z_power * sd_1)^2 / distance^2 (sd_0 under
    the margin, sd_1 under the observed rates), read off the bounds: the bound at
    ``confidence`` stands for the first term (the method's own width, so Tango's with no
    discordant document is not the zero of a Wald standard error) and ``z_power * se`` for
    the second. ``mde`` is that reach at the current n: the distance from the margin
    resolved with probability ``power``; ``samples_needed`` the least n whose reach, with
    the observed rates, is within the observed distance (None when the drop sits on the
    margin). For normal and t bounds this is (z_c + z_power) * se and n * (mde / distance)^2.
    """
    if evidence.se is None or math.isnan(evidence.se) or evidence.n < 1 or isinstance(evidence, Exact):
        return None
    below = evidence.estimate <= margin  # settled by the upper bound (a pass) or the lower (a fail)
    z_power = z_quantile(power)

    def reach(n: int) -> float:
        at = at_size(evidence, n)
        lower, upper = at.bounds(confidence)
        return (upper - at.estimate if below else at.estimate - lower) + z_power * at.se

    mde, gap = reach(evidence.n), abs(evidence.estimate - margin)
    if gap == 0 or not mde > gap:
        return Resolution(mde, None if gap == 0 else evidence.n)
    lo, hi = evidence.n, 2 * evidence.n
    while reach(hi) > gap:
        lo, hi = hi, 2 * hi
        if hi > 10**12:
            return Resolution(mde, None)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if reach(mid) > gap else (lo, mid)
    return Resolution(mde, hi)


def at_size(evidence: Evidence, n: int) -> Evidence:
    """``evidence`` as if its observed rates held on ``n`` samples."""
    scale = n / max(evidence.n, 1)
    if isinstance(evidence, PairedBinary):
        return replace(evidence, losses=evidence.losses * scale, wins=evidence.wins * scale, n=n)
    if isinstance(evidence, MeanDifference):
        return replace(evidence, se=evidence.se / math.sqrt(scale), n=n,
                       df=None if evidence.df is None else max(n - 1, 1))
    if isinstance(evidence, Bootstrap):
        return replace(evidence, replicates=evidence.estimate + (evidence.replicates - evidence.estimate) / math.sqrt(scale),
                       n=n)
    return evidence


def is_binary(values: np.ndarray) -> bool:
    """True when every score is 0 or 1 (accuracy, exact match)."""
    values = np.asarray(values, dtype=float)
    return bool(values.size) and bool(np.all((values == 0.0) | (values == 1.0)))
