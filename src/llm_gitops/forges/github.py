"""GitHub through PyGithub.

Request economy: the client is lazy (``Github(lazy=True)``), so ``get_repo``/``get_issue``
cost nothing until data is read; a sticky-comment update is one paginated list plus one
write. PyGithub's own retry and pauses between writes are off; ``forges.retry`` retries
instead, identically for every forge. A run makes at most three writes (comment, status,
check run), far below GitHub's secondary limits, and a 403/429 with Retry-After is honoured.

Sticky comments count only when written by the token's own account. A user or OAuth
token learns it from ``GET /user``. A GitHub App installation token, which is what
Actions' ``GITHUB_TOKEN`` is, may not call ``GET /user`` (403 "Resource not accessible
by integration"), and nothing it may call names its bot account; its comments are
written as ``github-actions[bot]`` for the Actions token, so that is the fallback.
Another App's token is told its bot login (``SLUG[bot]``, e.g. the ``app-slug`` output of
``actions/create-github-app-token`` plus ``[bot]``) through ``LLM_GITOPS_GITHUB_LOGIN``,
which arrives here as ``login``.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from llm_gitops.errors import ExternalServiceError
from llm_gitops.forges.base import (
    PERMISSIONS,
    Comment,
    CommitStatus,
    Deployment,
    DeploymentState,
    FileChange,
    Permission,
    PullRequest,
    PullRequestRef,
    Reaction,
    ReactionTarget,
    StatusState,
    StickyResult,
    truncate_body,
)
from llm_gitops.forges.client import LibraryForge, NotFound
from llm_gitops.forges.retry import DEFAULT_POLICY, RetryPolicy, Transient, retry_after_from_headers
from llm_gitops.forges.sticky import sticky_text, upsert_sticky
from llm_gitops.logsafe import redact, register_secret

log = logging.getLogger(__name__)
T = TypeVar("T")

COMMENT_LIMIT = 65536  # characters GitHub accepts in an issue comment
DESCRIPTION_LIMIT = 140  # characters of a commit status description
TOKEN_HINT = "set GITHUB_TOKEN (or LLM_GITOPS_GITHUB_TOKEN) to a valid token"
ACTIONS_BOT = "github-actions[bot]"  # the author of everything the Actions GITHUB_TOKEN writes
_STATUS = {"pending": "pending", "success": "success", "failure": "failure", "error": "error", "neutral": "success"}
_CONCLUSION = {"success": "success", "failure": "failure", "error": "failure", "neutral": "neutral"}


class GitHubForge(LibraryForge):
    name = "github"
    label = "GitHub"
    repo_noun = "repository"
    repo_hint = "check the repository name, and that the token can see it"
    pr_prefix = "pull request #"
    pr_hint = "check the PR number the CI passed"

    def __init__(
        self,
        *,
        token: str,
        api_url: str | None = None,
        policy: RetryPolicy = DEFAULT_POLICY,
        timeout: float = 15,
        seconds_between_writes: float = 0.0,
        login: str | None = None,
    ):
        from github import Auth, Github

        register_secret(token)
        self.api_url = (api_url or "").rstrip("/") or None
        kwargs = {"base_url": self.api_url} if self.api_url else {}
        self._gh = Github(
            auth=Auth.Token(token), retry=None, lazy=True, per_page=100, timeout=int(max(1, timeout)),
            seconds_between_requests=0, seconds_between_writes=seconds_between_writes, **kwargs,
        )
        self._policy = policy
        self._repos: dict = {}
        self._login = login

    def login(self) -> str:
        """The account the token writes as (asked once, on first need)."""
        if self._login is None:
            self._login = self._run("reading the token's user", self._whoami)
        return self._login

    def _whoami(self) -> str:
        from github import GithubException

        try:
            login = self._gh.get_user().login
        except GithubException as exc:
            # An installation token (Actions' GITHUB_TOKEN) may not read /user: see the module doc.
            if exc.status == 403 and "rate limit" not in _message(exc.data).lower():
                return ACTIONS_BOT
            raise
        if not isinstance(login, str) or not login:
            raise ValueError("no login in the answer")  # a garbled answer: retried
        return login

    # ------------------------------------------------------------------ plumbing
    def _repo(self, repo: str):
        if repo not in self._repos:
            self._repos[repo] = self._gh.get_repo(repo)  # lazy: no request
        return self._repos[repo]

    def _read_repo(self, repo: str) -> object:
        return self._gh.get_repo(repo).id

    def _translate(self, what: str, fn: Callable[[], T]) -> T:
        from github import GithubException, RateLimitExceededException

        try:
            return fn()
        except RateLimitExceededException as exc:
            raise Transient("rate limited", retry_after_from_headers(exc.headers), rate_limited=True) from None
        except GithubException as exc:
            message = _message(exc.data)
            if exc.status == 401:
                raise ExternalServiceError(f"{self.where} rejected the token (401 {message}) while {what}",
                                           hint=TOKEN_HINT) from None
            if exc.status in (403, 429) and ("rate limit" in message.lower() or exc.status == 429):
                raise Transient("rate limited", retry_after_from_headers(exc.headers), rate_limited=True) from None
            if exc.status == 403:
                raise ExternalServiceError(
                    f"{self.where} refused {what} (403 {message})",
                    hint="give the token pull-requests, statuses and checks write access (a fork PR's CI token is read-only)",
                ) from None
            if exc.status == 404:
                raise NotFound() from None
            if exc.status >= 500 or exc.status in (408, 0):
                raise Transient(f"{exc.status} server error") from None
            raise ExternalServiceError(f"{self.where} rejected {what} ({exc.status} {message})") from None

    # ------------------------------------------------------------------ reading
    def get_pull_request(self, pr: PullRequestRef) -> PullRequest:
        def fetch() -> PullRequest:
            p = self._repo(pr.repo).get_pull(pr.number)
            return _pull(pr.repo, p)

        return self._run(f"reading pull request #{pr.number}", fetch, repo=pr.repo, pr=pr)

    def read_file(self, repo: str, path: str, ref: str) -> bytes | None:
        def fetch() -> bytes:
            content = self._repo(repo).get_contents(path, ref=ref)
            if isinstance(content, list):
                raise ExternalServiceError(f"{path} at {ref} in {repo} is a directory, not a file")
            return content.decoded_content

        return self._run(f"reading {path} at {ref}", fetch, repo=repo, not_found=lambda: None)

    def user_permission(self, repo: str, user: str) -> Permission:
        def fetch() -> Permission:
            from urllib.parse import quote

            r = self._repo(repo)
            _, data = r._requester.requestJsonAndCheck("GET", f"{r.url}/collaborators/{quote(user, safe='')}/permission")
            role, coarse = data.get("role_name"), data.get("permission")
            # role_name has the five levels; custom roles fall back to the coarse value.
            return role if role in PERMISSIONS else (coarse if coarse in PERMISSIONS else "none")

        return self._run(f"reading {user}'s permission", fetch, repo=repo, not_found=lambda: "none")

    # ------------------------------------------------------------------ comments
    def upsert_sticky_comment(self, pr: PullRequestRef, body: str, key: tuple[str, str | None]) -> StickyResult:
        marker, text = sticky_text(key, body, COMMENT_LIMIT)
        me = self.login()

        def upsert() -> StickyResult:
            # Looked up on every attempt: a retried create whose first response was lost
            # finds the comment it made and edits it instead of adding a second one.
            issue = self._repo(pr.repo).get_issue(pr.number)

            def edit(comment) -> Comment:
                comment.edit(text)
                return _comment(comment, text)

            return upsert_sticky(issue.get_comments(), marker, text, owner=me, view=_comment, edit=edit,
                                 create=lambda: _comment(issue.create_comment(text), text),
                                 edit_refused=lambda exc: getattr(exc, "status", None) in (403, 404))

        return self._run(f"updating the llm-gitops comment on #{pr.number}", upsert, repo=pr.repo, pr=pr)

    def add_reaction(self, target: ReactionTarget, reaction: Reaction) -> None:
        def react() -> None:
            issue = self._repo(target.pr.repo).get_issue(target.pr.number)
            if target.comment_id is None:
                issue.create_reaction(reaction)
            else:
                issue.get_comment(target.comment_id).create_reaction(reaction)

        self._run(f"adding a reaction on #{target.pr.number}", react, repo=target.pr.repo, pr=target.pr)

    # ------------------------------------------------------------------ statuses
    def set_commit_status(self, repo: str, sha: str, state: StatusState, context: str, description: str,
                          target_url: str | None = None, summary: str | None = None) -> None:
        desc = _short(description)
        r = self._repo(repo)

        def status() -> None:
            kwargs = {"target_url": target_url} if target_url else {}
            r.get_commit(sha).create_status(_STATUS[state], description=desc, context=context, **kwargs)

        self._run(f"setting status {context} on {sha[:12]}", status, repo=repo)

        def check_run() -> None:
            kwargs: dict = {"name": context, "head_sha": sha,
                            "output": {"title": desc, "summary": truncate_body(summary or description, COMMENT_LIMIT - 1)}}
            if target_url:
                kwargs["details_url"] = target_url
            if state == "pending":
                kwargs["status"] = "in_progress"
            else:
                kwargs.update(status="completed", conclusion=_CONCLUSION[state])
            r.create_check_run(**kwargs)

        try:
            self._run(f"creating check run {context} on {sha[:12]}", check_run, repo=repo)
        except ExternalServiceError as exc:
            # Only GitHub Apps (and the Actions token) may create check runs; a personal
            # token gets 403. The commit status above already carries the verdict.
            if "403" not in str(exc):
                raise
            log.warning("no check run (the token may not create check runs): %s", exc)

    # ------------------------------------------------------------------ branches and PRs
    def create_branch_with_changes(self, repo: str, branch: str, base: str, changes: list[FileChange], message: str) -> str:
        r = self._repo(repo)
        base_sha = self._run(f"reading branch {base}", lambda: r.get_branch(base).commit.sha, repo=repo)
        self._run(f"creating branch {branch}", lambda: r.create_git_ref(f"refs/heads/{branch}", base_sha).ref, repo=repo)
        # The branch is new, so a failure below leaves no half-changed base branch.
        return self._write_changes(repo, branch, changes, message) or base_sha

    def commit_changes(self, repo: str, branch: str, changes: list[FileChange], message: str) -> str:
        r = self._repo(repo)
        head = self._run(f"reading branch {branch}", lambda: r.get_branch(branch).commit.sha, repo=repo)
        return self._write_changes(repo, branch, changes, message) or head

    def _write_changes(self, repo: str, branch: str, changes: list[FileChange], message: str) -> str | None:
        """One commit per file through the contents API (what a token scoped to contents may do)."""
        from github import GithubException

        r = self._repo(repo)
        head = None
        for change in changes:
            def existing_sha(path=change.path):
                try:
                    return r.get_contents(path, ref=branch).sha
                except GithubException as exc:
                    if exc.status == 404:
                        return None
                    raise

            current = self._run(f"reading {change.path} on {branch}", existing_sha, repo=repo)

            def write(change=change, current=current):
                if change.content is None:
                    if current is None:
                        return None
                    return r.delete_file(change.path, message, current, branch=branch)["commit"].sha
                if current is None:
                    return r.create_file(change.path, message, change.content, branch=branch)["commit"].sha
                return r.update_file(change.path, message, change.content, current, branch=branch)["commit"].sha

            head = self._run(f"writing {change.path} on {branch}", write, repo=repo) or head
        return head

    def find_open_pull_request(self, repo: str, head: str, base: str) -> PullRequest | None:
        owner = repo.split("/")[0]

        def find() -> PullRequest | None:
            for p in self._repo(repo).get_pulls(state="open", head=f"{owner}:{head}", base=base):
                return _pull(repo, p)
            return None

        return self._run(f"looking for an open pull request from {head}", find, repo=repo)

    def get_commit_statuses(self, repo: str, sha: str) -> list[CommitStatus]:
        def fetch() -> list[CommitStatus]:
            # The combined status: the newest status of each context (a documented endpoint).
            combined = self._repo(repo).get_commit(sha).get_combined_status()
            return [CommitStatus(s.context, s.state, s.description or "") for s in combined.statuses]

        return self._run(f"reading the statuses of {sha[:12]}", fetch, repo=repo)

    def open_pull_request(self, repo: str, head: str, base: str, title: str, body: str) -> PullRequest:
        return self._run(f"opening a pull request from {head} into {base}",
                         lambda: _pull(repo, self._repo(repo).create_pull(title=title, body=body, head=head, base=base)),
                         repo=repo)

    def merge_pull_request(self, pr: PullRequestRef, sha: str | None = None) -> str:
        def merge() -> str:
            kwargs = {"sha": sha} if sha else {}
            result = self._repo(pr.repo).get_pull(pr.number).merge(**kwargs)
            if not result.merged:
                raise ExternalServiceError(f"{self.where} did not merge #{pr.number}: {result.message}")
            return result.sha

        return self._run(f"merging pull request #{pr.number}", merge, repo=pr.repo, pr=pr)

    # ------------------------------------------------------------------ deployments
    def create_deployment(self, repo: str, *, sha: str, ref: str, environment: str, description: str,
                          payload: dict[str, str], log_url: str | None = None) -> Deployment:
        """A deployment of ``sha`` (GitHub deploys a ref, so the ref sent is the sha itself:
        a branch that moved on would deploy another commit; ``ref`` is GitLab's), then its
        ``in_progress`` status. ``auto_merge`` off (GitHub would merge the default branch
        into the ref) and no required contexts (the gate is the CI's job, not the deploy's)."""
        r = self._repo(repo)
        desc = _short(description)
        tries: list[int] = []

        def create():
            # A retried create whose first answer was lost finds the deployment it made.
            existing = self._unstarted(r, sha, environment, payload) if tries else None
            tries.append(1)
            return existing or r.create_deployment(ref=sha, auto_merge=False, required_contexts=[],
                                                   payload=dict(payload), environment=environment, description=desc,
                                                   transient_environment=False)

        made = self._run(f"creating a deployment of {sha[:12]} to {environment}", create, repo=repo)
        deployment = _deployment(made, None)
        self.set_deployment_status(repo, deployment, "in_progress", description, log_url=log_url)
        return replace(deployment, state="in_progress", description=desc)

    @staticmethod
    def _unstarted(r, sha: str, environment: str, payload: dict[str, str]):
        for d in r.get_deployments(sha=sha, environment=environment):
            if d.payload == payload and next(iter(d.get_statuses()), None) is None:
                return d
        return None

    def set_deployment_status(self, repo: str, deployment: Deployment, state: DeploymentState, description: str,
                              *, environment_url: str | None = None, log_url: str | None = None) -> None:
        r = self._repo(repo)
        body: dict = {"state": state, "description": _short(description), "auto_inactive": True}
        if environment_url:
            body["environment_url"] = environment_url
        if log_url:
            body["log_url"] = log_url  # GitHub sets target_url from it; PyGithub's create_status lacks it

        def status() -> None:
            r._requester.requestJsonAndCheck("POST", f"{r.url}/deployments/{deployment.id}/statuses", input=body)

        self._run(f"setting deployment {deployment.id} ({deployment.environment}) to {state}", status, repo=repo)

    def list_deployments(self, repo: str, environment: str, limit: int | None = None) -> list[Deployment]:
        def fetch() -> list[Deployment]:
            # GitHub lists deployments and their statuses newest first; one more request per deployment.
            return [_deployment(d, next(iter(d.get_statuses()), None))
                    for d in itertools.islice(self._repo(repo).get_deployments(environment=environment), limit)]

        return self._run(f"reading the deployments of {environment}", fetch, repo=repo)


def _short(description: str) -> str:
    return description if len(description) <= DESCRIPTION_LIMIT else description[: DESCRIPTION_LIMIT - 1] + "…"


def _deployment(d, newest) -> Deployment:
    payload = d.payload if isinstance(d.payload, dict) else {}
    created = d.created_at.strftime("%Y-%m-%dT%H:%M:%SZ") if d.created_at else ""
    if newest is None:
        return Deployment(d.id, d.environment, d.sha, d.ref, "queued", d.description or "", payload, created)
    return Deployment(d.id, d.environment, d.sha, d.ref, newest.state, newest.description or "", payload, created)


def _message(data) -> str:
    if isinstance(data, dict):
        text = str(data.get("message") or "")
        errors = data.get("errors")
        if isinstance(errors, list) and errors:
            parts = [e.get("message") or f"{e.get('field')} {e.get('code')}" if isinstance(e, dict) else str(e) for e in errors]
            text = f"{text}: {'; '.join(parts)}"
        return redact(text.strip() or "no message")
    return "unexpected answer (not JSON)"


def _comment(c, body: str | None = None) -> Comment:
    return Comment(id=c.id, body=body if body is not None else c.body, author=c.user.login if c.user else "",
                   url=c.html_url)


def _pull(repo: str, p) -> PullRequest:
    head_repo = p.head.repo
    is_fork = head_repo is None or head_repo.full_name != repo
    state = "merged" if p.merged else p.state
    return PullRequest(PullRequestRef(repo, p.number), p.title, state, p.head.ref, p.head.sha, p.base.ref,
                       p.user.login if p.user else "", p.html_url, is_fork)
