"""The gate's policy on synthetic results: confidence bounds, Holm, sequential looks, hard floors, directions."""

from __future__ import annotations

import json

import numpy as np
import pytest

from llm_gitops.config.schema import GateSection, Threshold
from llm_gitops.gate.outcome import GATE_REPORT_SCHEMA, GateOutcome, exit_code_for, worst
from llm_gitops.gate import sequential
from llm_gitops.gate.policy import (
    NO_BASELINE_YET,
    Measurements,
    SequentialDesign,
    decide,
    error_outcome,
    evaluate_threshold,
    perf_statistic,
)
from tests.gate.factories import counted_scores, eval_results, metric, paired_scores, perf_metric, perf_results

EM, MC = "add_em/exact_match", "add_mc/acc"


def run(threshold: dict, cand_scores, base_scores, **kw):
    cand = Measurements(eval=eval_results(metric(EM, cand_scores, kw.pop("cand_ids", None))))
    base = None if base_scores is None else Measurements(eval=eval_results(metric(EM, base_scores, kw.pop("base_ids", None))))
    check, note = evaluate_threshold(Threshold(**threshold), cand, base, n_resamples=1000, **kw)
    return check, note


class TestRelativeDrops:
    def test_big_drop_with_500_samples_fails_by_its_lower_bound(self):
        cand, base = paired_scores(500, 0.80, 0.68)
        check, _ = run({"metric": EM, "max_drop": "2pt"}, cand, base)
        assert check.verdict == "fail" and check.cause == "drop"
        assert check.delta == pytest.approx(-0.12)
        assert check.bound_side == "lower" and 0.02 < check.bound_value < 0.12
        assert check.ci_low < -0.12 < check.ci_high == pytest.approx(-check.bound_value)
        assert check.confidence == pytest.approx(0.95) and check.p_value < 0.001
        assert check.n == 500 and "Tango" in check.test
        assert check.allowed_drop == pytest.approx(0.02)
        assert check.reason == f"drop of 12.0pt: its 95% lower bound {check.bound_value * 100:.1f}pt exceeds max_drop 2pt"

    def test_small_drop_passes_only_when_its_upper_bound_is_within_tolerance(self):
        cand, base = paired_scores(1000, 0.80, 0.795)
        check, _ = run({"metric": EM, "max_drop": "2pt"}, cand, base)
        assert check.verdict == "pass" and check.cause is None
        assert check.bound_side == "upper" and check.bound_value <= 0.02
        assert check.delta == pytest.approx(-0.005)

    def test_an_observed_drop_within_max_drop_is_not_a_pass_without_the_bound(self):
        # The old rule passed this (observed 1pt <= 2pt); 100 samples cannot show it.
        cand, base = counted_scores(6, 5, 100)
        check, _ = run({"metric": EM, "max_drop": "2pt"}, cand, base)
        assert check.verdict == "inconclusive" and check.cause == "drop"
        assert check.bound_side == "upper" and check.bound_value > 0.02
        assert "its 95% upper bound" in check.reason and "exceeds max_drop 2pt, on 100 samples" in check.reason

    def test_inconclusive_says_what_would_settle_it(self):
        cand, base = paired_scores(50, 0.80, 0.74)
        check, _ = run({"metric": EM, "max_drop": "2pt"}, cand, base)
        assert check.verdict == "inconclusive" and check.bound_side == "lower"
        assert check.mde > 0.02 and check.samples_needed > 50
        # At the needed size the same rates would fail.
        big_c, big_b = paired_scores(check.samples_needed * 2, 0.80, 0.74)
        assert run({"metric": EM, "max_drop": "2pt"}, big_c, big_b)[0].verdict == "fail"

    def test_hard_max_drop_fails_without_statistics(self):
        cand, base = paired_scores(10, 0.80, 0.60)
        check, _ = run({"metric": EM, "max_drop": "2pt", "hard_max_drop": "10pt"}, cand, base)
        assert check.verdict == "fail" and check.cause == "hard_max_drop"
        assert "hard_max_drop 10pt" in check.reason
        soft, _ = run({"metric": EM, "max_drop": "2pt"}, cand, base)
        assert soft.verdict == "inconclusive"

    def test_hard_max_drop_alone_passes_below_it(self):
        cand, base = paired_scores(100, 0.80, 0.75)
        check, _ = run({"metric": EM, "hard_max_drop": 0.1}, cand, base)
        assert check.verdict == "pass"

    def test_percent_drop_is_relative_to_the_baseline(self):
        cand, base = paired_scores(1000, 0.50, 0.47)
        # 10% of 0.5 = 0.05 allowed: a 3pt drop whose upper bound is below 5pt.
        check, _ = run({"metric": EM, "max_drop": "10%"}, cand, base)
        assert check.verdict == "pass" and check.allowed_drop == pytest.approx(0.05)

    def test_an_improvement_passes(self):
        cand, base = paired_scores(500, 0.70, 0.80)
        check, _ = run({"metric": EM, "max_drop": 0}, cand, base)
        assert check.verdict == "pass" and check.delta == pytest.approx(0.10)

    def test_continuous_scores_use_the_paired_t_bound(self):
        rng = np.random.default_rng(0)
        base = rng.uniform(0.5, 1.0, 400)
        cand = base - rng.normal(0.002, 0.02, 400)
        check, _ = run({"metric": EM, "max_drop": 0.01}, cand.tolist(), base.tolist())
        assert check.verdict == "pass" and "paired t" in check.test

    def test_verdict_does_not_depend_on_the_seed(self):
        cand, base = paired_scores(300, 0.80, 0.74)
        verdicts = {run({"metric": EM, "max_drop": "2pt"}, cand, base, seed=s)[0].verdict for s in range(5)}
        assert len(verdicts) == 1


class TestSeveralChecks:
    """Holm's procedure: the chance that any regressed metric passes stays at alpha."""

    def decide_two(self, first, second, **gate):
        cand = Measurements(eval=eval_results(metric(EM, first[0]), metric(MC, second[0])))
        base = Measurements(eval=eval_results(metric(EM, first[1]), metric(MC, second[1])))
        return decide([Threshold(metric=EM, max_drop="2pt"), Threshold(metric=MC, max_drop="2pt")],
                      candidate=cand, baseline=base, gate=GateSection(**gate))

    def test_a_borderline_check_alone_passes_at_alpha(self):
        check, _ = run({"metric": EM, "max_drop": "2pt"}, *counted_scores(19, 10, 1000))
        assert check.verdict == "pass" and check.confidence == pytest.approx(0.95)

    def test_beside_an_undecided_check_it_needs_alpha_over_two(self):
        outcome = self.decide_two(counted_scores(19, 10, 1000), counted_scores(6, 5, 100))
        assert [c.verdict for c in outcome.checks] == ["inconclusive", "inconclusive"]
        assert outcome.checks[0].confidence == pytest.approx(0.975)
        assert outcome.settings["multiple_checks"] == "holm"

    def test_once_the_other_passes_its_alpha_is_recycled(self):
        outcome = self.decide_two(counted_scores(19, 10, 1000), paired_scores(2000, 0.8, 0.8))
        assert [c.verdict for c in outcome.checks] == ["pass", "pass"]
        assert [c.confidence for c in outcome.checks] == pytest.approx([0.95, 0.975])


class TestSequential:
    def design(self, n):
        return SequentialDesign(order={"add_em": tuple(range(n))}, looks={"add_em": sequential.plan_looks(n, first=100)})

    def test_a_clear_regression_stops_at_an_early_look(self):
        cand, base = paired_scores(2000, 0.80, 0.60)
        outcome = decide([Threshold(metric=EM, max_drop="2pt")], candidate=Measurements(eval=eval_results(metric(EM, cand))),
                         baseline=Measurements(eval=eval_results(metric(EM, base))), gate=GateSection(), design=self.design(2000))
        check = outcome.checks[0]
        assert check.verdict == "fail" and check.look < len(sequential.plan_looks(2000, first=100)) and check.n < 2000
        assert outcome.looks[-1]["decided"] == {EM: "fail"} and outcome.looks[-1]["next"] is None
        assert outcome.looks[-1]["samples"] == {"add_em": check.n} and outcome.settings["sequential"] is True
        # The bound is at the look's critical value: stricter than a single test's.
        assert check.confidence > 0.95

    def test_an_undecided_check_asks_for_the_next_look(self):
        cand, base = counted_scores(7, 4, 130)
        ids = list(range(130))
        outcome = decide([Threshold(metric=EM, max_drop="2pt")],
                         candidate=Measurements(eval=eval_results(metric(EM, cand, ids))),
                         baseline=Measurements(eval=eval_results(metric(EM, base, ids))),
                         gate=GateSection(), design=self.design(1000))
        assert outcome.verdict == "inconclusive"
        assert [look["samples"] for look in outcome.looks] == [{"add_em": 100}, {"add_em": 130}]
        assert outcome.looks[-1]["next"] == {"add_em": 169}

    def test_the_looks_log_round_trips_through_json(self):
        cand, base = paired_scores(600, 0.80, 0.80)
        outcome = decide([Threshold(metric=EM, max_drop="2pt")], candidate=Measurements(eval=eval_results(metric(EM, cand))),
                         baseline=Measurements(eval=eval_results(metric(EM, base))), gate=GateSection(), design=self.design(600))
        data = json.loads(json.dumps(outcome.to_json()))
        assert data["looks"][0]["look"] == 1 and GateOutcome.from_json(data).looks == tuple(outcome.looks)

    def test_tasks_with_different_splits_look_on_their_own_plans(self):
        em_c, em_b = counted_scores(6, 5, 120)  # a small split that cannot decide
        mc_c, mc_b = paired_scores(2000, 0.80, 0.60)  # a large one that fails early
        design = SequentialDesign(order={"add_em": tuple(range(120)), "add_mc": tuple(range(2000))},
                                  looks={"add_em": sequential.plan_looks(120, first=100),
                                         "add_mc": sequential.plan_looks(2000, first=100)})
        outcome = decide([Threshold(metric=EM, max_drop="2pt"), Threshold(metric=MC, max_drop="2pt")],
                         candidate=Measurements(eval=eval_results(metric(EM, em_c), metric(MC, mc_c[:150]))),
                         baseline=Measurements(eval=eval_results(metric(EM, em_b), metric(MC, mc_b[:150]))),
                         gate=GateSection(), design=design)
        em, mc = outcome.checks
        assert mc.verdict == "fail" and mc.n <= 150
        # add_em's split is exhausted at 120: inconclusive, and no further look is asked for it.
        assert em.verdict == "inconclusive" and em.n == 120 and em.samples_needed > 120
        assert outcome.looks[-1]["next"] is None

    def test_perf_checks_count_in_holm_at_the_first_look(self):
        cand, base = paired_scores(2000, 0.80, 0.80)
        perf_c = perf_results(perf_metric("size_on_disk_mb", [4.0], unit="MB"))
        perf_b = perf_results(perf_metric("size_on_disk_mb", [4.0], unit="MB"))
        outcome = decide([Threshold(metric=EM, max_drop="2pt"), Threshold(metric="perf/size_on_disk_mb", max_drop="5%")],
                         candidate=Measurements(eval=eval_results(metric(EM, cand)), perf=perf_c),
                         baseline=Measurements(eval=eval_results(metric(EM, base)), perf=perf_b),
                         gate=GateSection(), design=self.design(2000))
        assert [c.verdict for c in outcome.checks] == ["pass", "pass"]
        em, size = outcome.checks
        # The exact size check passes at the first look at alpha/2 (Holm over 2); the eval check,
        # then at alpha, later, once its bound is within 2pt.
        assert size.look == 1 and size.test.startswith("exact") and size.confidence == pytest.approx(0.975)
        assert 1 < em.look and em.n < 2000

    def test_a_hard_max_drop_alone_asks_for_no_further_look(self):
        cand, base = counted_scores(6, 5, 100)
        outcome = decide([Threshold(metric=EM, hard_max_drop="10pt")],
                         candidate=Measurements(eval=eval_results(metric(EM, cand))),
                         baseline=Measurements(eval=eval_results(metric(EM, base))), gate=GateSection(),
                         design=self.design(1000))
        assert outcome.verdict == "pass" and outcome.looks[-1]["next"] is None

    def test_a_design_beyond_the_ordered_documents_is_refused(self):
        with pytest.raises(ValueError, match="exceed"):
            SequentialDesign(order={"add_em": (1, 2)}, looks={"add_em": (100,)})


class TestPairing:
    def test_pairs_by_doc_id_not_by_position(self):
        cand, base = paired_scores(400, 0.80, 0.70)
        order = np.random.default_rng(0).permutation(400)
        check, note = run({"metric": EM, "max_drop": "2pt"}, [cand[i] for i in order], base,
                          cand_ids=[int(i) for i in order])
        assert check.delta == pytest.approx(-0.10) and check.verdict == "fail"
        assert note is None

    def test_different_subsets_are_paired_on_the_intersection_and_reported(self):
        cand, base = paired_scores(300, 0.80, 0.80)
        check, note = run({"metric": EM, "max_drop": "2pt"}, cand[:250], base[50:],
                          cand_ids=list(range(250)), base_ids=list(range(50, 300)))
        assert check.n == 200
        assert "paired on 200 common samples (candidate 250, baseline 250)" in note

    def test_without_per_sample_scores_falls_back_to_stderrs(self):
        cand = Measurements(eval=eval_results(
            metric(EM, []).__class__(task="add_em", metric="exact_match", value=0.60, stderr=0.02, n=500, higher_is_better=True)))
        base = Measurements(eval=eval_results(
            metric(EM, []).__class__(task="add_em", metric="exact_match", value=0.80, stderr=0.02, n=500, higher_is_better=True)))
        check, note = evaluate_threshold(Threshold(metric=EM, max_drop="2pt"), cand, base)
        assert check.verdict == "fail" and "stderrs (unpaired)" in check.test
        assert check.ci_low == pytest.approx(-0.2 - 1.645 * 0.02 * 2**0.5, abs=1e-3)  # one-sided 95%
        assert "no paired per-sample scores" in note


class TestAbsoluteBounds:
    def test_below_min_fails(self):
        cand, _ = paired_scores(100, 0.40, 0.40)
        check, _ = run({"metric": EM, "min": 0.5}, cand, None)
        assert check.verdict == "fail" and check.cause == "min"
        assert "below min 0.5" in check.reason

    def test_above_max_fails(self):
        check, _ = evaluate_threshold(
            Threshold(metric="perf/latency_p95_ms", max=10),
            Measurements(perf=perf_results(perf_metric("latency_p95_ms", [11, 12, 13]))), None)
        assert check.verdict == "fail" and "above max 10" in check.reason

    def test_within_bounds_without_baseline_passes(self):
        cand, _ = paired_scores(100, 0.80, 0.80)
        check, _ = run({"metric": EM, "min": 0.5, "max": 0.9}, cand, None)
        assert check.verdict == "pass" and check.delta is None

    def test_absolute_fail_beats_relative_pass(self):
        cand, base = paired_scores(500, 0.45, 0.45)
        check, _ = run({"metric": EM, "min": 0.5, "max_drop": "2pt"}, cand, base)
        assert check.verdict == "fail" and check.cause == "min"


class TestNoBaseline:
    def test_first_model_skips_relative_bounds_without_blocking(self):
        cand, _ = paired_scores(100, 0.80, 0.80)
        outcome = decide([Threshold(metric=EM, min=0.5, max_drop="2pt"), Threshold(metric=MC, max_drop="2pt")],
                         candidate=Measurements(eval=eval_results(metric(EM, cand), metric(MC, cand))),
                         baseline=None, gate=GateSection())
        assert outcome.verdict == "pass" and outcome.exit_code == 0
        assert [c.verdict for c in outcome.checks] == ["pass", "pass"]
        assert all(c.cause == "no_baseline" and NO_BASELINE_YET in c.reason for c in outcome.checks)
        assert outcome.summary == "pass - all 2 checks passed (no baseline yet: relative checks skipped)"
        assert outcome.notes[0].startswith(NO_BASELINE_YET) and "llm-gitops register" in outcome.notes[0]

    def test_absolute_bounds_still_decide_a_first_model(self):
        cand, _ = paired_scores(100, 0.40, 0.40)
        check, _ = run({"metric": EM, "min": 0.5, "max_drop": "2pt"}, cand, None)
        assert check.verdict == "fail" and check.cause == "min"

    def test_baseline_without_the_metric_is_inconclusive(self):
        cand, _ = paired_scores(100, 0.80, 0.80)
        check, _ = evaluate_threshold(
            Threshold(metric=EM, max_drop="2pt"),
            Measurements(eval=eval_results(metric(EM, cand))),
            Measurements(eval=eval_results(metric("add_mc/acc", cand))),
        )
        assert check.verdict == "inconclusive" and "baseline's results have no value" in check.reason


class TestPerf:
    def test_lower_is_better_increase_is_a_drop(self):
        rng = np.random.default_rng(0)
        b, c = rng.normal(10, 0.3, 40), rng.normal(14, 0.3, 40)
        base = perf_metric("latency_p50_ms", b, value=float(np.median(b)))
        cand = perf_metric("latency_p50_ms", c, value=float(np.median(c)))
        check, _ = evaluate_threshold(
            Threshold(metric="perf/latency_p50_ms", max_drop="10%"),
            Measurements(perf=perf_results(cand)), Measurements(perf=perf_results(base)), n_resamples=1000)
        assert check.verdict == "fail" and check.cause == "drop"
        assert check.delta > 0 and check.degradation == check.delta
        assert check.p_value < 0.01 and "median" in check.test
        assert check.ci_low < check.delta < check.ci_high

    def test_lower_is_better_decrease_passes(self):
        base = perf_metric("latency_p95_ms", [10, 11, 12, 11, 10])
        cand = perf_metric("latency_p95_ms", [5, 6, 5, 6, 5])
        check, _ = evaluate_threshold(
            Threshold(metric="perf/latency_p95_ms", max_drop=0),
            Measurements(perf=perf_results(cand)), Measurements(perf=perf_results(base)))
        assert check.verdict == "pass" and check.delta < 0

    def test_higher_is_better_throughput_drop(self):
        base = perf_metric("tokens_per_s", [100, 101, 99, 100, 100], higher_is_better=True, unit="tok/s")
        cand = perf_metric("tokens_per_s", [80, 81, 79, 80, 80], higher_is_better=True, unit="tok/s")
        check, _ = evaluate_threshold(
            Threshold(metric="perf/tokens_per_s", max_drop="5%"),
            Measurements(perf=perf_results(cand)), Measurements(perf=perf_results(base)), n_resamples=1000)
        assert check.verdict == "fail" and check.degradation == pytest.approx(20.0)

    def test_noisy_small_slowdown_is_inconclusive(self):
        base = perf_metric("latency_p50_ms", [10, 14, 9, 13, 10])
        cand = perf_metric("latency_p50_ms", [12, 15, 10, 14, 11])
        check, _ = evaluate_threshold(
            Threshold(metric="perf/latency_p50_ms", max_drop="5%"),
            Measurements(perf=perf_results(cand)), Measurements(perf=perf_results(base)), n_resamples=1000)
        assert check.verdict == "inconclusive"

    def test_single_noisy_samples_cannot_be_tested(self):
        base = perf_metric("peak_rss_mb", [400.0], unit="MB")
        cand = perf_metric("peak_rss_mb", [440.0], unit="MB")
        check, note = evaluate_threshold(
            Threshold(metric="perf/peak_rss_mb", max_drop="5%"),
            Measurements(perf=perf_results(cand)), Measurements(perf=perf_results(base)))
        assert check.verdict == "inconclusive" and "not testable" in check.reason
        assert "fewer than 2 samples" in note

    def test_size_on_disk_is_exact(self):
        base = perf_metric("size_on_disk_mb", [4.0], unit="MB")
        grown = perf_metric("size_on_disk_mb", [4.4], unit="MB")
        same = perf_metric("size_on_disk_mb", [4.1], unit="MB")
        t = Threshold(metric="perf/size_on_disk_mb", max_drop="5%")
        check, _ = evaluate_threshold(t, Measurements(perf=perf_results(grown)), Measurements(perf=perf_results(base)))
        assert check.verdict == "fail" and check.p_value == 0.0 and "deterministic" in check.test
        check, _ = evaluate_threshold(t, Measurements(perf=perf_results(same)), Measurements(perf=perf_results(base)))
        assert check.verdict == "pass"

    @pytest.mark.parametrize("name,samples,value,stat", [
        ("latency_p95_ms", list(range(1, 101)), 95.05, "p95"),
        ("latency_p50_ms", [1, 2, 3, 10], 2.5, "median"),
        ("ttft_ms", [1, 2, 3, 10], 2.5, "median"),  # the bench reports medians
        ("tokens_per_s", [1, 2, 3, 10], 4.0, "mean"),
        ("load_time_s", [1, 2, 3, 10], 7.0, "median"),  # nothing matches: the robust default
    ])
    def test_statistic_is_the_one_that_reproduces_the_value(self, name, samples, value, stat):
        assert perf_statistic(perf_metric(name, samples, value=value)) == stat


class TestErrorsAndOverall:
    def test_missing_candidate_metric_is_an_error(self):
        check, _ = evaluate_threshold(Threshold(metric="perf/ttft_ms", max=5), Measurements(), None)
        assert check.verdict == "error" and "no value for perf/ttft_ms" in check.reason

    def test_worst_order(self):
        assert worst(["pass", "inconclusive"]) == "inconclusive"
        assert worst(["inconclusive", "fail", "pass"]) == "fail"
        assert worst(["fail", "error"]) == "error"
        assert worst([]) == "pass"
        with pytest.raises(ValueError):
            worst(["maybe"])

    @pytest.mark.parametrize("verdict,policy,code", [
        ("pass", "fail", 0), ("fail", "pass", 1),
        ("inconclusive", "fail", 1), ("inconclusive", "pass", 0), ("inconclusive", "neutral", 0),
    ])
    def test_exit_codes(self, verdict, policy, code):
        assert exit_code_for(verdict, policy) == code

    def test_decide_combines_checks_and_serialises(self):
        good_c, good_b = paired_scores(500, 0.8, 0.8, seed=1)
        bad_c, bad_b = paired_scores(500, 0.8, 0.6, seed=2)
        cand = Measurements(eval=eval_results(metric(EM, bad_c), metric("add_mc/acc", good_c)))
        base = Measurements(eval=eval_results(metric(EM, bad_b), metric("add_mc/acc", good_b)))
        outcome = decide(
            [Threshold(metric=EM, max_drop="2pt"), Threshold(metric="add_mc/acc", min=0.5, max_drop="2pt")],
            candidate=cand, baseline=base, gate=GateSection(bootstrap_samples=500), seed=3,
        )
        assert outcome.verdict == "fail" and outcome.exit_code == 1
        assert [c.verdict for c in outcome.checks] == ["fail", "pass"]
        assert outcome.summary.startswith("fail - 1 of 2 checks failed: add_em/exact_match dropped 20.0pt (lower bound ")
        assert outcome.summary.endswith(" > max_drop 2pt at 97.5%, n=500)")  # Holm: alpha / 2 for the first decision
        data = json.loads(json.dumps(outcome.to_json()))
        assert data["schema"] == GATE_REPORT_SCHEMA and data["verdict"] == "fail"
        assert data["settings"]["alpha"] == 0.05 and data["settings"]["seed"] == 3
        assert GateOutcome.from_json(data).checks == outcome.checks

    def test_inconclusive_summary_mentions_a_non_blocking_policy(self):
        cand, base = paired_scores(50, 0.80, 0.74)
        outcome = decide(
            [Threshold(metric=EM, max_drop="2pt")],
            candidate=Measurements(eval=eval_results(metric(EM, cand))),
            baseline=Measurements(eval=eval_results(metric(EM, base))),
            gate=GateSection(on_inconclusive="neutral", bootstrap_samples=200),
        )
        assert outcome.verdict == "inconclusive" and outcome.exit_code == 0
        assert outcome.summary == ("inconclusive - 1 of 1 check inconclusive: add_em/exact_match dropped 6.0pt (lower bound "
                                   "0.6pt <= max_drop 2pt at 95%, n=50; ~160 samples would settle it) "
                                   "(gate.on_inconclusive: neutral, not blocking)")

    def test_error_outcome(self):
        outcome = error_outcome("the candidate's evaluation failed: RuntimeError: boom", gate=GateSection())
        assert outcome.verdict == "error" and outcome.exit_code not in (0, 1)
        assert outcome.summary == "error - the candidate's evaluation failed: RuntimeError: boom"
        assert outcome.to_json()["checks"] == []

    def test_nan_is_null_in_json(self):
        outcome = decide(
            [Threshold(metric="perf/peak_rss_mb", max_drop="5%")],
            candidate=Measurements(perf=perf_results(perf_metric("peak_rss_mb", [440], unit="MB"))),
            baseline=Measurements(perf=perf_results(perf_metric("peak_rss_mb", [400], unit="MB"))),
            gate=GateSection(),
        )
        text = json.dumps(outcome.to_json(), allow_nan=False)  # raises on NaN
        assert json.loads(text)["checks"][0]["p_value"] is None


def test_a_drop_and_a_bound_both_failing_are_both_summarised():
    cand, base = paired_scores(200, 1.0, 0.6)
    outcome = decide(
        [Threshold(metric=EM, min=0.8, max_drop="2pt", hard_max_drop="10pt")],
        candidate=Measurements(eval=eval_results(metric(EM, cand))),
        baseline=Measurements(eval=eval_results(metric(EM, base))),
        gate=GateSection(bootstrap_samples=200),
    )
    check = outcome.checks[0]
    assert check.cause == "hard_max_drop"
    assert check.reason == "drop of 40.0pt exceeds hard_max_drop 10pt; 0.600 is below min 0.8"
    assert outcome.summary == ("fail - 1 of 1 check failed: add_em/exact_match dropped 40.0pt "
                               "(beyond hard_max_drop 10pt); 0.600 is below min 0.8")
