"""The gate's statistics against independent computations and known values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize
from scipy import stats as sps

from llm_gitops.gate import stats
from tests.gate.factories import flip_to


def paired(n: int, p_base: float, p_cand: float, seed: int = 0):
    """Correlated binary scores: the candidate keeps most of the baseline's answers."""
    rng = np.random.default_rng(seed)
    base = (rng.random(n) < p_base).astype(float)
    return flip_to(base, p_base, p_cand, rng), base


def tango_reference(losses: int, wins: int, n: int, delta: float) -> float:
    """Tango's score statistic with the restricted MLE found numerically (not by the closed form)."""
    def negloglik(q):
        p_loss, p_win = q + delta, q
        p_tie = 1.0 - p_loss - p_win
        return -(losses * np.log(p_loss) + wins * np.log(p_win) + (n - losses - wins) * np.log(p_tie))

    lo = max(0.0, -delta) + 1e-12
    hi = (1.0 - delta) / 2.0 - 1e-12
    q = optimize.minimize_scalar(negloglik, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12}).x
    return (losses - wins - n * delta) / math.sqrt(n * (2 * q + delta * (1 - delta)))


class TestPairedBinary:
    @pytest.mark.parametrize("losses,wins,n,delta", [(30, 10, 200, 0.02), (5, 0, 500, 0.02), (12, 20, 300, -0.01),
                                                      (40, 22, 1000, 0.05), (3, 3, 50, 0.1)])
    def test_score_matches_the_numerical_restricted_mle(self, losses, wins, n, delta):
        assert stats.PairedBinary(losses, wins, n).score(delta) == pytest.approx(
            tango_reference(losses, wins, n, delta), rel=1e-4)

    def test_no_discordant_pairs_still_leaves_an_honest_upper_bound(self):
        # Closed form with no discordance: score = -sqrt(n d / (1 - d)), so the 95% upper
        # bound is z^2 / (n + z^2), 2.6pt for 100 pairs, not the Wald interval's 0.
        z2 = stats.z_quantile(0.95) ** 2
        lower, upper = stats.PairedBinary(0, 0, 100).bounds(0.95)
        assert upper == pytest.approx(z2 / (100 + z2), abs=1e-9)
        assert lower == pytest.approx(-upper, abs=1e-9)

    def test_bounds_bracket_the_estimate_and_tighten_with_n(self):
        small = stats.PairedBinary(20, 8, 200)
        big = stats.PairedBinary(200, 80, 2000)
        assert small.estimate == big.estimate == pytest.approx(0.06)
        for ev in (small, big):
            lo, hi = ev.bounds(0.95)
            assert lo < ev.estimate < hi
        assert big.bounds(0.95)[1] - big.bounds(0.95)[0] < 0.5 * (small.bounds(0.95)[1] - small.bounds(0.95)[0])
        # A higher confidence widens them.
        assert small.bounds(0.99)[1] > small.bounds(0.95)[1] and small.bounds(0.99)[0] < small.bounds(0.95)[0]

    def test_p_above_agrees_with_the_bound(self):
        ev = stats.PairedBinary(40, 12, 400)
        lower, _ = ev.bounds(0.95)
        # The level-0.05 lower bound is where the p-value of "degradation > margin" is 0.05.
        assert ev.p_above(lower) == pytest.approx(0.05, abs=1e-6)

    def test_upper_bound_covers_the_truth(self):
        # Paired outcomes with a true degradation of 3pt (7% losses, 4% wins), n = 150.
        rng = np.random.default_rng(1)
        misses = 0
        runs = 2000
        for _ in range(runs):
            u = rng.random(150)
            ev = stats.PairedBinary(int(np.sum(u < 0.07)), int(np.sum((u >= 0.07) & (u < 0.11))), 150)
            misses += ev.bounds(0.95)[1] < 0.03
        assert misses / runs < 0.065  # nominal 0.05; the score bound is close to it

    def test_from_scores_counts_and_rejects_bad_input(self):
        cand = np.array([1, 0, 0, 1, 1, 0])
        base = np.array([1, 1, 1, 0, 1, 0])
        ev = stats.PairedBinary.from_scores(cand, base)
        assert (ev.losses, ev.wins, ev.n) == (2, 1, 6)
        with pytest.raises(ValueError):
            stats.PairedBinary.from_scores(np.ones(3), np.ones(4))
        with pytest.raises(ValueError):
            stats.PairedBinary(5, 5, 8)


class TestMeanDifference:
    def test_paired_t_bounds_match_scipy(self):
        rng = np.random.default_rng(3)
        d = rng.normal(0.05, 0.3, size=200)
        ev = stats.MeanDifference.paired(d)
        low, high = sps.t.interval(0.90, d.size - 1, loc=d.mean(), scale=sps.sem(d))
        assert ev.bounds(0.95) == pytest.approx((low, high))
        for margin in (0.0, 0.02, 0.1):
            assert ev.p_above(margin) == pytest.approx(sps.ttest_1samp(d, margin, alternative="greater").pvalue)

    def test_zero_variance_is_decided_and_one_sample_is_not_testable(self):
        ev = stats.MeanDifference.paired(np.full(10, 0.2))
        assert ev.bounds(0.99) == (0.2, 0.2) and ev.p_above(0.1) == 0.0 and ev.p_above(0.3) == 1.0
        one = stats.MeanDifference.paired(np.array([1.0]))
        assert math.isnan(one.se) and math.isnan(one.p_above(0.0)) and one.bounds(0.95) == (-math.inf, math.inf)

    def test_normal_bound_from_stderrs(self):
        ev = stats.MeanDifference(0.1, 0.05, 500, None, "normal")
        assert ev.p_above(0.0) == pytest.approx(sps.norm.sf(2.0))
        assert ev.bounds(0.975)[0] == pytest.approx(0.1 - 1.959964 * 0.05, abs=1e-6)


class TestBootstrap:
    def test_detects_a_real_slowdown(self):
        rng = np.random.default_rng(0)
        base = rng.normal(10.0, 0.5, 30)
        cand = rng.normal(12.0, 0.5, 30)
        reps = stats.unpaired_bootstrap_replicates(cand, base, n_resamples=2000, seed=0)
        ev = stats.Bootstrap(float(cand.mean() - base.mean()), reps, 30, "bootstrap")
        lower, upper = ev.bounds(0.975)
        assert 1.5 < lower < ev.estimate < upper < 2.5
        assert ev.p_above(0.5) < 0.01 and ev.p_above(3.0) > 0.99
        assert ev.se == pytest.approx(math.sqrt(0.25 / 30 * 2), rel=0.2)

    def test_is_seeded_and_chunking_does_not_change_it(self, monkeypatch):
        cand, base = np.arange(50.0), np.arange(50.0) + 1
        whole = stats.unpaired_bootstrap_replicates(cand, base, statistic="median", n_resamples=500, seed=1)
        monkeypatch.setattr(stats, "_CHUNK_ELEMENTS", 120)
        chunked = stats.unpaired_bootstrap_replicates(cand, base, statistic="median", n_resamples=500, seed=1)
        assert np.array_equal(whole, chunked)

    def test_p_value_never_reaches_zero(self):
        assert stats.Bootstrap(10.0, np.full(99, 10.0), 5, "b").p_above(0.0) == pytest.approx(0.01)
        assert stats.Bootstrap(-1.0, np.full(99, -1.0), 5, "b").p_above(0.0) == 1.0

    def test_rejects_empty_groups(self):
        with pytest.raises(ValueError):
            stats.unpaired_bootstrap_replicates(np.array([]), np.ones(3), n_resamples=10, seed=0)


class TestResolution:
    def test_mde_and_samples_needed(self):
        ev = stats.MeanDifference(0.01, 0.01, 400, None, "normal")
        res = stats.resolution(ev, 0.02, confidence=0.95)
        z = stats.z_quantile(0.95) + stats.z_quantile(0.8)
        assert res.mde == pytest.approx(z * 0.01)
        # The observed distance (1pt) needs n * (mde / 0.01)^2 samples.
        assert res.samples_needed == math.ceil(400 * (z * 0.01 / 0.01) ** 2)

    def test_a_drop_on_the_margin_can_never_be_resolved(self):
        res = stats.resolution(stats.MeanDifference(0.02, 0.01, 400, None, "n"), 0.02, confidence=0.95)
        assert res.mde > 0 and res.samples_needed is None

    def test_exact_and_untestable_evidence_have_no_resolution(self):
        assert stats.resolution(stats.Exact(0.5), 0.1, confidence=0.95) is None
        assert stats.resolution(stats.MeanDifference.paired(np.array([1.0])), 0.1, confidence=0.95) is None


def test_quantiles():
    assert stats.z_value(0.95) == pytest.approx(1.959964, abs=1e-6)
    assert stats.z_quantile(0.95) == pytest.approx(1.644854, abs=1e-6)


def test_is_binary():
    assert stats.is_binary(np.array([0.0, 1.0, 1.0]))
    assert not stats.is_binary(np.array([0.5, 1.0]))
    assert not stats.is_binary(np.array([]))


# Properties every bound must have, whatever the counts (hypothesis explores the corners:
# no discordant pair, all losses, tiny n).
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@st.composite
def counts(draw):
    n = draw(st.integers(min_value=1, max_value=5000))
    losses = draw(st.integers(min_value=0, max_value=n))
    wins = draw(st.integers(min_value=0, max_value=n - losses))
    return losses, wins, n


@settings(max_examples=200, deadline=None)
@given(counts(), st.floats(min_value=0.5, max_value=0.9999))
def test_paired_binary_bounds_are_ordered_and_nested(c, confidence):
    ev = stats.PairedBinary(*c)
    lower, upper = ev.bounds(confidence)
    assert -1.0 <= lower <= ev.estimate + 1e-9 and ev.estimate - 1e-9 <= upper <= 1.0
    wider = ev.bounds(min(confidence + (1 - confidence) / 2, 0.99999))
    assert wider[0] <= lower + 1e-9 and wider[1] >= upper - 1e-9


@settings(max_examples=200, deadline=None)
@given(counts(), st.floats(min_value=-0.5, max_value=0.5))
def test_paired_binary_evidence_weakens_as_the_margin_rises(c, margin):
    # p_above(m) is the p of "degradation > m": a larger margin is harder to exceed.
    ev = stats.PairedBinary(*c)
    assert 0.0 <= ev.p_above(margin) <= 1.0
    assert ev.p_above(margin + 0.05) >= ev.p_above(margin) - 1e-12
