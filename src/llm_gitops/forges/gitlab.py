"""GitLab through python-gitlab.

Objects are fetched lazily (``get(..., lazy=True)`` makes no request), so a sticky-note
update is one paginated list plus one write. python-gitlab's own waiting on 429 and
retrying of 5xx are off; ``forges.retry`` does it, as for every forge. Retry-After is
read from the last response through a session hook (python-gitlab's exceptions carry no
headers).

Sticky notes count only when written by the token's own user (``GET /user``). A CI job
token can neither read ``/user`` nor write merge request notes (neither endpoint is on
the job token's allow list), so with one no note is attempted: it is reported as the
403 GitLab would give, which ``publish`` treats like any refused write.
"""

from __future__ import annotations

import base64
import itertools
import threading
from collections.abc import Callable
from typing import TypeVar

from llm_gitops.errors import ExternalServiceError
from llm_gitops.forges.base import (
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
)
from llm_gitops.forges.client import LibraryForge, NotFound
from llm_gitops.forges.retry import DEFAULT_POLICY, RetryPolicy, Transient, retry_after_from_headers
from llm_gitops.forges.sticky import sticky_text, upsert_sticky
from llm_gitops.logsafe import redact, register_secret, url_without_userinfo

T = TypeVar("T")

NOTE_LIMIT = 1_000_000  # characters GitLab accepts in a note
TOKEN_HINT = "set GITLAB_TOKEN (or LLM_GITOPS_GITLAB_TOKEN) to a token with the api scope"
_STATE = {"pending": "pending", "success": "success", "failure": "failed", "error": "failed", "neutral": "success"}
# Deployment states (GitHub's words, the project's vocabulary) <-> GitLab deployment statuses.
# GitLab keeps one failed status for both failure and error; it has no inactive (an
# environment's current deployment is its newest successful one) and no settable queued.
_DEPLOY_TO = {"in_progress": "running", "success": "success", "failure": "failed", "error": "failed"}
_DEPLOY_FROM = {"created": "queued", "blocked": "queued", "running": "in_progress", "success": "success",
                "failed": "failure", "canceled": "error", "skipped": "error"}
# GitHub reaction names (the project's vocabulary) -> GitLab award emoji.
_EMOJI = {"+1": "thumbsup", "-1": "thumbsdown", "laugh": "laughing", "confused": "confused", "heart": "heart",
          "hooray": "tada", "rocket": "rocket", "eyes": "eyes"}


def permission_from_access_level(level: int | None) -> Permission:
    """GitLab access levels -> the project's five levels.

    Guest (10) can read; Planner (15) and Reporter (20) triage issues; Developer (30)
    pushes; Maintainer (40) maintains; Owner (50) and instance admins (60) administer.
    Minimal access (5) and no membership are ``none``.
    """
    level = level or 0
    if level >= 50:
        return "admin"
    if level >= 40:
        return "maintain"
    if level >= 30:
        return "write"
    if level >= 15:
        return "triage"
    if level >= 10:
        return "read"
    return "none"


class GitLabForge(LibraryForge):
    name = "gitlab"
    label = "GitLab"
    repo_noun = "project"
    repo_hint = "check the project path, and that the token can see it"
    pr_prefix = "merge request !"
    pr_hint = "check the MR iid the CI passed"

    def __init__(self, *, token: str, api_url: str | None = None, job_token: bool = False,
                 policy: RetryPolicy = DEFAULT_POLICY, timeout: float = 15):
        import gitlab
        import requests

        register_secret(token)
        url = (api_url or "").rstrip("/")
        self.api_url = url[: -len("/api/v4")] if url.endswith("/api/v4") else (url or None)
        self._last = threading.local()
        session = requests.Session()
        session.hooks["response"].append(self._remember)

        class _NoRetryGitlab(gitlab.Gitlab):
            # Our retry decides; python-gitlab's would sleep up to 10 times on a 429.
            def http_request(self, *args, **kwargs):
                kwargs["obey_rate_limit"] = False
                kwargs["retry_transient_errors"] = False
                return super().http_request(*args, **kwargs)

        self._job_token = job_token
        self._username: str | None = None
        auth = {"job_token": token} if job_token else {"private_token": token}
        self._gl = _NoRetryGitlab(self.api_url, session=session, timeout=timeout, per_page=100, **auth)
        self._policy = policy
        self._projects: dict = {}

    def login(self) -> str:
        """The username the token writes as (asked once, on first need)."""
        if self._job_token:
            raise ExternalServiceError(f"{self.where} refused writing a merge request note (403 a CI job token "
                                       "may not write notes)", hint=TOKEN_HINT)
        if self._username is None:
            self._username = self._run("reading the token's user", self._whoami)
        return self._username

    def _whoami(self) -> str:
        username = self._gl.http_get("/user")["username"]  # a garbled answer raises: retried
        if not isinstance(username, str) or not username:
            raise ValueError("no username in the answer")
        return username

    def _remember(self, response, *args, **kwargs):
        self._last.headers = dict(response.headers)
        return response

    def _project(self, repo: str):
        if repo not in self._projects:
            self._projects[repo] = self._gl.projects.get(repo, lazy=True)
        return self._projects[repo]

    def _read_repo(self, repo: str) -> object:
        return self._gl.projects.get(repo).id

    def _translate(self, what: str, fn: Callable[[], T]) -> T:
        from gitlab import exceptions as glexc

        self._last.headers = {}
        try:
            return fn()
        except glexc.GitlabParsingError:
            raise Transient("the answer was not valid JSON") from None
        except glexc.GitlabError as exc:
            code = exc.response_code or 0
            message = redact(str(exc.error_message or "no message"))
            if code == 401:
                raise ExternalServiceError(f"{self.where} rejected the token (401 {message}) while {what}",
                                           hint=TOKEN_HINT) from None
            if code == 429:
                raise Transient("rate limited", retry_after_from_headers(getattr(self._last, "headers", {})),
                                rate_limited=True) from None
            if code == 403:
                raise ExternalServiceError(
                    f"{self.where} refused {what} (403 {message})",
                    hint="use a token with the api scope and at least Developer access (a CI job token cannot write notes)",
                ) from None
            if code == 404:
                raise NotFound() from None
            if code >= 500 or code == 0:
                raise Transient(f"{code or 'no'} server answer") from None
            raise ExternalServiceError(f"{self.where} rejected {what} ({code} {message})") from None

    # ------------------------------------------------------------------ reading
    def get_pull_request(self, pr: PullRequestRef) -> PullRequest:
        return self._run(f"reading merge request !{pr.number}",
                         lambda: _mr(pr.repo, self._project(pr.repo).mergerequests.get(pr.number)), repo=pr.repo, pr=pr)

    def read_file(self, repo: str, path: str, ref: str) -> bytes | None:
        return self._run(f"reading {path} at {ref}", lambda: self._project(repo).files.get(path, ref=ref).decode(),
                         repo=repo, not_found=lambda: None)

    def user_permission(self, repo: str, user: str) -> Permission:
        def fetch() -> Permission:
            users = self._gl.users.list(username=user, get_all=False)
            if not users:
                return "none"
            try:
                member = self._project(repo).members_all.get(users[0].id)
            except Exception as exc:  # noqa: BLE001 - a non-member is a 404
                if getattr(exc, "response_code", None) == 404:
                    raise NotFound() from None
                raise
            return permission_from_access_level(member.access_level)

        # A 404 from a project that exists means "not a member".
        return self._run(f"reading {user}'s access level", fetch, repo=repo, not_found=lambda: "none")

    # ------------------------------------------------------------------ notes
    def upsert_sticky_comment(self, pr: PullRequestRef, body: str, key: tuple[str, str | None]) -> StickyResult:
        marker, text = sticky_text(key, body, NOTE_LIMIT)
        # The MR's web page, built rather than fetched (one request less per run).
        mr_url = f"{url_without_userinfo(self.api_url or '')}/{pr.repo}/-/merge_requests/{pr.number}"
        me = self.login()

        def upsert() -> StickyResult:
            mr = self._project(pr.repo).mergerequests.get(pr.number, lazy=True)
            notes = mr.notes.list(iterator=True, sort="asc", order_by="created_at")

            def edit(note) -> Comment:
                note.body = text
                note.save()
                return _note(note, mr_url, text)

            # System notes ("added 1 commit") are GitLab's own, never ours.
            return upsert_sticky((n for n in notes if not getattr(n, "system", False)), marker, text, owner=me,
                                 view=lambda note: _note(note, mr_url), edit=edit,
                                 create=lambda: _note(mr.notes.create({"body": text}), mr_url, text),
                                 edit_refused=lambda exc: getattr(exc, "response_code", None) in (403, 404))

        return self._run(f"updating the llm-gitops note on !{pr.number}", upsert, repo=pr.repo, pr=pr)

    def add_reaction(self, target: ReactionTarget, reaction: Reaction) -> None:
        from gitlab import exceptions as glexc

        def react() -> None:
            mr = self._project(target.pr.repo).mergerequests.get(target.pr.number, lazy=True)
            owner = mr if target.comment_id is None else mr.notes.get(target.comment_id, lazy=True)
            try:
                owner.awardemojis.create({"name": _EMOJI[reaction]})
            except glexc.GitlabCreateError as exc:
                # GitLab answers 404 "has already been taken" for an emoji already awarded.
                if "already been taken" not in str(exc.error_message):
                    raise

        self._run(f"adding a reaction on !{target.pr.number}", react, repo=target.pr.repo, pr=target.pr)

    # ------------------------------------------------------------------ statuses
    def set_commit_status(self, repo: str, sha: str, state: StatusState, context: str, description: str,
                          target_url: str | None = None, summary: str | None = None) -> None:
        from gitlab import exceptions as glexc

        def status() -> None:
            data = {"state": _STATE[state], "name": context, "description": description[:255]}
            if target_url:
                data["target_url"] = target_url
            try:
                self._project(repo).commits.get(sha, lazy=True).statuses.create(data)
            except glexc.GitlabCreateError as exc:
                # GitLab refuses a transition to the state the status already has.
                if exc.response_code == 400 and "Cannot transition status" in str(exc.error_message):
                    return
                raise

        self._run(f"setting status {context} on {sha[:12]}", status, repo=repo)

    # ------------------------------------------------------------------ branches and MRs
    def create_branch_with_changes(self, repo: str, branch: str, base: str, changes: list[FileChange], message: str) -> str:
        # One request creates the branch from base and commits every change atomically.
        return self._commit(repo, {"branch": branch, "start_branch": base}, base, changes, message)

    def commit_changes(self, repo: str, branch: str, changes: list[FileChange], message: str) -> str:
        return self._commit(repo, {"branch": branch}, branch, changes, message)

    def _commit(self, repo: str, where: dict, ref: str, changes: list[FileChange], message: str) -> str:
        project = self._project(repo)
        actions = []
        for change in changes:
            exists = self._run(f"reading {change.path} at {ref}",
                               lambda path=change.path: project.files.get(path, ref=ref) is not None,
                               repo=repo, not_found=lambda: False)
            if change.content is None:
                if exists:
                    actions.append({"action": "delete", "file_path": change.path})
                continue
            raw = change.content.encode() if isinstance(change.content, str) else change.content
            actions.append({"action": "update" if exists else "create", "file_path": change.path,
                            "content": base64.b64encode(raw).decode(), "encoding": "base64"})
        commit = self._run(f"committing to branch {where['branch']}", lambda: project.commits.create(
            {**where, "commit_message": message, "actions": actions}), repo=repo)
        return commit.id

    def find_open_pull_request(self, repo: str, head: str, base: str) -> PullRequest | None:
        def find() -> PullRequest | None:
            found = self._project(repo).mergerequests.list(state="opened", source_branch=head, target_branch=base,
                                                          get_all=False)
            return _mr(repo, found[0]) if found else None

        return self._run(f"looking for an open merge request from {head}", find, repo=repo)

    def get_commit_statuses(self, repo: str, sha: str) -> list[CommitStatus]:
        states = {"success": "success", "failed": "failure", "canceled": "error", "pending": "pending",
                  "running": "pending", "created": "pending", "skipped": "error"}

        def fetch() -> list[CommitStatus]:
            statuses = self._project(repo).commits.get(sha, lazy=True).statuses.list(get_all=True)
            newest: dict[str, CommitStatus] = {}
            for s in sorted(statuses, key=lambda s: s.id, reverse=True):
                newest.setdefault(s.name, CommitStatus(s.name, states.get(s.status, "error"), s.description or ""))
            return list(newest.values())

        return self._run(f"reading the statuses of {sha[:12]}", fetch, repo=repo)

    def open_pull_request(self, repo: str, head: str, base: str, title: str, body: str) -> PullRequest:
        return self._run(f"opening a merge request from {head} into {base}", lambda: _mr(repo, self._project(repo)
                         .mergerequests.create({"source_branch": head, "target_branch": base, "title": title,
                                                "description": body})), repo=repo)

    def merge_pull_request(self, pr: PullRequestRef, sha: str | None = None) -> str:
        def merge() -> str:
            mr = self._project(pr.repo).mergerequests.get(pr.number, lazy=True)
            result = mr.merge(**({"sha": sha} if sha else {}))
            return (result or {}).get("merge_commit_sha") or getattr(mr, "merge_commit_sha", None) or ""

        return self._run(f"merging merge request !{pr.number}", merge, repo=pr.repo, pr=pr)

    # ------------------------------------------------------------------ deployments
    def create_deployment(self, repo: str, *, sha: str, ref: str, environment: str, description: str,
                          payload: dict[str, str], log_url: str | None = None) -> Deployment:
        """A ``running`` deployment of ``sha`` from branch ``ref``; GitLab creates the
        environment on its first deployment. GitLab keeps no description, payload or log URL
        (a deployment made by a CI job links its job; one made through the API links nothing)."""
        project = self._project(repo)
        tries: list[int] = []

        def create():
            existing = None
            if tries:  # a retried create whose first answer was lost finds the deployment it made
                existing = next((d for d in project.deployments.list(environment=environment, status="running",
                                                                     order_by="id", sort="desc", get_all=False)
                                 if d.sha == sha and d.ref == ref), None)
            tries.append(1)
            return existing or project.deployments.create({"environment": environment, "sha": sha, "ref": ref,
                                                           "tag": False, "status": "running"})

        return _deployment(self._run(f"creating a deployment of {sha[:12]} to {environment}", create, repo=repo))

    def set_deployment_status(self, repo: str, deployment: Deployment, state: DeploymentState, description: str,
                              *, environment_url: str | None = None, log_url: str | None = None) -> None:
        from gitlab import exceptions as glexc

        status = _DEPLOY_TO.get(state)
        if status is None:
            return  # queued, inactive: nothing GitLab lets a client set (see _DEPLOY_TO)

        def update() -> None:
            try:
                self._project(repo).deployments.update(deployment.id, {"status": status})
            except glexc.GitlabUpdateError as exc:
                # A retried update that had in fact been applied: GitLab refuses the same state again.
                if exc.response_code == 400 and "transition" in str(exc.error_message):
                    return
                raise

        self._run(f"setting deployment {deployment.id} ({deployment.environment}) to {status}", update, repo=repo)

    def list_deployments(self, repo: str, environment: str, limit: int | None = None) -> list[Deployment]:
        return self._run(f"reading the deployments of {environment}", lambda: [
            _deployment(d) for d in itertools.islice(self._project(repo).deployments.list(
                environment=environment, order_by="id", sort="desc", iterator=True), limit)], repo=repo)


def _deployment(d) -> Deployment:
    environment = d.environment.get("name", "") if isinstance(d.environment, dict) else str(d.environment)
    return Deployment(d.id, environment, d.sha, d.ref, _DEPLOY_FROM.get(d.status, "error"), "", {}, d.created_at or "")


def _note(note, mr_url: str, body: str | None = None) -> Comment:
    author = note.author.get("username", "") if isinstance(getattr(note, "author", None), dict) else ""
    return Comment(id=note.id, body=body if body is not None else note.body, author=author,
                   url=f"{mr_url}#note_{note.id}")


def _mr(repo: str, mr) -> PullRequest:
    state = {"opened": "open", "merged": "merged"}.get(mr.state, "closed")
    is_fork = mr.source_project_id != mr.target_project_id
    return PullRequest(PullRequestRef(repo, mr.iid), mr.title, state, mr.source_branch, mr.sha, mr.target_branch,
                       (mr.author or {}).get("username", ""), mr.web_url, is_fork)
