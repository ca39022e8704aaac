"""ci_context: GitHub Actions (with GitHub's own webhook examples), GitLab CI, Jenkins."""

from __future__ import annotations

import copy
import json

import pytest

from llm_gitops.ci_context import CiContext, detect, forge_token
from llm_gitops.errors import ConfigError
from llm_gitops.logsafe import redact
from tests.forges.npm_packages import webhook_example


def _actions_env(tmp_path, payload, event="pull_request", **extra):
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload))
    return {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "Codertocat/Hello-World", "GITHUB_EVENT_NAME": event,
            "GITHUB_EVENT_PATH": str(path), "GITHUB_ACTOR": "Codertocat", "GITHUB_SERVER_URL": "https://forge.invalid",
            "GITHUB_RUN_ID": "42", "GITHUB_API_URL": "http://127.0.0.1:1", "GITHUB_SHA": "f" * 40, **extra}


def test_github_pull_request_event_from_real_example(tmp_path):
    payload = webhook_example("pull_request", "opened")
    ctx = detect(_actions_env(tmp_path, payload))
    pr = payload["pull_request"]
    assert ctx == CiContext("github-actions", "github", "Codertocat/Hello-World", pr["number"], pr["head"]["sha"],
                            pr["base"]["ref"], "Codertocat", False, "http://127.0.0.1:1",
                            "https://forge.invalid/Codertocat/Hello-World/actions/runs/42", event="pull_request")


def test_github_fork_pull_request(tmp_path):
    payload = copy.deepcopy(webhook_example("pull_request", "opened"))
    payload["pull_request"]["head"]["repo"]["full_name"] = "mallory/Hello-World"
    assert detect(_actions_env(tmp_path, payload)).is_fork is True
    payload["pull_request"]["head"]["repo"] = None  # the fork was deleted
    assert detect(_actions_env(tmp_path, payload)).is_fork is True


def test_github_issue_comment_on_a_pr(tmp_path):
    payload = copy.deepcopy(webhook_example("issue_comment", "created"))
    # GitHub's examples lack issue.pull_request; a comment on a PR has it.
    payload["issue"]["pull_request"] = {"url": "http://127.0.0.1:1/repos/Codertocat/Hello-World/pulls/1"}
    ctx = detect(_actions_env(tmp_path, payload, event="issue_comment"))
    assert (ctx.pr_number, ctx.head_sha) == (payload["issue"]["number"], None)


def test_github_push_has_no_pr(tmp_path):
    ctx = detect(_actions_env(tmp_path, {"ref": "refs/heads/main"}, event="push"))
    assert (ctx.pr_number, ctx.head_sha, ctx.forge) == (None, "f" * 40, "github")


def test_github_bad_event_path(tmp_path):
    env = _actions_env(tmp_path, {})
    (tmp_path / "event.json").write_text("{not json")
    with pytest.raises(ConfigError, match="GITHUB_EVENT_PATH"):
        detect(env)


def test_gitlab_merge_request_pipeline():
    env = {"GITLAB_CI": "true", "CI_MERGE_REQUEST_IID": "7", "CI_PROJECT_PATH": "group/adder",
           "CI_PROJECT_ID": "12", "CI_MERGE_REQUEST_PROJECT_ID": "12", "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": "12",
           "CI_COMMIT_SHA": "a" * 40, "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main", "GITLAB_USER_LOGIN": "dana",
           "CI_API_V4_URL": "http://127.0.0.1:2/api/v4", "CI_PIPELINE_URL": "http://127.0.0.1:2/group/adder/-/pipelines/9"}
    ctx = detect(env)
    assert ctx == CiContext("gitlab-ci", "gitlab", "group/adder", 7, "a" * 40, "main", "dana", False,
                            "http://127.0.0.1:2", "http://127.0.0.1:2/group/adder/-/pipelines/9")
    assert detect({**env, "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": "99"}).is_fork is True
    # A merge request pipeline sets the source branch's sha empty; a merged-results one runs on
    # a merge commit (CI_COMMIT_SHA) and names the MR's head there.
    assert detect({**env, "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA": ""}).head_sha == "a" * 40
    merged = detect({**env, "CI_MERGE_REQUEST_EVENT_TYPE": "merged_result", "CI_COMMIT_SHA": "c" * 40,
                     "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA": "b" * 40})
    assert merged.head_sha == "b" * 40
    with pytest.raises(ConfigError, match="CI_MERGE_REQUEST_SOURCE_BRANCH_SHA"):
        detect({**env, "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA": "$(id)"})


@pytest.mark.parametrize(
    "change_url,forge,repo,api",
    [
        ("https://github.com/acme/adder/pull/5", "github", "acme/adder", None),
        ("https://ghe.example.invalid/acme/adder/pull/5", "github", "acme/adder", "https://ghe.example.invalid/api/v3"),
        ("https://gl.example.invalid/group/sub/adder/-/merge_requests/5", "gitlab", "group/sub/adder",
         "https://gl.example.invalid"),
    ],
)
def test_jenkins_change_request(change_url, forge, repo, api):
    env = {"JENKINS_URL": "http://127.0.0.1:8080/", "CHANGE_ID": "5", "CHANGE_URL": change_url, "GIT_COMMIT": "b" * 40,
           "CHANGE_TARGET": "main", "CHANGE_AUTHOR": "dana", "BUILD_URL": "http://127.0.0.1:8080/job/gate/3/"}
    ctx = detect(env)
    # A change build may check out a merge of the PR (GitHub Branch Source's default): GIT_COMMIT
    # is not the PR's head, which the gate asks the forge for (forges.publish.pull_request_context).
    assert (ctx.system, ctx.forge, ctx.repo, ctx.pr_number, ctx.head_sha, ctx.api_url, ctx.is_fork, ctx.run_url) == (
        "jenkins", forge, repo, 5, None, api, False, "http://127.0.0.1:8080/job/gate/3/")
    assert detect({**env, "CHANGE_FORK": "mallory"}).is_fork is True
    # A branch build (no CHANGE_ID) is of GIT_COMMIT.
    branch = {k: v for k, v in env.items() if k not in ("CHANGE_ID", "CHANGE_TARGET", "CHANGE_AUTHOR")}
    assert detect(branch).head_sha == "b" * 40


@pytest.mark.parametrize(
    "git_url,extra,forge,repo,api",
    [
        ("https://github.com/acme/adder.git", {}, "github", "acme/adder", None),
        ("git@github.com:acme/adder.git", {}, "github", "acme/adder", None),
        ("ssh://git@gitlab.com:22/group/sub/adder.git", {}, "gitlab", "group/sub/adder", "https://gitlab.com"),
        ("https://git.example.invalid/acme/adder.git", {"LLM_GITOPS_GITHUB_API_URL": "https://git.example.invalid/api/v3"},
         "github", "acme/adder", "https://git.example.invalid/api/v3"),
        ("https://git.example.invalid/group/adder", {"LLM_GITOPS_GITLAB_URL": "https://git.example.invalid"},
         "gitlab", "group/adder", "https://git.example.invalid"),
        ("https://git.example.invalid/acme/adder.git", {}, None, None, None),  # which forge is it? unknown
        ("https://github.com/acme/../adder.git", {}, None, None, None),
    ],
)
def test_jenkins_branch_build_takes_the_repository_from_the_clone_url(git_url, extra, forge, repo, api):
    # A deploy on main is a branch build: no CHANGE_URL, only the clone URL.
    env = {"JENKINS_URL": "http://127.0.0.1:8080/", "GIT_URL": git_url, "GIT_COMMIT": "b" * 40, **extra}
    ctx = detect(env)
    assert (ctx.system, ctx.forge, ctx.repo, ctx.pr_number, ctx.api_url) == ("jenkins", forge, repo, None, api)


def test_local_run():
    assert detect({}).system == "local" and detect({}).forge is None


def test_forge_token_precedence_and_redaction():
    env = {"GITHUB_TOKEN": "ghs_default_ci_token_1234", "LLM_GITOPS_GITHUB_TOKEN": "project-specific-token-5678",
           "CI_JOB_TOKEN": "job-token-abcdef-123"}
    token = forge_token(env, "github")
    assert token.variable == "LLM_GITOPS_GITHUB_TOKEN" and "project-specific" not in repr(token)
    assert redact("auth project-specific-token-5678") == "auth ***"
    job = forge_token(env, "gitlab")
    assert (job.variable, job.kind) == ("CI_JOB_TOKEN", "job-token")
    assert forge_token({}, "github") is None


def test_an_app_token_login_comes_with_the_github_token_only():
    env = {"GITHUB_TOKEN": "ghs_app_installation_token_1234", "LLM_GITOPS_GITHUB_LOGIN": "adder-ci[bot]",
           "GITLAB_TOKEN": "glpat-some-gitlab-token-1234"}
    assert forge_token(env, "github").login == "adder-ci[bot]"
    assert forge_token(env, "gitlab").login is None  # GitLab always tells who a token is
    assert forge_token({"GITHUB_TOKEN": "ghs_app_installation_token_1234"}, "github").login is None
    with pytest.raises(ConfigError, match=r"LLM_GITOPS_GITHUB_LOGIN=adder ci: not a GitHub login"):
        forge_token({**env, "LLM_GITOPS_GITHUB_LOGIN": "adder ci"}, "github")


def test_every_value_in_an_error_stays_on_one_line(tmp_path):
    for env in ({"GITLAB_CI": "true", "CI_MERGE_REQUEST_IID": "7\nLLM_GITOPS_VERDICT=pass"},
                {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "a/b\r\nx"},
                {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_PATH": str(tmp_path / "a\nb.json")}):
        with pytest.raises(ConfigError) as err:
            detect(env)
        assert "\n" not in str(err.value) and "\r" not in str(err.value)
