"""What llm-gitops needs from a forge, and the values that cross that boundary.

A forge (GitHub, GitLab, the in-memory fake) is any object with the methods of
:class:`Forge`. Adding one is a module and an entry in ``registry.FORGES``.

Sticky comments: every comment llm-gitops writes starts with a hidden marker per
(command, environment), e.g. ``<!-- llm-gitops:gate:staging -->``. A new push edits that
comment in place instead of adding one more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

Permission = Literal["none", "read", "triage", "write", "maintain", "admin"]
PERMISSIONS: tuple[Permission, ...] = ("none", "read", "triage", "write", "maintain", "admin")

# Commit states llm-gitops speaks; each forge maps them onto its own vocabulary.
# "neutral" = inconclusive and configured not to block (GitHub check run: neutral).
StatusState = Literal["pending", "success", "failure", "error", "neutral"]
STATUS_STATES: tuple[str, ...] = ("pending", "success", "failure", "error", "neutral")

# GitHub's reaction names; GitLab's award emoji are mapped from these.
Reaction = Literal["+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"]
REACTIONS: tuple[str, ...] = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")

# Deployment states llm-gitops speaks: GitHub's deployment status states. GitLab's
# deployment statuses are mapped in forges/gitlab.py (running = in_progress, failed =
# failure or error, canceled = error, created = queued; GitLab has no inactive).
DeploymentState = Literal["queued", "in_progress", "success", "failure", "error", "inactive"]
DEPLOYMENT_STATES: tuple[str, ...] = ("queued", "in_progress", "success", "failure", "error", "inactive")

_KEY_PART = re.compile(r"^[A-Za-z0-9_.\-]+$")


@dataclass(frozen=True)
class PullRequestRef:
    """A pull request (GitHub) or merge request (GitLab, ``number`` = iid) in ``repo``."""

    repo: str
    number: int

    def __str__(self) -> str:
        return f"{self.repo}#{self.number}"


@dataclass(frozen=True)
class PullRequest:
    ref: PullRequestRef
    title: str
    state: str  # open | closed | merged
    head_ref: str
    head_sha: str
    base_ref: str
    author: str
    url: str
    is_fork: bool


@dataclass(frozen=True)
class Comment:
    id: int
    body: str
    author: str
    url: str


@dataclass(frozen=True)
class StickyResult:
    """What ``upsert_sticky_comment`` did: ``created``, ``updated`` or ``unchanged``."""

    comment: Comment
    action: Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class CommitStatus:
    """One status on a commit, as the forge reports it (state in llm-gitops' words)."""

    context: str
    state: str  # pending | success | failure | error (GitLab's running/canceled map onto these)
    description: str


@dataclass(frozen=True)
class FileChange:
    """One file in a commit; ``content`` None deletes it."""

    path: str
    content: str | bytes | None


@dataclass(frozen=True)
class ReactionTarget:
    """React to a comment (``comment_id``) or to the PR itself (``comment_id`` None)."""

    pr: PullRequestRef
    comment_id: int | None = None


@dataclass(frozen=True)
class Deployment:
    """One deployment of ``sha`` to ``environment`` on a forge, with its newest status.

    ``payload`` is what llm-gitops attached (``{"release": id}``); ``description`` is the
    newest status's. GitLab keeps neither a payload nor a description: both are empty there.
    """

    id: int
    environment: str
    sha: str
    ref: str
    state: str  # a DeploymentState
    description: str = ""
    payload: dict = field(default_factory=dict, hash=False)
    created_at: str = ""

    @property
    def release(self) -> str | None:
        value = self.payload.get("release")
        return value if isinstance(value, str) else None


def sticky_marker(command: str, environment: str | None = None) -> str:
    """The hidden first line that identifies a sticky comment, e.g. ``<!-- llm-gitops:gate:staging -->``."""
    for part in (command, environment):
        if part is not None and not _KEY_PART.match(part):
            raise ValueError(f"sticky comment key part {part!r} may only hold letters, digits, '.', '_' and '-'")
    return f"<!-- llm-gitops:{command}{':' + environment if environment else ''} -->"


def with_marker(marker: str, body: str) -> str:
    return f"{marker}\n{body}" if not body.startswith(marker) else body


def has_marker(body: str | None, marker: str) -> bool:
    # The marker opens the comment; a quote of it ("> <!-- ...") or a longer key never matches.
    return bool(body) and (body == marker or body.startswith(marker + "\n") or body.startswith(marker + "\r\n"))


def truncate_body(body: str, limit: int) -> str:
    """Keep a comment under the forge's size limit, saying so at the end, never mid-marker."""
    if len(body) <= limit:
        return body
    note = "\n\n… (truncated: the full report is in the CI run's artifacts)"
    return body[: limit - len(note)] + note


def status_context(command: str, environment: str | None = None) -> str:
    """The status/check name, stable per (command, environment): ``llm-gitops/gate[/staging]``."""
    return f"llm-gitops/{command}" + (f"/{environment}" if environment else "")


@runtime_checkable
class Forge(Protocol):
    """The operations llm-gitops performs on a forge. Errors are ExternalServiceError."""

    name: str

    def get_pull_request(self, pr: PullRequestRef) -> PullRequest: ...

    def upsert_sticky_comment(self, pr: PullRequestRef, body: str, key: tuple[str, str | None]) -> StickyResult: ...

    def set_commit_status(
        self, repo: str, sha: str, state: StatusState, context: str, description: str,
        target_url: str | None = None, summary: str | None = None,
    ) -> None: ...

    def create_branch_with_changes(
        self, repo: str, branch: str, base: str, changes: list[FileChange], message: str
    ) -> str: ...

    def commit_changes(self, repo: str, branch: str, changes: list[FileChange], message: str) -> str: ...

    def open_pull_request(self, repo: str, head: str, base: str, title: str, body: str) -> PullRequest: ...

    def find_open_pull_request(self, repo: str, head: str, base: str) -> PullRequest | None: ...

    def get_commit_statuses(self, repo: str, sha: str) -> list[CommitStatus]:
        """The newest status of each context on ``sha``."""

    def add_reaction(self, target: ReactionTarget, reaction: Reaction) -> None: ...

    def user_permission(self, repo: str, user: str) -> Permission: ...

    def read_file(self, repo: str, path: str, ref: str) -> bytes | None: ...

    def merge_pull_request(self, pr: PullRequestRef, sha: str | None = None) -> str: ...

    def create_deployment(self, repo: str, *, sha: str, ref: str, environment: str, description: str,
                          payload: dict[str, str], log_url: str | None = None) -> Deployment:
        """Record a deployment of ``sha`` to ``environment``, already ``in_progress`` (``log_url``: the CI run).

        The environment is created on its first deployment. Previous successful deployments
        of the environment become ``inactive`` once this one succeeds (GitHub's auto_inactive).
        """

    def set_deployment_status(self, repo: str, deployment: Deployment, state: DeploymentState, description: str,
                              *, environment_url: str | None = None, log_url: str | None = None) -> None: ...

    def list_deployments(self, repo: str, environment: str, limit: int | None = None) -> list[Deployment]:
        """The environment's deployments, newest first, each with its newest status (at most ``limit``)."""
