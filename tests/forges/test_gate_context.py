"""Which forge, commit and pull request a gate reports on, through the real
``llm-gitops gate`` against the forge stand-ins (measurements faked, tests/forges/ci_env.py).

- A token goes only to its own forge: a report target that is not the CI job's forge is
  exit 2 before anything is measured, and no request leaves.
- The status (and the MLflow run) is on the pull request's head, also where the CI checks
  out a merge (GitLab merged-results pipelines, Jenkins change builds) or names no head (a
  GitHub comment event): there the forge's head must be the checkout or a side of it.
- A fork's pull request under an event that holds the base repository's secrets is refused.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.corpus.harness import run_cli, snapshot
from tests.forges.conftest import GITHUB_TOKEN, GITLAB_TOKEN, REPO
from tests.forges.ci_env import github_env, pull_request_event
from tests.standins.forge import ForgeStandin

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "init.defaultBranch=main"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run([*GIT, "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


def checkout(repo: Path, *, merge: bool) -> tuple[str, str]:
    """``repo`` as a git checkout of a pull request: (HEAD, the PR's head). With ``merge``,
    HEAD is a merge of the PR's head into a newer main, as a merge build checks out."""
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    git(repo, "checkout", "-qb", "feature")
    (repo / "CHANGE.md").write_text("a change\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "the change")
    head = git(repo, "rev-parse", "HEAD")
    if merge:
        git(repo, "checkout", "-q", "main")
        (repo / "OTHER.md").write_text("main moved on\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "main moves")
        git(repo, "merge", "-q", "--no-ff", "-m", "merge", "feature")
    return git(repo, "rev-parse", "HEAD"), head


def test_a_report_target_of_another_forge_sends_no_token_anywhere(site):
    other = "gitlab" if site.kind == "github" else "github"
    token = {"GITLAB_TOKEN": GITLAB_TOKEN} if other == "gitlab" else {"GITHUB_TOKEN": GITHUB_TOKEN}
    before = snapshot(site.repo_dir)
    env = {k: v for k, v in site.env.items() if not k.startswith("_")}
    run = run_cli(["gate", "--report-to", other], cwd=site.repo_dir, env={**env, **token})
    assert run.code == 2, run.err
    [line] = run.error_lines
    assert f"the report target is {other}, but this" in line and f"for a {site.kind} repository" in line, line
    assert GITHUB_TOKEN not in run.err and GITLAB_TOKEN not in run.err
    assert site.standin.requests_snapshot() == []  # nothing reached the job's forge either
    assert snapshot(site.repo_dir) == before  # refused before anything was measured or written
    # report.to in the config is held to the same rule.
    config = site.repo_dir / ".llm-gitops.yaml"
    config.write_text(config.read_text().replace("to: none", f"to: {other}"))
    run = run_cli(["gate"], cwd=site.repo_dir, env={**env, **token})
    assert run.code == 2 and f"the report target is {other}" in run.err, run.err
    assert site.standin.requests_snapshot() == []


@pytest.mark.parametrize("site", ["gitlab"], indirect=True)
def test_a_gitlab_merged_results_pipeline_reports_on_the_merge_requests_head(site):
    head = site.standin.merge_request(REPO, site.number)["sha"]
    merge_commit = "c" * 40  # what CI_COMMIT_SHA names in a merged-results pipeline
    run = site.gate(CI_COMMIT_SHA=merge_commit, CI_MERGE_REQUEST_EVENT_TYPE="merged_result",
                    CI_MERGE_REQUEST_SOURCE_BRANCH_SHA=head)
    assert run.code == 0, run.err
    assert [s["sha"] for s in site.statuses()] == [head]


def _comment_event(path: Path, number: int) -> None:
    path.write_text(json.dumps({"action": "created", "comment": {"body": "/gate $(id)"},
                                "issue": {"number": number, "pull_request": {"url": "http://127.0.0.1:1/pulls"}}}))


@pytest.fixture
def github_pr(tmp_path):
    """A GitHub stand-in whose repository has a pull request #1 from ``feature``."""
    standin = ForgeStandin.start(kind="github", token=GITHUB_TOKEN)
    standin.add_repo(REPO, files={"README.md": "adder\n"})
    yield standin
    standin.stop()


@pytest.mark.parametrize("merge", [False, True], ids=["head checkout", "merge checkout"])
def test_a_comment_event_reports_and_tracks_on_the_checked_out_pull_request_head(github_pr, tmp_path, monkeypatch,
                                                                                  merge):
    from tests.forges.ci_env import fake_measurements, gate_repo

    fake_measurements(monkeypatch)
    repo = gate_repo(tmp_path)
    config = repo / ".llm-gitops.yaml"
    config.write_text(config.read_text().replace("enabled: false", "enabled: true"))
    checked_out, head = checkout(repo, merge=merge)
    number = github_pr.add_pull(REPO, head="feature", head_sha=head)
    env = github_env(github_pr.url, REPO, tmp_path / "event.json", token=GITHUB_TOKEN, event_name="issue_comment")
    _comment_event(tmp_path / "event.json", number)
    env["GITHUB_SHA"] = checked_out
    run = run_cli(["gate", "--report-to", "github"], cwd=repo, env=env)
    assert run.code == 0, run.err
    assert [s["sha"] for s in github_pr.statuses(REPO) if s["context"] == "llm-gitops/gate"] == [head]
    # The MLflow run is recorded against the same commit as the status, not the checkout's merge.
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{repo / '.llm-gitops' / 'mlflow.db'}")
    [run_info] = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert run_info.data.tags["git_sha"] == head


def test_a_comment_event_without_a_token_is_refused(github_pr, tmp_path, monkeypatch):
    from tests.forges.ci_env import fake_measurements, gate_repo

    evaluated = fake_measurements(monkeypatch)
    repo = gate_repo(tmp_path)
    env = github_env(github_pr.url, REPO, tmp_path / "event.json", token=None, event_name="issue_comment")
    _comment_event(tmp_path / "event.json", 1)
    run = run_cli(["gate"], cwd=repo, env=env)
    assert run.code == 2 and evaluated == [], run.err
    assert "issue_comment run's pull request #1 could not be looked up" in run.err and "GITHUB_TOKEN" in run.err


def test_a_comment_event_whose_checkout_is_not_the_pull_request_is_refused(github_pr, tmp_path, monkeypatch):
    from tests.forges.ci_env import fake_measurements, gate_repo

    evaluated = fake_measurements(monkeypatch)
    repo = gate_repo(tmp_path)
    checkout(repo, merge=False)
    git(repo, "checkout", "-q", "main")  # the job checked out the default branch, not the PR
    number = github_pr.add_pull(REPO, head="feature", head_sha=git(repo, "rev-parse", "feature"))
    env = github_env(github_pr.url, REPO, tmp_path / "event.json", token=GITHUB_TOKEN, event_name="issue_comment")
    _comment_event(tmp_path / "event.json", number)
    before = snapshot(repo)
    run = run_cli(["gate"], cwd=repo, env=env)
    assert run.code == 2, run.err
    [line] = run.error_lines
    assert f"pull request {REPO}#{number}'s head is" in line and "neither that commit nor a merge of it" in line, line
    assert "check out the pull request's head" in line
    assert evaluated == [] and snapshot(repo) == before
    assert github_pr.statuses(REPO) == [] and github_pr.comments(REPO, number) == []


def test_a_jenkins_merge_build_reports_on_the_pull_request_head(github_pr, tmp_path, monkeypatch):
    from tests.forges.ci_env import fake_measurements, gate_repo

    fake_measurements(monkeypatch)
    repo = gate_repo(tmp_path)
    merge_commit, head = checkout(repo, merge=True)
    number = github_pr.add_pull(REPO, head="feature", head_sha=head)
    env = {"JENKINS_URL": "http://127.0.0.1:9/", "BUILD_URL": "http://127.0.0.1:9/job/adder/PR-1/1/",
           "CHANGE_ID": str(number), "CHANGE_URL": f"https://github.com/{REPO}/pull/{number}", "CHANGE_TARGET": "main",
           "GIT_COMMIT": merge_commit, "LLM_GITOPS_GITHUB_API_URL": github_pr.url, "GITHUB_TOKEN": GITHUB_TOKEN}
    run = run_cli(["gate", "--report-to", "github"], cwd=repo, env=env)
    assert run.code == 0, run.err
    assert [s["sha"] for s in github_pr.statuses(REPO) if s["context"] == "llm-gitops/gate"] == [head]
    assert len(github_pr.comments(REPO, number)) == 1


def test_a_forks_pull_request_under_a_privileged_event_is_refused(github_pr, tmp_path, monkeypatch):
    from tests.forges.ci_env import fake_measurements, gate_repo

    evaluated = fake_measurements(monkeypatch)
    repo = gate_repo(tmp_path)
    _, head = checkout(repo, merge=False)
    number = github_pr.add_pull(REPO, head="feature", head_sha=head, fork_of="mallory/adder-model")
    target = github_env(github_pr.url, REPO, tmp_path / "event.json", token=GITHUB_TOKEN,
                        event=pull_request_event(number, head, REPO, fork=True), event_name="pull_request_target")
    comment = github_env(github_pr.url, REPO, tmp_path / "comment.json", token=GITHUB_TOKEN, event_name="issue_comment")
    _comment_event(tmp_path / "comment.json", number)  # the forge says the PR is a fork's
    for env, event in ((target, "pull_request_target"), (comment, "issue_comment")):
        run = run_cli(["gate"], cwd=repo, env=env)
        assert run.code == 2, run.err
        [line] = run.error_lines
        assert f"this {event} run is for a fork's pull request #{number}" in line, line
        assert "gate pull requests on the pull_request event" in line
    assert evaluated == [] and github_pr.statuses(REPO) == [] and github_pr.comments(REPO, number) == []
    # The same fork PR on the pull_request event runs (its token is read-only there: not posted).
    plain = github_env(github_pr.url, REPO, tmp_path / "event.json", token=None,
                       event=pull_request_event(number, head, REPO, fork=True))
    run = run_cli(["gate", "--report-to", "github"], cwd=repo, env=plain)
    assert run.code == 0 and "report not posted: fork pull request" in run.err, run.err
