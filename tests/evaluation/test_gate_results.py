"""``llm-gitops gate --candidate-results/--baseline-results``: lm-eval's own output, through the real CLI.

The files are lm-eval's own (EvaluationTracker), of the trained example models; the
same models are gated in-process too, and the verdicts and checks must agree.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.corpus.harness import run_cli
from tests.evaluation.conftest import write_suite
from tests.evaluation.lm_eval_output import SUITE_TASKS as TASKS
from tests.evaluation.lm_eval_output import samples_files, suite_gate_config, write_lm_eval_output

pytestmark = pytest.mark.slow


def config(mlflow: str = "enabled: false") -> str:
    """The suite's checks, plus a perf check results files cannot measure."""
    return suite_gate_config(mlflow=mlflow, eval_extra="  batch_size: 8\n",
                             more="  - {metric: perf/size_on_disk_mb, max_drop: 10%}\ngate: {bootstrap_samples: 500}\n")


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    root = write_suite(tmp_path_factory.mktemp("gate-results") / "repo", count=40)
    (root / ".llm-gitops.yaml").write_text(config())
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
    assert "the baseline model was evaluated on the documents the candidate's lm-eval results scored" in by_mixed["notes"]
    # Perf cannot be measured on results: the size check is reported as not checked.
    assert any("perf thresholds not checked (a side is lm-eval results" in n for n in by_files["notes"])


def test_results_gate_is_tracked_and_its_decision_reused(repo, outputs, tmp_path):
    shutil.copytree(repo, tmp_path / "repo")
    (tmp_path / "repo" / ".llm-gitops.yaml").write_text(config("enabled: true"))
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


def test_a_model_is_gated_against_the_lm_eval_clis_output_on_the_same_documents(repo, example_models, tmp_path):
    """What a team runs: ``lm-eval run ... --limit 25 --output_path OUT --log_samples`` for the
    baseline (the CLI's --limit takes a split's first 25 documents), then the gate with the
    candidate as a model and ``eval.sampling: random``: the candidate is evaluated on the
    baseline's documents only, so every document it costs is paired: in sequential looks
    (eval.limit 20 first), or in one look on eval.limit 20 of them."""
    out = tmp_path / "lm-eval-out"
    done = subprocess.run(
        [str(Path(sys.executable).parent / "lm-eval"), "run", "--model", "hf",
         "--model_args", f"pretrained={example_models.good},dtype=float32", "--tasks", "add_em,add_mc",
         "--include_path", ".", "--output_path", str(out), "--log_samples", "--limit", "25",
         "--device", "cpu", "--batch_size", "8"],
        cwd=repo / "tasks", capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    for sequential, how in (("true", ", in sequential looks"), ("false", " (at most eval.limit 20 per task)")):
        here = tmp_path / f"repo-{sequential}"
        shutil.copytree(repo, here)
        (here / ".llm-gitops.yaml").write_text(suite_gate_config(
            eval_extra=f"  batch_size: 8\n  limit: 20\n  sampling: random\n  sequential: {sequential}\n"))
        run, report = gate(here, "--candidate", str(example_models.regressed), "--baseline-results", str(out),
                           "--no-perf")
        assert run.code == 1, run.err
        assert re.search(r"\(given documents: add_(mc|em) 20, add_(em|mc) 20\)", run.err), run.err
        # The regressed model fails on the first 20 documents: all of them paired.
        assert {c["metric"]: c["n"] for c in report["checks"]} == {"add_em/exact_match": 20, "add_mc/acc": 20}
        assert f"the candidate model was evaluated on the documents the baseline's lm-eval results scored{how}" \
            in report["notes"], report["notes"]


@pytest.mark.parametrize("field, problem", [("doc_hash", "is another document"),
                                            ("prompt_hash", "was asked with another prompt")])
def test_results_whose_documents_or_prompts_differ_from_the_models_eval_are_refused(repo, outputs, example_models,
                                                                                   tmp_path, field, problem):
    """lm-eval hashes every document, target and prompt it evaluates: the model evaluated
    here on the results' documents must get the same ones. (A dataset revision or a
    prompt function that changed since the results were made shows up only there.)"""
    edited = tmp_path / "edited"
    shutil.copytree(outputs["good"], edited)
    results_file = next(edited.rglob("results_*.json"))
    samples = samples_files(results_file)["add_em"]
    lines = samples.read_text().splitlines(keepends=True)
    record = json.loads(lines[6])
    record[field] = "0" * 64
    lines[6] = json.dumps(record) + "\n"
    samples.write_text("".join(lines))
    here = tmp_path / "repo"
    shutil.copytree(repo, here, ignore=shutil.ignore_patterns("reports"))  # earlier tests' reports
    run, report = gate(here, "--candidate", str(example_models.good), "--baseline-results", str(edited), "--no-perf")
    assert run.code == 2 and report is None, run.err
    errors = [line for line in run.err.splitlines() if line.startswith("error: ")]
    assert errors == [errors[0]] and f"--baseline-results {results_file}: doc_id {record['doc_id']} {problem} than " \
        "in the candidate's eval here" in errors[0], run.err
    assert not (here / ".llm-gitops" / "reports").exists()


GITHUB_TOKEN = "ghs_MlflowLinkTestToken0123456789abcdef"
FORGE_REPO = "acme/adder-model"


def _gate_on_a_pull_request(repo: Path, outputs: dict[str, Path], tmp_path: Path, tracking_uri: str):
    """Gate the results files for a PR on the GitHub stand-in; (run, the PR's comments, the stand-in's url)."""
    from tests.forges.ci_env import github_env, pull_request_event
    from tests.standins.forge import ForgeStandin

    (repo / ".llm-gitops.yaml").write_text(config(f"enabled: true, tracking_uri: '{tracking_uri}'"))
    standin = ForgeStandin.start(kind="github", token=GITHUB_TOKEN)
    try:
        standin.add_repo(FORGE_REPO, files={"README.md": "adder\n"})
        number = standin.add_pull(FORGE_REPO, head="feature", title="Retrain the adder")
        head = standin.pull(FORGE_REPO, number)["head_sha"]
        env = github_env(standin.url, FORGE_REPO, tmp_path / "event.json", token=GITHUB_TOKEN,
                         event=pull_request_event(number, head, FORGE_REPO))
        args = ["gate", "--candidate-results", str(outputs["regressed"]), "--baseline-results", str(outputs["good"]),
                "--report-to", "github"]
        runs = [run_cli(args, cwd=repo, env=env, timeout_s=300) for _ in range(2)]
        return runs, standin.comments(FORGE_REPO, number)
    finally:
        standin.stop()


def test_the_comment_links_the_mlflow_run_on_a_tracking_server(repo, outputs, tmp_path):
    """With a tracking server the run is made before the report: report.json and the one PR
    comment link its page (no credentials), the run holds the report, and a re-run of the
    same commit reuses the run and its link."""
    from mlflow import MlflowClient

    from tests.support.mlflow_store import mlflow_server

    shutil.copytree(repo, tmp_path / "repo")
    with mlflow_server(tmp_path / "mlflow") as url:
        authed = url.replace("http://", "http://ci-bot:s3cret-mlflow-pass@")
        (first, again), comments = _gate_on_a_pull_request(tmp_path / "repo", outputs, tmp_path, authed)
        assert first.code == 1, first.err
        assert again.code == 1 and "already logged as MLflow run" in again.err, again.err
        client = MlflowClient(tracking_uri=url)
        runs = client.search_runs([client.get_experiment_by_name("llm-gitops").experiment_id])
        assert len(runs) == 1
        run = runs[0]
        link = f"{url}/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}"
        report = json.loads((tmp_path / "repo" / ".llm-gitops" / "reports" / "report.json").read_text())
        assert report["links"]["MLflow run"] == link
        assert len(comments) == 1 and f"[MLflow run]({link})" in comments[0]["body"]
        assert run.info.status == "FINISHED" and run.data.tags["verdict"] == "fail"
        assert run.data.tags["report_digest"].startswith("sha256:")
        assert {a.path for a in client.list_artifacts(run.info.run_id, "report")} >= {"report/report.json",
                                                                                       "report/report.md"}
        for text in (comments[0]["body"], first.out, first.err, again.out, again.err, json.dumps(report)):
            assert "s3cret-mlflow-pass" not in text


def test_an_unreachable_tracking_server_is_a_warning_and_the_comment_has_no_mlflow_link(repo, outputs, tmp_path):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    shutil.copytree(repo, tmp_path / "repo")
    (first, _), comments = _gate_on_a_pull_request(tmp_path / "repo", outputs, tmp_path, dead)
    assert first.code == 1 and "warning: the gate run was not logged to MLflow" in first.err, first.err
    assert len(comments) == 1 and "MLflow run" not in comments[0]["body"] and "fail" in comments[0]["body"]


def _edited_copy(source: Path, dest: Path, change) -> Path:
    """A copy of lm-eval's output ``source`` whose results data ``change`` edits in place."""
    shutil.copytree(source, dest)
    results_file = next(dest.rglob("results_*.json"))
    data = json.loads(results_file.read_text())
    change(data, results_file)
    results_file.write_text(json.dumps(data))
    return results_file


def test_a_metrics_direction_comes_from_the_config_not_the_results_file(repo, outputs, example_models, tmp_path):
    """Flipping higher_is_better in the results file would make the regressed model's drop a
    gain (exit 0): the direction is the config task's, and a file that says otherwise is refused."""
    flipped = tmp_path / "flipped"
    results_file = _edited_copy(outputs["regressed"], flipped, lambda d, _p: d["higher_is_better"].update(
        add_em={"exact_match": False}, add_mc={"acc": False}))
    for other in (["--baseline-results", str(outputs["good"])], ["--baseline", str(example_models.good), "--no-perf"]):
        run, _ = gate(repo, "--candidate-results", str(flipped), *other)
        assert run.code == 2, (run.code, run.out[-2000:])
        assert f"--candidate-results {results_file}: higher_is_better.add_em.exact_match is false, but the config task's " \
            "metric_list says higher is better" in run.err, run.err


def test_a_side_may_not_choose_its_documents(repo, outputs, tmp_path):
    """lm-eval --samples on the documents the model got right would pass at 1.000: a side's
    documents must be the split's first N (lm-eval --limit N) or all of it."""
    def only_right(data, results_file):
        for task, path in samples_files(results_file).items():
            metric = data["configs"][task]["metric_list"][0]["metric"]
            kept = [line for line in path.read_text().splitlines(keepends=True) if json.loads(line)[metric] == 1.0]
            path.write_text("".join(kept))
            data["results"][task][f"{metric},none"] = 1.0
            data["n-samples"][task]["effective"] = len(kept)

    picked = tmp_path / "picked"
    _edited_copy(outputs["regressed"], picked, only_right)
    run, _ = gate(repo, "--candidate-results", str(picked), "--baseline-results", str(outputs["good"]))
    assert run.code == 2, (run.code, run.out[-2000:])
    assert "chosen documents" in run.err and "re-run lm-eval without --samples" in run.err, run.err
    assert f"--candidate-results {picked}" in run.err, run.err


def test_an_empty_results_path_is_refused(repo, outputs):
    """``--candidate-results "$UNSET"`` must not read as the current directory."""
    from llm_gitops.evaluation.lm_eval_results import ResultsFileError, read_lm_eval_output

    with pytest.raises(ResultsFileError, match=r'^--candidate-results "": is an empty path'):
        read_lm_eval_output("", label="--candidate-results")


def test_an_unreadable_run_directory_is_named(outputs, tmp_path):
    # Root reads any directory: as root, the reader runs without the capabilities that allow it.
    out = tmp_path / "out"
    shutil.copytree(outputs["good"], out)
    sub = next(p for p in out.iterdir() if p.is_dir())
    code = ("from llm_gitops.evaluation.lm_eval_results import ResultsFileError, read_lm_eval_output\n"
            "try:\n    read_lm_eval_output(__import__('sys').argv[1], label='--candidate-results')\n"
            "except ResultsFileError as exc:\n    print(exc)\n")
    drop = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
    sub.chmod(0)
    try:
        said = subprocess.run([*drop, sys.executable, "-c", code, str(out)], capture_output=True, text=True,
                              check=True).stdout
    finally:
        sub.chmod(0o755)
    assert "cannot be listed (Permission denied)" in said, said


def test_a_metric_function_reports_its_own_names_and_direction(example_models, tmp_path):
    """A local task whose metric is ``!function miss.miss_rate`` (higher_is_better: false),
    reporting ``miss@1``: validate-config accepts a threshold on it, and the gate reads the
    regressed model's rise as a regression, in-process and from lm-eval's output alike
    (the file's direction is taken for a name the task's YAML does not list)."""
    from tests.evaluation.conftest import MISS_TASK, write_miss_task

    repo = write_suite(tmp_path / "repo", count=20)
    write_miss_task(repo)
    (repo / ".llm-gitops.yaml").write_text(
        f"version: 1\neval:\n  tasks: [{MISS_TASK}]\n  batch_size: 8\n"
        "thresholds:\n  - {metric: add_miss/miss@1, max_drop: 2pt}\ntracking: {mlflow: {enabled: false}}\n"
        "report: {to: none}\n")
    valid = run_cli(["validate-config"], cwd=repo)
    assert valid.code == 0 and "threshold add_miss/miss@1: max_drop=2pt" in valid.out, (valid.out, valid.err)
    out = {name: write_lm_eval_output(getattr(example_models, name), repo, [MISS_TASK], tmp_path / name).parents[1]
           for name in ("good", "regressed")}
    models, by_models = gate(repo, "--candidate", str(example_models.regressed), "--baseline", str(example_models.good),
                             "--no-perf")
    files, by_files = gate(repo, "--candidate-results", str(out["regressed"]), "--baseline-results", str(out["good"]))
    assert models.code == files.code == 1, (models.err, files.err)
    assert checks(by_models) == checks(by_files)
    [check] = by_files["checks"]
    assert (check["metric"], check["higher_is_better"], check["verdict"]) == ("add_miss/miss@1", False, "fail"), check
    assert check["candidate"] > check["baseline"]
    # A name the function does not report passes validate-config (nothing can know it before
    # the run) and is refused once the eval has run, naming what it reported; nothing written.
    reports = repo / ".llm-gitops" / "reports"
    shutil.rmtree(reports)
    config = repo / ".llm-gitops.yaml"
    config.write_text(config.read_text().replace("add_miss/miss@1", "add_miss/miss@2"))
    typo = run_cli(["gate", "--no-cache", "--no-perf", "--candidate", str(example_models.regressed), "--baseline",
                    str(example_models.good)], cwd=repo, timeout_s=300)
    assert typo.code == 2 and typo.err.strip().splitlines()[-1] == (
        "error: .llm-gitops.yaml:6: thresholds[0].metric: the eval reported no 'add_miss/miss@2' (task 'add_miss' "
        "reported add_miss/miss@1); name one of those: what a metric function reports is known once it runs"), typo.err
    assert not reports.exists()
