"""The gate's policy on synthetic results: significance, hard floors, directions, bounds."""

from __future__ import annotations

import json

import numpy as np
import pytest

from llm_gitops.config.schema import GateSection, Threshold
from llm_gitops.gate.outcome import GATE_REPORT_SCHEMA, GateOutcome, exit_code_for, worst
from llm_gitops.gate.policy import Measurements, decide, error_outcome, evaluate_threshold, perf_statistic
from tests.gate.factories import eval_results, metric, paired_scores, perf_metric, perf_results

EM = "add_em/exact_match"


def run(threshold: dict, cand_scores, base_scores, **kw):
    cand = Measurements(eval=eval_results(metric(EM, cand_scores, kw.pop("cand_ids", None))))
    base = None if base_scores is None else Measurements(eval=eval_results(metric(EM, base_scores, kw.pop("base_ids", None))))
    check, note = evaluate_threshold(Threshold(**threshold), cand, base, n_resamples=1000, **kw)
    return check, note


class TestRelativeDrops:
    def test_big_drop_with_500_samples_fails_as_significant(self):
        cand, base = paired_scores(500, 0.80, 0.68)
        check, _ = run({"metric": EM, "max_drop": "2pt"}, cand, base)
        assert check.verdict == "fail" and check.cause == "drop"
        assert check.delta == pytest.approx(-0.12)
        assert check.ci_low < -0.12 < check.ci_high < -0.02
        assert check.p_value < 0.001
        assert check.n == 500 and "McNemar" in check.test
        assert check.allowed_drop == pytest.approx(0.02)

    def test_tiny_drop_within_tolerance_passes(self):
        cand, base = paired_scores(500, 0.80, 0.79)
        check, _ = run({"metric": EM, "max_drop": "2pt"}, cand, base)
        assert check.verdict == "pass" and check.p_value is None
        assert check.delta == pytest.approx(-0.01)

    def test_moderate_drop_with_small_n_is_inconclusive(self):
        cand, base = paired_scores(50, 0.80, 0.74)
        check, _ = run({"metric": EM, "max_drop": "2pt"}, cand, base)
        assert check.verdict == "inconclusive" and check.cause == "drop"
        assert check.p_value > 0.05
        assert "not significant" in check.reason

    def test_the_same_drop_with_large_n_fails(self):
        cand, base = paired_scores(2000, 0.80, 0.74)
        check, _ = run({"metric": EM, "max_drop": "2pt"}, cand, base)
        assert check.verdict == "fail"

    def test_hard_max_drop_fails_without_significance(self):
        cand, base = paired_scores(20, 0.80, 0.60)
        check, _ = run({"metric": EM, "max_drop": "2pt", "hard_max_drop": "10pt"}, cand, base)
        assert check.verdict == "fail" and check.cause == "hard_max_drop"
        assert "hard_max_drop 10pt" in check.reason
        # Without the hard floor the same small sample is only inconclusive.
        soft, _ = run({"metric": EM, "max_drop": "2pt"}, cand, base)
        assert soft.verdict == "inconclusive"

    def test_hard_max_drop_alone_passes_below_it(self):
        cand, base = paired_scores(100, 0.80, 0.75)
        check, _ = run({"metric": EM, "hard_max_drop": 0.1}, cand, base)
        assert check.verdict == "pass"

    def test_percent_drop_is_relative_to_the_baseline(self):
        cand, base = paired_scores(1000, 0.50, 0.47)
        # 10% of 0.5 = 0.05 allowed: a 3pt drop is within it.
        check, _ = run({"metric": EM, "max_drop": "10%"}, cand, base)
        assert check.verdict == "pass" and check.allowed_drop == pytest.approx(0.05)

    def test_an_improvement_passes(self):
        cand, base = paired_scores(500, 0.70, 0.80)
        check, _ = run({"metric": EM, "max_drop": 0}, cand, base)
        assert check.verdict == "pass" and check.delta == pytest.approx(0.10)

    def test_verdict_does_not_depend_on_the_seed(self):
        cand, base = paired_scores(300, 0.80, 0.74)
        verdicts = {run({"metric": EM, "max_drop": "2pt"}, cand, base, seed=s)[0].verdict for s in range(5)}
        assert len(verdicts) == 1


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
        assert check.verdict == "fail" and "z-test" in check.test
        assert check.ci_low == pytest.approx(-0.2 - 1.96 * 0.02 * 2**0.5, abs=1e-3)
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
    def test_relative_bound_without_baseline_is_inconclusive_and_says_why(self):
        cand, _ = paired_scores(100, 0.80, 0.80)
        check, _ = run({"metric": EM, "min": 0.5, "max_drop": "2pt"}, cand, None)
        assert check.verdict == "inconclusive" and check.cause == "no_baseline"
        assert "max_drop 2pt not checked" in check.reason and "--baseline" in check.reason

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
        ("pass", "fail", 0), ("fail", "pass", 1), ("error", "neutral", 3),
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
        assert outcome.summary.startswith("fail - 1 of 2 checks failed: add_em/exact_match dropped 20.0pt (95% CI")
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
        assert "allowed 2.0pt" in outcome.summary and "not blocking" in outcome.summary

    def test_error_outcome(self):
        outcome = error_outcome("the candidate's evaluation failed: RuntimeError: boom", gate=GateSection())
        assert outcome.verdict == "error" and outcome.exit_code == 3
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
    assert outcome.summary.startswith("fail - 1 of 1 check failed: add_em/exact_match dropped 40.0pt "
                                      "(beyond hard_max_drop 10pt, 95% CI ")
    assert outcome.summary.endswith("p<0.001); 0.600 is below min 0.8")
