"""Rendering the gate outcome: markdown (file and comment), JSON, text and the PNG chart."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest

from llm_gitops.config.schema import GateSection, Threshold
from llm_gitops.gate.outcome import GateOutcome, ModelInfo
from llm_gitops.gate.policy import Measurements, SequentialDesign, decide, error_outcome
from llm_gitops.report.chart import render_chart
from llm_gitops.report.json_report import render_json
from llm_gitops.report.markdown import mermaid_chart, render_markdown, summary_line
from llm_gitops.report.text import render_text
from tests.gate.factories import eval_results, metric, paired_scores, perf_metric, perf_results

EM, MC = "add_em/exact_match", "add_mc/acc"


@pytest.fixture(scope="module")
def outcome() -> GateOutcome:
    em_c, em_b = paired_scores(500, 0.80, 0.68)
    mc_c, mc_b = paired_scores(500, 0.81, 0.80, seed=4)
    rng = np.random.default_rng(0)
    cand = Measurements(
        eval=eval_results(metric(EM, em_c), metric(MC, mc_c), cached=True),
        perf=perf_results(perf_metric("latency_p95_ms", rng.normal(12, 1, 40))),
    )
    base = Measurements(
        eval=eval_results(metric(EM, em_b), metric(MC, mc_b)),
        perf=perf_results(perf_metric("latency_p95_ms", rng.normal(11, 1, 40))),
    )
    return decide(
        [Threshold(metric=EM, min=0.5, max_drop="2pt"), Threshold(metric=MC, max_drop="2pt"),
         Threshold(metric="perf/latency_p95_ms", max_drop="50%"), Threshold(metric=MC, min=0.9)],
        candidate=cand, baseline=base, gate=GateSection(bootstrap_samples=500), seed=1234,
        candidate_info=ModelInfo("./model", "sha256:" + "a" * 64, "local", eval_cached=True, perf_cached=False),
        baseline_info=ModelInfo("models:/adder@production", "sha256:" + "b" * 64, "mlflow", eval_cached=False),
        timings={"candidate_eval_s": 6.14, "baseline_eval_s": 5.9}, notes=("a note for the reader",),
        version="0.1.0", created_at="2026-11-24T06:00:00Z",
    )


class TestMarkdown:
    def test_summary_line_comes_first(self, outcome):
        md = render_markdown(outcome)
        first = md.splitlines()[0]
        assert first == summary_line(outcome)
        # Each reason names its metric and the bound that decided it (Holm: alpha/3 for the first of 3).
        assert re.fullmatch(
            r"❌ \*\*fail\*\* - 2 of 4 checks failed: add_em/exact_match dropped 12\.0pt "
            r"\(lower bound \d+\.\dpt > max_drop 2pt at 98\.33%, n=500\); add_mc/acc: 0\.800 is below min 0\.9", first)

    def test_table_has_the_columns_and_one_row_per_check(self, outcome):
        md = render_markdown(outcome)
        lines = md.splitlines()
        header = lines.index("| metric | candidate | baseline | delta (bounds) | decided by | thresholds | verdict |")
        rows = lines[header + 2: header + 6]
        assert [r.split(" | ")[0] for r in rows] == ["| `add_em/exact_match`", "| `add_mc/acc`", "| `perf/latency_p95_ms`", "| `add_mc/acc`"]
        em = rows[0]
        assert "| 0.680 | 0.800 | -12.0pt (" in em and "| min 0.5, max_drop 2pt | ❌ fail |" in em
        assert re.search(r"\| lower bound \d+\.\dpt > 2\.0pt \(98\.33%\) \|", em)
        assert re.search(r"\| upper bound [\d.]+ ms <= [\d.]+ ms \(\d+(\.\d+)?%\) \| max_drop 50% \| ✅ pass \|$", rows[2])
        assert "| value 0.800 < min 0.9 |" in rows[3]

    def test_details_are_collapsed_and_complete(self, outcome):
        md = render_markdown(outcome)
        details = md[md.index("<details><summary>Details</summary>"):]
        assert details.rstrip().endswith("</details>")
        for text in ("`sha256:" + "a" * 64 + "`", "(eval cached, perf run)", "models:/adder@production",
                     "| metric | n | method | p-value (claim) | resolves (MDE) | reason |", "Tango", "p<0.001 (beyond max_drop)", "alpha: `0.05`",
                     "bootstrap_samples: `500`", "candidate eval 6.1 s", "llm-gitops 0.1.0"):
            assert text in details, text
        assert "- a note for the reader" in md[: md.index("<details>")]

    def test_plain_markdown_has_no_chart_but_the_comment_has(self, outcome):
        assert "```mermaid" not in render_markdown(outcome)
        comment = render_markdown(outcome, for_comment=True)
        assert comment.startswith(summary_line(outcome))
        assert comment.index("```mermaid") < comment.index("<details>")

    def test_mermaid_chart_shape(self, outcome):
        chart = mermaid_chart(outcome)
        blocks = re.findall(r"```mermaid\n(.*?)```", chart, re.S)
        assert len(blocks) == 2
        scores = blocks[0].splitlines()
        assert scores[0] == "xychart-beta"
        assert '  x-axis ["add_em/exact_match cand", "add_em/exact_match base", "add_mc/acc cand", "add_mc/acc base", ' in blocks[0]
        assert '  y-axis "score" 0 --> 1' in scores
        bar = next(line for line in scores if line.strip().startswith("bar"))
        values = [float(v) for v in bar.strip()[5:-1].split(",")]
        assert values[:2] == [0.68, 0.8] and len(values) == 6
        perf = blocks[1]
        assert 'x-axis ["perf/latency_p95_ms"]' in perf and "line [100]" in perf

    def test_no_chart_without_a_baseline(self):
        cand, _ = paired_scores(100, 0.8, 0.8)
        outcome = decide([Threshold(metric=EM, min=0.5)], candidate=Measurements(eval=eval_results(metric(EM, cand))),
                         baseline=None, gate=GateSection())
        assert mermaid_chart(outcome) is None
        md = render_markdown(outcome, for_comment=True)
        assert md.startswith("✅ **pass** - all 1 check passed") and "```mermaid" not in md
        assert "**Baseline**: none" in md

    def test_error_outcome_and_cell_escaping(self):
        outcome = error_outcome("boom | with a pipe\nand a newline", gate=GateSection())
        md = render_markdown(outcome)
        assert md.startswith("💥 **error** - boom | with a pipe")
        # Table cells escape what would break the table.
        from llm_gitops.report.markdown import _cell

        assert _cell("a | b\nc") == "a \\| b c"

    def test_title_goes_above_the_summary(self, outcome):
        md = render_markdown(outcome, title="Model gate")
        assert md.splitlines()[:3] == ["### Model gate", "", summary_line(outcome)]


class TestWhatTheReaderNeeds:
    def inconclusive(self, **context):
        cand, base = paired_scores(100, 0.80, 0.76)
        return decide([Threshold(metric=EM, max_drop="2pt")], candidate=Measurements(eval=eval_results(metric(EM, cand))),
                      baseline=Measurements(eval=eval_results(metric(EM, base))), gate=GateSection(), **context)

    def test_an_inconclusive_check_says_what_would_settle_it(self):
        outcome = self.inconclusive()
        check = outcome.checks[0]
        assert check.verdict == "inconclusive" and check.samples_needed > 100
        md = render_markdown(outcome)
        settle = f"~{check.samples_needed:,} samples would settle it"
        assert settle in summary_line(outcome) and settle in md.split("\n\n")[1]  # in the table's decided-by cell
        assert "around max_drop" in md  # the MDE, in the details

    def test_links_to_the_ci_run_artifacts_and_mlflow(self):
        links = {"CI run": "https://github.com/o/r/actions/runs/7", "artifacts": "https://github.com/o/r/actions/runs/7#artifacts",
                 "MLflow run": "http://mlflow.example/#/experiments/1/runs/abc"}
        outcome = self.inconclusive(links=links)
        comment = render_markdown(outcome, for_comment=True)
        assert comment.splitlines()[2] == (
            "[CI run](https://github.com/o/r/actions/runs/7) · [artifacts](https://github.com/o/r/actions/runs/7#artifacts)"
            " · [MLflow run](http://mlflow.example/#/experiments/1/runs/abc)")
        assert GateOutcome.from_json(json.loads(render_json(outcome))).links == links
        assert "MLflow run: http://mlflow.example/#/experiments/1/runs/abc" in render_text(outcome)

    def test_no_absolute_runner_paths_in_the_comment(self):
        root = "/home/runner/work/repo/repo"
        outcome = self.inconclusive(
            candidate_info=ModelInfo(f"{root}/model", "sha256:" + "a" * 64),
            baseline_info=ModelInfo("models:/adder@production", "sha256:" + "b" * 64, "mlflow"),
            notes=(f"read {root}/out/results.json and /tmp/llm-gitops-x/results_2026.json",),
            links={"CI run": "https://github.com/o/r/actions/runs/7", "artifacts": f"https://ci.example{root}/artifacts"},
        )
        comment = render_markdown(outcome, for_comment=True, root=root)
        outside_urls = comment.replace(f"https://ci.example{root}/artifacts", "")
        assert "/home/runner" not in outside_urls and "/tmp/" not in outside_urls
        assert "`model`" in comment and "read out/results.json and .../results_2026.json" in comment
        assert "models:/adder@production" in comment and "https://github.com/o/r/actions/runs/7" in comment
        assert f"(https://ci.example{root}/artifacts)" in comment  # a URL keeps its path
        # The report file keeps paths outside the repo (it stays on the runner), relative inside it.
        md = render_markdown(outcome, root=root)
        assert "/tmp/llm-gitops-x/results_2026.json" in md
        assert f"{root}/" not in md.replace(f"https://ci.example{root}/artifacts", "")

    def test_sequential_looks_are_listed(self):
        cand, base = paired_scores(1000, 0.80, 0.60)
        design = SequentialDesign(order={"add_em": tuple(range(1000))}, looks={"add_em": (100, 150, 225, 338, 506, 759, 1000)})
        outcome = decide([Threshold(metric=EM, max_drop="2pt")], candidate=Measurements(eval=eval_results(metric(EM, cand))),
                         baseline=Measurements(eval=eval_results(metric(EM, base))), gate=GateSection(), design=design)
        md = render_markdown(outcome)
        last = outcome.looks[-1]
        assert (f"Sequential eval: every relative check decided by look {last['look']}, on "
                f"{last['samples']['add_em']:,} documents (add_em).") in md
        assert "| look | samples | decided |" in md and f"`{EM}` fail" in md

    def test_a_first_model_reads_as_skipped_not_passed_silently(self):
        cand, _ = paired_scores(100, 0.8, 0.8)
        outcome = decide([Threshold(metric=EM, min=0.5, max_drop="2pt")],
                         candidate=Measurements(eval=eval_results(metric(EM, cand))), baseline=None, gate=GateSection())
        md = render_markdown(outcome, for_comment=True)
        assert md.startswith("✅ **pass** - all 1 check passed (no baseline yet: relative checks skipped)")
        assert "| no baseline yet |" in md and "llm-gitops register" in md


class TestJsonAndText:
    def test_json_is_stable_and_round_trips(self, outcome):
        text = render_json(outcome)
        assert text == render_json(outcome)
        data = json.loads(text)
        assert data["schema"] == "llm-gitops/gate-report/v1"
        assert data["verdict"] == "fail" and data["exit_code"] == 1
        assert data["models"]["baseline"]["kind"] == "mlflow"
        assert GateOutcome.from_json(data) == outcome

    def test_text_report(self, outcome):
        text = render_text(outcome)
        lines = text.splitlines()
        assert lines[0] == "❌ " + outcome.summary
        assert lines[2].split() == ["metric", "candidate", "baseline", "delta", "(bounds)", "decided", "by", "thresholds",
                                    "verdict"]
        assert lines[3].startswith("add_em/exact_match") and lines[3].endswith("fail")
        assert lines[-1] == "note: a note for the reader"


class TestChart:
    def test_png_renders_with_expected_size(self, outcome):
        png = render_chart(outcome)
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        from matplotlib.image import imread

        image = imread(io.BytesIO(png), format="png")
        height, width = image.shape[:2]
        assert 400 < height < 600 and width > height
        # The failing candidate bar is drawn in the fail colour (#cf222e).
        rgb = (image[..., :3] * 255).round().astype(int).reshape(-1, 3)
        assert ((np.abs(rgb - [0xCF, 0x22, 0x2E]).sum(axis=1)) < 6).sum() > 500

    def test_no_chart_without_values(self):
        assert render_chart(error_outcome("boom", gate=GateSection())) is None
