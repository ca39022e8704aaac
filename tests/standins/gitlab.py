"""A stateful stand-in for the part of GitLab's v4 REST API that MR work uses.

Served under ``/api/v4`` as GitLab is. Projects are addressed by numeric id or by the
URL-encoded path (``group%2Fproject``). Tokens come in ``PRIVATE-TOKEN``,
``JOB-TOKEN`` or ``Authorization: Bearer``; a missing or wrong one gets GitLab's
``{"message": "401 Unauthorized"}``. Everything is attributed to the token's user, as
GitLab does. A CI job token (``JOB-TOKEN``) may, as on GitLab, neither read ``/user``
nor write merge request notes.
"""

from __future__ import annotations

import base64
import hashlib
import time
import urllib.parse

from tests.standins.http import HttpError, Request, Standin, now_iso, paginate
from tests.standins.repos import GitRepos, b64, commit, encoded, fake_sha

API = "/api/v4"
ACCESS = {"guest": 10, "planner": 15, "reporter": 20, "developer": 30, "maintainer": 40, "owner": 50}
STATUS_STATES = {"pending", "running", "success", "failed", "canceled", "skipped"}


class GitLabStandin(GitRepos, Standin):
    kind = "gitlab"

    def __init__(self, *, token: str = "glpat-standin-token-0123456789", user: str = "llm-gitops-bot", state_file=None):
        super().__init__(state_file=state_file)
        with self.lock:
            self.state.setdefault("tokens", {})[token] = user
        self.add_user(user)
        self.token = token

    # ================================================================== seeding
    def add_user(self, username: str, *, token: str | None = None) -> int:
        with self.lock:
            users = self.state.setdefault("users", {})
            if username not in users:
                users[username] = {"id": self.new_id()}
            if token:
                self.state["tokens"][token] = username
            uid = users[username]["id"]
        self.dump_state()
        return uid

    def add_project(self, path: str, *, default_branch: str = "main", files: dict[str, str | bytes] | None = None) -> int:
        """Create a project (``group/name``); returns its numeric id."""
        owner = path.split("/")[0]
        self.add_user(owner)
        with self.lock:
            pid = self.new_id()
            project = {"id": pid, "path": path, "default_branch": default_branch, "commits": {}, "branches": {},
                       "mrs": {}, "notes": {}, "statuses": [], "awards": [], "members": {owner: ACCESS["owner"]},
                       "next_iid": 1}
            self.state.setdefault("projects", {})[str(pid)] = project
            sha = commit(project, None, encoded(files), "initial commit")
            project["branches"][default_branch] = sha
        self.dump_state()
        return pid

    def add_merge_request(self, path: str, *, source: str = "feature", target: str | None = None, title: str = "A change",
                          author: str = "contributor", source_project_id: int | None = None,
                          files: dict[str, str | bytes] | None = None) -> int:
        """Open an MR; ``source_project_id`` different from the project's id makes it a fork MR."""
        self.add_user(author)
        with self.lock:
            p = self._project(path)
            if source not in p["branches"]:
                self.add_branch(path, source, files=files or {"CHANGE.md": f"{title}\n"}, message=title)
            iid = self._open_mr(p, source=source, target=target or p["default_branch"], title=title, description="",
                                author=author, source_project_id=source_project_id or p["id"])
        self.dump_state()
        return iid

    def set_access(self, path: str, username: str, level: str | int) -> None:
        """level: guest|planner|reporter|developer|maintainer|owner or a number (0 removes)."""
        self.add_user(username)
        with self.lock:
            p = self._project(path)
            value = ACCESS[level] if isinstance(level, str) else level
            if value:
                p["members"][username] = value
            else:
                p["members"].pop(username, None)
        self.dump_state()

    def add_note(self, path: str, iid: int, body: str, *, author: str = "someone") -> int:
        self.add_user(author)
        with self.lock:
            return self._add_note(self._project(path), iid, body, author)["id"]

    # ================================================================== accessors
    def project_id(self, path: str) -> int:
        with self.lock:
            return self._project(path)["id"]

    def notes(self, path: str, iid: int) -> list[dict]:
        with self.lock:
            return [dict(n) for n in self._project(path)["notes"].values() if n["iid"] == iid]

    def merge_requests(self, path: str) -> list[dict]:
        with self.lock:
            return [dict(m) for m in self._project(path)["mrs"].values()]

    def merge_request(self, path: str, iid: int) -> dict:
        with self.lock:
            return dict(self._project(path)["mrs"][str(iid)])

    def deployments(self, path: str, environment: str | None = None) -> list[dict]:
        """Deployments oldest first; ``statuses`` lists every status each one went through."""
        with self.lock:
            return [dict(d) for d in self._project(path).setdefault("deployments", [])
                    if environment is None or d["environment"] == environment]

    def environments(self, path: str) -> dict[str, dict]:
        with self.lock:
            return {k: dict(v) for k, v in self._project(path).setdefault("environments", {}).items()}

    def add_commit(self, path: str, sha: str, *, message: str = "a commit made elsewhere") -> None:
        """Make ``sha`` (a commit of a checkout on disk) known, on the default branch's tree."""
        with self.lock:
            p = self._project(path)
            p["commits"].setdefault(sha, {**p["commits"][p["branches"][p["default_branch"]]], "message": message})
        self.dump_state()

    def awards(self, path: str) -> list[dict]:
        with self.lock:
            return [dict(a) for a in self._project(path)["awards"]]

    # ================================================================== internals
    def _project(self, ident: str | int) -> dict:
        ident = urllib.parse.unquote(str(ident))
        projects = self.state.get("projects", {})
        if ident in projects:
            return projects[ident]
        for p in projects.values():
            if p["path"] == ident:
                return p
        raise HttpError(404, {"message": "404 Project Not Found"})

    def _repository(self, name: str) -> dict:
        return self._project(name)

    def _branch_moved(self, repo: dict, branch: str, sha: str) -> None:
        for mr in repo["mrs"].values():
            if mr["source_branch"] == branch and mr["source_project_id"] == repo["id"] and mr["state"] == "opened":
                mr["sha"] = sha

    def _resolve(self, p: dict, ref: str) -> str:
        if ref in p["branches"]:
            return p["branches"][ref]
        if ref in p["commits"]:
            return ref
        raise HttpError(404, {"message": "404 Commit Not Found"})

    def _open_mr(self, p, *, source, target, title, description, author, source_project_id) -> int:
        iid = p["next_iid"]
        p["next_iid"] += 1
        p["mrs"][str(iid)] = {"id": self.new_id(), "iid": iid, "title": title, "description": description,
                              "state": "opened", "source_branch": source, "target_branch": target,
                              "sha": p["branches"].get(source) or fake_sha(source), "author": author,
                              "source_project_id": source_project_id, "merge_commit_sha": None,
                              "created_at": now_iso(), "updated_at": now_iso()}
        return iid

    def _add_note(self, p, iid, body, author) -> dict:
        note = {"id": self.new_id(), "iid": iid, "body": body, "author": author, "created_at": now_iso(),
                "updated_at": now_iso()}
        p["notes"][str(note["id"])] = note
        return note

    # ================================================================== auth and errors
    def authenticate(self, req: Request) -> str:
        token = req.headers.get("PRIVATE-TOKEN") or req.headers.get("JOB-TOKEN")
        if not token:
            scheme, _, value = (req.headers.get("Authorization") or "").partition(" ")
            token = value.strip() if scheme.lower() == "bearer" else None
        user = self.state["tokens"].get(token or "")
        if user is None:
            raise HttpError(401, {"message": "401 Unauthorized"})
        req.extra["job_token"] = bool(req.headers.get("JOB-TOKEN")) and not req.headers.get("PRIVATE-TOKEN")
        return user

    @staticmethod
    def _no_job_token(req: Request) -> None:
        # Not on the job token's allow list: GitLab answers 403 (401 for /user).
        if req.extra.get("job_token"):
            raise HttpError(403, {"message": "403 Forbidden"})

    def not_found(self, req: Request) -> HttpError:
        return HttpError(404, {"error": "404 Not Found"})

    def rate_limit_error(self, fault) -> HttpError:
        headers = {"RateLimit-Limit": "600", "RateLimit-Remaining": "0",
                   "RateLimit-Reset": str(int(time.time() + (fault.retry_after or 1)))}
        if fault.retry_after is not None:
            headers["Retry-After"] = f"{fault.retry_after:g}"
        return HttpError(429, b"Retry later\n", {"Content-Type": "text/plain", **headers})

    # ================================================================== shapes
    def _user(self, base, username):
        uid = self.state["users"].get(username, {"id": 0})["id"]
        return {"id": uid, "username": username, "name": username.title(), "state": "active", "locked": False,
                "avatar_url": f"{base}/uploads/{username}.png", "web_url": f"{base}/{username}"}

    def _project_json(self, base, p, viewer=None):
        name = p["path"].rsplit("/", 1)[-1]
        level = p["members"].get(viewer or "")
        return {"id": p["id"], "description": None, "name": name, "name_with_namespace": p["path"].replace("/", " / "),
                "path": name, "path_with_namespace": p["path"], "created_at": "2024-01-01T00:00:00Z",
                "default_branch": p["default_branch"], "web_url": f"{base}/{p['path']}",
                "http_url_to_repo": f"{base}/{p['path']}.git", "visibility": "private",
                "namespace": {"id": 1, "name": p["path"].split("/")[0], "path": p["path"].split("/")[0], "kind": "group",
                              "full_path": p["path"].rsplit("/", 1)[0]},
                "_links": {"self": f"{base}{API}/projects/{p['id']}",
                           "merge_requests": f"{base}{API}/projects/{p['id']}/merge_requests"},
                "permissions": {"project_access": {"access_level": level} if level else None, "group_access": None}}

    def _mr_json(self, base, p, mr):
        return {"id": mr["id"], "iid": mr["iid"], "project_id": p["id"], "title": mr["title"],
                "description": mr["description"], "state": mr["state"], "created_at": mr["created_at"],
                "updated_at": mr["updated_at"], "merged_at": now_iso() if mr["state"] == "merged" else None,
                "target_branch": mr["target_branch"], "source_branch": mr["source_branch"],
                "author": self._user(base, mr["author"]), "source_project_id": mr["source_project_id"],
                "target_project_id": p["id"], "draft": False, "work_in_progress": False,
                "merge_status": "can_be_merged", "detailed_merge_status": "mergeable", "sha": mr["sha"],
                "merge_commit_sha": mr["merge_commit_sha"], "squash_commit_sha": None, "user_notes_count":
                len([n for n in p["notes"].values() if n["iid"] == mr["iid"]]),
                "web_url": f"{base}/{p['path']}/-/merge_requests/{mr['iid']}",
                "references": {"short": f"!{mr['iid']}", "full": f"{p['path']}!{mr['iid']}"},
                "diff_refs": {"base_sha": p["branches"].get(mr["target_branch"]), "head_sha": mr["sha"],
                              "start_sha": p["branches"].get(mr["target_branch"])}}

    def _note_json(self, base, p, n):
        mr = p["mrs"].get(str(n["iid"]), {"id": 0})
        return {"id": n["id"], "type": None, "body": n["body"], "attachment": None, "author": self._user(base, n["author"]),
                "created_at": n["created_at"], "updated_at": n["updated_at"], "system": False, "noteable_id": mr["id"],
                "noteable_type": "MergeRequest", "noteable_iid": n["iid"], "project_id": p["id"], "resolvable": False,
                "confidential": False, "internal": False}

    def _commit_json(self, base, p, sha):
        c = p["commits"][sha]
        return {"id": sha, "short_id": sha[:8], "title": c["message"].splitlines()[0] if c["message"] else "",
                "message": c["message"], "author_name": "Dev", "author_email": "dev@example.com",
                "authored_date": c["date"], "committer_name": "Dev", "committer_email": "dev@example.com",
                "committed_date": c["date"], "created_at": c["date"], "parent_ids": c["parents"],
                "web_url": f"{base}/{p['path']}/-/commit/{sha}"}

    def _status_json(self, base, p, s):
        return {"id": s["id"], "sha": s["sha"], "ref": s.get("ref"), "status": s["state"], "name": s["name"],
                "target_url": s.get("target_url"), "description": s.get("description"), "created_at": s["created_at"],
                "started_at": None, "finished_at": s["created_at"] if s["state"] in ("success", "failed", "canceled") else None,
                "allow_failure": False, "coverage": None, "pipeline_id": s.get("pipeline_id"),
                "author": self._user(base, s["author"])}

    def _branch_json(self, base, p, name):
        return {"name": name, "merged": False, "protected": name == p["default_branch"], "default": name == p["default_branch"],
                "developers_can_push": False, "developers_can_merge": False, "can_push": True,
                "web_url": f"{base}/{p['path']}/-/tree/{name}", "commit": self._commit_json(base, p, p["branches"][name])}

    # ================================================================== routes
    def register_routes(self) -> None:
        P = API + r"/projects/(?P<pid>[^/]+)"
        M = P + r"/merge_requests/(?P<iid>\d+)"
        for method, pattern, handler in [
            ("GET", API + r"/user", self.h_user),
            ("GET", API + r"/users", self.h_users),
            ("GET", API + r"/version", lambda r: (200, {"version": "17.5.0", "revision": "standin"}, {})),
            ("GET", P, self.h_project),
            ("GET", P + r"/merge_requests", self.h_list_mrs),
            ("POST", P + r"/merge_requests", self.h_create_mr),
            ("GET", M, self.h_get_mr),
            ("PUT", M + r"/merge", self.h_merge_mr),
            ("GET", M + r"/notes", self.h_list_notes),
            ("POST", M + r"/notes", self.h_create_note),
            ("GET", M + r"/notes/(?P<nid>\d+)", self.h_get_note),
            ("PUT", M + r"/notes/(?P<nid>\d+)", self.h_edit_note),
            ("POST", M + r"/award_emoji", self.h_award_mr),
            ("GET", M + r"/award_emoji", self.h_list_awards_mr),
            ("POST", M + r"/notes/(?P<nid>\d+)/award_emoji", self.h_award_note),
            ("POST", P + r"/statuses/(?P<sha>[0-9a-zA-Z_.\-]+)", self.h_create_status),
            ("GET", P + r"/repository/commits/(?P<sha>[^/]+)/statuses", self.h_list_statuses),
            ("GET", P + r"/repository/commits/(?P<sha>[^/]+)", self.h_get_commit),
            ("POST", P + r"/repository/commits", self.h_create_commit),
            ("GET", P + r"/repository/branches/(?P<branch>.+)", self.h_get_branch),
            ("GET", P + r"/repository/branches", self.h_list_branches),
            ("POST", P + r"/repository/branches", self.h_create_branch),
            ("GET", P + r"/repository/files/(?P<path>[^/]+)/raw", self.h_get_file_raw),
            ("GET", P + r"/repository/files/(?P<path>[^/]+)", self.h_get_file),
            ("GET", P + r"/members/all/(?P<uid>\d+)", self.h_member_all),
            ("GET", P + r"/members/(?P<uid>\d+)", self.h_member),
            ("POST", P + r"/deployments", self.h_create_deployment),
            ("GET", P + r"/deployments", self.h_list_deployments),
            ("GET", P + r"/deployments/(?P<did>\d+)", self.h_get_deployment),
            ("PUT", P + r"/deployments/(?P<did>\d+)", self.h_update_deployment),
            ("GET", P + r"/environments", self.h_list_environments),
        ]:
            self.route(method, pattern, handler)

    def _p(self, req) -> dict:
        return self._project(req.match.group("pid"))

    def _mr(self, p, req) -> dict:
        mr = p["mrs"].get(req.match.group("iid"))
        if mr is None:
            raise HttpError(404, {"message": "404 Not found"})
        return mr

    def _level(self, p, user) -> int:
        if user in p["members"]:
            return p["members"][user]
        # The token's own identity (a bot or the CI job) may act as a developer.
        return ACCESS["developer"] if user in self.state["tokens"].values() else 0

    def _need(self, p, req, level: str):
        if self._level(p, req.user) < ACCESS[level]:
            raise HttpError(403, {"message": "403 Forbidden"})

    def _body(self, req, *required) -> dict:
        body = req.body if isinstance(req.body, dict) else {}
        if not isinstance(req.body, dict) and req.raw_body:
            raise HttpError(400, {"error": "Bad Request"})
        for key in required:
            if not body.get(key):
                raise HttpError(400, {"error": f"{key} is missing"})
        return body

    def h_user(self, req):
        if req.extra.get("job_token"):
            raise HttpError(401, {"message": "401 Unauthorized"})
        return 200, self._user(req.base_url, req.user), {}

    def h_users(self, req):
        users = [u for u in self.state["users"] if "username" not in req.query or u == req.query["username"]]
        chunk, headers = paginate(req, users, default_per_page=20)
        return 200, [self._user(req.base_url, u) for u in chunk], headers

    def h_project(self, req):
        return 200, self._project_json(req.base_url, self._p(req), req.user), {}

    def h_list_mrs(self, req):
        p = self._p(req)
        state = req.query.get("state", "all")
        items = [m for m in p["mrs"].values() if state == "all" or m["state"] == state]
        for key in ("source_branch", "target_branch"):
            if key in req.query:
                items = [m for m in items if m[key] == req.query[key]]
        chunk, headers = paginate(req, items, default_per_page=20)
        return 200, [self._mr_json(req.base_url, p, m) for m in chunk], headers

    def h_create_mr(self, req):
        p = self._p(req)
        self._need(p, req, "developer")
        body = self._body(req, "source_branch", "target_branch", "title")
        for b in ("source_branch", "target_branch"):
            if body[b] not in p["branches"]:
                raise HttpError(400, {"message": [f"{'Source' if b == 'source_branch' else 'Target'} branch is invalid"]})
        for m in p["mrs"].values():
            if m["source_branch"] == body["source_branch"] and m["target_branch"] == body["target_branch"] and m["state"] == "opened":
                raise HttpError(409, {"message": [f"Another open merge request already exists for this source branch: !{m['iid']}"]})
        iid = self._open_mr(p, source=body["source_branch"], target=body["target_branch"], title=body["title"],
                            description=body.get("description") or "", author=req.user, source_project_id=p["id"])
        return 201, self._mr_json(req.base_url, p, p["mrs"][str(iid)]), {}

    def h_get_mr(self, req):
        p = self._p(req)
        return 200, self._mr_json(req.base_url, p, self._mr(p, req)), {}

    def h_merge_mr(self, req):
        p = self._p(req)
        self._need(p, req, "developer")
        mr = self._mr(p, req)
        body = req.body if isinstance(req.body, dict) else {}
        if mr["state"] != "opened":
            raise HttpError(405, {"message": "405 Method Not Allowed"})
        if body.get("sha") and body["sha"] != mr["sha"]:
            raise HttpError(409, {"message": "SHA does not match HEAD of source branch: " + mr["sha"]})
        head_tree = p["commits"][p["branches"].get(mr["source_branch"], mr["sha"])]["tree"]
        sha = self._merge(p, head_tree, mr["target_branch"],
                          body.get("merge_commit_message") or f"Merge branch '{mr['source_branch']}'")
        mr.update(state="merged", merge_commit_sha=sha, updated_at=now_iso())
        return 200, self._mr_json(req.base_url, p, mr), {}

    def h_list_notes(self, req):
        p = self._p(req)
        mr = self._mr(p, req)
        items = [n for n in p["notes"].values() if n["iid"] == mr["iid"]]
        # GitLab's default order is created_at desc.
        items.sort(key=lambda n: n["id"], reverse=req.query.get("sort", "desc") == "desc")
        chunk, headers = paginate(req, items, default_per_page=20)
        return 200, [self._note_json(req.base_url, p, n) for n in chunk], headers

    def h_create_note(self, req):
        p = self._p(req)
        mr = self._mr(p, req)
        self._no_job_token(req)
        body = self._body(req, "body")
        if len(body["body"]) > 1_000_000:
            raise HttpError(400, {"message": {"note": ["is too long (maximum is 1000000 characters)"]}})
        n = self._add_note(p, mr["iid"], body["body"], req.user)
        return 201, self._note_json(req.base_url, p, n), {}

    def _note(self, p, req):
        n = p["notes"].get(req.match.group("nid"))
        if n is None or str(n["iid"]) != req.match.group("iid"):
            raise HttpError(404, {"message": "404 Note Not Found"})
        return n

    def h_get_note(self, req):
        p = self._p(req)
        return 200, self._note_json(req.base_url, p, self._note(p, req)), {}

    def h_edit_note(self, req):
        p = self._p(req)
        n = self._note(p, req)
        self._no_job_token(req)
        body = self._body(req, "body")
        if n["author"] != req.user:
            raise HttpError(403, {"message": "403 Forbidden"})
        n.update(body=body["body"], updated_at=now_iso())
        return 200, self._note_json(req.base_url, p, n), {}

    def _award(self, req, p, subject):
        body = self._body(req, "name")
        for a in p["awards"]:
            if a["subject"] == subject and a["user"] == req.user and a["name"] == body["name"]:
                raise HttpError(404, {"message": "404 Award Emoji Name has already been taken"})
        a = {"id": self.new_id(), "subject": subject, "name": body["name"], "user": req.user, "created_at": now_iso()}
        p["awards"].append(a)
        return 201, self._award_json(req.base_url, a), {}

    def _award_json(self, base, a):
        kind, _, ident = a["subject"].partition(":")
        return {"id": a["id"], "name": a["name"], "user": self._user(base, a["user"]), "created_at": a["created_at"],
                "updated_at": a["created_at"], "awardable_id": int(ident),
                "awardable_type": "Note" if kind == "note" else "MergeRequest"}

    def h_award_mr(self, req):
        p = self._p(req)
        mr = self._mr(p, req)
        return self._award(req, p, f"mr:{mr['iid']}")

    def h_list_awards_mr(self, req):
        p = self._p(req)
        mr = self._mr(p, req)
        return 200, [self._award_json(req.base_url, a) for a in p["awards"] if a["subject"] == f"mr:{mr['iid']}"], {}

    def h_award_note(self, req):
        p = self._p(req)
        n = self._note(p, req)
        return self._award(req, p, f"note:{n['id']}")

    def h_create_status(self, req):
        p = self._p(req)
        self._need(p, req, "developer")
        sha = req.param("sha")
        if sha not in p["commits"]:
            raise HttpError(404, {"message": "404 References Not Found"})
        body = self._body(req, "state")
        if body["state"] not in STATUS_STATES:
            raise HttpError(400, {"error": "state does not have a valid value"})
        name = body.get("name") or body.get("context") or "default"
        latest = [s for s in p["statuses"] if s["sha"] == sha and s["name"] == name]
        # GitLab refuses a transition to the state a status already has.
        if latest and latest[-1]["state"] == body["state"] and body["state"] in ("pending", "running"):
            raise HttpError(400, {"message": f"Cannot transition status via :{'enqueue' if body['state'] == 'pending' else 'run'} from :{body['state']} (Reasons: )"})
        s = {"id": self.new_id(), "sha": sha, "state": body["state"], "name": name, "ref": body.get("ref"),
             "target_url": body.get("target_url"), "description": body.get("description"), "author": req.user,
             "created_at": now_iso(), "pipeline_id": body.get("pipeline_id")}
        p["statuses"].append(s)
        return 201, self._status_json(req.base_url, p, s), {}

    def h_list_statuses(self, req):
        p = self._p(req)
        sha = self._resolve(p, req.param("sha"))
        chunk, headers = paginate(req, [s for s in p["statuses"] if s["sha"] == sha], default_per_page=20)
        return 200, [self._status_json(req.base_url, p, s) for s in chunk], headers

    def h_get_commit(self, req):
        p = self._p(req)
        return 200, self._commit_json(req.base_url, p, self._resolve(p, req.param("sha"))), {}

    def h_create_commit(self, req):
        p = self._p(req)
        self._need(p, req, "developer")
        body = self._body(req, "branch", "commit_message")
        branch = body["branch"]
        start = body.get("start_branch") or body.get("start_sha")
        if branch in p["branches"]:
            parent = p["branches"][branch]
        elif start:
            parent = self._resolve(p, start)
        else:
            raise HttpError(400, {"message": "You can only create or edit files when you are on a branch"})
        tree = p["commits"][parent]["tree"]
        changes: dict[str, str | None] = {}
        for action in body.get("actions") or []:
            kind, path = action.get("action"), action.get("file_path")
            if kind not in ("create", "update", "delete", "move", "chmod") or not path:
                raise HttpError(400, {"error": "actions[0][action] does not have a valid value"})
            if kind == "create" and path in tree:
                raise HttpError(400, {"message": "A file with this name already exists"})
            if kind in ("update", "delete") and path not in tree:
                raise HttpError(400, {"message": "A file with this name doesn't exist"})
            if kind == "delete":
                changes[path] = None
            else:
                content = action.get("content") or ""
                changes[path] = content if action.get("encoding") == "base64" else b64(content)
        sha = commit(p, parent, changes, body["commit_message"])
        p["branches"][branch] = sha  # a new branch when it started from start_branch
        self._branch_moved(p, branch, sha)
        return 201, self._commit_json(req.base_url, p, sha), {}

    def h_get_branch(self, req):
        p = self._p(req)
        name = req.param("branch")
        if name not in p["branches"]:
            raise HttpError(404, {"message": "404 Branch Not Found"})
        return 200, self._branch_json(req.base_url, p, name), {}

    def h_list_branches(self, req):
        p = self._p(req)
        chunk, headers = paginate(req, sorted(p["branches"]), default_per_page=20)
        return 200, [self._branch_json(req.base_url, p, b) for b in chunk], headers

    def h_create_branch(self, req):
        p = self._p(req)
        self._need(p, req, "developer")
        body = self._body(req, "branch", "ref")
        if body["branch"] in p["branches"]:
            raise HttpError(400, {"message": "Branch already exists"})
        try:
            sha = self._resolve(p, body["ref"])
        except HttpError:
            raise HttpError(400, {"message": "Invalid reference name"}) from None
        p["branches"][body["branch"]] = sha
        return 201, self._branch_json(req.base_url, p, body["branch"]), {}

    def _file(self, p, req):
        ref = req.query.get("ref")
        if not ref:
            raise HttpError(400, {"error": "ref is missing"})
        sha = self._resolve(p, ref)
        path = req.param("path")
        content = p["commits"][sha]["tree"].get(path)
        if content is None:
            raise HttpError(404, {"message": "404 File Not Found"})
        return path, sha, content

    def h_get_file(self, req):
        p = self._p(req)
        path, sha, content = self._file(p, req)
        raw = base64.b64decode(content)
        return 200, {"file_name": path.rsplit("/", 1)[-1], "file_path": path, "size": len(raw), "encoding": "base64",
                     "content": content, "content_sha256": hashlib.sha256(raw).hexdigest(), "ref": req.query["ref"],
                     "blob_id": hashlib.sha1(b"blob %d\0" % len(raw) + raw).hexdigest(), "commit_id": sha,
                     "last_commit_id": sha, "execute_filemode": False}, {}

    def h_get_file_raw(self, req):
        p = self._p(req)
        _, _, content = self._file(p, req)
        return 200, base64.b64decode(content), {"Content-Type": "text/plain; charset=utf-8"}

    def _member(self, req, inherited: bool):
        p = self._p(req)
        uid = int(req.match.group("uid"))
        for name, info in self.state["users"].items():
            if info["id"] == uid and name in p["members"]:
                return 200, {**self._user(req.base_url, name), "access_level": p["members"][name],
                             "created_at": "2024-01-01T00:00:00Z", "expires_at": None}, {}
        raise HttpError(404, {"message": "404 Not found"})

    def h_member_all(self, req):
        return self._member(req, True)

    def h_member(self, req):
        return self._member(req, False)

    # ================================================================== deployments
    # https://docs.gitlab.com/api/deployments/: POST needs environment, sha, ref, tag and a
    # status (running, success, failed or canceled); the environment is created by the
    # first deployment to it. PUT changes the status; a transition to the status it has
    # is refused. The list is ordered by id ascending unless told otherwise.
    DEPLOYMENT_STATUSES = ("running", "success", "failed", "canceled")

    def _environment_json(self, base, p, e):
        return {"id": e["id"], "name": e["name"], "slug": e["name"].lower().replace("/", "-"),
                "external_url": e.get("external_url"), "state": "available", "tier": e["tier"],
                "created_at": e["created_at"], "updated_at": e["created_at"]}

    def _deployment_json(self, base, p, d):
        env = p["environments"][d["environment"]]
        done = d["status"] in ("success", "failed", "canceled")
        return {"id": d["id"], "iid": d["iid"], "ref": d["ref"], "sha": d["sha"], "created_at": d["created_at"],
                "updated_at": d["updated_at"], "finished_at": d["updated_at"] if done else None, "status": d["status"],
                "user": self._user(base, d["user"]), "environment": self._environment_json(base, p, env),
                "deployable": None}

    def _deployment(self, p, req) -> dict:
        for d in p.setdefault("deployments", []):
            if str(d["id"]) == req.match.group("did"):
                return d
        raise HttpError(404, {"message": "404 Not found"})

    def h_create_deployment(self, req):
        p = self._p(req)
        self._need(p, req, "developer")
        body = req.body if isinstance(req.body, dict) else {}
        for key in ("environment", "sha", "ref", "tag", "status"):
            if key not in body or body[key] in (None, ""):
                raise HttpError(400, {"error": f"{key} is missing"})
        if body["status"] not in self.DEPLOYMENT_STATUSES:
            raise HttpError(400, {"error": "status does not have a valid value"})
        environments = p.setdefault("environments", {})
        name = body["environment"]
        if name not in environments:
            tier = next((t for t, words in (("production", ("prod", "live")), ("staging", ("stag", "model", "demo")),
                                            ("testing", ("test", "qc")), ("development", ("dev", "review")))
                         if any(w in name.lower() for w in words)), "other")
            environments[name] = {"id": self.new_id(), "name": name, "tier": tier, "created_at": now_iso(),
                                  "external_url": None}
        deployments = p.setdefault("deployments", [])
        d = {"id": self.new_id(), "iid": 1 + max((x["iid"] for x in deployments), default=0), "environment": name,
             "sha": body["sha"], "ref": body["ref"], "tag": bool(body["tag"]), "status": body["status"],
             "user": req.user, "created_at": now_iso(), "updated_at": now_iso(), "statuses": [body["status"]]}
        deployments.append(d)
        return 201, self._deployment_json(req.base_url, p, d), {}

    def h_list_deployments(self, req):
        p = self._p(req)
        items = [d for d in p.setdefault("deployments", [])
                 if all(d[k] == req.query[k] for k in ("environment", "status") if k in req.query)]
        key = req.query.get("order_by", "id")
        if key not in ("id", "iid", "created_at", "updated_at", "finished_at", "ref"):
            raise HttpError(400, {"error": "order_by does not have a valid value"})
        items.sort(key=lambda d: d.get("updated_at" if key == "finished_at" else key) or "",
                   reverse=req.query.get("sort", "asc") == "desc")
        chunk, headers = paginate(req, items, default_per_page=20)
        return 200, [self._deployment_json(req.base_url, p, d) for d in chunk], headers

    def h_get_deployment(self, req):
        p = self._p(req)
        return 200, self._deployment_json(req.base_url, p, self._deployment(p, req)), {}

    def h_update_deployment(self, req):
        p = self._p(req)
        self._need(p, req, "developer")
        d = self._deployment(p, req)
        status = (req.body if isinstance(req.body, dict) else {}).get("status")
        if status not in self.DEPLOYMENT_STATUSES:
            raise HttpError(400, {"error": "status does not have a valid value"})
        if status == d["status"]:
            raise HttpError(400, {"message": f"Cannot transition status via :{status} from :{d['status']}"})
        d.update(status=status, updated_at=now_iso())
        d["statuses"].append(status)
        return 200, self._deployment_json(req.base_url, p, d), {}

    def h_list_environments(self, req):
        p = self._p(req)
        items = [e for e in p.setdefault("environments", {}).values() if req.query.get("name") in (None, e["name"])]
        chunk, headers = paginate(req, items, default_per_page=20)
        return 200, [self._environment_json(req.base_url, p, e) for e in chunk], headers
