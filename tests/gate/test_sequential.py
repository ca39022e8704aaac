"""Sequential looks: the plan and the alpha-spending critical values."""

from __future__ import annotations

import numpy as np
import pytest

from llm_gitops.gate import sequential


class TestPlan:
    @pytest.mark.parametrize("total,cap,expected", [
        (1000, None, (100, 130, 169, 220, 286, 371, 483, 627, 816, 1000)),
        (120, None, (100, 120)),
        (80, None, (80,)),
        (5000, 300, (100, 130, 169, 220, 300)),  # 286 -> 300 would be a look for 14 documents
        (100, None, (100,)),
        (105, None, (100, 105)),  # the first look stays, however close to the end
    ])
    def test_looks_grow_by_the_growth_factor_up_to_the_cap(self, total, cap, expected):
        assert sequential.GROWTH == 1.3
        assert sequential.plan_looks(total, first=100, cap=cap) == expected

    def test_a_last_step_under_half_a_growth_step_is_merged_into_the_look_before(self):
        # 100 x 1.3^6 = 483: a look for the 17 documents to 500 would cost two lm-eval calls.
        assert sequential.plan_looks(500, first=100) == (100, 130, 169, 220, 286, 371, 500)
        assert sequential.plan_looks(560, first=100) == (100, 130, 169, 220, 286, 371, 483, 560)

    def test_first_look_can_be_set(self):
        assert sequential.plan_looks(1000, first=400) == (400, 520, 676, 1000)

    def test_no_documents_is_an_error(self):
        with pytest.raises(ValueError):
            sequential.plan_looks(0, first=100)


class TestCriticalValues:
    def test_one_look_is_an_ordinary_one_sided_test(self):
        assert sequential.critical_values((500,), 0.05) == pytest.approx((1.644854,), abs=1e-5)
        assert sequential.confidence_levels((500,), 0.05) == pytest.approx((0.95,))

    def test_matches_known_obrien_fleming_boundaries(self, monkeypatch):
        # The recursion with Lan-DeMets' O'Brien-Fleming spending reproduces the values
        # gsDesign publishes for one-sided 0.025 at t = (0.5, 1): 2.963, 1.969.
        from scipy.stats import norm

        monkeypatch.setattr(sequential, "spent",
                            lambda t, a: 2 - 2 * norm.cdf(norm.ppf(1 - a / 2) / np.sqrt(t)) if t > 0 else 0.0)
        sequential._critical_values.cache_clear()
        try:
            assert sequential._critical_values((0.5, 1.0), 0.025) == pytest.approx((2.963, 1.969), abs=2e-3)
        finally:
            sequential._critical_values.cache_clear()

    def test_repeated_looks_keep_the_error_rate_at_alpha(self):
        # Brownian paths under the null: crossing at any look happens alpha of the time,
        # and by look k the spent alpha * t_k.
        looks = sequential.plan_looks(5000, first=100)
        z = np.array(sequential.critical_values(looks, 0.05))
        t = np.array(looks) / looks[-1]
        rng = np.random.default_rng(0)
        steps = rng.normal(size=(200_000, len(looks))) * np.sqrt(np.diff(np.r_[0.0, t]))
        paths = np.cumsum(steps, axis=1) / np.sqrt(t)
        crossed = np.maximum.accumulate(paths >= z, axis=1)
        assert crossed[:, -1].mean() == pytest.approx(0.05, abs=0.002)
        for k in (3, 7):
            assert crossed[:, k].mean() == pytest.approx(0.05 * t[k], abs=0.002)
        # Naively testing every look at 1.645 would wrong-decide far more often.
        assert (paths >= 1.645).any(axis=1).mean() > 0.12

    def test_later_looks_have_lower_critical_values_than_early_ones(self):
        z = sequential.critical_values(sequential.plan_looks(5000, first=100), 0.05)
        assert z[0] > 3.0 and z[-1] < 2.0 and z[-1] > 1.645

    @pytest.mark.parametrize("looks,alpha", [((), 0.05), ((200, 100), 0.05), ((0, 10), 0.05), ((100,), 1.5)])
    def test_rejects_bad_arguments(self, looks, alpha):
        with pytest.raises(ValueError):
            sequential.critical_values(looks, alpha)
