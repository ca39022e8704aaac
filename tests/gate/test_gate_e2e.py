"""``llm-gitops gate`` end to end on the example repo's trained models (real lm-eval, bench, MLflow)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from llm_gitops.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory):
    # One state dir (eval cache, MLflow store) for the module: the second gate reuses
    # the good model's cached eval, as a CI cache would.
    return tmp_path_factory.mktemp("state")


def gate(args, monkeypatch, state_dir) -> int:
    monkeypatch.setenv("LLM_GITOPS_STATE_DIR", str(state_dir))
    for var in ("GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT", "GITHUB_ACTIONS", "GITLAB_CI"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(SystemExit) as excinfo:
        main(["gate", *args])
    return excinfo.value.code


def twin_of(model: Path, dest: Path) -> Path:
    """A copy of ``model`` under another digest (an extra key in config.json): it answers the same."""
    shutil.copytree(model, dest)
    config = json.loads((dest / "config.json").read_text())
    (dest / "config.json").write_text(json.dumps({**config, "llm_gitops_test_twin": True}))
    return dest


def test_regressed_candidate_fails(example_models, tmp_path, monkeypatch, state_dir, capsys):
    out = tmp_path / "report"
    code = gate(
        ["--config", str(example_models.config), "--candidate", str(example_models.regressed),
         "--baseline", str(example_models.good), "--output-dir", str(out), "--report-to", "none", "--chart"],
        monkeypatch, state_dir,
    )
    stdout, stderr = capsys.readouterr()
    assert code == 1, stdout + stderr
    assert stdout.startswith("❌ fail - ")
    assert "gate: logged MLflow run" in stderr  # the example config tracks to a local sqlite store
    data = json.loads((out / "report.json").read_text())
    assert data["verdict"] == "fail"
    checks = {c["metric"]: c for c in data["checks"]}
    assert set(checks) == {"add_em/exact_match", "add_mc/acc", "perf/latency_p95_ms", "perf/size_on_disk_mb"}
    em = checks["add_em/exact_match"]
    assert em["verdict"] == "fail" and em["n"] == 200 and em["delta"] < -0.02
    assert checks["perf/latency_p95_ms"]["candidate"] > 0
    assert (out / "report.md").read_text().startswith("❌ **fail**")
    assert (out / "chart.png").read_bytes()[:4] == b"\x89PNG"


def test_good_against_itself_passes(example_models, tmp_path, monkeypatch, state_dir, capsys):
    out = tmp_path / "report"
    code = gate(
        ["--config", str(example_models.config), "--candidate", str(example_models.good),
         "--baseline", str(example_models.good), "--output-dir", str(out), "--report-to", "none", "--no-perf"],
        monkeypatch, state_dir,
    )
    stdout = capsys.readouterr().out
    assert code == 0, stdout
    data = json.loads((out / "report.json").read_text())
    assert data["verdict"] == "pass"
    assert all(c["delta"] == 0 for c in data["checks"])
    assert any("same model" in note for note in data["notes"])
    assert any("perf thresholds not checked (--no-perf)" in note for note in data["notes"])
    assert {p.name for p in out.iterdir()} == {"report.md", "report.json"}  # no --chart


def test_threshold_on_a_metric_no_task_produces_is_exit_2(example_models, tmp_path, monkeypatch, state_dir, capsys):
    config = tmp_path / ".llm-gitops.yaml"
    text = example_models.config.read_text().replace("- metric: add_mc/acc", "- metric: add_mc/accuracy")
    # Tasks resolve against the config's directory, so keep the example repo's layout.
    config.write_text(text.replace("tasks/add_", f"{example_models.repo}/tasks/add_"))
    code = gate(["--config", str(config), "--candidate", str(example_models.good), "--report-to", "none"], monkeypatch, state_dir)
    err = capsys.readouterr().err
    assert code == 2
    assert "no task produces 'add_mc/accuracy'" in err and "did you mean 'add_mc/acc'?" in err


def gate_a_twin(example_models, tmp_path, baseline: list[str], monkeypatch, state_dir, capsys):
    """Gate a twin of the good model against ``baseline`` (flags); it passes after several
    looks, bounding a drop of zero. Returns (twin, report.json, stderr)."""
    twin = twin_of(example_models.good, tmp_path / "twin")
    out = tmp_path / "report"
    code = gate(["--config", str(example_models.config), "--candidate", str(twin), *baseline, "--output-dir", str(out),
                 "--report-to", "none", "--no-perf"], monkeypatch, state_dir)
    stdout, stderr = capsys.readouterr()
    assert code == 0, stdout + stderr
    data = json.loads((out / "report.json").read_text())
    assert data["verdict"] == "pass" and len(data["looks"]) > 1
    return twin, data, stderr


def test_two_models_stay_loaded_across_the_looks(example_models, tmp_path, monkeypatch, state_dir, capsys):
    """A copy of the good model under another digest answers the same: the gate needs several
    looks to bound a drop of zero, and loads each model once for all of them."""
    twin, data, stderr = gate_a_twin(example_models, tmp_path, ["--baseline", str(example_models.good)],
                                     monkeypatch, state_dir, capsys)
    assert not any("same model" in note for note in data["notes"])
    # One load per model (the good model's first look may come from the module's cache).
    assert stderr.count("eval: loading model") <= 2 and stderr.count(f"eval: loading model {twin} ") == 1
    assert stderr.count("still loaded") >= len(data["looks"]) - 1


def test_a_model_against_lm_eval_results_goes_through_their_documents_in_looks(example_models, tmp_path, monkeypatch,
                                                                              capsys):
    """The baseline as lm-eval's own output over the whole 500-document split (evaluated
    once, elsewhere); the candidate, a twin of it, is evaluated look by look on those
    documents only until the zero drop is bounded, loaded once for all the looks.

    Its own state dir: the module's holds the twin's looks (same digest) from the test above,
    which would be cache hits here, and this test counts what is evaluated."""
    state_dir = tmp_path / "state"
    from tests.evaluation.lm_eval_output import write_lm_eval_output

    baseline = write_lm_eval_output(example_models.good, example_models.repo, ["tasks/add_mc.yaml", "tasks/add_em.yaml"],
                                    tmp_path / "lm-eval-out", max_gen_toks=5)
    twin, data, stderr = gate_a_twin(example_models, tmp_path, ["--baseline-results", str(baseline)],
                                     monkeypatch, state_dir, capsys)
    assert "the candidate model was evaluated on the documents the baseline's lm-eval results scored, in " \
        "sequential looks" in data["notes"]
    last = data["looks"][-1]["samples"]
    assert 200 < last["add_em"] < 500 and {c["metric"]: c["n"] for c in data["checks"]} == {
        "add_em/exact_match": last["add_em"], "add_mc/acc": last["add_mc"]}
    assert "(given documents: add_mc 200, add_em 200)" in stderr and "(given documents: add_mc 60, add_em 60)" in stderr
    # Each eval line names the tasks it runs: those given documents (a decided task is not among them).
    for running, given in re.findall(r"eval: running (.*?) \(given documents: (.*?)\)", stderr):
        assert running.split(", ") == [part.split()[0] for part in given.split(", ")]
    assert stderr.count(f"eval: loading model {twin} ") == 1 and "still loaded" in stderr


def test_a_perplexity_is_not_judged_on_its_per_sample_log_likelihoods(example_models, tmp_path, monkeypatch, state_dir,
                                                                     capsys):
    """lm-eval's per-sample "perplexity" is a log-likelihood (higher for the better model),
    and the value exp(-mean) of them: paired as scores of a lower-is-better metric, the
    regressed model's far higher perplexity read as a gain and passed max_drop 5%."""
    from tests.evaluation.conftest import LL_YAML, write_suite

    repo = write_suite(tmp_path / "repo", count=40)
    (repo / "tasks" / "add_ll.yaml").write_text(LL_YAML)
    (repo / ".llm-gitops.yaml").write_text(
        "version: 1\neval:\n  tasks: [tasks/add_ll.yaml]\n  batch_size: 8\n"
        "thresholds:\n  - {metric: add_ll/perplexity, max_drop: 5%}\ntracking: {mlflow: {enabled: false}}\n")
    out = tmp_path / "report"
    code = gate(["--config", str(repo / ".llm-gitops.yaml"), "--candidate", str(example_models.regressed),
                 "--baseline", str(example_models.good), "--output-dir", str(out), "--report-to", "none", "--no-perf",
                 "--json"], monkeypatch, state_dir)
    stdout, stderr = capsys.readouterr()
    # lm-eval's own prints (bootstrapping the perplexity's stderr) went to stderr: stdout is the JSON.
    assert json.loads(stdout)["verdict"] == json.loads((out / "report.json").read_text())["verdict"], stdout[:500]
    [check] = json.loads((out / "report.json").read_text())["checks"]
    assert check["candidate"] > 1.05 * check["baseline"], check  # the regressed model is the more perplexed
    assert code == 1 and check["verdict"] in ("fail", "inconclusive"), (code, check, stdout)
    assert check["test"].startswith("normal bound on the stderrs (unpaired)"), check
    report = json.loads((out / "report.json").read_text())
    assert "add_ll/perplexity: its value is not the mean of its per-sample scores" in " ".join(report["notes"])
