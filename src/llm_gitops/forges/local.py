"""The ``local`` forge: a git repository on disk, so the whole loop runs without a token.

A pull request is a branch plus a record; merging merges. Records live inside the
repository's git directory (``<git dir>/llm-gitops/``): pull requests and their comments,
commit statuses, reactions and deployments (with their statuses: each environment's
deploy history, as a hosted forge's environment page shows it). Being under ``.git``,
they are not part of any commit, so a change proposed in a pull request cannot forge
them (the same property a hosted forge's statuses have). ``repo`` in every call is the path of the repository.

Branches are written with git's plumbing (a temporary index, ``commit-tree``,
``update-ref`` with the expected old value), so the user's working tree and index are
never touched, except by a merge into the branch the working tree has checked out: that
merge runs there, as ``git merge`` would, and refuses when the tree has uncommitted changes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import tempfile
from dataclasses import asdict
from pathlib import Path

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

BOT = "llm-gitops"
_IDENTITY = {"GIT_AUTHOR_NAME": BOT, "GIT_AUTHOR_EMAIL": "llm-gitops@localhost",
             "GIT_COMMITTER_NAME": BOT, "GIT_COMMITTER_EMAIL": "llm-gitops@localhost"}


def _git(repo: str | Path, *args: str, env: dict | None = None, input: bytes | None = None, check: bool = True) -> str:
    try:
        proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, input=input, timeout=60,
                              env={**os.environ, **(env or {})})
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ExternalServiceError(f"git {args[0]} in {repo} failed: {exc}") from None
    if check and proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ExternalServiceError(f"git {' '.join(args[:2])} in {repo} failed: {msg[-1] if msg else proc.returncode}")
    return proc.stdout.decode("utf-8", "replace").strip() if proc.returncode == 0 else ""


class LocalForge:
    name = "local"

    def __init__(self, **_ignored):
        self.user = BOT

    # ------------------------------------------------------------------ storage
    def _store(self, repo: str) -> Path:
        git_dir = _git(repo, "rev-parse", "--absolute-git-dir", check=False)
        if not git_dir:
            raise ExternalServiceError(f"{repo} is not a git repository",
                                       hint="the local forge works on a git repository: run 'git init' there")
        store = Path(git_dir) / "llm-gitops"
        store.mkdir(exist_ok=True)
        return store

    @contextlib.contextmanager
    def _records(self, repo: str):
        """The records as one JSON document, read and written under a lock."""
        store = self._store(repo)
        with open(store / "lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            path = store / "records.json"
            data = json.loads(path.read_text()) if path.is_file() else {}
            for key in ("pulls", "comments", "statuses", "reactions", "deployments"):
                data.setdefault(key, [] if key in ("statuses", "reactions", "deployments") else {})
            yield data
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, indent=1))
            os.replace(tmp, path)

    def _sha(self, repo: str, ref: str) -> str | None:
        return _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False) or None

    def _pull(self, repo: str, record: dict) -> PullRequest:
        head_sha = self._sha(repo, f"refs/heads/{record['head']}") or record.get("merged_sha") or ""
        state = record["state"]
        if state == "open" and head_sha and head_sha != record.get("opened_at_base") \
                and self._is_ancestor(repo, head_sha, record["base"]):
            state = "merged"  # merged with plain git ('git merge'), which is how a local pull request is merged by hand
        return PullRequest(PullRequestRef(repo, record["number"]), record["title"], state, record["head"],
                           head_sha, record["base"], BOT, f"file://{repo}#pull-{record['number']}", False)

    def _is_ancestor(self, repo: str, sha: str, branch: str) -> bool:
        proc = subprocess.run(["git", "-C", str(repo), "merge-base", "--is-ancestor", sha, f"refs/heads/{branch}"],
                              capture_output=True, timeout=60)
        return proc.returncode == 0

    # ------------------------------------------------------------------ Forge
    def get_pull_request(self, pr: PullRequestRef) -> PullRequest:
        with self._records(pr.repo) as data:
            record = data["pulls"].get(str(pr.number))
        if record is None:
            raise ExternalServiceError(f"pull request #{pr.number} not found in {pr.repo}")
        return self._pull(pr.repo, record)

    def upsert_sticky_comment(self, pr: PullRequestRef, body: str, key: tuple[str, str | None]) -> StickyResult:
        marker, text = sticky_text(key, body)
        with self._records(pr.repo) as data:
            if str(pr.number) not in data["pulls"]:
                raise ExternalServiceError(f"pull request #{pr.number} not found in {pr.repo}")
            thread = data["comments"].setdefault(str(pr.number), [])
            comments = [Comment(**c) for c in thread]

            def edit(c: Comment) -> Comment:
                updated = Comment(c.id, text, c.author, c.url)
                thread[comments.index(c)] = asdict(updated)
                return updated

            def create() -> Comment:
                new_id = 1 + max((c["id"] for cs in data["comments"].values() for c in cs), default=0)
                c = Comment(new_id, text, BOT, f"file://{pr.repo}#pull-{pr.number}-comment-{new_id}")
                thread.append(asdict(c))
                return c

            return upsert_sticky(comments, marker, text, owner=BOT, view=lambda c: c, edit=edit, create=create)

    def set_commit_status(self, repo: str, sha: str, state: StatusState, context: str, description: str,
                          target_url: str | None = None, summary: str | None = None) -> None:
        if self._sha(repo, sha) is None:
            raise ExternalServiceError(f"no commit {sha[:12]} in {repo}")
        with self._records(repo) as data:
            data["statuses"].append({"sha": sha, "state": state, "context": context, "description": description,
                                     "target_url": target_url})

    def get_commit_statuses(self, repo: str, sha: str) -> list[CommitStatus]:
        with self._records(repo) as data:
            statuses = [s for s in data["statuses"] if s["sha"] == sha]
        newest: dict[str, CommitStatus] = {}
        for s in reversed(statuses):
            newest.setdefault(s["context"], CommitStatus(s["context"], s["state"], s["description"]))
        return list(newest.values())

    def _commit(self, repo: str, parent: str, changes: list[FileChange], message: str) -> str:
        """A commit of ``parent``'s tree with ``changes``, made in a temporary index."""
        with tempfile.TemporaryDirectory(prefix="llm-gitops-index-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            _git(repo, "read-tree", parent, env=env)
            for change in changes:
                if change.content is None:
                    _git(repo, "update-index", "--force-remove", "--", change.path, env=env)
                    continue
                raw = change.content.encode() if isinstance(change.content, str) else change.content
                blob = _git(repo, "hash-object", "-w", "--stdin", input=raw)
                _git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{change.path}", env=env)
            tree = _git(repo, "write-tree", env=env)
        return _git(repo, "commit-tree", tree, "-p", parent, "-m", message, env=_IDENTITY)

    def create_branch_with_changes(self, repo: str, branch: str, base: str, changes: list[FileChange], message: str) -> str:
        if self._sha(repo, f"refs/heads/{branch}") is not None:
            raise ExternalServiceError(f"branch {branch} already exists in {repo}")
        base_sha = self._sha(repo, f"refs/heads/{base}")
        if base_sha is None:
            raise ExternalServiceError(f"no branch {base} in {repo}")
        sha = self._commit(repo, base_sha, changes, message)
        _git(repo, "update-ref", f"refs/heads/{branch}", sha, "0" * 40)  # fails if it appeared meanwhile
        return sha

    def commit_changes(self, repo: str, branch: str, changes: list[FileChange], message: str) -> str:
        head = self._sha(repo, f"refs/heads/{branch}")
        if head is None:
            raise ExternalServiceError(f"no branch {branch} in {repo}")
        sha = self._commit(repo, head, changes, message)
        _git(repo, "update-ref", f"refs/heads/{branch}", sha, head)  # fails if it moved meanwhile
        return sha

    def open_pull_request(self, repo: str, head: str, base: str, title: str, body: str) -> PullRequest:
        with self._records(repo) as data:
            number = 1 + max((int(n) for n in data["pulls"]), default=0)
            record = {"number": number, "title": title, "body": body, "head": head, "base": base, "state": "open",
                      "opened_at_base": self._sha(repo, f"refs/heads/{base}")}
            data["pulls"][str(number)] = record
        return self._pull(repo, record)

    def find_open_pull_request(self, repo: str, head: str, base: str) -> PullRequest | None:
        with self._records(repo) as data:
            found = [r for r in data["pulls"].values() if r["head"] == head and r["base"] == base and r["state"] == "open"]
        pulls = [self._pull(repo, r) for r in found]
        return next((p for p in pulls if p.state == "open"), None)

    def add_reaction(self, target: ReactionTarget, reaction: Reaction) -> None:
        with self._records(target.pr.repo) as data:
            data["reactions"].append({"pr": target.pr.number, "comment": target.comment_id, "reaction": reaction})

    def user_permission(self, repo: str, user: str) -> Permission:
        # Whoever can write to the repository on disk administers its local forge.
        return "admin"

    def read_file(self, repo: str, path: str, ref: str) -> bytes | None:
        proc = subprocess.run(["git", "-C", str(repo), "show", f"{ref}:{path}"], capture_output=True, timeout=60)
        return proc.stdout if proc.returncode == 0 else None

    def merge_pull_request(self, pr: PullRequestRef, sha: str | None = None) -> str:
        current = self.get_pull_request(pr)
        if current.state != "open":
            raise ExternalServiceError(f"#{pr.number} is {current.state}, not open")
        if sha and sha != current.head_sha:
            raise ExternalServiceError(f"#{pr.number} head moved: expected {sha}, is {current.head_sha}")
        repo, message = pr.repo, f"Merge pull request #{pr.number}: {current.title}"
        checked_out = _git(repo, "symbolic-ref", "--quiet", "HEAD", check=False) == f"refs/heads/{current.base_ref}"
        if checked_out:
            if _git(repo, "status", "--porcelain", "--untracked-files=no"):
                raise ExternalServiceError(f"{repo} has uncommitted changes on {current.base_ref}",
                                           hint="commit or stash them, then merge again")
            _git(repo, "merge", "--no-ff", "--no-edit", "-m", message, current.head_ref, env=_IDENTITY)
        else:
            with tempfile.TemporaryDirectory(prefix="llm-gitops-merge-") as tmp:
                _git(repo, "worktree", "add", "--quiet", "--detach", tmp, current.base_ref)
                try:
                    _git(tmp, "merge", "--no-ff", "--no-edit", "-m", message, current.head_ref, env=_IDENTITY)
                    merged = _git(tmp, "rev-parse", "HEAD")
                    _git(repo, "update-ref", f"refs/heads/{current.base_ref}", merged,
                         self._sha(repo, f"refs/heads/{current.base_ref}") or "")
                finally:
                    _git(repo, "worktree", "remove", "--force", tmp, check=False)
        merged_sha = self._sha(repo, f"refs/heads/{current.base_ref}") or ""
        with self._records(repo) as data:
            data["pulls"][str(pr.number)].update(state="merged", merged_sha=merged_sha)
        return merged_sha

    def create_deployment(self, repo: str, *, sha: str, ref: str, environment: str, description: str,
                          payload: dict[str, str], log_url: str | None = None) -> Deployment:
        if self._sha(repo, sha) is None:
            raise ExternalServiceError(f"no commit {sha[:12]} in {repo}")
        with self._records(repo) as data:
            return deployment_log.create(data["deployments"], sha=sha, ref=ref, environment=environment,
                                         description=description, payload=payload, log_url=log_url)

    def set_deployment_status(self, repo: str, deployment: Deployment, state: DeploymentState, description: str,
                              *, environment_url: str | None = None, log_url: str | None = None) -> None:
        with self._records(repo) as data:
            deployment_log.add_status(data["deployments"], deployment.id, state, description,
                                      environment_url=environment_url, log_url=log_url)

    def list_deployments(self, repo: str, environment: str, limit: int | None = None) -> list[Deployment]:
        with self._records(repo) as data:
            return deployment_log.listed(data["deployments"], environment)[:limit]
