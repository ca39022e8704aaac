"""An in-memory forge for tests of code that uses a forge (gate, deploy, chat-ops).

It keeps the same rules as the real ones where callers could depend on them: one
sticky comment per marker, statuses appended per sha, branches that must not exist yet,
permissions that default to ``none``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from llm_gitops.errors import ExternalServiceError
from llm_gitops.forges import deployment_log
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
from llm_gitops.forges.sticky import sticky_text, upsert_sticky


@dataclass
class FakeStatus:
    repo: str
    sha: str
    state: StatusState
    context: str
    description: str
    target_url: str | None
    summary: str | None


@dataclass
class FakeForge:
    name: str = "fake"
    user: str = "llm-gitops-bot"
    pulls: dict[PullRequestRef, PullRequest] = field(default_factory=dict)
    comments: dict[PullRequestRef, list[Comment]] = field(default_factory=dict)
    statuses: list[FakeStatus] = field(default_factory=list)
    files: dict[tuple[str, str], dict[str, bytes]] = field(default_factory=dict)  # (repo, ref) -> path -> bytes
    permissions: dict[tuple[str, str], Permission] = field(default_factory=dict)
    reactions: list[tuple[ReactionTarget, str]] = field(default_factory=list)
    merged: list[PullRequestRef] = field(default_factory=list)
    deployments: dict[str, list[dict]] = field(default_factory=dict)  # repo -> deployment_log records
    _next_id: int = 1

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    # ------------------------------------------------------------------ seeding
    def add_pull(self, repo: str, number: int, *, head_sha: str = "0" * 40, head_ref: str = "feature",
                 base_ref: str = "main", author: str = "contributor", is_fork: bool = False) -> PullRequestRef:
        ref = PullRequestRef(repo, number)
        self.pulls[ref] = PullRequest(ref, f"PR {number}", "open", head_ref, head_sha, base_ref, author,
                                      f"fake://{repo}/pull/{number}", is_fork)
        return ref

    def _pull(self, pr: PullRequestRef) -> PullRequest:
        if pr not in self.pulls:
            raise ExternalServiceError(f"pull request #{pr.number} not found in {pr.repo}")
        return self.pulls[pr]

    # ------------------------------------------------------------------ Forge
    def get_pull_request(self, pr: PullRequestRef) -> PullRequest:
        return self._pull(pr)

    def upsert_sticky_comment(self, pr: PullRequestRef, body: str, key: tuple[str, str | None]) -> StickyResult:
        self._pull(pr)
        marker, text = sticky_text(key, body)
        thread = self.comments.setdefault(pr, [])

        def edit(c: Comment) -> Comment:
            thread[thread.index(c)] = updated = Comment(c.id, text, c.author, c.url)
            return updated

        def create() -> Comment:
            c = Comment(self._id(), text, self.user, f"fake://{pr.repo}/pull/{pr.number}#comment-{self._next_id}")
            thread.append(c)
            return c

        return upsert_sticky(list(thread), marker, text, owner=self.user, view=lambda c: c, edit=edit, create=create)

    def set_commit_status(self, repo: str, sha: str, state: StatusState, context: str, description: str,
                          target_url: str | None = None, summary: str | None = None) -> None:
        self.statuses.append(FakeStatus(repo, sha, state, context, description, target_url, summary))

    def create_branch_with_changes(self, repo: str, branch: str, base: str, changes: list[FileChange], message: str) -> str:
        if (repo, branch) in self.files:
            raise ExternalServiceError(f"branch {branch} already exists in {repo}")
        tree = dict(self.files.get((repo, base), {}))
        for change in changes:
            if change.content is None:
                tree.pop(change.path, None)
            else:
                tree[change.path] = change.content.encode() if isinstance(change.content, str) else change.content
        self.files[(repo, branch)] = tree
        return hashlib.sha1(repr(sorted(tree.items())).encode() + message.encode()).hexdigest()

    def commit_changes(self, repo: str, branch: str, changes: list[FileChange], message: str) -> str:
        if (repo, branch) not in self.files:
            raise ExternalServiceError(f"branch {branch} does not exist in {repo}")
        tree = self.files[(repo, branch)]
        for change in changes:
            if change.content is None:
                tree.pop(change.path, None)
            else:
                tree[change.path] = change.content.encode() if isinstance(change.content, str) else change.content
        return hashlib.sha1(repr(sorted(tree.items())).encode() + message.encode()).hexdigest()

    def find_open_pull_request(self, repo: str, head: str, base: str) -> PullRequest | None:
        for pr in self.pulls.values():
            if pr.ref.repo == repo and pr.head_ref == head and pr.base_ref == base and pr.state == "open":
                return pr
        return None

    def get_commit_statuses(self, repo: str, sha: str) -> list[CommitStatus]:
        newest: dict[str, CommitStatus] = {}
        for s in reversed(self.statuses):
            if s.repo == repo and s.sha == sha:
                newest.setdefault(s.context, CommitStatus(s.context, s.state, s.description))
        return list(newest.values())

    def open_pull_request(self, repo: str, head: str, base: str, title: str, body: str) -> PullRequest:
        number = 1 + max((r.number for r in self.pulls if r.repo == repo), default=0)
        ref = PullRequestRef(repo, number)
        self.pulls[ref] = PullRequest(ref, title, "open", head, "0" * 40, base, self.user,
                                      f"fake://{repo}/pull/{number}", False)
        return self.pulls[ref]

    def add_reaction(self, target: ReactionTarget, reaction: Reaction) -> None:
        self._pull(target.pr)
        self.reactions.append((target, reaction))

    def user_permission(self, repo: str, user: str) -> Permission:
        return self.permissions.get((repo, user), "none")

    def read_file(self, repo: str, path: str, ref: str) -> bytes | None:
        return self.files.get((repo, ref), {}).get(path)

    def merge_pull_request(self, pr: PullRequestRef, sha: str | None = None) -> str:
        p = self._pull(pr)
        if sha and sha != p.head_sha:
            raise ExternalServiceError(f"#{pr.number} head moved: expected {sha}, is {p.head_sha}")
        self.merged.append(pr)
        self.pulls[pr] = PullRequest(p.ref, p.title, "merged", p.head_ref, p.head_sha, p.base_ref, p.author, p.url, p.is_fork)
        base = self.files.get((pr.repo, p.base_ref), {})
        base.update(self.files.get((pr.repo, p.head_ref), {}))
        self.files[(pr.repo, p.base_ref)] = base
        return hashlib.sha1(f"merge {pr}".encode()).hexdigest()

    def create_deployment(self, repo: str, *, sha: str, ref: str, environment: str, description: str,
                          payload: dict[str, str], log_url: str | None = None) -> Deployment:
        return deployment_log.create(self.deployments.setdefault(repo, []), sha=sha, ref=ref, environment=environment,
                                     description=description, payload=payload, log_url=log_url)

    def set_deployment_status(self, repo: str, deployment: Deployment, state: DeploymentState, description: str,
                              *, environment_url: str | None = None, log_url: str | None = None) -> None:
        deployment_log.add_status(self.deployments.setdefault(repo, []), deployment.id, state, description,
                                  environment_url=environment_url, log_url=log_url)

    def list_deployments(self, repo: str, environment: str, limit: int | None = None) -> list[Deployment]:
        return deployment_log.listed(self.deployments.get(repo, []), environment)[:limit]
