"""publish_gate_report with CI environments pointing at the stand-ins."""

from __future__ import annotations

import json
import logging

import pytest

from llm_gitops.config.load import parse_config
from llm_gitops.errors import ExternalServiceError
from llm_gitops import ci_context
from llm_gitops.forges import publish
from llm_gitops.forges.publish import status_for_verdict
from tests.forges.conftest import GITHUB_TOKEN, GITLAB_TOKEN


def publish_gate_report(*, env, target="auto", config=None, **kwargs):
    """As the gate command calls it: the context detected once from ``env``, the token picked for its forge."""
    ctx = ci_context.detect(env)
    chosen = config.report.to if target == "auto" and config is not None else target
    forge = publish.forge_for(ctx, chosen)
    token = ci_context.forge_token(env, forge) if forge else None
    return publish.publish_gate_report(ctx=ctx, token=token, target=target, config=config, **kwargs)

REPORT = "## llm-gitops gate: **pass**\n\n| metric | value |\n|---|---|\n| add_em/exact_match | 0.81 |\n"


def github_env(seeded, tmp_path, *, fork=False, token=True):
    pr = seeded.standin.pull(seeded.repo, seeded.number)
    head_repo = "mallory/adder-model" if fork else seeded.repo
    event = {"action": "synchronize", "number": seeded.number, "pull_request": {
        "number": seeded.number, "head": {"sha": pr["head_sha"], "ref": "feature", "repo": {"full_name": head_repo, "fork": fork}},
        "base": {"ref": "main", "repo": {"full_name": seeded.repo}}}}
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    env = {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": seeded.repo, "GITHUB_EVENT_NAME": "pull_request",
           "GITHUB_EVENT_PATH": str(path), "GITHUB_API_URL": seeded.standin.url, "GITHUB_SERVER_URL": seeded.standin.url,
           "GITHUB_RUN_ID": "77", "GITHUB_ACTOR": "contributor"}
    if token:
        env["GITHUB_TOKEN"] = GITHUB_TOKEN
    return env


def gitlab_env(seeded, *, fork=False, token=True):
    pid = str(seeded.standin.project_id(seeded.repo))
    env = {"GITLAB_CI": "true", "CI_PROJECT_PATH": seeded.repo, "CI_MERGE_REQUEST_IID": str(seeded.number),
           "CI_MERGE_REQUEST_PROJECT_ID": pid, "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": "4242" if fork else pid,
           "CI_COMMIT_SHA": seeded.head_sha, "CI_API_V4_URL": f"{seeded.standin.url}/api/v4",
           "CI_PIPELINE_URL": f"{seeded.standin.url}/{seeded.repo}/-/pipelines/5"}
    if token:
        env["GITLAB_TOKEN"] = GITLAB_TOKEN
    return env


def test_github_two_runs_one_comment_and_a_status_each(github, tmp_path, fast_retry):
    env = github_env(github, tmp_path)
    first = publish_gate_report(markdown=REPORT, verdict="pass", summary="gate passed: 3/3 checks", env=env, retry=fast_retry)
    github.standin.push(github.repo, "feature", {"model.txt": "v2"})
    second = publish_gate_report(markdown=REPORT.replace("pass", "fail"), verdict="fail", summary="gate failed",
                                 env=github_env(github, tmp_path), retry=fast_retry)
    assert first.posted and second.posted and first.comment_url == second.comment_url
    comments = github.standin.comments(github.repo, github.number)
    assert len(comments) == 1 and "fail" in comments[0]["body"]
    states = [(s["state"], s["context"], s["target_url"]) for s in github.standin.statuses(github.repo)]
    assert [s[:2] for s in states] == [("success", "llm-gitops/gate"), ("failure", "llm-gitops/gate")]
    assert states[0][2] == f"{github.standin.url}/{github.repo}/actions/runs/77"
    assert [c["conclusion"] for c in github.standin.check_runs(github.repo)] == ["success", "failure"]
    assert github.standin.check_runs(github.repo)[0]["output"]["summary"].startswith("<!-- llm-gitops:gate -->") is False


def test_gitlab_post_and_update(gitlab, fast_retry):
    env = gitlab_env(gitlab)
    r1 = publish_gate_report(markdown=REPORT, verdict="pass", summary="passed", env=env, retry=fast_retry)
    r2 = publish_gate_report(markdown=REPORT + "\nrerun", verdict="inconclusive", summary="inconclusive", env=env,
                             environment="staging", retry=fast_retry)
    assert r1.posted and r2.posted
    notes = gitlab.standin.notes(gitlab.repo, gitlab.number)
    assert sorted(n["body"].splitlines()[0] for n in notes) == ["<!-- llm-gitops:gate -->", "<!-- llm-gitops:gate:staging -->"]
    assert [(s["state"], s["name"]) for s in gitlab.standin.statuses(gitlab.repo)] == [
        ("success", "llm-gitops/gate"), ("failed", "llm-gitops/gate/staging")]
    assert r1.comment_url.endswith(f"/{gitlab.repo}/-/merge_requests/{gitlab.number}#note_{notes[0]['id']}")


def test_fork_without_token_prints_and_does_not_post(github, tmp_path, capsys):
    result = publish_gate_report(markdown=REPORT, verdict="pass", summary="ok", env=github_env(github, tmp_path, fork=True, token=False))
    assert not result.posted and "fork" in result.reason
    assert REPORT.strip() in capsys.readouterr().out
    assert github.standin.requests_snapshot() == []


def test_gitlab_fork_without_token(gitlab, capsys):
    result = publish_gate_report(markdown=REPORT, verdict="pass", summary="ok", env=gitlab_env(gitlab, fork=True, token=False))
    assert not result.posted and "fork" in result.reason and "GITLAB_TOKEN" in result.reason
    assert "add_em/exact_match" in capsys.readouterr().out


def test_missing_token_names_the_variable(github, tmp_path, capsys):
    result = publish_gate_report(markdown=REPORT, verdict="pass", summary="ok", env=github_env(github, tmp_path, token=False))
    assert not result.posted and "GITHUB_TOKEN" in result.reason
    assert "add_em" in capsys.readouterr().out


def test_fork_with_read_only_token_is_reported_not_raised(github, tmp_path, capsys):
    # On a fork PR the Actions token is read-only: reading works, every write is 403.
    github.standin.add_user("github-actions", token="ghs_ReadOnlyForkToken0123456789", read_only=True)
    env = {**github_env(github, tmp_path, fork=True), "GITHUB_TOKEN": "ghs_ReadOnlyForkToken0123456789"}
    result = publish_gate_report(markdown=REPORT, verdict="pass", summary="ok", env=env)
    assert not result.posted and result.reason.startswith("fork pull request: the token may not write")
    assert "ghs_ReadOnly" not in result.reason
    assert "add_em" in capsys.readouterr().out
    assert github.standin.comments(github.repo, github.number) == []
    # The same 403 on a PR from the same repository is a real error.
    github.standin.add_user("other", token="ghs_ReadOnlySameRepo0123456789", read_only=True)
    env = {**github_env(github, tmp_path), "GITHUB_TOKEN": "ghs_ReadOnlySameRepo0123456789"}
    with pytest.raises(ExternalServiceError, match="403"):
        publish_gate_report(markdown=REPORT, verdict="pass", summary="ok", env=env)


def test_a_status_refused_after_the_comment_says_the_comment_is_there(github, tmp_path):
    env = github_env(github, tmp_path)
    event = json.loads((tmp_path / "event.json").read_text())
    event["pull_request"]["head"]["sha"] = "e" * 40  # a commit the forge does not have: 422 on the status
    (tmp_path / "event.json").write_text(json.dumps(event))
    with pytest.raises(ExternalServiceError) as caught:
        publish_gate_report(markdown=REPORT, verdict="pass", summary="ok", env=env)
    [comment] = github.standin.comments(github.repo, github.number)
    message = str(caught.value)
    assert message.startswith("the comment was created (") and f"#issuecomment-{comment['id']}), but the commit status was not set:" in message
    assert "422" in message


def test_outside_ci_and_target_none(capsys):
    assert "not in a pull-request pipeline" in publish_gate_report(markdown="r", verdict="pass", summary="s", env={}).reason
    none = publish_gate_report(markdown="r", verdict="pass", summary="s", target="none", env={"GITHUB_ACTIONS": "true"})
    assert not none.posted and "'none'" in none.reason


def test_config_report_to_none_wins_over_auto(github, tmp_path):
    config = parse_config("version: 1\nreport:\n  to: none\n", None)
    result = publish_gate_report(markdown="r", verdict="pass", summary="s", config=config, env=github_env(github, tmp_path))
    assert not result.posted and github.standin.requests_snapshot() == []


@pytest.mark.parametrize("policy,state", [("fail", "failure"), ("pass", "success"), ("neutral", "neutral")])
def test_inconclusive_follows_gate_policy(policy, state):
    assert status_for_verdict("inconclusive", policy) == state
    assert status_for_verdict("pass", policy) == "success" and status_for_verdict("fail", policy) == "failure"


def test_bad_token_is_an_error_that_never_shows_the_token(github, tmp_path, caplog, capsys):
    bad = "ghp_" + "Q" * 36
    env = {**github_env(github, tmp_path), "GITHUB_TOKEN": bad}
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ExternalServiceError) as err:
        publish_gate_report(markdown=REPORT, verdict="pass", summary="ok", env=env)
    out = capsys.readouterr()
    assert "GITHUB_TOKEN" in str(err.value)
    for text in (str(err.value), repr(err.value), caplog.text, out.out, out.err):
        assert bad not in text
    assert github.standin.comments(github.repo, github.number) == []


def test_tokens_never_reach_logs_on_retries(github, tmp_path, caplog, fast_retry):
    caplog.set_level(logging.DEBUG)
    github.standin.inject_errors(2)
    github.standin.inject_garbage(1)
    publish_gate_report(markdown=REPORT, verdict="pass", summary="ok", env=github_env(github, tmp_path), retry=fast_retry)
    assert "retrying" in caplog.text and GITHUB_TOKEN not in caplog.text


def test_unknown_pr_is_one_line_error(github, tmp_path, fast_retry):
    env = github_env(github, tmp_path)
    event = json.loads(open(env["GITHUB_EVENT_PATH"]).read())
    event["pull_request"]["number"] = 404
    open(env["GITHUB_EVENT_PATH"], "w").write(json.dumps(event))
    with pytest.raises(ExternalServiceError, match=r"pull request #404 not found in acme/adder-model"):
        publish_gate_report(markdown=REPORT, verdict="pass", summary="ok", env=env, retry=fast_retry)
