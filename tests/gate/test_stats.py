"""The gate's statistics against known values (scipy's reference implementations)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from llm_gitops.gate import stats
from tests.gate.factories import flip_to


def paired(n: int, p_base: float, p_cand: float, seed: int = 0):
    """Correlated binary scores: the candidate keeps most of the baseline's answers."""
    rng = np.random.default_rng(seed)
    base = (rng.random(n) < p_base).astype(float)
    return flip_to(base, p_base, p_cand, rng), base


class TestMcNemar:
    def test_one_sided_matches_binomial_tail(self):
        # 10 losses, 2 wins: P(X >= 10 | X ~ Bin(12, 1/2)) = (66 + 12 + 1) / 4096.
        assert stats.mcnemar_exact(10, 2, "greater") == pytest.approx(79 / 4096)
        assert stats.mcnemar_exact(10, 2, "two-sided") == pytest.approx(2 * 79 / 4096)
        assert stats.mcnemar_exact(10, 2, "less") == pytest.approx(sps.binomtest(10, 12, 0.5, "less").pvalue)

    @pytest.mark.parametrize("losses,wins", [(0, 5), (3, 3), (7, 1), (40, 22), (1, 0)])
    def test_agrees_with_scipy_binomtest(self, losses, wins):
        for alt in ("two-sided", "greater", "less"):
            expected = sps.binomtest(losses, losses + wins, 0.5, alternative=alt).pvalue
            assert stats.mcnemar_exact(losses, wins, alt) == pytest.approx(expected)

    def test_no_discordant_pairs_is_no_evidence(self):
        assert stats.mcnemar_exact(0, 0) == 1.0
        assert stats.mcnemar_exact(0, 0, "greater") == 1.0

    def test_negative_counts_are_rejected(self):
        with pytest.raises(ValueError):
            stats.mcnemar_exact(-1, 2)

    def test_discordance_counts(self):
        cand = np.array([1, 0, 0, 1, 1, 0])
        base = np.array([1, 1, 1, 0, 1, 0])
        d = stats.discordance(cand, base)
        assert (d.losses, d.wins, d.ties, d.discordant) == (2, 1, 3, 3)

    def test_discordance_needs_binary_scores(self):
        with pytest.raises(ValueError, match="binary"):
            stats.discordance(np.array([0.5, 1.0]), np.array([1.0, 1.0]))


class TestShiftedT:
    def test_equals_scipy_one_sample_t_against_the_margin(self):
        rng = np.random.default_rng(3)
        d = rng.normal(0.05, 0.3, size=200)
        for margin in (0.0, 0.02, 0.1):
            expected = sps.ttest_1samp(d, margin, alternative="greater").pvalue
            assert stats.shifted_t_p(d, margin) == pytest.approx(expected)

    def test_zero_variance_is_decided_not_nan(self):
        assert stats.shifted_t_p(np.ones(10), 0.5) == 0.0
        assert stats.shifted_t_p(np.zeros(10), 0.0) == 1.0

    def test_too_few_samples_is_nan(self):
        assert math.isnan(stats.shifted_t_p(np.array([1.0]), 0.0))


class TestDropTest:
    def test_big_drop_on_500_samples_is_significant(self):
        cand, base = paired(500, 0.80, 0.68)
        result = stats.drop_test(cand, base, margin=0.02)
        assert result.p_value < 1e-6
        assert result.discordance is not None and result.discordance.losses >= 60
        assert "McNemar" in result.method

    def test_small_drop_on_few_samples_is_not_significant(self):
        cand, base = paired(40, 0.80, 0.72)
        assert stats.drop_test(cand, base, margin=0.02).p_value > 0.05

    def test_is_the_max_of_the_exact_and_the_shifted_t(self):
        cand, base = paired(300, 0.8, 0.74, seed=5)
        got = stats.drop_test(cand, base, margin=0.01)
        d = stats.discordance(cand, base)
        p_exact = stats.mcnemar_exact(d.losses, d.wins, "greater")
        p_t = sps.ttest_1samp(base - cand, 0.01, alternative="greater").pvalue
        assert got.p_value == pytest.approx(max(p_exact, p_t))

    def test_a_larger_margin_weakens_the_evidence(self):
        cand, base = paired(500, 0.80, 0.72)
        ps = [stats.drop_test(cand, base, margin=m).p_value for m in (0.0, 0.03, 0.06, 0.09)]
        assert ps == sorted(ps)
        assert ps[0] < 0.001 < 0.5 < ps[-1]

    def test_lower_is_better_mirrors_higher_is_better(self):
        cand, base = paired(300, 0.8, 0.7, seed=2)
        hi = stats.drop_test(cand, base, margin=0.02, higher_is_better=True)
        # Swapping the roles and the direction asks the same question.
        lo = stats.drop_test(base, cand, margin=0.02, higher_is_better=False)
        assert hi.p_value == pytest.approx(lo.p_value)

    def test_an_improvement_is_never_significant(self):
        cand, base = paired(500, 0.7, 0.8)
        assert stats.drop_test(cand, base, margin=0.0).p_value > 0.99

    def test_continuous_scores_use_the_t_test_only(self):
        rng = np.random.default_rng(0)
        base = rng.random(200)
        cand = base - 0.1 + rng.normal(0, 0.05, 200)
        result = stats.drop_test(cand, base, margin=0.05)
        assert result.discordance is None and "McNemar" not in result.method
        assert result.p_value == pytest.approx(sps.ttest_1samp(base - cand, 0.05, alternative="greater").pvalue)

    def test_rejects_mismatched_lengths_and_negative_margins(self):
        with pytest.raises(ValueError):
            stats.drop_test(np.ones(3), np.ones(4), margin=0)
        with pytest.raises(ValueError):
            stats.drop_test(np.ones(3), np.ones(3), margin=-0.1)


class TestPairedBootstrap:
    def test_is_seeded_and_brackets_the_estimate(self):
        cand, base = paired(500, 0.8, 0.7)
        a = stats.paired_bootstrap(cand, base, n_resamples=2000, seed=7)
        b = stats.paired_bootstrap(cand, base, n_resamples=2000, seed=7)
        assert a == b
        assert a.estimate == pytest.approx(-0.10)
        assert a.low < a.estimate < a.high < 0

    def test_width_matches_the_normal_approximation(self):
        cand, base = paired(1000, 0.8, 0.75, seed=1)
        d = cand - base
        ci = stats.paired_bootstrap(cand, base, n_resamples=4000, seed=0)
        expected_half = 1.96 * d.std(ddof=1) / math.sqrt(d.size)
        assert (ci.high - ci.low) / 2 == pytest.approx(expected_half, rel=0.12)

    def test_chunking_does_not_change_the_distribution(self, monkeypatch):
        cand, base = paired(400, 0.8, 0.7)
        whole = stats.paired_bootstrap(cand, base, n_resamples=1000, seed=1)
        monkeypatch.setattr(stats, "_CHUNK_ELEMENTS", 400 * 7)  # many small chunks
        chunked = stats.paired_bootstrap(cand, base, n_resamples=1000, seed=1)
        assert chunked.low == pytest.approx(whole.low, abs=0.01)
        assert chunked.high == pytest.approx(whole.high, abs=0.01)

    def test_rejects_bad_arguments(self):
        with pytest.raises(ValueError):
            stats.paired_bootstrap(np.ones(3), np.ones(2))
        with pytest.raises(ValueError):
            stats.paired_bootstrap(np.ones(3), np.ones(3), confidence=1.5)
        with pytest.raises(ValueError):
            stats.paired_bootstrap(np.array([]), np.array([]))


class TestUnpairedBootstrap:
    def test_detects_a_real_slowdown(self):
        rng = np.random.default_rng(0)
        base = rng.normal(10.0, 0.5, 30)
        cand = rng.normal(12.0, 0.5, 30)
        ci = stats.unpaired_bootstrap(cand, base, n_resamples=2000, seed=0)
        assert ci.estimate == pytest.approx(cand.mean() - base.mean())
        assert 1.5 < ci.low < ci.estimate < ci.high < 2.5
        reps = stats.unpaired_bootstrap_replicates(cand, base, n_resamples=2000, seed=0)
        assert stats.bootstrap_p_above(reps, 0.5) < 0.01  # slower by more than 0.5
        assert stats.bootstrap_p_above(reps, 3.0) > 0.99  # but not by more than 3

    def test_percentile_statistics(self):
        base = np.arange(100, dtype=float)
        cand = base + 5
        for name in ("median", "p95"):
            ci = stats.unpaired_bootstrap(cand, base, statistic=name, n_resamples=500, seed=0)
            assert ci.estimate == pytest.approx(5.0)

    def test_p_value_never_reaches_zero(self):
        assert stats.bootstrap_p_above(np.full(99, 10.0), 0.0) == pytest.approx(0.01)
        assert stats.bootstrap_p_above(np.full(99, -1.0), 0.0) == 1.0


def test_z_value():
    assert stats.z_value(0.95) == pytest.approx(1.959964, abs=1e-6)


def test_normal_drop_p():
    assert stats.normal_drop_p(0.1, 0.05, 0.0) == pytest.approx(sps.norm.sf(2.0))
    assert math.isnan(stats.normal_drop_p(0.1, 0.0, 0.0))
