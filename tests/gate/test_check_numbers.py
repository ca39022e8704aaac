"""Every number a check reports comes from the same documents and the same level as its decision.

On the real decision code (``gate.policy.decide``, ``gate.looks``) and, where the reader
sees it, through the real ``llm-gitops gate`` (lm-eval results files, or models evaluated
in looks by a fake runner).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import special

from llm_gitops.config.schema import GateSection, Threshold
from llm_gitops.gate import sequential, stats
from llm_gitops.gate.policy import Measurements, SequentialDesign, decide
from llm_gitops.report.markdown import looks_summary, render_markdown
from llm_gitops.report.text import render_text
from tests.gate.factories import counted_scores, eval_results, metric, paired_scores, perf_metric, perf_results
from tests.gate.test_sequential_gate import MC, EM, TRUTH, per_task, run_looks

Z_POWER = stats.z_quantile(stats.POWER)


def gate_on(thresholds, cand: dict, base: dict, **gate):
    """decide() on per-sample scores {KEY: scores} (or {KEY: (scores, doc_ids)})."""
    def results(scores):
        return eval_results(*(metric(k, *(v if isinstance(v, tuple) else (v,))) for k, v in scores.items()))

    return decide(thresholds, candidate=Measurements(eval=results(cand)), baseline=Measurements(eval=results(base)),
                  gate=GateSection(**gate))


# --------------------------------------------------------------------------- 1. sequential looks
class TestSequentialChecks:
    def test_values_delta_and_n_of_a_check_come_from_the_look_that_decided_it(self):
        outcome, _ = run_looks("worse")
        looks = {look["look"]: look["samples"] for look in outcome.looks}
        assert len({c.look for c in outcome.checks}) == 2, "the two checks are decided at different looks"
        for check in outcome.checks:
            task = check.metric.split("/")[0]
            assert check.n == looks[check.look][task]
            assert check.delta == pytest.approx(check.candidate - check.baseline)
            # ... and those are the means over the first n documents of the task's order.
            cand, base = TRUTH["worse"]
            order = outcome_order(task)[:check.n]
            assert check.candidate == pytest.approx(np.mean([cand[d] for d in order]))
            assert check.baseline == pytest.approx(np.mean([base[d] for d in order]))

    def test_a_task_whose_checks_are_decided_is_evaluated_no_further(self):
        outcome, runner = run_looks("worse")
        decided_at = {c.metric.split("/")[0]: c.n for c in outcome.checks}
        assert decided_at["add_mc"] < decided_at["add_em"]
        for task, n in decided_at.items():
            assert len({d for m, t, d in runner.evaluated if t == task and m == "worse"}) == n
        assert per_task(outcome) == decided_at


def outcome_order(task: str) -> list[int]:
    from llm_gitops.evaluation.runner import document_order

    return list(document_order(task, len(TRUTH["worse"][0]), 1234))


# --------------------------------------------------------------------------- 2 and 5. what would settle it
class TestWhatWouldSettleIt:
    @pytest.mark.parametrize("n", [20, 100])
    def test_no_discordant_pair_still_says_how_many_samples_would_settle_it(self, n):
        check = gate_on([Threshold(metric=EM, max_drop="2pt")], {EM: [1.0] * n}, {EM: [1.0] * n}).checks[0]
        assert check.verdict == "inconclusive" and check.mde is not None and check.samples_needed is not None
        # Tango's bound itself: with no discordant document it is deterministic, so the
        # samples needed are exactly where it reaches max_drop.
        needed = check.samples_needed
        at = [gate_on([Threshold(metric=EM, max_drop="2pt")], {EM: [1.0] * k}, {EM: [1.0] * k}).checks[0].verdict
              for k in (needed - 1, needed)]
        assert at == ["inconclusive", "pass"]
        assert check.mde == pytest.approx(check.bound_value)  # no discordance: nothing but the bound's own width

    def test_mde_and_samples_needed_are_at_the_level_the_check_is_held_to(self):
        # Two undecided checks: Holm holds each to 97.5%, not 95%.
        rng = np.random.default_rng(1)
        scores = {}
        for key in (EM, "add_f1/f1"):
            base, d = rng.uniform(0.4, 0.9, 200), rng.normal(0, 0.15, 200)
            scores[key] = (base - (d - d.mean() + 0.015), base)  # an observed drop of 1.5pt
        outcome = gate_on([Threshold(metric=k, max_drop="2pt") for k in scores],
                          {k: list(c) for k, (c, _) in scores.items()}, {k: list(b) for k, (_, b) in scores.items()})
        for check, (c, b) in zip(outcome.checks, scores.values()):
            assert check.verdict == "inconclusive" and check.confidence == pytest.approx(0.975)
            d = b - c
            se = np.std(d, ddof=1) / math.sqrt(d.size)
            assert check.mde == pytest.approx((special.stdtrit(d.size - 1, 0.975) + Z_POWER) * se)
            assert check.mde > (stats.z_quantile(0.95) + Z_POWER) * se

    def test_samples_needed_give_the_promised_power(self):
        """At the samples it names, a drop like the observed one is settled about 80% of the time."""
        c, b = counted_scores(3, 0, 50)  # a 6pt drop, max_drop 2pt: settled by a fail
        check = gate_on([Threshold(metric=EM, max_drop="2pt")], {EM: c}, {EM: b}).checks[0]
        needed = check.samples_needed
        rng = np.random.default_rng(0)
        fails = 0
        for _ in range(400):
            losses = rng.binomial(needed, 0.06)
            fails += stats.PairedBinary(int(losses), 0, needed).bounds(0.95)[0] > 0.02
        assert 0.7 < fails / 400 < 0.92


# --------------------------------------------------------------------------- 4. one level per check
def test_both_bounds_of_a_check_are_at_its_recorded_confidence():
    c, b = paired_scores(2000, 0.80, 0.80, seed=2)
    c2, b2 = counted_scores(12, 8, 300)  # a 1.3pt drop: undecided
    outcome = gate_on([Threshold(metric=EM, max_drop="2pt"), Threshold(metric=MC, max_drop="2pt")],
                      {EM: c, MC: c2}, {EM: b, MC: b2})
    # The first passed at 97.5%, which lowers the second's pass level to 95%; its fail level
    # stays 97.5%. It is recorded at 95% (its upper bound): its lower bound must be too.
    assert [c.verdict for c in outcome.checks] == ["pass", "inconclusive"]
    assert [c.confidence for c in outcome.checks] == pytest.approx([0.975, 0.95])
    for check, (cs, bs) in zip(outcome.checks, [(c, b), (c2, b2)]):
        lower, upper = stats.PairedBinary.from_scores(np.array(cs), np.array(bs)).bounds(check.confidence)
        assert (check.ci_low, check.ci_high) == pytest.approx((-upper, -lower))
        assert check.bound_value == pytest.approx(upper if check.bound_side == "upper" else lower)


# --------------------------------------------------------------------------- 3. the looks' summary
class TestLooksSummary:
    def test_an_undecided_sequential_gate_does_not_say_decided(self):
        outcome, _ = run_looks("close", max_limit=500)
        assert outcome.verdict == "inconclusive"
        text = looks_summary(outcome)
        assert "decided by" not in text and "decided at" not in text
        assert text.startswith("Sequential eval: add_em/exact_match") and "still undecided after" in text
        assert "500 documents per task (add_em, add_mc)" in text
        assert text in render_markdown(outcome) and text in render_text(outcome)

    def test_perf_checks_alone_make_no_looks(self):
        design = SequentialDesign(order={"add_em": tuple(range(100))}, looks={"add_em": (100,)})
        lat = perf_metric("latency_p50_ms", [10.0, 10.2, 9.9, 10.1, 10.0])
        outcome = decide([Threshold(metric="perf/latency_p50_ms", max_drop="50%"), Threshold(metric=EM, min=0.1)],
                         candidate=Measurements(eval=eval_results(metric(EM, [1.0] * 100)), perf=perf_results(lat)),
                         baseline=Measurements(eval=eval_results(metric(EM, [1.0] * 100)), perf=perf_results(lat)),
                         gate=GateSection(bootstrap_samples=200), design=design)
        assert outcome.looks == () and looks_summary(outcome) is None
        assert "documents." not in render_text(outcome)


# --------------------------------------------------------------------------- 6. the p-value shown
def test_the_report_shows_the_p_value_of_the_claim_that_decided():
    c, b = paired_scores(2000, 0.80, 0.80, seed=2)
    worse_c, worse_b = paired_scores(400, 0.80, 0.70, seed=2)
    outcome = gate_on([Threshold(metric=EM, max_drop="2pt"), Threshold(metric=MC, max_drop="2pt")],
                      {EM: c, MC: worse_c}, {EM: b, MC: worse_b})
    passed, failed = outcome.checks
    assert (passed.verdict, failed.verdict) == ("pass", "fail")
    assert passed.p_value > 0.99  # report.json keeps the documented p of "exceeds max_drop"
    md = render_markdown(outcome)
    assert f"p<0.001 (within max_drop)" in md and "p<0.001 (beyond max_drop)" in md and "p=0.99" not in md


# --------------------------------------------------------------------------- 7 and 8. few documents
class TestFewDocuments:
    def test_identical_continuous_differences_on_two_documents_do_not_pass(self):
        check = gate_on([Threshold(metric=EM, max_drop="2pt")], {EM: [0.5, 0.5]}, {EM: [0.51, 0.51]}).checks[0]
        assert check.verdict == "inconclusive" and "not testable" in check.reason
        assert check.delta == pytest.approx(-0.01) and check.ci_low is None

    def test_identical_continuous_scores_pass_on_enough_documents(self):
        scores = list(np.random.default_rng(0).uniform(0, 1, 500))
        check = gate_on([Threshold(metric=EM, max_drop="2pt")], {EM: scores}, {EM: scores}).checks[0]
        assert check.verdict == "pass" and "no discordant" in check.test
        assert check.bound_value == pytest.approx(stats.PairedBinary(0, 0, 500).bounds(0.95)[1])
        few = gate_on([Threshold(metric=EM, max_drop="2pt")], {EM: scores[:20]}, {EM: scores[:20]}).checks[0]
        assert few.verdict == "inconclusive" and few.samples_needed == 133

    def test_identical_nonzero_differences_are_not_testable(self):
        check = gate_on([Threshold(metric=EM, max_drop="2pt")], {EM: [0.5] * 500}, {EM: [0.49] * 500}).checks[0]
        assert check.verdict == "inconclusive" and "identical per-sample differences" in check.reason

    @pytest.mark.parametrize("cand, base, testable", [([0.0], [1.0], True), ([0.5], [0.6], False)])
    def test_one_paired_document_is_described_as_such(self, cand, base, testable):
        outcome = gate_on([Threshold(metric=EM, max_drop="2pt")], {EM: (cand, [7])}, {EM: (base, [7])})
        check = outcome.checks[0]
        assert check.verdict == "inconclusive" and check.n == 1
        assert check.delta == pytest.approx(cand[0] - base[0])
        assert "no samples" not in check.reason and not any("no per-sample scores" in n for n in outcome.notes)
        if testable:
            assert check.samples_needed is not None
        else:
            assert "one paired document" in check.reason and "()" not in outcome.summary


# --------------------------------------------------------------------------- the CLI on lm-eval results files
@pytest.fixture(scope="module")
def lm_eval_outputs(tmp_path_factory):
    """lm-eval's own output files (its dummy model, the example's add_em format) for 20 and 2 documents."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from benchmarks.gate_errors import CliGate

    work = tmp_path_factory.mktemp("lm-eval-outputs")
    cli = CliGate(work, 0.02, 0.05)
    for n in (20, 2):
        cli.prepare(n)
    return cli


def run_gate(cli, n: int, cand, base, thresholds: str, tmp_path: Path):
    repo = cli.work / f"repo{n}"
    config = (repo / ".llm-gitops.yaml").read_text()
    head, _, tail = config.partition("thresholds:\n")
    tail = tail.split("\n", 1)[1]  # the one threshold it had
    config_file = repo / f"{tmp_path.name}.yaml"  # beside the tasks it names
    config_file.write_text(f"{head}thresholds:\n{thresholds}{tail}")
    cdir = cli.outputs[n].write(tmp_path / "cand", np.asarray(cand, dtype=float))
    bdir = cli.outputs[n].write(tmp_path / "base", np.asarray(base, dtype=float))
    out = tmp_path / "out"
    proc = subprocess.run([cli.exe, "gate", "--no-cache", "--config", str(config_file),
                           "--candidate-results", str(cdir), "--baseline-results", str(bdir), "--output-dir", str(out),
                           "--no-perf"], cwd=repo, env={**cli.env, "LLM_GITOPS_STATE_DIR": str(tmp_path / "state")},
                          capture_output=True, text=True)
    assert proc.returncode in (0, 1), proc.stderr
    return proc, json.loads((out / "report.json").read_text()), (out / "report.md").read_text()


ONE = "  - {metric: add_em/exact_match, max_drop: 2pt}\n"


@pytest.mark.slow
class TestThroughTheCli:
    def test_identical_scores_on_20_documents_say_what_would_settle_it(self, lm_eval_outputs, tmp_path):
        proc, report, md = run_gate(lm_eval_outputs, 20, [1.0] * 20, [1.0] * 20, ONE, tmp_path)
        check = report["checks"][0]
        assert report["verdict"] == "inconclusive" and check["mde"] is not None and check["samples_needed"] == 133
        assert "~133 samples would settle it" in proc.stdout and "~133 samples would settle it" in md

    def test_zero_variance_continuous_scores_on_two_documents_do_not_pass(self, lm_eval_outputs, tmp_path):
        proc, report, _ = run_gate(lm_eval_outputs, 2, [0.5, 0.5], [0.51, 0.51], ONE, tmp_path)
        assert proc.returncode == 1 and report["verdict"] == "inconclusive"
        assert "not testable" in report["checks"][0]["reason"] and "()" not in report["summary"]

    def test_holm_levels_bounds_and_p_values_agree_in_the_report(self, lm_eval_outputs, tmp_path):
        two = ONE + "  - {metric: add_em/exact_match, max_drop: 60pt}\n"
        proc, report, md = run_gate(lm_eval_outputs, 20, [1.0] * 20, [1.0] * 20, two, tmp_path)
        strict, loose = report["checks"]
        assert loose["verdict"] == "pass" and loose["confidence"] == pytest.approx(0.975)
        assert strict["verdict"] == "inconclusive" and strict["confidence"] == pytest.approx(0.95)
        for check in (strict, loose):
            lower, upper = stats.PairedBinary(0, 0, 20).bounds(check["confidence"])
            assert (check["ci_low"], check["ci_high"]) == pytest.approx((-upper, -lower))
        # The pass rests on non-inferiority: its p is that claim's, not the fail claim's (p ~ 1).
        row = next(line for line in md.splitlines() if line.startswith("| `add_em/exact_match` | 20 |")
                   and "within max_drop" in line)
        assert "(within max_drop)" in row and "p=1.000" not in row


# --------------------------------------------------------------------------- perf quantiles
class TestPerfQuantiles:
    """A bootstrap cannot bound the p95 of few samples: its replicates never exceed the largest."""

    @staticmethod
    def latency(n: int, centre: float, seed: int):
        samples = np.random.default_rng(seed).gamma(4.0, centre / 4.0, n)
        return perf_metric("latency_p95_ms", samples, value=float(np.percentile(samples, 95)))

    def decide_p95(self, n: int, slower: float):
        cand, base = self.latency(n, 10.0 * slower, 1), self.latency(n, 10.0, 2)
        outcome = decide([Threshold(metric="perf/latency_p95_ms", max_drop="10%")],
                         candidate=Measurements(perf=perf_results(cand)), baseline=Measurements(perf=perf_results(base)),
                         gate=GateSection(bootstrap_samples=1000))
        return outcome.checks[0], outcome.notes

    def test_the_p95_of_fewer_samples_than_alpha_allows_is_not_tested(self):
        # 15 samples (3 prompts x 5 repeats): 0.95^15 = 0.46, so their largest is no 95% bound on the p95.
        check, notes = self.decide_p95(15, slower=1.0)
        assert check.verdict == "inconclusive" and check.ci_high is None
        assert any("the p95 of 15 samples cannot be bounded at gate.alpha 0.05: it needs at least 59 per side" in n
                   for n in notes)

    def test_enough_samples_bound_the_p95(self):
        check, _ = self.decide_p95(200, slower=2.0)
        assert check.verdict == "fail" and "p95" in check.test and check.ci_low > 0.1 * check.baseline
