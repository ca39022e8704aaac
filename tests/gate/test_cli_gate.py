"""``llm-gitops gate`` through the real entry point, with fakes for the slow measurements.

The config, task YAMLs and metric validation are real (the example repo's tasks); only
``command_model``, ``run_eval`` and ``run_bench`` are replaced, so each test
runs in milliseconds and decides on known data.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from llm_gitops.cli import main
from llm_gitops.models.resolved import ResolvedModel
from tests.gate.factories import eval_results, metric, paired_scores, perf_metric, perf_results

REPO_TEMPLATE = Path(__file__).resolve().parents[2] / "examples" / "repo-template"

CONFIG = """\
version: 1
models:
  candidate: ./good
eval:
  tasks: [tasks/add_mc.yaml, tasks/add_em.yaml]
  limit: 200
  sequential: false  # one look of 200; sequential looks are tested in test_sequential_gate.py
thresholds:
  - metric: add_em/exact_match
    min: 0.5
    max_drop: 2pt
  - metric: add_mc/acc
    max_drop: 2pt
{extra}
gate:
  bootstrap_samples: 500
{gate}
tracking:
  mlflow:
    enabled: {tracking}
report:
  to: none
"""

# Accuracy of each fake model: "bad" is 20 points worse than "good" on exact match.
ACCURACY = {"good": (0.80, 0.80), "good2": (0.80, 0.80), "bad": (0.60, 0.80), "meh": (0.74, 0.80)}


@pytest.fixture()
def repo(tmp_path, monkeypatch):
    shutil.copytree(REPO_TEMPLATE / "tasks", tmp_path / "tasks")
    shutil.copytree(REPO_TEMPLATE / "data" / "eval", tmp_path / "data" / "eval")
    monkeypatch.chdir(tmp_path)
    for var in ("GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def write_config(repo: Path, *, extra: str = "", gate: str = "", tracking: str = "false") -> Path:
    path = repo / ".llm-gitops.yaml"
    path.write_text(CONFIG.format(extra=extra, gate=gate, tracking=tracking))
    return path


@pytest.fixture()
def fakes(monkeypatch):
    """Fake model resolution and measurements; records what ran."""
    calls: list[tuple[str, str]] = []

    def resolve(config, spec, **_flags):
        name = spec if isinstance(spec, str) else spec.source
        name = Path(name).name
        if name == "missing":
            from llm_gitops.errors import ModelSourceError

            raise ModelSourceError(f"{name}: model directory not found", hint="check the path")
        return ResolvedModel(path=Path("/models") / name, digest="sha256:" + name.ljust(64, "0"), source=name, kind="local")

    def run_eval(model, settings, *, base_dir, cache_root, progress=None, documents=None, suite=None, expect_digest=None):
        assert suite is not None and suite.names == ["add_mc", "add_em"], "the gate resolves eval.tasks once"
        assert documents is None, "two models: each on eval.limit's documents"
        calls.append(("eval", model.source))
        if model.source == "crash":
            raise RuntimeError("CUDA out of memory\nmore lines")
        if model.source == "unloadable":  # passed validation, refused by transformers (models.loader says so)
            from llm_gitops.errors import ModelSourceError

            raise ModelSourceError("model directory /models/unloadable could not be loaded: ValueError: bad")
        n = int(settings.limit or 500)
        em, mc = ACCURACY[model.source]
        # Seed 0 for every model: "good" and "bad" share the baseline's answers, as a
        # real regression keeps most of them.
        em_c, _ = paired_scores(n, 0.80, em, seed=0)
        mc_c, _ = paired_scores(n, 0.80, mc, seed=1)
        return eval_results(metric("add_em/exact_match", em_c), metric("add_mc/acc", mc_c),
                            digest=model.digest, source=model.source, cached=model.source == "good")

    def run_bench(model, settings, *, cache_root, progress=None):
        calls.append(("perf", model.source))
        rng = np.random.default_rng(len(model.source))
        slow = 20.0 if model.source == "bad" else 10.0
        return perf_results(perf_metric("latency_p95_ms", rng.normal(slow, 0.2, 30)), digest=model.digest)

    monkeypatch.setattr("llm_gitops.commands.gate.command_model", resolve)
    monkeypatch.setattr("llm_gitops.evaluation.runner.run_eval", run_eval)
    monkeypatch.setattr("llm_gitops.perf.bench.run_bench", run_bench)
    return calls


def gate(*args) -> int:
    with pytest.raises(SystemExit) as excinfo:
        main(["gate", *args])
    return excinfo.value.code


def report(repo: Path) -> dict:
    return json.loads((repo / ".llm-gitops" / "reports" / "report.json").read_text())


def test_good_vs_good_passes_and_writes_every_file(repo, fakes, capsys):
    write_config(repo)
    assert gate("--baseline", "./good2") == 0
    out, err = capsys.readouterr()
    assert out.startswith("✅ pass - all 2 checks passed")
    assert "add_em/exact_match" in out and "delta (bounds)" in out
    assert "gate: candidate good" in err and "gate: wrote" in err
    reports = repo / ".llm-gitops" / "reports"
    assert {p.name for p in reports.iterdir()} == {"report.md", "report.json"}  # the chart is opt-in
    data = report(repo)
    assert data["verdict"] == "pass" and data["exit_code"] == 0
    assert data["models"]["candidate"]["eval_cached"] is True
    assert data["settings"]["eval_limit"] == 200
    assert (reports / "report.md").read_text().startswith("✅ **pass**")
    assert fakes == [("eval", "good"), ("eval", "good2")]  # no perf thresholds: no bench


def test_big_drop_fails_with_exit_1(repo, fakes, capsys):
    write_config(repo)
    assert gate("--candidate", "./bad", "--baseline", "./good") == 1
    out = capsys.readouterr().out
    assert out.startswith("❌ fail - 1 of 2 checks failed: add_em/exact_match dropped 20.0pt (")
    data = report(repo)
    assert data["verdict"] == "fail"
    em = next(c for c in data["checks"] if c["metric"] == "add_em/exact_match")
    assert em["verdict"] == "fail" and em["p_value"] < 0.001 and em["n"] == 200


@pytest.mark.parametrize("policy,code", [("fail", 1), ("pass", 0), ("neutral", 0)])
def test_inconclusive_follows_on_inconclusive(repo, fakes, capsys, policy, code):
    write_config(repo, gate=f"  on_inconclusive: {policy}")
    assert gate("--candidate", "./meh", "--baseline", "./good", "--limit", "60") == code
    assert report(repo)["verdict"] == "inconclusive"
    assert "inconclusive" in capsys.readouterr().out


def test_limit_overrides_the_config(repo, fakes):
    write_config(repo, gate="  on_inconclusive: neutral")  # 30 samples cannot resolve 2pt either way
    assert gate("--baseline", "./good2", "--limit", "30") == 0
    data = report(repo)
    assert data["settings"]["eval_limit"] == 30 and data["checks"][0]["n"] == 30


def test_a_limit_above_eval_max_limit_is_exit_2_before_measuring(repo, fakes, capsys):
    write_config(repo)
    text = (repo / ".llm-gitops.yaml").read_text().replace("  sequential: false", "  max_limit: 300")
    (repo / ".llm-gitops.yaml").write_text(text.replace("  sequential: false  # one look of 200; sequential looks "
                                                        "are tested in test_sequential_gate.py", "  max_limit: 300"))
    assert gate("--baseline", "./good2", "--limit", "400") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --limit 400: above eval.max_limit (300, .llm-gitops.yaml:7)") and "--limit 300" in err
    assert fakes == [] and not (repo / ".llm-gitops").exists()


@pytest.mark.parametrize("args, said", [
    (("--candidate-results", "", "--baseline", "./good"), "error: --candidate-results is empty; give a path"),
    (("--baseline-results", " "), "error: --baseline-results is empty; give a path"),
    (("--candidate-results", "a", "--baseline-results", "b", "--limit", "10"),
     "error: --limit: both sides are lm-eval results, decided on the documents they scored"),
])
def test_results_flags_that_cannot_mean_what_they_say_are_exit_2(repo, fakes, capsys, args, said):
    # An empty path (an unset CI variable) is not the current directory, searched for results.
    write_config(repo)
    assert gate(*args) == 2
    assert capsys.readouterr().err.startswith(said)
    assert fakes == [] and not (repo / ".llm-gitops").exists()


def test_no_baseline_checks_no_relative_bound_and_says_so(repo, fakes, capsys):
    write_config(repo)
    assert gate() == 0  # absolute bounds still decide; a first model is not blocked for lack of a baseline
    data = report(repo)
    assert data["verdict"] == "pass" and data["models"]["baseline"] is None
    assert all(c["cause"] == "no_baseline" for c in data["checks"])
    assert any("no baseline" in n for n in data["notes"])


def test_perf_thresholds_run_the_bench_unless_no_perf(repo, fakes, capsys):
    write_config(repo, extra="  - metric: perf/latency_p95_ms\n    max_drop: 10%")
    assert gate("--candidate", "./good", "--baseline", "./good2") == 0
    assert ("perf", "good") in fakes and ("perf", "good2") in fakes
    assert [c["metric"] for c in report(repo)["checks"]][-1] == "perf/latency_p95_ms"

    fakes.clear()
    assert gate("--candidate", "./good", "--baseline", "./good2", "--no-perf") == 0
    assert not [c for c in fakes if c[0] == "perf"]
    data = report(repo)
    assert [c["metric"] for c in data["checks"]] == ["add_em/exact_match", "add_mc/acc"]
    assert any("perf thresholds not checked (--no-perf): perf/latency_p95_ms" in n for n in data["notes"])


def test_slower_candidate_fails_on_latency(repo, fakes, monkeypatch):
    write_config(repo, extra="  - metric: perf/latency_p95_ms\n    max_drop: 10%")
    ACC = dict(ACCURACY, bad=(0.80, 0.80))  # same accuracy, twice the latency
    monkeypatch.setattr(sys.modules[__name__], "ACCURACY", ACC)
    assert gate("--candidate", "./bad", "--baseline", "./good") == 1
    perf = report(repo)["checks"][-1]
    assert perf["verdict"] == "fail" and perf["delta"] > 5


def test_unknown_threshold_metric_is_exit_2_and_names_it(repo, fakes, capsys):
    write_config(repo, extra="  - metric: add_em/exact_mach\n    min: 0.5")
    assert gate("--baseline", "./good") == 2
    err = capsys.readouterr().err
    assert "thresholds[2].metric: no task produces 'add_em/exact_mach'" in err
    assert "did you mean 'add_em/exact_match'?" in err and "available: add_em/exact_match, add_mc/acc" in err
    assert "error: .llm-gitops.yaml:14: " in err  # the line of the bad metric
    assert fakes == [] and not (repo / ".llm-gitops").exists()


def test_no_thresholds_is_exit_2(repo, fakes, capsys):
    (repo / ".llm-gitops.yaml").write_text("version: 1\nmodels: {candidate: ./good}\neval: {tasks: [tasks/add_em.yaml]}\n")
    assert gate() == 2
    assert "thresholds: none configured" in capsys.readouterr().err


def test_bad_model_source_is_exit_2_before_anything_is_written(repo, fakes, capsys):
    write_config(repo)
    assert gate("--baseline", "./missing") == 2
    assert "missing: model directory not found" in capsys.readouterr().err
    assert fakes == [] and not (repo / ".llm-gitops").exists()


def test_missing_candidate_is_exit_2(repo, fakes, capsys):
    (repo / ".llm-gitops.yaml").write_text(CONFIG.format(extra="", gate="", tracking="false").replace("  candidate: ./good\n", "  {}\n").replace("models:\n  {}", "models: {}"))
    assert gate() == 2
    assert "models.candidate is not set and no --candidate was given" in capsys.readouterr().err


def test_evaluation_crash_is_verdict_error_exit_4_with_one_error_line(repo, fakes, capsys):
    write_config(repo)
    assert gate("--candidate", "./crash", "--baseline", "./good") == 4
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "RuntimeError: CUDA out of memory" in lines[0] and "Traceback" not in err
    log = re.search(r"the traceback is in (\S+)\)", lines[0]).group(1)
    assert "Traceback" in Path(log).read_text()
    Path(log).unlink()
    data = report(repo)
    assert data["verdict"] == "error" and data["exit_code"] == 4
    assert data["error"] == "the candidate's evaluation failed: RuntimeError: CUDA out of memory"
    assert not (repo / ".llm-gitops" / "reports" / "chart.png").exists()


def test_ci_outputs(repo, fakes, tmp_path, monkeypatch):
    write_config(repo)
    summary, outputs, dotenv = tmp_path / "summary.md", tmp_path / "out.txt", tmp_path / "gate.env"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    out_dir = tmp_path / "custom-out"
    assert gate("--candidate", "./bad", "--baseline", "./good", "--output-dir", str(out_dir), "--output-env", str(dotenv)) == 1
    assert summary.read_text().startswith("earlier step\n❌ **fail**")
    text = outputs.read_text()  # GitHub's multi-line form: key<<DELIMITER, value, DELIMITER
    assert re.search(r"^verdict<<(\S+)\nfail\n\1$", text, re.M)
    assert re.search(rf"^report-path<<(\S+)\n{re.escape(str(out_dir / 'report.md'))}\n\1$", text, re.M)
    env = dotenv.read_text().splitlines()
    assert "LLM_GITOPS_VERDICT=fail" in env and f"LLM_GITOPS_REPORT={out_dir / 'report.md'}" in env
    assert (out_dir / "report.json").is_file()


def test_tracking_gets_the_report_and_artifacts(repo, fakes, monkeypatch, capsys):
    write_config(repo, tracking="true")
    seen = {}

    def log_gate_run(config, *, report, artifacts, candidate, git_sha, run=None):
        seen.update(report=report, artifacts=artifacts, candidate=candidate, git_sha=git_sha)
        return types.SimpleNamespace(run_id="run123", model_version=None)

    monkeypatch.setattr("llm_gitops.tracking.mlflow_tracking.log_gate_run", log_gate_run)
    monkeypatch.setattr("llm_gitops.commands.gate.head_commit", lambda d: "abc123")
    assert gate("--baseline", "./good2") == 0
    assert seen["report"]["schema"] == "llm-gitops/gate-report/v1" and seen["report"]["verdict"] == "pass"
    assert [p.name for p in seen["artifacts"]] == ["report.md", "report.json"]
    assert seen["candidate"].source == "good" and seen["git_sha"] == "abc123"
    assert "logged MLflow run run123" in capsys.readouterr().err


def test_a_rerun_on_the_same_inputs_reuses_the_decision_and_its_mlflow_run(repo, fakes, monkeypatch, capsys):
    write_config(repo, tracking="true")
    runs = []

    def log_gate_run(config, *, report, artifacts, candidate, git_sha, run=None):
        runs.append(git_sha)
        (repo / ".llm-gitops" / "mlflow.db").touch()  # as the real sqlite store would be
        return types.SimpleNamespace(run_id=f"run{len(runs)}", model_version=None)

    monkeypatch.setattr("llm_gitops.tracking.mlflow_tracking.log_gate_run", log_gate_run)
    monkeypatch.setattr("llm_gitops.commands.gate.head_commit", lambda d: "abc123")
    assert gate("--candidate", "./bad", "--baseline", "./good") == 1
    first = (repo / ".llm-gitops" / "reports" / "report.json").read_text()
    assert "reusing its decision" not in capsys.readouterr().err
    decide_calls = []
    import llm_gitops.gate.policy as policy

    real_decide = policy.decide
    monkeypatch.setattr(policy, "decide", lambda *a, **k: decide_calls.append(1) or real_decide(*a, **k))
    assert gate("--candidate", "./bad", "--baseline", "./good") == 1
    err = capsys.readouterr().err
    assert "reusing its decision" in err and "already logged as MLflow run run1" in err
    assert decide_calls == [] and runs == ["abc123"]
    again = json.loads((repo / ".llm-gitops" / "reports" / "report.json").read_text())
    # The same decision, reported as this run's: it says the decision was reused.
    assert again["checks"] == json.loads(first)["checks"] and again["verdict"] == "fail"
    assert again["notes"][-1].startswith("decision reused: an earlier run had the same measurements")
    # A new commit with the same model is a new MLflow run of the same decision.
    monkeypatch.setattr("llm_gitops.commands.gate.head_commit", lambda d: "def456")
    assert gate("--candidate", "./bad", "--baseline", "./good") == 1
    assert runs == ["abc123", "def456"] and decide_calls == []
    # A changed threshold is a new decision.
    write_config(repo, tracking="true", gate="  alpha: 0.01")
    assert gate("--candidate", "./bad", "--baseline", "./good") == 1
    assert decide_calls == [1]
    # --no-cache decides afresh.
    assert gate("--candidate", "./bad", "--baseline", "./good", "--no-cache") == 1
    assert decide_calls == [1, 1]


def test_gate_posts_one_sticky_comment_and_a_status_per_run(repo, fakes, monkeypatch, capsys, tmp_path):
    """gate -> publish -> real PyGithub -> the GitHub stand-in: a fail, then a pass on a new head."""
    from tests.forges.conftest import GITHUB_TOKEN, REPO
    from tests.forges.test_publish import github_env
    from tests.standins.forge import ForgeStandin

    write_config(repo)
    standin = ForgeStandin.start(kind="github", token=GITHUB_TOKEN)
    try:
        standin.add_repo(REPO, files={"README.md": "adder\n"})
        number = standin.add_pull(REPO, head="feature", title="Retrain the adder")
        seeded = types.SimpleNamespace(standin=standin, repo=REPO, number=number)
        for key, value in github_env(seeded, tmp_path).items():
            monkeypatch.setenv(key, value)
        assert gate("--candidate", "./bad", "--baseline", "./good", "--report-to", "github") == 1
        standin.push(REPO, "feature", {"model.txt": "v2"})
        for key, value in github_env(seeded, tmp_path).items():
            monkeypatch.setenv(key, value)
        assert gate("--candidate", "./good2", "--baseline", "./good", "--report-to", "github") == 0
        comments = standin.comments(REPO, number)
        assert len(comments) == 1, comments
        body = comments[0]["body"]
        assert "```mermaid\nxychart-beta" in body and "pass" in body
        assert [s["state"] for s in standin.statuses(REPO)] == ["failure", "success"]
        err = capsys.readouterr().err
        assert "report posted:" in err and GITHUB_TOKEN not in err
    finally:
        standin.stop()


@pytest.mark.parametrize("named,flags,code", [
    ("by --report-to", ["--report-to", "github"], 2),
    ("by report.to", [], 2),
    # --report-to auto defers to report.to: the post is still asked for by name (the glues pass auto).
    ("by report.to, with --report-to auto", ["--report-to", "auto"], 2),
    ("not: auto", ["--report-to", "auto"], 0),
])
def test_a_failed_post_to_a_named_forge_turns_a_pass_into_exit_2(repo, fakes, monkeypatch, capsys, named, flags, code):
    path = write_config(repo)
    path.write_text(path.read_text().replace("to: none", "to: github" if "report.to" in named else "to: auto"))
    from llm_gitops.errors import ExternalServiceError

    def publish_gate_report(**kwargs):
        raise ExternalServiceError("GitHub answered 401 Bad credentials", hint="check GITHUB_TOKEN")

    monkeypatch.setattr("llm_gitops.forges.publish.publish_gate_report", publish_gate_report)
    assert gate("--baseline", "./good2", *flags) == code
    err = capsys.readouterr().err
    level = "error" if code else "warning"  # an exit 0 does not print "error:"
    assert f"{level}: posting the report (" in err and "failed: GitHub answered 401" in err
    assert report(repo)["verdict"] == "pass"  # the report itself stands
    # A failing verdict keeps its own exit code.
    assert gate("--candidate", "./bad", "--baseline", "./good", *flags) == 1


def test_help_explains_exit_codes_and_examples():
    from click.testing import CliRunner

    from llm_gitops.cli import cli

    result = CliRunner().invoke(cli, ["gate", "--help"])
    assert result.exit_code == 0
    for text in ("Examples:", "--baseline models:/adder@production", "Exit codes", "on_inconclusive"):
        assert text in result.output


@pytest.mark.parametrize("how", ["flag", "config"])
def test_the_chart_is_drawn_when_asked_and_an_old_one_is_removed_when_not(repo, fakes, how):
    path = write_config(repo)
    if how == "config":
        path.write_text(path.read_text().replace("report:\n  to: none", "report:\n  to: none\n  chart: true"))
    assert gate("--baseline", "./good2", *(["--chart"] if how == "flag" else [])) == 0
    chart = repo / ".llm-gitops" / "reports" / "chart.png"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert gate("--baseline", "./good2", "--no-chart") == 0
    assert not chart.exists()


def test_json_prints_report_json_alone_on_stdout(repo, fakes, capsys):
    write_config(repo)
    assert gate("--candidate", "./bad", "--baseline", "./good", "--json") == 1
    out, err = capsys.readouterr()
    assert json.loads(out) == report(repo)  # stdout is exactly report.json
    assert "❌ fail" in err and "gate: wrote" in err  # the table and progress went to stderr


def test_a_pull_request_run_is_tracked_against_the_pr_head_not_the_merge_commit(repo, fakes, monkeypatch, tmp_path):
    write_config(repo, tracking="true")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {
        "number": 7, "head": {"sha": "feedbeef" * 5, "repo": {"full_name": "acme/adder", "fork": False}},
        "base": {"ref": "main", "repo": {"full_name": "acme/adder"}}}}))
    for key, value in {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/adder", "GITHUB_EVENT_NAME": "pull_request",
                       "GITHUB_EVENT_PATH": str(event)}.items():
        monkeypatch.setenv(key, value)
    seen = []

    def log_gate_run(config, *, report, artifacts, candidate, git_sha, run=None):
        seen.append(git_sha)
        return types.SimpleNamespace(run_id="run1", model_version=None)

    monkeypatch.setattr("llm_gitops.tracking.mlflow_tracking.log_gate_run", log_gate_run)
    monkeypatch.setattr("llm_gitops.commands.gate.head_commit", lambda d: "the-merge-commit")
    assert gate("--candidate", "./bad", "--baseline", "./good", "--report-to", "none") == 1
    assert seen == ["feedbeef" * 5]


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize("args,culprit", [
    (["--candidate", ""], "--candidate is empty"),
    (["--baseline", "  "], "--baseline is empty"),
    (["--output-dir", "a-file"], "--output-dir"),
    (["--output-dir", "a-file/below"], "a-file is a file"),
    (["--output-env", "missing/gate.env"], "--output-env"),
])
def test_bad_outputs_and_sources_are_exit_2_before_anything_is_measured_or_written(repo, fakes, capsys, args, culprit):
    write_config(repo, tracking="true")
    (repo / "a-file").write_text("x")
    before = _tree(repo)
    assert gate("--baseline", "./good", *args) == 2
    err = capsys.readouterr().err
    assert culprit in err and err.count("error:") == 1 and "Traceback" not in err
    assert fakes == [] and _tree(repo) == before  # no eval cache, gate cache, mlflow.db or report


def test_report_output_dir_that_is_a_file_names_the_config_field(repo, fakes, capsys):
    path = write_config(repo)
    path.write_text(path.read_text().replace("report:\n  to: none", "report:\n  to: none\n  output_dir: a-file"))
    (repo / "a-file").write_text("x")
    assert gate("--baseline", "./good") == 2
    err = capsys.readouterr().err
    assert "report.output_dir" in err and ".llm-gitops.yaml:" in err and fakes == []


def test_a_model_that_validates_but_does_not_load_is_exit_2_with_no_report_or_run(repo, fakes, monkeypatch, capsys):
    write_config(repo, tracking="true")
    logged = []
    monkeypatch.setattr("llm_gitops.tracking.mlflow_tracking.log_gate_run", lambda *a, **k: logged.append(1))
    assert gate("--candidate", "./unloadable", "--baseline", "./good") == 2
    err = capsys.readouterr().err
    assert "could not be loaded" in err and "Traceback" not in err
    assert not (repo / ".llm-gitops" / "reports").exists() and logged == []


_CACHED_RUN = """
import json, sys, types
import llm_gitops.evaluation.runner as runner
import llm_gitops.tracking.mlflow_tracking as tracking
from pathlib import Path
from tests.gate.factories import eval_results, metric, paired_scores

def run_eval(model, settings, **kwargs):
    em, _ = paired_scores(int(settings.limit), 0.8, 0.6 if model.source.endswith("bad") else 0.8, seed=0)
    mc, _ = paired_scores(int(settings.limit), 0.8, 0.8, seed=1)
    return eval_results(metric("add_em/exact_match", em), metric("add_mc/acc", mc), digest=model.digest, source=model.source)

def log_gate_run(config, **kwargs):
    Path(".llm-gitops/mlflow.db").touch()  # as the real sqlite store would be
    return types.SimpleNamespace(run_id="run1", model_version=None)

runner.run_eval, tracking.log_gate_run = run_eval, log_gate_run
import llm_gitops.commands.gate as gate
gate.command_model = lambda config, spec, **kw: __import__("llm_gitops.models.resolved", fromlist=["x"]).ResolvedModel(
    path=Path(spec), digest="sha256:" + Path(spec).name.ljust(64, "0"), source=Path(spec).name, kind="local")
gate.git_sha = lambda directory: "abc123"
from llm_gitops.cli import main
try:
    main(["gate", "--candidate", "./bad", "--baseline", "./good"])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "heavy": sorted(m for m in ("scipy", "mlflow", "matplotlib", "torch", "lm_eval")
                                                if m in sys.modules)}))
"""


def test_a_cached_rerun_imports_neither_mlflow_nor_matplotlib_nor_scipy(repo, monkeypatch):
    """The cached path stays light: the decision, its report and its MLflow run are all reused."""
    import os
    import subprocess

    write_config(repo, tracking="true")
    path = repo / ".llm-gitops.yaml"
    path.write_text(path.read_text().replace("report:\n  to: none", "report:\n  to: none\n  chart: true"))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}

    def run() -> dict:
        done = subprocess.run([sys.executable, "-c", _CACHED_RUN], cwd=repo, env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    first = run()
    assert first["code"] == 1 and {"scipy", "matplotlib"} <= set(first["heavy"])  # it decided and drew the chart
    again = run()
    assert again == {"code": 1, "heavy": []}
    assert (repo / ".llm-gitops" / "reports" / "chart.png").is_file()  # the chart came from the cache too
