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

The files the CI reads step outputs from (``$GITHUB_OUTPUT``, ``$GITHUB_STEP_SUMMARY``)
are read here too and handed to ``commands.step_outputs`` on the context.

Everything read is validated: a CI variable or event payload that is not what the CI
writes (a non-numeric merge request iid, an event whose ``pull_request.head`` is a
string, a URL without a host) is a ConfigError naming the variable, file and field,
raised before anything is measured. Values quoted in messages are escaped to one line.
"""

from __future__ import annotations

import json
import os
import re
import stat
import urllib.parse
from collections.abc import Mapping
import dataclasses
from dataclasses import dataclass
from typing import Literal

from llm_gitops.errors import ConfigError
from llm_gitops.logsafe import register_secret, strip_userinfo, url_without_userinfo

System = Literal["github-actions", "gitlab-ci", "jenkins", "local"]
ForgeName = Literal["github", "gitlab"]

# The account a GitHub token writes as, for App tokens that may not read GET /user.
LOGIN_VARIABLE = "LLM_GITOPS_GITHUB_LOGIN"
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
    github_output: str | None = None  # $GITHUB_OUTPUT: the step outputs file
    step_summary: str | None = None  # $GITHUB_STEP_SUMMARY: the job summary file
    ref_name: str | None = None  # the branch or tag the run is for (GitHub, GitLab; a checkout may be detached)
    # GitHub's event name (pull_request, issue_comment, ...); None under other CIs.
    event: str | None = None


@dataclass(frozen=True)
class ForgeToken:
    """A token and how the forge expects it (GitLab's CI job token goes in another header).

    ``login``: the account the token writes as, when the forge cannot be asked (a GitHub
    App installation token other than Actions' own: ``LLM_GITOPS_GITHUB_LOGIN=SLUG[bot]``).
    """

    value: str
    variable: str
    kind: Literal["token", "job-token"] = "token"
    login: str | None = None

    def __repr__(self) -> str:  # never show the value
        return f"ForgeToken(variable={self.variable!r}, kind={self.kind!r}, login={self.login!r})"


def detect(env: Mapping[str, str] | None = None) -> CiContext:
    """Read the CI context from ``env`` (default: the process environment); ConfigError if it is malformed."""
    env = os.environ if env is None else env
    if _truthy(env.get("GITHUB_ACTIONS")):
        ctx = _github_actions(env)
    elif _truthy(env.get("GITLAB_CI")) or env.get("CI_PROJECT_PATH"):
        ctx = _gitlab_ci(env)
    elif env.get("JENKINS_URL") or env.get("BUILD_URL") and env.get("JOB_NAME"):
        ctx = _jenkins(env)
    else:
        ctx = CiContext("local", None, None, None, None, None, None, False, None, None)
    # act, a self-hosted runner or a developer may set these outside GitHub Actions too.
    return dataclasses.replace(ctx, github_output=env.get("GITHUB_OUTPUT") or None,
                               step_summary=env.get("GITHUB_STEP_SUMMARY") or None)


def forge_token(env: Mapping[str, str] | None, forge: str) -> ForgeToken | None:
    """The first non-empty token variable for ``forge``; registered as a secret."""
    env = os.environ if env is None else env
    for name in TOKEN_VARIABLES.get(forge, ()):
        value = (env.get(name) or "").strip()
        if value:
            register_secret(value)
            login = _env_match(env, LOGIN_VARIABLE, _GITHUB_LOGIN, "a GitHub login such as my-app[bot]") \
                if forge == "github" else None
            return ForgeToken(value, name, "job-token" if name == "CI_JOB_TOKEN" else "token", login)
    return None


def refuse_other_forge(ctx: CiContext, forge: str, what: str) -> None:
    """ConfigError when ``forge`` is not the forge this CI run is in: the context's
    repository, pull request and API URL are that forge's, and a token for one forge must
    never be sent to the other's host."""
    if ctx.forge is not None and forge != ctx.forge:
        raise ConfigError(f"{what} is {forge}, but this {ctx.system} run is for a {ctx.forge} repository "
                          f"({ctx.repo or 'unnamed'}), whose API is not {forge}'s",
                          hint=f"use auto (the forge of the CI job), or run it in the {forge} repository's CI")


# Events that run with the base repository's secrets and a write token, whatever the PR.
PRIVILEGED_EVENTS = ("pull_request_target", "issue_comment")


def refuse_privileged_fork(ctx: CiContext, command: str) -> None:
    """ConfigError for a fork's pull request under an event that holds the base
    repository's secrets: evaluating the fork's code there (its task YAMLs import Python)
    would hand them to it; and checking out the base instead would report on a commit
    the run did not evaluate."""
    if ctx.event in PRIVILEGED_EVENTS and ctx.pr_number is not None and ctx.head_sha is None:
        raise ConfigError(
            f"{command}: this {ctx.event} run's pull request #{ctx.pr_number} could not be looked up on the forge, so "
            "neither its head commit nor whether it comes from a fork is known",
            hint=f"give the job a token to read it ({' or '.join(TOKEN_VARIABLES.get(ctx.forge or 'github', ()))})")
    if ctx.is_fork and ctx.event in PRIVILEGED_EVENTS:
        raise ConfigError(
            f"{command}: this {ctx.event} run is for a fork's pull request #{ctx.pr_number}; {ctx.event} runs with the "
            "base repository's secrets and a write token, so a fork's code is not evaluated under it",
            hint="gate pull requests on the pull_request event (a fork's run gets a read-only token, and the report is "
                 "printed instead of posted)")


# ----------------------------------------------------------------------------- checks
# Patterns are applied with fullmatch (a "$" would let a trailing newline through).
_SEGMENT = r"(?!\.\.?(?:/|$))[A-Za-z0-9_.-]+"  # a path segment, never "." or ".."
_REPO = re.compile(rf"{_SEGMENT}/{_SEGMENT}")
_PROJECT = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})+")
_SHA = re.compile(r"[0-9a-fA-F]{7,64}")
_GITHUB_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?")
_REF = re.compile(r"[^\x00-\x1f\x7f]{1,1024}")
# GitHub caps a webhook payload at 25 MB; an event file larger than that is not one.
MAX_EVENT_BYTES = 25 * 1024 * 1024
PR_EVENTS = ("pull_request", "pull_request_target", "pull_request_review", "pull_request_review_comment")


def shown(value: object, limit: int = 120) -> str:
    """``value`` for a one-line message: control characters escaped, long text cut."""
    text = str(value)
    if not text.isprintable():
        text = repr(text)[1:-1]
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _bad_var(name: str, value: str, problem: str, hint: str) -> ConfigError:
    return ConfigError(f"{name}={shown(value)}: {problem}", hint=hint)


def _env_int(env: Mapping[str, str], name: str) -> int | None:
    """A positive integer variable (a PR number, an iid, a project id); unset or empty is None."""
    value = (env.get(name) or "").strip()
    if not value:
        return None
    if not value.isdigit() or not value.isascii() or int(value) < 1 or len(value) > 18:
        raise _bad_var(name, value, "not a positive whole number", f"unset {name} or set it to the number the CI gives")
    return int(value)


def _env_match(env: Mapping[str, str], name: str, pattern: re.Pattern, what: str) -> str | None:
    value = env.get(name) or ""
    if not value:
        return None
    if not pattern.fullmatch(value):
        raise _bad_var(name, value, f"not {what}", f"unset {name} or set it to {what}")
    return value


def _env_url(env: Mapping[str, str], *names: str) -> str | None:
    """The first set URL among ``names``, checked to be http(s)://HOST[...]."""
    for name in names:
        value = env.get(name) or ""
        if value:
            return _checked_url(name, value)
    return None


def _checked_url(name: str, value: str) -> str:
    problem = None
    if not value.isprintable() or any(c.isspace() for c in value):
        problem = "holds spaces or control characters"
    else:
        try:
            parts = urllib.parse.urlsplit(value)
            parts.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError as exc:
            problem = f"not a URL ({exc})"
        else:
            if parts.scheme not in ("http", "https"):
                problem = "not an http(s) URL"
            elif not parts.hostname:
                problem = "has no host"
    if problem:
        raise _bad_var(name, _without_credentials(value), problem, f"unset {name} or set it to e.g. https://HOST/...")
    return value


def _link(url: str | None) -> str | None:
    """A link shown to people (a status's target URL): never with credentials in it."""
    return url_without_userinfo(url) if url else None


def _without_credentials(value: str) -> str:
    """A malformed URL for a message: everything between "://" and the last "@" hidden,
    even where it is too broken for ``strip_userinfo`` to see a URL."""
    scheme, sep, rest = value.partition("://")
    if sep and "@" in rest:
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return strip_userinfo(value)


# ----------------------------------------------------------------------------- GitHub
def _github_actions(env: Mapping[str, str]) -> CiContext:
    repo = _env_match(env, "GITHUB_REPOSITORY", _REPO, "OWNER/REPO")
    event = env.get("GITHUB_EVENT_NAME", "")
    payload = _Event(env.get("GITHUB_EVENT_PATH"))
    pr_number = head_sha = base_ref = None
    is_fork = False
    pull = payload.obj("pull_request", optional=event not in PR_EVENTS)
    if pull is not None:
        pr_number = payload.number(pull, "pull_request.number")
        head, base = payload.obj("pull_request.head", pull), payload.obj("pull_request.base", pull)
        head_sha = payload.text(head, "pull_request.head.sha", _SHA, "a commit sha")
        base_ref = payload.text(base, "pull_request.base.ref", _REF, "a branch name")
        head_repo = payload.obj("pull_request.head.repo", head, optional=True, null=True) or {}
        base_repo_obj = payload.obj("pull_request.base.repo", base, optional=True, null=True) or {}
        head_name = payload.text(head_repo, "pull_request.head.repo.full_name", _REPO, "OWNER/REPO", optional=True)
        base_repo = payload.text(base_repo_obj, "pull_request.base.repo.full_name", _REPO, "OWNER/REPO",
                                 optional=True) or repo
        fork_flag = payload.flag(head_repo, "pull_request.head.repo.fork")
        # A deleted fork has head.repo null: treat it as a fork (no trust).
        is_fork = fork_flag or not head_repo or (bool(head_name) and head_name != base_repo)
    elif event == "issue_comment":
        issue = payload.obj("issue", optional=True)
        if issue is not None and payload.obj("issue.pull_request", issue, optional=True, null=True) is not None:
            # A comment on a PR: neither its head nor whether it comes from a fork is in the
            # payload; the gate asks the forge (commands.gate.pull_request_context).
            pr_number = payload.number(issue, "issue.number")
    if pr_number is None:
        # On issue_comment GITHUB_SHA is the default branch's tip, not the PR's head.
        head_sha = _env_match(env, "GITHUB_SHA", _SHA, "a commit sha")
    server = (_env_url(env, "GITHUB_SERVER_URL") or "").rstrip("/")
    run_id = _env_int(env, "GITHUB_RUN_ID")
    run_url = _link(f"{server}/{repo}/actions/runs/{run_id}") if server and repo and run_id else None
    api_url = _env_url(env, "LLM_GITOPS_GITHUB_API_URL", "GITHUB_API_URL")
    actor = env.get("GITHUB_ACTOR") or None
    return CiContext("github-actions", "github", repo, pr_number, head_sha, base_ref,
                     shown(actor) if actor else None, is_fork, api_url, run_url,
                     ref_name=_env_match(env, "GITHUB_REF_NAME", _REF, "a branch name"), event=event or None)


class _Event:
    """The GitHub event payload at ``GITHUB_EVENT_PATH``, read once and checked field by field."""

    def __init__(self, path: str | None):
        self.path = path
        self.data: dict = self._load(path) if path else {}

    def _error(self, problem: str, hint: str = "point GITHUB_EVENT_PATH at the event payload the runner wrote") -> ConfigError:
        where = f"GITHUB_EVENT_PATH={shown(self.path)}" if self.path else "GITHUB_EVENT_PATH is not set, so the event"
        return ConfigError(f"{where}: {problem}", hint=hint)

    def _load(self, path: str) -> dict:
        try:
            info = os.stat(path)
            size = info.st_size
            if stat.S_ISDIR(info.st_mode):
                raise self._error("is a directory, not the event JSON file")
            if not stat.S_ISREG(info.st_mode):  # a FIFO would block the read forever
                raise self._error("is not a regular file")
            if size > MAX_EVENT_BYTES:
                raise self._error(f"is {size / 1e6:.0f} MB, larger than any event GitHub sends (25 MB)")
            with open(path, "rb") as fh:
                raw = fh.read(MAX_EVENT_BYTES + 1)
        except FileNotFoundError:
            raise self._error("does not exist", "unset it or point it at the event JSON") from None
        except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
            raise self._error(f"cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise self._error("is not UTF-8 text") from None
        except RecursionError:
            raise self._error("is nested too deeply to be an event") from None
        except ValueError as exc:
            raise self._error(f"is not JSON ({shown(exc, 80)})") from None
        if not isinstance(data, dict):
            raise self._error(f"holds a JSON {_kind(data)}, not an object")
        return data

    def obj(self, field: str, parent: dict | None = None, *, optional: bool = False, null: bool = False) -> dict | None:
        """The object at ``field`` (a dotted path; ``parent`` holds its last part); None when
        it is absent or null and ``optional``/``null`` allow that."""
        where = self.data if parent is None else parent
        key = field.rsplit(".", 1)[-1]
        value = where.get(key)
        if value is None and (optional or null):
            return None
        if not isinstance(value, dict):
            raise self._error(f"{field} is {_described(value, key in where)}, expected an object")
        return value

    def number(self, parent: dict, field: str) -> int:
        value = parent.get(field.rsplit(".", 1)[-1])
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**53:
            raise self._error(f"{field} is {_described(value, field.rsplit('.', 1)[-1] in parent)}, "
                              "expected a positive whole number")
        return value

    def text(self, parent: dict, field: str, pattern: re.Pattern, what: str, *, optional: bool = False) -> str | None:
        key = field.rsplit(".", 1)[-1]
        value = parent.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise self._error(f"{field} is {_described(value, key in parent)}, expected {what}")
        if not pattern.fullmatch(value):
            raise self._error(f"{field} is '{shown(value, 60)}', not {what}")
        return value

    def flag(self, parent: dict, field: str) -> bool:
        value = parent.get(field.rsplit(".", 1)[-1], False)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self._error(f"{field} is {_described(value, True)}, expected true or false")
        return value


def _kind(value: object) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean", int: "number", float: "number",
            type(None): "null"}.get(type(value), type(value).__name__)


def _described(value: object, present: bool) -> str:
    return f"a {_kind(value)}" if present else "missing"


# ----------------------------------------------------------------------------- GitLab
def _gitlab_ci(env: Mapping[str, str]) -> CiContext:
    iid = _env_int(env, "CI_MERGE_REQUEST_IID")
    repo = (_env_match(env, "CI_MERGE_REQUEST_PROJECT_PATH", _PROJECT, "a GROUP/PROJECT path")
            or _env_match(env, "CI_PROJECT_PATH", _PROJECT, "a GROUP/PROJECT path"))
    source = _env_int(env, "CI_MERGE_REQUEST_SOURCE_PROJECT_ID")
    target = _env_int(env, "CI_MERGE_REQUEST_PROJECT_ID")
    is_fork = bool(iid and source and target and source != target)
    api = _env_url(env, "LLM_GITOPS_GITLAB_URL", "CI_API_V4_URL", "CI_SERVER_URL")
    actor = env.get("GITLAB_USER_LOGIN") or None
    # A merged-results pipeline runs on a merge of the MR into its target (CI_COMMIT_SHA);
    # CI_MERGE_REQUEST_SOURCE_BRANCH_SHA, set only there, is the MR's head.
    head = (_env_match(env, "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", _SHA, "a commit sha")
            or _env_match(env, "CI_COMMIT_SHA", _SHA, "a commit sha"))
    return CiContext(
        "gitlab-ci", "gitlab", repo, iid, head,
        _env_match(env, "CI_MERGE_REQUEST_TARGET_BRANCH_NAME", _REF, "a branch name"),
        shown(actor) if actor else None, is_fork, _gitlab_base(api), _link(_env_url(env, "CI_PIPELINE_URL", "CI_JOB_URL")),
        ref_name=_env_match(env, "CI_COMMIT_REF_NAME", _REF, "a branch name"),
    )


def _gitlab_base(url: str | None) -> str | None:
    # python-gitlab wants the server URL; CI gives .../api/v4.
    if not url:
        return None
    url = url.rstrip("/")
    return url[: -len("/api/v4")] if url.endswith("/api/v4") else url


# ----------------------------------------------------------------------------- Jenkins
def _jenkins(env: Mapping[str, str]) -> CiContext:
    change_url = _env_url(env, "CHANGE_URL") or ""
    forge, repo, api_url = _forge_from_change_url(change_url)
    if forge is None:
        # A branch build (a deploy on main) has no pull request URL: the clone URL names the repository.
        forge, repo, api_url = _forge_from_git_url(env)
    if forge == "github":
        api_url = _env_url(env, "LLM_GITOPS_GITHUB_API_URL") or api_url
    elif forge == "gitlab":
        api_url = _gitlab_base(_env_url(env, "LLM_GITOPS_GITLAB_URL")) or api_url
    author = env.get("CHANGE_AUTHOR") or None
    change = _env_int(env, "CHANGE_ID")
    commit = _env_match(env, "GIT_COMMIT", _SHA, "a commit sha")
    return CiContext(
        # A change build may check out a merge of the PR into its target (GitHub Branch
        # Source's default), and no variable names the PR's head: the gate asks the forge.
        "jenkins", forge, repo, change, None if change is not None else commit,
        _env_match(env, "CHANGE_TARGET", _REF, "a branch name"), shown(author) if author else None,
        # The branch-source plugins set CHANGE_FORK to the fork's owner for fork PRs.
        bool(env.get("CHANGE_FORK")), api_url, _link(_env_url(env, "BUILD_URL", "JOB_URL")),
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


_GIT_URL = re.compile(r"(?:[a-z][a-z0-9+.-]*://)?(?:[^@/\s]+@)?([A-Za-z0-9.-]+)(?::\d+)?[:/](\S+?)(?:\.git)?/?")


def _forge_from_git_url(env: Mapping[str, str]) -> tuple[ForgeName | None, str | None, str | None]:
    """``GIT_URL`` (https://host/owner/repo.git, git@host:owner/repo.git) -> the forge, repository and API.

    The forge is github.com's or gitlab.com's by host; a self-hosted one is the forge whose URL
    variable is set (LLM_GITOPS_GITHUB_API_URL, LLM_GITOPS_GITLAB_URL); otherwise unknown.
    """
    match = _GIT_URL.fullmatch((env.get("GIT_URL") or "").strip())
    if not match:
        return None, None, None
    host, path = match.group(1).lower(), match.group(2)
    if host in ("github.com", "www.github.com") or (env.get("LLM_GITOPS_GITHUB_API_URL") and host != "gitlab.com"):
        api = None if host in ("github.com", "www.github.com") else f"https://{host}/api/v3"
        return ("github", path, api) if _REPO.fullmatch(path) else (None, None, None)
    if host == "gitlab.com" or env.get("LLM_GITOPS_GITLAB_URL"):
        return ("gitlab", path, f"https://{host}") if _PROJECT.fullmatch(path) else (None, None, None)
    return None, None, None


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes")
