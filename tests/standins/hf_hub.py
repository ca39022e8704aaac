"""A stateful loopback stand-in for the Hugging Face Hub: what ``snapshot_download`` calls.

Endpoints (as huggingface_hub 1.x/2.x uses them, read from its source):

* ``GET /api/models/{repo}`` and ``/api/models/{repo}/revision/{rev}``: the repo info,
  whose ``sha`` is the commit the revision resolves to;
* ``GET /api/models/{repo}/tree/{rev}`` (``recursive``): the files, each with its size,
  git blob ``oid`` and, for LFS files (``*.safetensors``), ``lfs: {oid: sha256, size}``;
* ``HEAD|GET /{repo}/resolve/{rev}/{path}``: the file, with ``X-Repo-Commit``, ``ETag``
  (the blob oid, or ``X-Linked-Etag`` = the sha256 for LFS files) and the sizes.

Errors carry the Hub's ``X-Error-Code`` header (``RepoNotFound``, ``RevisionNotFound``,
``EntryNotFound``, ``GatedRepo``), from which huggingface_hub picks its exception. A
private repo answers only to a bearer token in ``state["tokens"]``; a gated one only to
a token whose user accepted its terms.
"""

from __future__ import annotations

import base64
import hashlib
import urllib.parse
from pathlib import Path

from tests.standins.http import HttpError, Request, Response, Standin

LFS_SUFFIXES = (".safetensors", ".bin", ".model")


def git_blob_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class HubStandin(Standin):
    kind = "hf-hub"

    def initial_state(self) -> dict:
        # repos: id -> {"private", "gated", "refs": {name: sha}, "commits": {sha: {path: base64}}}
        return {"kind": self.kind, "next_id": 1000, "repos": {}, "tokens": {}, "accepted": {}}

    # ------------------------------------------------------------------ seeding
    def add_commit(self, repo: str, files: dict[str, bytes], *, ref: str = "main", private: bool = False,
                   gated: bool = False) -> str:
        """Commit ``files`` (path -> content) to ``repo`` at ``ref``; returns the commit sha."""
        with self.lock:
            entry = self.state["repos"].setdefault(repo, {"private": private, "gated": gated, "refs": {}, "commits": {}})
            entry["private"], entry["gated"] = private, gated
            blob = "\n".join(f"{p} {git_blob_oid(d)}" for p, d in sorted(files.items()))
            sha = hashlib.sha1(f"{repo}\n{ref}\n{len(entry['commits'])}\n{blob}".encode()).hexdigest()
            entry["commits"][sha] = {p: base64.b64encode(d).decode() for p, d in files.items()}
            entry["refs"][ref] = sha
        self.dump_state()
        return sha

    def add_model_dir(self, repo: str, model_dir: Path, **kwargs) -> str:
        files = {p.relative_to(model_dir).as_posix(): p.read_bytes() for p in sorted(Path(model_dir).rglob("*")) if p.is_file()}
        return self.add_commit(repo, files, **kwargs)

    def add_token(self, token: str, user: str) -> None:
        with self.lock:
            self.state["tokens"][token] = user

    def accept_terms(self, user: str, repo: str) -> None:
        with self.lock:
            self.state["accepted"].setdefault(user, []).append(repo)

    # ------------------------------------------------------------------ routes
    def register_routes(self) -> None:
        repo = r"(?P<repo>[^/]+/[^/]+)"
        self.route("GET", rf"/api/models/{repo}", self.repo_info)
        self.route("GET", rf"/api/models/{repo}/revision/(?P<rev>.+)", self.repo_info)
        self.route("GET", rf"/api/models/{repo}/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?", self.tree)
        self.route("HEAD", rf"/{repo}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", self.resolve)
        self.route("GET", rf"/{repo}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", self.resolve)

    def authenticate(self, req: Request) -> str:
        auth = req.headers.get("Authorization") or ""
        if auth.startswith("Bearer "):
            user = self.state["tokens"].get(auth[len("Bearer "):])
            if user is None:
                raise HttpError(401, {"error": "Invalid credentials in Authorization header"})
            return user
        return "anonymous"

    def not_found(self, req: Request) -> HttpError:
        return HttpError(404, {"error": "Not Found"})

    def _repo(self, req: Request) -> dict:
        name = req.param("repo")
        entry = self.state["repos"].get(name)
        if entry is None or (entry["private"] and req.user == "anonymous"):
            # The Hub does not tell a private repo from a missing one.
            raise HttpError(401 if req.user == "anonymous" else 404, {"error": "Repository Not Found"},
                            {"X-Error-Code": "RepoNotFound"})
        if entry["gated"] and name not in self.state["accepted"].get(req.user, []):
            raise HttpError(403, {"error": f"Access to model {name} is restricted."}, {"X-Error-Code": "GatedRepo"})
        return entry

    def _commit(self, entry: dict, rev: str) -> str:
        rev = urllib.parse.unquote(rev)
        if rev in entry["refs"]:
            return entry["refs"][rev]
        if rev in entry["commits"]:
            return rev
        raise HttpError(404, {"error": f"Invalid rev id: {rev}"}, {"X-Error-Code": "RevisionNotFound"})

    def repo_info(self, req: Request) -> Response:
        entry = self._repo(req)
        rev = req.match.groupdict().get("rev") or "main"  # type: ignore[union-attr]
        sha = self._commit(entry, rev)
        files = entry["commits"][sha]
        return 200, {
            "id": req.param("repo"), "modelId": req.param("repo"), "sha": sha, "private": entry["private"],
            "gated": entry["gated"], "siblings": [{"rfilename": p} for p in sorted(files)],
        }, {}

    def tree(self, req: Request) -> Response:
        entry = self._repo(req)
        sha = self._commit(entry, req.param("rev"))
        prefix = (req.match.groupdict().get("path") or "").strip("/")  # type: ignore[union-attr]
        items = []
        for path, encoded in sorted(entry["commits"][sha].items()):
            if prefix and not path.startswith(prefix + "/"):
                continue
            data = base64.b64decode(encoded)
            item = {"type": "file", "path": path, "size": len(data), "oid": git_blob_oid(data)}
            if path.endswith(LFS_SUFFIXES):
                item["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
            items.append(item)
        return 200, items, {}

    def resolve(self, req: Request) -> Response:
        entry = self._repo(req)
        sha = self._commit(entry, req.param("rev"))
        path = req.param("path")
        encoded = entry["commits"][sha].get(path)
        if encoded is None:
            raise HttpError(404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": sha})
        data = base64.b64decode(encoded)
        headers = {"X-Repo-Commit": sha, "ETag": f'"{git_blob_oid(data)}"', "Accept-Ranges": "bytes"}
        if path.endswith(LFS_SUFFIXES):
            headers.update({"X-Linked-Etag": f'"{hashlib.sha256(data).hexdigest()}"', "X-Linked-Size": str(len(data))})
        return 200, data, headers
