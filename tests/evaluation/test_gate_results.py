"""``llm-gitops gate --candidate-results/--baseline-results``: lm-eval's own output, through the real CLI.

The files are lm-eval's own (EvaluationTracker), of the trained example models; the
same models are gated in-process too, and the verdicts and checks must agree.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.corpus.harness import run_cli
from tests.evaluation.conftest import write_suite
from tests.evaluation.lm_eval_output import samples_files, write_lm_eval_output

pytestmark = pytest.mark.slow

TASKS = ["tasks/add_mc.yaml", "tasks/add_em.yaml"]
CONFIG = """\
version: 1
eval:
  tasks: [tasks/add_mc.yaml, tasks/add_em.yaml]
  batch_size: 8
thresholds:
  - {metric: add_em/exact_match, max_drop: 2pt}
  - {metric: add_mc/acc, max_drop: 2pt}
  - {metric: perf/size_on_disk_mb, max_drop: 10%%}
gate: {bootstrap_samples: 500}
tracking: {mlflow: {enabled: %s}}
report: {to: none}
"""


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    root = write_suite(tmp_path_factory.mktemp("gate-results") / "repo", count=40)
    (root / ".llm-gitops.yaml").write_text(CONFIG % "false")
    return root


@pytest.fixture(scope="module")
def outputs(example_models, repo, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("lm-eval-out")
    return {name: write_lm_eval_output(getattr(example_models, name), repo, TASKS, root / name).parents[1]
            for name in ("good", "regressed")}


def gate(repo: Path, *args: str):
    run = run_cli(["gate", "--no-cache", *args], cwd=repo, timeout_s=300)
    report = json.loads((repo / ".llm-gitops" / "reports" / "report.json").read_text()) if run.code in (0, 1) else None
    return run, report


def checks(report: dict) -> dict[str, tuple]:
    return {c["metric"]: (c["verdict"], c["candidate"], c["baseline"], c["n"]) for c in report["checks"]}


def test_same_verdict_from_results_files_as_from_the_models(repo, outputs, example_models):
    models, by_models = gate(repo, "--candidate", str(example_models.regressed), "--baseline", str(example_models.good),
                             "--no-perf")
    files, by_files = gate(repo, "--candidate-results", str(outputs["regressed"]),
                           "--baseline-results", str(outputs["good"]))
    mixed, by_mixed = gate(repo, "--candidate-results", str(outputs["regressed"]), "--baseline", str(example_models.good),
                           "--no-perf")
    assert models.code == files.code == mixed.code == 1, (models.err, files.err, mixed.err)
    assert by_models["verdict"] == by_files["verdict"] == by_mixed["verdict"] == "fail"
    assert checks(by_models) == checks(by_files) == checks(by_mixed)
    assert by_files["models"]["candidate"]["kind"] == "lm-eval-results" and by_mixed["models"]["baseline"]["kind"] == "local"
    # Perf cannot be measured on results: the size check is reported as not checked.
    assert any("perf thresholds not checked (a side is lm-eval results" in n for n in by_files["notes"])


def test_results_gate_is_tracked_and_its_decision_reused(repo, outputs, tmp_path):
    shutil.copytree(repo, tmp_path / "repo")
    (tmp_path / "repo" / ".llm-gitops.yaml").write_text(CONFIG % "true")
    args = ["gate", "--candidate-results", str(outputs["good"]), "--baseline-results", str(outputs["good"])]
    first = run_cli(args, cwd=tmp_path / "repo", timeout_s=300)
    assert first.code in (0, 1) and "logged MLflow run" in first.err, first.err
    again = run_cli(args, cwd=tmp_path / "repo", timeout_s=300)
    assert again.code == first.code and "reusing its decision" in again.err and "already logged" in again.err


def test_partly_overlapping_documents_are_decided_on_the_common_ones(repo, outputs, tmp_path):
    cut = tmp_path / "cut"
    shutil.copytree(outputs["good"], cut)
    results_file = next(cut.rglob("results_*.json"))
    data = json.loads(results_file.read_text())
    for task, path in samples_files(results_file).items():
        lines = path.read_text().splitlines(keepends=True)
        kept = lines[:30]  # documents 0-29 of 40
        path.write_text("".join(kept))
        scores = [json.loads(line)[data["configs"][task]["metric_list"][0]["metric"]] for line in kept]
        metric = data["configs"][task]["metric_list"][0]["metric"]
        data["results"][task][f"{metric},none"] = sum(scores) / len(scores)
        data["n-samples"][task]["effective"] = len(kept)
    results_file.write_text(json.dumps(data))
    run, report = gate(repo, "--candidate-results", str(outputs["regressed"]), "--baseline-results", str(cut))
    assert run.code == 1, run.err
    assert {c["n"] for c in report["checks"] if c["metric"] != "perf/size_on_disk_mb"} == {30}
    assert "add_em/exact_match: decided on the 30 documents both sides evaluated (candidate had 40, baseline 30)" \
        in report["notes"]
