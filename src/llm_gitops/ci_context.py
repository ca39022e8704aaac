"""The one place that reads CI environment variables.

``detect(env)`` turns the variables of GitHub Actions, GitLab CI or Jenkins into a
frozen :class:`CiContext`: which forge, which repository and pull/merge request, which
head commit, who triggered it, whether the change comes from a fork, where the forge's
API is and where this CI run can be seen. ``forge_token(env, forge)`` picks the token
to talk to that forge. Everything else receives these values as arguments, so core code
never depends on the CI it runs in.

Overrides that work under every CI (and locally): ``LLM_GITOPS_GITHUB_API_URL`` and
``LLM_GITOPS_GITLAB_URL`` point at another API endpoint (GitHub Enterprise, a self-hosted
GitLab, a test stand-in).
"""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from llm_gitops.errors import ConfigError
from llm_gitops.logsafe import register_secret

System = Literal["github-actions", "gitlab-ci", "jenkins", "local"]
ForgeName = Literal["github", "gitlab"]

# Token variables per forge, most specific first. The project's own names win so that
# a team can give llm-gitops a token with more rights than the CI's default one.
TOKEN_VARIABLES: dict[str, tuple[str, ...]] = {
    "github": ("LLM_GITOPS_GITHUB_TOKEN", "GITHUB_TOKEN", "GH_TOKEN"),
    "gitlab": ("LLM_GITOPS_GITLAB_TOKEN", "GITLAB_TOKEN", "CI_JOB_TOKEN"),
}


@dataclass(frozen=True)
class CiContext:
    """Where this run happens. Fields the CI does not give are None."""

    system: System
    forge: ForgeName | None
    repo: str | None  # "owner/name" (GitHub) or "group/project" (GitLab)
    pr_number: int | None  # PR number or MR iid
    head_sha: str | None
    base_ref: str | None
    actor: str | None
    is_fork: bool
    api_url: str | None  # None = the forge client's default public endpoint
    run_url: str | None  # a link to this CI run, for statuses


@dataclass(frozen=True)
class ForgeToken:
    """A token and how the forge expects it (GitLab's CI job token goes in another header)."""

    value: str
    variable: str
    kind: Literal["token", "job-token"] = "token"

    def __repr__(self) -> str:  # never show the value
        return f"ForgeToken(variable={self.variable!r}, kind={self.kind!r})"


def detect(env: Mapping[str, str] | None = None) -> CiContext:
    """Read the CI context from ``env`` (default: the process environment)."""
    env = os.environ if env is None else env
    if _truthy(env.get("GITHUB_ACTIONS")):
        return _github_actions(env)
    if _truthy(env.get("GITLAB_CI")) or env.get("CI_PROJECT_PATH"):
        return _gitlab_ci(env)
    if env.get("JENKINS_URL") or env.get("BUILD_URL") and env.get("JOB_NAME"):
        return _jenkins(env)
    return CiContext("local", None, None, None, None, None, None, False, None, None)


def forge_token(env: Mapping[str, str] | None, forge: str) -> ForgeToken | None:
    """The first non-empty token variable for ``forge``; registered as a secret."""
    env = os.environ if env is None else env
    for name in TOKEN_VARIABLES.get(forge, ()):
        value = (env.get(name) or "").strip()
        if value:
            register_secret(value)
            return ForgeToken(value, name, "job-token" if name == "CI_JOB_TOKEN" else "token")
    return None


# ----------------------------------------------------------------------------- GitHub
def _github_actions(env: Mapping[str, str]) -> CiContext:
    repo = env.get("GITHUB_REPOSITORY") or None
    payload = _event_payload(env.get("GITHUB_EVENT_PATH"))
    event = env.get("GITHUB_EVENT_NAME", "")
    pr_number = head_sha = base_ref = None
    is_fork = False
    pull = payload.get("pull_request") if isinstance(payload.get("pull_request"), dict) else None
    if pull is not None:
        pr_number = _int(pull.get("number"))
        head, base = pull.get("head") or {}, pull.get("base") or {}
        head_sha = head.get("sha")
        base_ref = base.get("ref")
        head_repo = head.get("repo") or {}
        base_repo = (base.get("repo") or {}).get("full_name") or repo
        # A deleted fork has head.repo null: treat it as a fork (no trust).
        is_fork = bool(head_repo.get("fork")) or not head_repo or (
            bool(head_repo.get("full_name")) and head_repo.get("full_name") != base_repo
        )
    elif event == "issue_comment" and isinstance(payload.get("issue"), dict) and payload["issue"].get("pull_request"):
        # A comment on a PR: the head sha is not in the payload; the forge is asked later.
        pr_number = _int(payload["issue"].get("number"))
    if pr_number is None:
        # On issue_comment GITHUB_SHA is the default branch's tip, not the PR's head.
        head_sha = env.get("GITHUB_SHA") or None
    server = (env.get("GITHUB_SERVER_URL") or "").rstrip("/")
    run_id = env.get("GITHUB_RUN_ID")
    run_url = f"{server}/{repo}/actions/runs/{run_id}" if server and repo and run_id else None
    api_url = env.get("LLM_GITOPS_GITHUB_API_URL") or env.get("GITHUB_API_URL") or None
    return CiContext("github-actions", "github", repo, pr_number, head_sha, base_ref,
                     env.get("GITHUB_ACTOR") or None, is_fork, api_url, run_url)


def _event_payload(path: str | None) -> dict:
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"GITHUB_EVENT_PATH={path} does not exist", hint="unset it or point it at the event JSON") from None
    except ValueError as exc:
        raise ConfigError(f"GITHUB_EVENT_PATH={path} is not JSON ({exc})", hint="point it at the event payload file") from None
    return data if isinstance(data, dict) else {}


# ----------------------------------------------------------------------------- GitLab
def _gitlab_ci(env: Mapping[str, str]) -> CiContext:
    iid = _int(env.get("CI_MERGE_REQUEST_IID"))
    repo = env.get("CI_MERGE_REQUEST_PROJECT_PATH") or env.get("CI_PROJECT_PATH") or None
    source, target = env.get("CI_MERGE_REQUEST_SOURCE_PROJECT_ID"), env.get("CI_MERGE_REQUEST_PROJECT_ID")
    is_fork = bool(iid and source and target and source != target)
    api = env.get("LLM_GITOPS_GITLAB_URL") or env.get("CI_API_V4_URL") or env.get("CI_SERVER_URL") or None
    return CiContext(
        "gitlab-ci", "gitlab", repo, iid, env.get("CI_COMMIT_SHA") or None,
        env.get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME") or None, env.get("GITLAB_USER_LOGIN") or None, is_fork,
        _gitlab_base(api), env.get("CI_PIPELINE_URL") or env.get("CI_JOB_URL") or None,
    )


def _gitlab_base(url: str | None) -> str | None:
    # python-gitlab wants the server URL; CI gives .../api/v4.
    if not url:
        return None
    url = url.rstrip("/")
    return url[: -len("/api/v4")] if url.endswith("/api/v4") else url


# ----------------------------------------------------------------------------- Jenkins
def _jenkins(env: Mapping[str, str]) -> CiContext:
    change_url = env.get("CHANGE_URL") or ""
    forge, repo, api_url = _forge_from_change_url(change_url)
    if forge == "github":
        api_url = env.get("LLM_GITOPS_GITHUB_API_URL") or api_url
    elif forge == "gitlab":
        api_url = _gitlab_base(env.get("LLM_GITOPS_GITLAB_URL")) or api_url
    return CiContext(
        "jenkins", forge, repo, _int(env.get("CHANGE_ID")), env.get("GIT_COMMIT") or None,
        env.get("CHANGE_TARGET") or None, env.get("CHANGE_AUTHOR") or None,
        # The branch-source plugins set CHANGE_FORK to the fork's owner for fork PRs.
        bool(env.get("CHANGE_FORK")), api_url, env.get("BUILD_URL") or env.get("JOB_URL") or None,
    )


def _forge_from_change_url(url: str) -> tuple[ForgeName | None, str | None, str | None]:
    """``https://host/owner/repo/pull/5`` -> github; ``https://host/group/proj/-/merge_requests/5`` -> gitlab."""
    if not url:
        return None, None, None
    parts = urllib.parse.urlsplit(url)
    path = parts.path.strip("/")
    server = f"{parts.scheme}://{parts.netloc}"
    if "/-/merge_requests/" in f"/{path}/":
        return "gitlab", path.split("/-/merge_requests/")[0], server
    segments = path.split("/")
    if len(segments) >= 4 and segments[-2] == "pull":
        repo = "/".join(segments[-4:-2])
        # github.com's API lives on its own host (the client's default); Enterprise under /api/v3.
        api = None if parts.netloc.lower() in ("github.com", "www.github.com") else f"{server}/api/v3"
        return "github", repo, api
    return None, None, None


def _int(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes")
