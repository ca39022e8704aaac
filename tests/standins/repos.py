"""The in-memory git repositories the GitHub and GitLab stand-ins keep, written once.

A repository is a plain dict (so it lives in the JSON state) with ``commits`` (sha ->
``{"tree": {path: base64 content}, "parents", "message", "date"}``), ``branches`` (name
-> sha), ``statuses`` (dicts with a ``sha``) and ``default_branch``. :class:`GitRepos`
seeds and reads them; a stand-in says how a repository is looked up (``_repository``),
how a ref resolves (``_resolve``) and what follows a branch that moved
(``_branch_moved``: the heads of its open PRs/MRs).
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections.abc import Callable

from tests.standins.http import now_iso


def fake_sha(*parts: object) -> str:
    return hashlib.sha1("\0".join(map(str, parts)).encode()).hexdigest()


def b64(value: str | bytes) -> str:
    return base64.b64encode(value.encode() if isinstance(value, str) else value).decode()


def encoded(files: dict[str, str | bytes] | None) -> dict[str, str | None]:
    """Seeding's ``{path: text or bytes}`` as tree changes (base64 contents)."""
    return {path: b64(content) for path, content in (files or {}).items()}


def commit(repo: dict, parent: str | None, changes: dict[str, str | None], message: str) -> str:
    """A commit of ``changes`` (path -> base64 content, None deletes) on ``parent``; returns its sha."""
    tree = dict(repo["commits"][parent]["tree"]) if parent else {}
    for path, content in changes.items():
        if content is None:
            tree.pop(path, None)
        else:
            tree[path] = content
    sha = fake_sha(parent, sorted(tree.items()), message, time.time_ns())
    repo["commits"][sha] = {"tree": tree, "parents": [parent] if parent else [], "message": message, "date": now_iso()}
    return sha


class GitRepos:
    """Seeding and reading of a stand-in's repositories (mixed into a ``Standin``)."""

    lock: threading.RLock  # these two come from Standin
    dump_state: Callable[[], None]

    # ------------------------------------------------------------------ per forge
    def _repository(self, name: str) -> dict:
        raise NotImplementedError

    def _resolve(self, repo: dict, ref: str) -> str:
        raise NotImplementedError

    def _branch_moved(self, repo: dict, branch: str, sha: str) -> None:
        """``branch`` of ``repo`` now points at ``sha`` (a push): move the open PR/MR heads along."""

    # ------------------------------------------------------------------ shared
    def add_branch(self, name: str, branch: str, *, from_ref: str | None = None,
                   files: dict[str, str | bytes] | None = None, message: str = "change") -> str:
        """Create ``branch`` from ``from_ref`` (default branch), optionally committing ``files``; returns its sha."""
        with self.lock:
            repo = self._repository(name)
            base = self._resolve(repo, from_ref or repo["default_branch"])
            sha = commit(repo, base, encoded(files), message) if files else base
            repo["branches"][branch] = sha
        self.dump_state()
        return sha

    def push(self, name: str, branch: str, files: dict[str, str | bytes] | None = None, message: str = "push") -> str:
        """A new commit on ``branch`` (and on the open PRs/MRs whose head it is); returns the new sha."""
        with self.lock:
            sha = self._commit_on(self._repository(name), branch, encoded(files), f"{message} {time.time_ns()}")
        self.dump_state()
        return sha

    def file(self, name: str, path: str, ref: str | None = None) -> bytes | None:
        with self.lock:
            repo = self._repository(name)
            content = repo["commits"][self._resolve(repo, ref or repo["default_branch"])]["tree"].get(path)
        return None if content is None else base64.b64decode(content)

    def statuses(self, name: str, sha: str | None = None) -> list[dict]:
        """The commit statuses set on ``sha`` (all of them: None), oldest first."""
        with self.lock:
            return [dict(s) for s in self._repository(name)["statuses"] if sha is None or s["sha"] == sha]

    def branches(self, name: str) -> dict[str, str]:
        with self.lock:
            return dict(self._repository(name)["branches"])

    def _merge(self, repo: dict, head_tree: dict[str, str], base_branch: str, message: str) -> str:
        """Commit the files of ``head_tree`` that differ onto ``base_branch`` and move it; returns the sha."""
        base = repo["branches"][base_branch]
        changes: dict[str, str | None] = {k: v for k, v in head_tree.items() if repo["commits"][base]["tree"].get(k) != v}
        sha = commit(repo, base, changes, message)
        repo["branches"][base_branch] = sha
        return sha

    def _commit_on(self, repo: dict, branch: str, changes: dict[str, str | None], message: str) -> str:
        """Commit ``changes`` on top of ``branch`` and move it (and what follows it); returns the sha."""
        sha = commit(repo, repo["branches"][branch], changes, message)
        repo["branches"][branch] = sha
        self._branch_moved(repo, branch, sha)
        return sha
