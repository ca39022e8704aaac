"""A stateful stand-in for the part of GitHub's REST API that PR work uses.

Shapes follow GitHub's OpenAPI description (npm ``@octokit/openapi``); every URL in a
response points back at the stand-in (PyGithub follows them). Auth is a token in
``Authorization: token X`` / ``Bearer X``; a missing or wrong one gets GitHub's own
401 body. Everything a token writes is attributed to its account, as GitHub does; a
GitHub App's bot account (a login ending in ``[bot]``, e.g. ``github-actions[bot]`` for
Actions' token) may not read ``GET /user``, as on GitHub.
"""

from __future__ import annotations

import base64
import hashlib
import time

from tests.standins.http import HttpError, Request, Standin, now_iso, paginate
from tests.standins.repos import GitRepos, commit, encoded, fake_sha

DOCS = "https://docs.github.com/rest"
# GitHub's role names, weakest first; "permission" is the legacy coarse value.
ROLE_TO_PERMISSION = {"none": "none", "read": "read", "triage": "read", "write": "write", "maintain": "write", "admin": "admin"}
REACTIONS = {"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"}


class GitHubStandin(GitRepos, Standin):
    kind = "github"

    def __init__(self, *, token: str = "ghs_standin_token_0123456789", user: str = "llm-gitops-bot", state_file=None):
        super().__init__(state_file=state_file)
        with self.lock:
            self.state.setdefault("tokens", {})[token] = user
            self.state.setdefault("users", {}).setdefault(user, {"id": self.new_id(), "type": "Bot"})
        self.token = token

    # ================================================================== seeding
    def add_user(self, login: str, *, token: str | None = None, read_only: bool = False) -> None:
        """A user; ``token`` authenticates as them, ``read_only`` makes it a token that may
        not write at all (as the Actions token of a fork PR)."""
        with self.lock:
            self.state["users"].setdefault(login, {"id": self.new_id(),
                                                   "type": "Bot" if login.endswith("[bot]") else "User"})
            if token:
                self.state["tokens"][token] = login
                if read_only:
                    self.state.setdefault("read_only_tokens", []).append(token)
        self.dump_state()

    def add_repo(self, full_name: str, *, default_branch: str = "main", files: dict[str, str | bytes] | None = None,
                 private: bool = False) -> str:
        """Create a repository whose default branch holds ``files``; returns the head sha."""
        owner = full_name.split("/")[0]
        self.add_user(owner)
        with self.lock:
            repo = {
                "id": self.new_id(), "full_name": full_name, "default_branch": default_branch, "private": private,
                "commits": {}, "branches": {}, "pulls": {}, "comments": {}, "statuses": [], "check_runs": [],
                "reactions": [], "collaborators": {owner: "admin"}, "next_number": 1,
                "deployments": [], "deployment_statuses": [],
            }
            self.state.setdefault("repos", {})[full_name] = repo
            sha = commit(repo, None, encoded(files), "initial commit")
            repo["branches"][default_branch] = sha
        self.dump_state()
        return sha

    def add_pull(self, repo_name: str, *, head: str = "feature", base: str | None = None, title: str = "A change",
                 head_sha: str | None = None, author: str = "contributor", fork_of: str | None = None,
                 files: dict[str, str | bytes] | None = None) -> int:
        """Open a PR from ``head`` (created when missing); ``fork_of`` names the fork repo it comes from."""
        with self.lock:
            repo = self._repo(repo_name)
            self.state["users"].setdefault(author, {"id": self.new_id(), "type": "User"})
            if head not in repo["branches"]:
                self.add_branch(repo_name, head, files=files or {"CHANGE.md": f"{title}\n"}, message=title)
            number = self._open_pull(repo, head=head, base=base or repo["default_branch"], title=title, body="",
                                     author=author, head_repo=fork_of or repo_name)
            if head_sha:
                repo["pulls"][str(number)]["head_sha"] = head_sha
                repo["commits"].setdefault(head_sha, dict(repo["commits"][repo["branches"][head]]))
        self.dump_state()
        return number

    def set_permission(self, repo_name: str, login: str, role: str) -> None:
        """role: none|read|triage|write|maintain|admin."""
        assert role in ROLE_TO_PERMISSION, role
        self.add_user(login)
        with self.lock:
            self._repo(repo_name)["collaborators"][login] = role
        self.dump_state()

    def add_comment(self, repo_name: str, number: int, body: str, *, author: str = "someone") -> int:
        self.add_user(author)
        with self.lock:
            return self._add_comment(self._repo(repo_name), number, body, author)["id"]

    # ================================================================== accessors
    def comments(self, repo_name: str, number: int) -> list[dict]:
        with self.lock:
            return [dict(c) for c in self._repo(repo_name)["comments"].values() if c["issue_number"] == number]

    def check_runs(self, repo_name: str, sha: str | None = None) -> list[dict]:
        with self.lock:
            return [dict(c) for c in self._repo(repo_name)["check_runs"] if sha is None or c["head_sha"] == sha]

    def pulls(self, repo_name: str) -> list[dict]:
        with self.lock:
            return [dict(p) for p in self._repo(repo_name)["pulls"].values()]

    def pull(self, repo_name: str, number: int) -> dict:
        with self.lock:
            return dict(self._repo(repo_name)["pulls"][str(number)])

    def reactions(self, repo_name: str) -> list[dict]:
        with self.lock:
            return [dict(r) for r in self._repo(repo_name)["reactions"]]

    def deployments(self, repo_name: str, environment: str | None = None) -> list[dict]:
        """Deployments oldest first, each with ``statuses`` (oldest first)."""
        with self.lock:
            repo = self._repo(repo_name)
            statuses = repo.setdefault("deployment_statuses", [])
            return [{**d, "statuses": [dict(s) for s in statuses if s["deployment_id"] == d["id"]]}
                    for d in repo.setdefault("deployments", []) if environment is None or d["environment"] == environment]

    def add_commit(self, repo_name: str, sha: str, *, message: str = "a commit made elsewhere") -> None:
        """Make ``sha`` (a commit of a checkout on disk) known, on the default branch's tree."""
        with self.lock:
            repo = self._repo(repo_name)
            head = repo["commits"][repo["branches"][repo["default_branch"]]]
            repo["commits"].setdefault(sha, {**head, "message": message})
        self.dump_state()

    def permissions(self, repo_name: str) -> dict[str, str]:
        with self.lock:
            return dict(self._repo(repo_name)["collaborators"])

    # ================================================================== internals
    def _repo(self, full_name: str) -> dict:
        try:
            return self.state["repos"][full_name]
        except KeyError:
            raise HttpError(404, {"message": "Not Found", "documentation_url": f"{DOCS}/repos/repos#get-a-repository",
                                  "status": "404"}) from None

    def _repository(self, name: str) -> dict:
        return self._repo(name)

    def _branch_moved(self, repo: dict, branch: str, sha: str) -> None:
        for pr in repo["pulls"].values():
            if pr["head_ref"] == branch and pr["head_repo"] == repo["full_name"] and pr["state"] == "open":
                pr["head_sha"] = sha

    def _resolve(self, repo: dict, ref: str) -> str:
        ref = ref.removeprefix("refs/heads/").removeprefix("heads/")
        if ref in repo["branches"]:
            return repo["branches"][ref]
        if ref in repo["commits"]:
            return ref
        raise HttpError(404, {"message": f"No commit found for the ref {ref}", "documentation_url": f"{DOCS}/repos/contents",
                              "status": "404"})

    def _open_pull(self, repo: dict, *, head: str, base: str, title: str, body: str, author: str, head_repo: str,
                   draft: bool = False) -> int:
        number = repo["next_number"]
        repo["next_number"] += 1
        repo["pulls"][str(number)] = {
            "id": self.new_id(), "number": number, "title": title, "body": body, "state": "open", "draft": draft,
            "head_ref": head, "head_sha": repo["branches"].get(head) or fake_sha(head), "head_repo": head_repo,
            "base_ref": base, "user": author, "merged": False, "merge_commit_sha": None,
            "created_at": now_iso(), "updated_at": now_iso(),
        }
        return number

    def _add_comment(self, repo: dict, number: int, body: str, author: str) -> dict:
        comment = {"id": self.new_id(), "issue_number": number, "body": body, "user": author,
                   "created_at": now_iso(), "updated_at": now_iso()}
        repo["comments"][str(comment["id"])] = comment
        return comment

    # ================================================================== auth and errors
    def authenticate(self, req: Request) -> str:
        header = req.headers.get("Authorization") or ""
        scheme, _, token = header.partition(" ")
        user = self.state["tokens"].get(token.strip()) if scheme.lower() in ("token", "bearer") else None
        if user is None:
            raise HttpError(401, {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"})
        req.extra["read_only"] = token.strip() in self.state.get("read_only_tokens", [])
        if req.extra["read_only"] and req.method != "GET":
            raise HttpError(403, {"message": "Resource not accessible by integration", "documentation_url": DOCS,
                                  "status": "403"})
        return user

    def not_found(self, req: Request) -> HttpError:
        return HttpError(404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"})

    def rate_limit_error(self, fault) -> HttpError:
        headers = {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "0", "X-RateLimit-Used": "5000",
                   "X-RateLimit-Reset": str(int(time.time() + (fault.retry_after or 1))), "X-RateLimit-Resource": "core"}
        if fault.retry_after is not None:
            headers["Retry-After"] = f"{fault.retry_after:g}"
        if fault.status == 429 or fault.retry_after is not None:
            message = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
        else:
            message = "API rate limit exceeded for installation ID 1."
        return HttpError(fault.status, {"message": message, "documentation_url": f"{DOCS}/overview/rate-limits-for-the-rest-api",
                                        "status": str(fault.status)}, headers)

    @staticmethod
    def _unprocessable(message: str, *, field: str | None = None, code: str = "invalid") -> HttpError:
        body: dict = {"message": message, "documentation_url": DOCS, "status": "422"}
        if field:
            body["errors"] = [{"resource": "Issue", "field": field, "code": code}]
        return HttpError(422, body)

    # ================================================================== shapes
    def _user(self, base: str, login: str) -> dict:
        info = self.state["users"].get(login, {"id": 0, "type": "User"})
        return {
            "login": login, "id": info["id"], "node_id": f"U_{info['id']}", "type": info["type"], "site_admin": False,
            "avatar_url": f"{base}/avatars/{login}", "gravatar_id": "", "url": f"{base}/users/{login}",
            "html_url": f"{base}/{login}", "followers_url": f"{base}/users/{login}/followers",
            "following_url": f"{base}/users/{login}/following{{/other_user}}", "gists_url": f"{base}/users/{login}/gists{{/gist_id}}",
            "starred_url": f"{base}/users/{login}/starred{{/owner}}{{/repo}}", "subscriptions_url": f"{base}/users/{login}/subscriptions",
            "organizations_url": f"{base}/users/{login}/orgs", "repos_url": f"{base}/users/{login}/repos",
            "events_url": f"{base}/users/{login}/events{{/privacy}}", "received_events_url": f"{base}/users/{login}/received_events",
        }

    def _repo_json(self, base: str, repo: dict, viewer: str | None = None) -> dict:
        full = repo["full_name"]
        owner, name = full.split("/")
        url = f"{base}/repos/{full}"
        role = repo["collaborators"].get(viewer or "", "read")
        return {
            "id": repo["id"], "node_id": f"R_{repo['id']}", "name": name, "full_name": full, "private": repo["private"],
            "owner": self._user(base, owner), "html_url": f"{base}/{full}", "description": None, "fork": False,
            "url": url, "default_branch": repo["default_branch"], "visibility": "private" if repo["private"] else "public",
            "pulls_url": f"{url}/pulls{{/number}}", "issues_url": f"{url}/issues{{/number}}",
            "issue_comment_url": f"{url}/issues/comments{{/number}}", "statuses_url": f"{url}/statuses/{{sha}}",
            "commits_url": f"{url}/commits{{/sha}}", "contents_url": f"{url}/contents/{{+path}}",
            "branches_url": f"{url}/branches{{/branch}}", "git_refs_url": f"{url}/git/refs{{/sha}}",
            "collaborators_url": f"{url}/collaborators{{/collaborator}}", "clone_url": f"{base}/{full}.git",
            "created_at": "2024-01-01T00:00:00Z", "updated_at": now_iso(), "pushed_at": now_iso(),
            "archived": False, "disabled": False, "has_issues": True,
            "permissions": {"admin": role == "admin", "maintain": role in ("admin", "maintain"),
                            "push": role in ("admin", "maintain", "write"), "triage": role != "read", "pull": True},
        }

    def _pull_json(self, base: str, repo: dict, pr: dict) -> dict:
        full = repo["full_name"]
        url = f"{base}/repos/{full}/pulls/{pr['number']}"
        head_repo = self.state["repos"].get(pr["head_repo"], repo)

        def side(ref: str, sha: str, r: dict) -> dict:
            return {"label": f"{r['full_name'].split('/')[0]}:{ref}", "ref": ref, "sha": sha,
                    "user": self._user(base, r["full_name"].split("/")[0]), "repo": self._repo_json(base, r)}

        head = side(pr["head_ref"], pr["head_sha"], head_repo)
        if pr["head_repo"] != full:
            head["repo"]["fork"] = True
            head["repo"]["full_name"] = pr["head_repo"]
            head["label"] = f"{pr['head_repo'].split('/')[0]}:{pr['head_ref']}"
        return {
            "url": url, "id": pr["id"], "node_id": f"PR_{pr['id']}", "number": pr["number"], "state": pr["state"],
            "locked": False, "title": pr["title"], "body": pr["body"], "draft": pr["draft"],
            "html_url": f"{base}/{full}/pull/{pr['number']}", "diff_url": f"{base}/{full}/pull/{pr['number']}.diff",
            "patch_url": f"{base}/{full}/pull/{pr['number']}.patch", "issue_url": f"{base}/repos/{full}/issues/{pr['number']}",
            "commits_url": f"{url}/commits", "review_comments_url": f"{url}/comments",
            "review_comment_url": f"{base}/repos/{full}/pulls/comments{{/number}}",
            "comments_url": f"{base}/repos/{full}/issues/{pr['number']}/comments",
            "statuses_url": f"{base}/repos/{full}/statuses/{pr['head_sha']}",
            "user": self._user(base, pr["user"]), "labels": [], "assignees": [], "requested_reviewers": [],
            "requested_teams": [], "milestone": None, "created_at": pr["created_at"], "updated_at": pr["updated_at"],
            "closed_at": None, "merged_at": now_iso() if pr["merged"] else None, "merge_commit_sha": pr["merge_commit_sha"],
            "head": head, "base": side(pr["base_ref"], repo["branches"].get(pr["base_ref"], ""), repo),
            "_links": {"self": {"href": url}, "html": {"href": f"{base}/{full}/pull/{pr['number']}"}},
            "author_association": "CONTRIBUTOR", "auto_merge": None, "active_lock_reason": None,
            "merged": pr["merged"], "mergeable": None if pr["merged"] else True, "mergeable_state": "clean",
            "merged_by": None, "comments": len([c for c in repo["comments"].values() if c["issue_number"] == pr["number"]]),
            "review_comments": 0, "maintainer_can_modify": False, "commits": 1, "additions": 1, "deletions": 0,
            "changed_files": 1,
        }

    def _issue_json(self, base: str, repo: dict, pr: dict) -> dict:
        full = repo["full_name"]
        url = f"{base}/repos/{full}/issues/{pr['number']}"
        return {
            "id": pr["id"], "node_id": f"I_{pr['id']}", "url": url, "repository_url": f"{base}/repos/{full}",
            "labels_url": f"{url}/labels{{/name}}", "comments_url": f"{url}/comments", "events_url": f"{url}/events",
            "html_url": f"{base}/{full}/pull/{pr['number']}", "number": pr["number"], "state": pr["state"],
            "title": pr["title"], "body": pr["body"], "user": self._user(base, pr["user"]), "labels": [],
            "assignee": None, "assignees": [], "milestone": None, "locked": False, "comments": 0,
            "pull_request": {"url": f"{base}/repos/{full}/pulls/{pr['number']}", "html_url": f"{base}/{full}/pull/{pr['number']}",
                             "diff_url": None, "patch_url": None},
            "closed_at": None, "created_at": pr["created_at"], "updated_at": pr["updated_at"],
            "author_association": "CONTRIBUTOR",
        }

    def _comment_json(self, base: str, repo: dict, c: dict) -> dict:
        full = repo["full_name"]
        counts = {k: 0 for k in REACTIONS}
        for r in repo["reactions"]:
            if r["subject"] == f"comment:{c['id']}":
                counts[r["content"]] += 1
        return {
            "id": c["id"], "node_id": f"IC_{c['id']}", "url": f"{base}/repos/{full}/issues/comments/{c['id']}",
            "html_url": f"{base}/{full}/pull/{c['issue_number']}#issuecomment-{c['id']}", "body": c["body"],
            "user": self._user(base, c["user"]), "created_at": c["created_at"], "updated_at": c["updated_at"],
            "issue_url": f"{base}/repos/{full}/issues/{c['issue_number']}", "author_association": "NONE",
            "performed_via_github_app": None,
            "reactions": {"url": f"{base}/repos/{full}/issues/comments/{c['id']}/reactions",
                          "total_count": sum(counts.values()), **counts},
        }

    def _commit_json(self, base: str, repo: dict, sha: str) -> dict:
        full = repo["full_name"]
        commit = repo["commits"][sha]
        url = f"{base}/repos/{full}/commits/{sha}"
        person = {"name": "Dev", "email": "dev@example.com", "date": commit["date"]}
        return {
            "sha": sha, "node_id": f"C_{sha[:10]}", "url": url, "html_url": f"{base}/{full}/commit/{sha}",
            "comments_url": f"{url}/comments",
            "commit": {"url": f"{base}/repos/{full}/git/commits/{sha}", "author": person, "committer": person,
                       "message": commit["message"], "comment_count": 0,
                       "tree": {"sha": fake_sha("tree", sha), "url": f"{base}/repos/{full}/git/trees/{sha}"}},
            "author": None, "committer": None,
            "parents": [{"sha": p, "url": f"{base}/repos/{full}/commits/{p}"} for p in commit["parents"]],
        }

    def _status_json(self, base: str, repo: dict, s: dict) -> dict:
        return {
            "url": f"{base}/repos/{repo['full_name']}/statuses/{s['sha']}", "avatar_url": None, "id": s["id"],
            "node_id": f"SC_{s['id']}", "state": s["state"], "description": s["description"], "target_url": s["target_url"],
            "context": s["context"], "created_at": s["created_at"], "updated_at": s["created_at"],
            "creator": self._user(base, s["creator"]),
        }

    def _check_run_json(self, base: str, repo: dict, c: dict) -> dict:
        full = repo["full_name"]
        return {
            "id": c["id"], "node_id": f"CR_{c['id']}", "head_sha": c["head_sha"], "external_id": c.get("external_id") or "",
            "url": f"{base}/repos/{full}/check-runs/{c['id']}", "html_url": f"{base}/{full}/runs/{c['id']}",
            "details_url": c.get("details_url"), "status": c["status"], "conclusion": c.get("conclusion"),
            "started_at": c.get("started_at") or now_iso(), "completed_at": c.get("completed_at"),
            "output": {"title": c["output"].get("title"), "summary": c["output"].get("summary"),
                       "text": c["output"].get("text"), "annotations_count": 0,
                       "annotations_url": f"{base}/repos/{full}/check-runs/{c['id']}/annotations"},
            "name": c["name"], "check_suite": {"id": c["id"] + 1},
            "app": {"id": 1, "slug": "llm-gitops", "node_id": "A_1", "name": "llm-gitops", "owner": self._user(base, "llm-gitops-app"),
                    "description": "", "external_url": base, "html_url": base, "created_at": "2024-01-01T00:00:00Z",
                    "updated_at": "2024-01-01T00:00:00Z", "permissions": {}, "events": []},
            "pull_requests": [],
        }

    def _content_json(self, base: str, repo: dict, path: str, content_b64: str, ref: str) -> dict:
        full = repo["full_name"]
        raw = base64.b64decode(content_b64)
        blob = hashlib.sha1(b"blob %d\0" % len(raw) + raw).hexdigest()
        url = f"{base}/repos/{full}/contents/{path}?ref={ref}"
        return {
            "type": "file", "encoding": "base64", "size": len(raw), "name": path.rsplit("/", 1)[-1], "path": path,
            "content": base64.encodebytes(raw).decode(), "sha": blob, "url": url,
            "git_url": f"{base}/repos/{full}/git/blobs/{blob}", "html_url": f"{base}/{full}/blob/{ref}/{path}",
            "download_url": f"{base}/raw/{full}/{ref}/{path}",
            "_links": {"self": url, "git": f"{base}/repos/{full}/git/blobs/{blob}", "html": f"{base}/{full}/blob/{ref}/{path}"},
        }

    # ================================================================== routes
    def register_routes(self) -> None:
        R = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
        routes = [
            ("GET", r"/user", self.h_user),
            ("GET", r"/rate_limit", self.h_rate_limit),
            ("GET", R, self.h_repo),
            ("GET", R + r"/pulls/(?P<n>\d+)", self.h_get_pull),
            ("GET", R + r"/pulls", self.h_list_pulls),
            ("POST", R + r"/pulls", self.h_create_pull),
            ("PUT", R + r"/pulls/(?P<n>\d+)/merge", self.h_merge_pull),
            ("GET", R + r"/issues/(?P<n>\d+)", self.h_get_issue),
            ("GET", R + r"/issues/(?P<n>\d+)/comments", self.h_list_comments),
            ("POST", R + r"/issues/(?P<n>\d+)/comments", self.h_create_comment),
            ("GET", R + r"/issues/comments/(?P<id>\d+)", self.h_get_comment),
            ("PATCH", R + r"/issues/comments/(?P<id>\d+)", self.h_edit_comment),
            ("DELETE", R + r"/issues/comments/(?P<id>\d+)", self.h_delete_comment),
            ("POST", R + r"/issues/comments/(?P<id>\d+)/reactions", self.h_react_comment),
            ("GET", R + r"/issues/comments/(?P<id>\d+)/reactions", self.h_list_reactions_comment),
            ("POST", R + r"/issues/(?P<n>\d+)/reactions", self.h_react_issue),
            ("GET", R + r"/commits/(?P<sha>[^/]+)", self.h_get_commit),
            ("GET", R + r"/commits/(?P<sha>[^/]+)/statuses", self.h_list_statuses),
            ("GET", R + r"/commits/(?P<sha>[^/]+)/status", self.h_combined_status),
            ("GET", R + r"/commits/(?P<sha>[^/]+)/check-runs", self.h_list_check_runs),
            ("POST", R + r"/statuses/(?P<sha>[^/]+)", self.h_create_status),
            ("POST", R + r"/check-runs", self.h_create_check_run),
            ("PATCH", R + r"/check-runs/(?P<id>\d+)", self.h_update_check_run),
            ("GET", R + r"/branches/(?P<branch>.+)", self.h_get_branch),
            ("GET", R + r"/branches", self.h_list_branches),
            ("POST", R + r"/git/refs", self.h_create_ref),
            ("GET", R + r"/git/ref/(?P<ref>.+)", self.h_get_ref),
            ("GET", R + r"/contents/(?P<path>.+)", self.h_get_contents),
            ("PUT", R + r"/contents/(?P<path>.+)", self.h_put_contents),
            ("GET", R + r"/collaborators/(?P<user>[^/]+)/permission", self.h_permission),
            ("POST", R + r"/deployments", self.h_create_deployment),
            ("GET", R + r"/deployments", self.h_list_deployments),
            ("GET", R + r"/deployments/(?P<id>\d+)", self.h_get_deployment),
            ("POST", R + r"/deployments/(?P<id>\d+)/statuses", self.h_create_deployment_status),
            ("GET", R + r"/deployments/(?P<id>\d+)/statuses", self.h_list_deployment_statuses),
        ]
        for method, pattern, handler in routes:
            # GitHub Enterprise serves the same API under /api/v3.
            self.route(method, pattern, handler)
            self.route(method, "/api/v3" + pattern, handler)

    def _r(self, req: Request) -> dict:
        return self._repo(f"{req.param('owner')}/{req.param('repo')}")

    def _pr(self, repo: dict, req: Request) -> dict:
        pr = repo["pulls"].get(req.match.group("n"))
        if pr is None:
            raise HttpError(404, {"message": "Not Found", "documentation_url": f"{DOCS}/pulls/pulls#get-a-pull-request",
                                  "status": "404"})
        return pr

    def _comment(self, repo: dict, req: Request) -> dict:
        c = repo["comments"].get(req.match.group("id"))
        if c is None:
            raise HttpError(404, {"message": "Not Found", "documentation_url": f"{DOCS}/issues/comments", "status": "404"})
        return c

    def _need(self, repo: dict, req: Request, role: str) -> None:
        order = ["none", "read", "triage", "write", "maintain", "admin"]
        have = repo["collaborators"].get(req.user or "", "none")
        # The token's own identity (the CI bot) may write unless told otherwise.
        if req.user in self.state["tokens"].values() and req.user not in repo["collaborators"]:
            have = "write"
        if order.index(have) < order.index(role):
            raise HttpError(403, {"message": "Resource not accessible by integration", "documentation_url": DOCS,
                                  "status": "403"})

    def _body(self, req: Request, *required: str) -> dict:
        body = req.body
        if not isinstance(body, dict):
            raise HttpError(400, {"message": "Problems parsing JSON", "documentation_url": DOCS, "status": "400"})
        for key in required:
            if key not in body:
                raise HttpError(422, {"message": f"Invalid request.\n\n\"{key}\" wasn't supplied.",
                                      "documentation_url": DOCS, "status": "422"})
        return body

    def h_user(self, req):
        if req.user.endswith("[bot]"):
            raise HttpError(403, {"message": "Resource not accessible by integration",
                                  "documentation_url": f"{DOCS}/users/users#get-the-authenticated-user", "status": "403"})
        return 200, self._user(req.base_url, req.user), {}

    def h_rate_limit(self, req):
        core = {"limit": 5000, "remaining": 4999, "reset": int(time.time()) + 3600, "used": 1}
        return 200, {"resources": {"core": core}, "rate": core}, {}

    def h_repo(self, req):
        return 200, self._repo_json(req.base_url, self._r(req), req.user), {}

    def h_get_pull(self, req):
        repo = self._r(req)
        return 200, self._pull_json(req.base_url, repo, self._pr(repo, req)), {}

    def h_list_pulls(self, req):
        repo = self._r(req)
        state = req.query.get("state", "open")
        items = [p for p in repo["pulls"].values() if state == "all" or p["state"] == state]
        if "head" in req.query:
            items = [p for p in items if f"{p['head_repo'].split('/')[0]}:{p['head_ref']}" == req.query["head"]]
        chunk, headers = paginate(req, items, default_per_page=30)
        return 200, [self._pull_json(req.base_url, repo, p) for p in chunk], headers

    def h_create_pull(self, req):
        repo = self._r(req)
        self._need(repo, req, "write")
        body = self._body(req, "head", "base")
        head = body["head"].split(":")[-1]
        if head not in repo["branches"]:
            raise HttpError(422, {"message": "Validation Failed", "errors": [{"resource": "PullRequest", "field": "head",
                                  "code": "invalid"}], "documentation_url": f"{DOCS}/pulls/pulls#create-a-pull-request",
                                  "status": "422"})
        if body["base"] not in repo["branches"]:
            raise HttpError(422, {"message": "Validation Failed", "errors": [{"resource": "PullRequest", "field": "base",
                                  "code": "invalid"}], "documentation_url": f"{DOCS}/pulls/pulls#create-a-pull-request",
                                  "status": "422"})
        for p in repo["pulls"].values():
            if p["head_ref"] == head and p["base_ref"] == body["base"] and p["state"] == "open":
                raise HttpError(422, {"message": "Validation Failed", "errors": [{"resource": "PullRequest", "code": "custom",
                                      "message": f"A pull request already exists for {repo['full_name'].split('/')[0]}:{head}."}],
                                      "documentation_url": f"{DOCS}/pulls/pulls#create-a-pull-request", "status": "422"})
        number = self._open_pull(repo, head=head, base=body["base"], title=body.get("title") or head,
                                 body=body.get("body") or "", author=req.user, head_repo=repo["full_name"],
                                 draft=bool(body.get("draft")))
        return 201, self._pull_json(req.base_url, repo, repo["pulls"][str(number)]), {}

    def h_merge_pull(self, req):
        repo = self._r(req)
        self._need(repo, req, "write")
        pr = self._pr(repo, req)
        body = req.body if isinstance(req.body, dict) else {}
        if pr["state"] != "open":
            raise HttpError(405, {"message": "Pull Request is not mergeable", "documentation_url": DOCS, "status": "405"})
        if body.get("sha") and body["sha"] != pr["head_sha"]:
            raise HttpError(409, {"message": "Head branch was modified. Review and try the merge again.",
                                  "documentation_url": DOCS, "status": "409"})
        head_tree = repo["commits"][repo["branches"].get(pr["head_ref"], pr["head_sha"])]["tree"] \
            if pr["head_repo"] == repo["full_name"] else {}
        sha = self._merge(repo, head_tree, pr["base_ref"], body.get("commit_title") or f"Merge pull request #{pr['number']}")
        pr.update(state="closed", merged=True, merge_commit_sha=sha, updated_at=now_iso())
        return 200, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}, {}

    def h_get_issue(self, req):
        repo = self._r(req)
        return 200, self._issue_json(req.base_url, repo, self._pr(repo, req)), {}

    def h_list_comments(self, req):
        repo = self._r(req)
        pr = self._pr(repo, req)
        items = sorted((c for c in repo["comments"].values() if c["issue_number"] == pr["number"]), key=lambda c: c["id"])
        chunk, headers = paginate(req, items, default_per_page=30)
        return 200, [self._comment_json(req.base_url, repo, c) for c in chunk], headers

    def h_create_comment(self, req):
        repo = self._r(req)
        pr = self._pr(repo, req)
        body = self._body(req, "body")
        if not isinstance(body["body"], str) or len(body["body"]) > 65536:
            raise self._unprocessable("Validation Failed", field="body", code="custom")
        c = self._add_comment(repo, pr["number"], body["body"], req.user)
        url = f"{req.base_url}/repos/{repo['full_name']}/issues/comments/{c['id']}"
        return 201, self._comment_json(req.base_url, repo, c), {"Location": url}

    def h_get_comment(self, req):
        repo = self._r(req)
        return 200, self._comment_json(req.base_url, repo, self._comment(repo, req)), {}

    def h_edit_comment(self, req):
        repo = self._r(req)
        c = self._comment(repo, req)
        body = self._body(req, "body")
        if c["user"] != req.user:
            self._need(repo, req, "maintain")
        if not isinstance(body["body"], str) or len(body["body"]) > 65536:
            raise self._unprocessable("Validation Failed", field="body", code="custom")
        c.update(body=body["body"], updated_at=now_iso())
        return 200, self._comment_json(req.base_url, repo, c), {}

    def h_delete_comment(self, req):
        repo = self._r(req)
        c = self._comment(repo, req)
        del repo["comments"][str(c["id"])]
        return 204, None, {}

    def _react(self, req, subject: str):
        repo = self._r(req)
        body = self._body(req, "content")
        if body["content"] not in REACTIONS:
            raise self._unprocessable("Validation Failed", field="content")
        for r in repo["reactions"]:
            if r["subject"] == subject and r["user"] == req.user and r["content"] == body["content"]:
                return 200, self._reaction_json(req.base_url, r), {}
        r = {"id": self.new_id(), "subject": subject, "user": req.user, "content": body["content"], "created_at": now_iso()}
        repo["reactions"].append(r)
        return 201, self._reaction_json(req.base_url, r), {}

    def _reaction_json(self, base, r):
        return {"id": r["id"], "node_id": f"REA_{r['id']}", "user": self._user(base, r["user"]), "content": r["content"],
                "created_at": r["created_at"]}

    def h_react_comment(self, req):
        self._comment(self._r(req), req)
        return self._react(req, f"comment:{req.match.group('id')}")

    def h_list_reactions_comment(self, req):
        repo = self._r(req)
        items = [r for r in repo["reactions"] if r["subject"] == f"comment:{req.match.group('id')}"]
        chunk, headers = paginate(req, items, default_per_page=30)
        return 200, [self._reaction_json(req.base_url, r) for r in chunk], headers

    def h_react_issue(self, req):
        self._pr(self._r(req), req)
        return self._react(req, f"issue:{req.match.group('n')}")

    def _sha(self, repo, req) -> str:
        ref = req.param("sha")
        try:
            return self._resolve(repo, ref)
        except HttpError:
            raise HttpError(422, {"message": f"No commit found for SHA: {ref}", "documentation_url": DOCS,
                                  "status": "422"}) from None

    def h_get_commit(self, req):
        repo = self._r(req)
        return 200, self._commit_json(req.base_url, repo, self._sha(repo, req)), {}

    def h_list_statuses(self, req):
        repo = self._r(req)
        sha = self._sha(repo, req)
        items = [s for s in reversed(repo["statuses"]) if s["sha"] == sha]
        chunk, headers = paginate(req, items, default_per_page=30)
        return 200, [self._status_json(req.base_url, repo, s) for s in chunk], headers

    def h_combined_status(self, req):
        repo = self._r(req)
        sha = self._sha(repo, req)
        latest: dict[str, dict] = {}
        for s in repo["statuses"]:
            if s["sha"] == sha:
                latest[s["context"]] = s
        states = {s["state"] for s in latest.values()}
        state = "failure" if states & {"failure", "error"} else "pending" if ("pending" in states or not states) else "success"
        return 200, {"state": state, "sha": sha, "total_count": len(latest),
                     "statuses": [self._status_json(req.base_url, repo, s) for s in latest.values()],
                     "repository": self._repo_json(req.base_url, repo), "commit_url": f"{req.base_url}/repos/{repo['full_name']}/commits/{sha}",
                     "url": f"{req.base_url}/repos/{repo['full_name']}/commits/{sha}/status"}, {}

    def h_list_check_runs(self, req):
        repo = self._r(req)
        sha = self._sha(repo, req)
        items = [c for c in repo["check_runs"] if c["head_sha"] == sha]
        return 200, {"total_count": len(items), "check_runs": [self._check_run_json(req.base_url, repo, c) for c in items]}, {}

    def h_create_status(self, req):
        repo = self._r(req)
        self._need(repo, req, "write")
        sha = self._sha(repo, req)
        body = self._body(req, "state")
        if body["state"] not in ("error", "failure", "pending", "success"):
            raise HttpError(422, {"message": "Validation Failed", "errors": [{"resource": "Status", "field": "state",
                                  "code": "custom", "message": "state is not included in the list"}],
                                  "documentation_url": f"{DOCS}/commits/statuses#create-a-commit-status", "status": "422"})
        if len(body.get("description") or "") > 140:
            raise HttpError(422, {"message": "Validation Failed", "errors": [{"resource": "Status", "field": "description",
                                  "code": "custom", "message": "description is too long (maximum is 140 characters)"}],
                                  "documentation_url": DOCS, "status": "422"})
        s = {"id": self.new_id(), "sha": sha, "state": body["state"], "context": body.get("context") or "default",
             "description": body.get("description"), "target_url": body.get("target_url"), "creator": req.user,
             "created_at": now_iso()}
        repo["statuses"].append(s)
        return 201, self._status_json(req.base_url, repo, s), {}

    def h_create_check_run(self, req):
        repo = self._r(req)
        self._need(repo, req, "write")
        body = self._body(req, "name", "head_sha")
        status = body.get("status", "queued")
        conclusion = body.get("conclusion")
        valid_conclusions = {"action_required", "cancelled", "failure", "neutral", "success", "skipped", "stale", "timed_out"}
        if status not in ("queued", "in_progress", "completed", "waiting", "requested", "pending") or (
            conclusion is not None and conclusion not in valid_conclusions
        ) or (status == "completed" and conclusion is None):
            raise HttpError(422, {"message": "Invalid request.\n\nNo subschema in \"anyOf\" matched.",
                                  "documentation_url": f"{DOCS}/checks/runs#create-a-check-run", "status": "422"})
        if conclusion is not None:
            status = "completed"
        sha = body["head_sha"]
        self._resolve(repo, sha)
        output = body.get("output") or {}
        if output and ("title" not in output or "summary" not in output):
            raise HttpError(422, {"message": "Invalid request.\n\n\"title\", \"summary\" weren't supplied.",
                                  "documentation_url": DOCS, "status": "422"})
        if len(output.get("summary") or "") > 65535:
            raise HttpError(422, {"message": "Invalid request.\n\nOnly 65535 characters are allowed; 'summary' is too long.",
                                  "documentation_url": DOCS, "status": "422"})
        c = {"id": self.new_id(), "name": body["name"], "head_sha": sha, "status": status, "conclusion": conclusion,
             "details_url": body.get("details_url"), "external_id": body.get("external_id"), "output": output,
             "started_at": body.get("started_at"), "completed_at": body.get("completed_at") or (now_iso() if conclusion else None)}
        repo["check_runs"].append(c)
        return 201, self._check_run_json(req.base_url, repo, c), {}

    def h_update_check_run(self, req):
        repo = self._r(req)
        for c in repo["check_runs"]:
            if str(c["id"]) == req.match.group("id"):
                body = self._body(req)
                c.update({k: v for k, v in body.items() if k in ("status", "conclusion", "output", "details_url", "name")})
                if c.get("conclusion"):
                    c["status"] = "completed"
                return 200, self._check_run_json(req.base_url, repo, c), {}
        raise self.not_found(req)

    def _branch_json(self, base, repo, name):
        sha = repo["branches"][name]
        full = repo["full_name"]
        return {"name": name, "commit": self._commit_json(base, repo, sha), "protected": False,
                "protection_url": f"{base}/repos/{full}/branches/{name}/protection",
                "_links": {"self": f"{base}/repos/{full}/branches/{name}", "html": f"{base}/{full}/tree/{name}"},
                "protection": {"enabled": False, "required_status_checks": {"enforcement_level": "off", "contexts": []}}}

    def h_get_branch(self, req):
        repo = self._r(req)
        name = req.param("branch")
        if name not in repo["branches"]:
            raise HttpError(404, {"message": "Branch not found", "documentation_url": f"{DOCS}/branches/branches#get-a-branch",
                                  "status": "404"})
        return 200, self._branch_json(req.base_url, repo, name), {}

    def h_list_branches(self, req):
        repo = self._r(req)
        chunk, headers = paginate(req, sorted(repo["branches"]), default_per_page=30)
        return 200, [{"name": b, "commit": {"sha": repo["branches"][b], "url": f"{req.base_url}/repos/{repo['full_name']}/commits/{repo['branches'][b]}"},
                      "protected": False} for b in chunk], headers

    def _ref_json(self, base, repo, name):
        sha = repo["branches"][name]
        full = repo["full_name"]
        return {"ref": f"refs/heads/{name}", "node_id": f"REF_{name}", "url": f"{base}/repos/{full}/git/refs/heads/{name}",
                "object": {"type": "commit", "sha": sha, "url": f"{base}/repos/{full}/git/commits/{sha}"}}

    def h_create_ref(self, req):
        repo = self._r(req)
        self._need(repo, req, "write")
        body = self._body(req, "ref", "sha")
        ref = body["ref"]
        if not ref.startswith("refs/") or ref.count("/") < 2:
            raise HttpError(422, {"message": "Reference name must start with 'refs/' and have at least two slashes.",
                                  "documentation_url": DOCS, "status": "422"})
        name = ref.removeprefix("refs/heads/")
        if name in repo["branches"]:
            raise HttpError(422, {"message": "Reference already exists", "documentation_url": DOCS, "status": "422"})
        if body["sha"] not in repo["commits"]:
            raise HttpError(422, {"message": "Object does not exist", "documentation_url": DOCS, "status": "422"})
        repo["branches"][name] = body["sha"]
        return 201, self._ref_json(req.base_url, repo, name), {}

    def h_get_ref(self, req):
        repo = self._r(req)
        name = req.param("ref").removeprefix("heads/")
        if name not in repo["branches"]:
            raise self.not_found(req)
        return 200, self._ref_json(req.base_url, repo, name), {}

    def h_get_contents(self, req):
        repo = self._r(req)
        ref = req.query.get("ref") or repo["default_branch"]
        path = req.param("path")
        content = repo["commits"][self._resolve(repo, ref)]["tree"].get(path)
        if content is None:
            raise HttpError(404, {"message": "Not Found", "documentation_url": f"{DOCS}/repos/contents#get-repository-content",
                                  "status": "404"})
        return 200, self._content_json(req.base_url, repo, path, content, ref), {}

    def h_put_contents(self, req):
        repo = self._r(req)
        self._need(repo, req, "write")
        body = self._body(req, "message", "content")
        path = req.param("path")
        branch = body.get("branch") or repo["default_branch"]
        if branch not in repo["branches"]:
            raise HttpError(404, {"message": f"Branch {branch} not found", "documentation_url": DOCS, "status": "404"})
        head = repo["branches"][branch]
        existing = repo["commits"][head]["tree"].get(path)
        if existing is not None:
            current = self._content_json(req.base_url, repo, path, existing, branch)["sha"]
            if body.get("sha") != current:
                raise HttpError(409 if body.get("sha") else 422, {
                    "message": f"{path} does not match {body.get('sha')}" if body.get("sha") else
                    "Invalid request.\n\n\"sha\" wasn't supplied.", "documentation_url": DOCS,
                    "status": "409" if body.get("sha") else "422"})
        try:
            base64.b64decode(body["content"], validate=True)
        except ValueError:
            raise HttpError(422, {"message": "content is not valid Base64", "documentation_url": DOCS, "status": "422"}) from None
        sha = self._commit_on(repo, branch, {path: body["content"]}, body["message"])
        commit = self._commit_json(req.base_url, repo, sha)
        return (200 if existing is not None else 201), {
            "content": self._content_json(req.base_url, repo, path, body["content"], branch),
            "commit": {"sha": sha, "node_id": commit["node_id"], "url": commit["commit"]["url"], "html_url": commit["html_url"],
                       "author": commit["commit"]["author"], "committer": commit["commit"]["committer"],
                       "message": body["message"], "tree": commit["commit"]["tree"], "parents": commit["parents"]},
        }, {}

    def h_permission(self, req):
        repo = self._r(req)
        login = req.param("user")
        if login not in self.state["users"]:
            raise HttpError(404, {"message": f"{login} is not a user", "documentation_url": DOCS, "status": "404"})
        role = repo["collaborators"].get(login, "none")
        return 200, {"permission": ROLE_TO_PERMISSION[role], "role_name": role, "user": self._user(req.base_url, login)}, {}

    # ================================================================== deployments
    # https://docs.github.com/rest/deployments: a deployment of a ref (branch, tag or sha)
    # to an environment; its state is its newest status. Checks GitHub makes on create:
    # the ref must resolve; required_contexts (default: every context on the commit) must
    # all be success; auto_merge (default true) is not simulated. auto_inactive (default
    # true) marks earlier successful deployments of the environment inactive, except
    # transient and production ones, as documented.
    _DEPLOYMENT_STATES = ("error", "failure", "inactive", "in_progress", "queued", "pending", "success")

    def _deployment_json(self, base: str, repo: dict, d: dict) -> dict:
        url = f"{base}/repos/{repo['full_name']}/deployments/{d['id']}"
        return {
            "url": url, "id": d["id"], "node_id": f"DE_{d['id']}", "sha": d["sha"], "ref": d["ref"], "task": d["task"],
            "payload": d["payload"], "original_environment": d["environment"], "environment": d["environment"],
            "description": d["description"], "creator": self._user(base, d["creator"]), "created_at": d["created_at"],
            "updated_at": d["updated_at"], "statuses_url": f"{url}/statuses",
            "repository_url": f"{base}/repos/{repo['full_name']}", "transient_environment": d["transient_environment"],
            "production_environment": d["production_environment"], "performed_via_github_app": None,
        }

    def _deployment_status_json(self, base: str, repo: dict, s: dict) -> dict:
        url = f"{base}/repos/{repo['full_name']}/deployments/{s['deployment_id']}"
        return {
            "url": f"{url}/statuses/{s['id']}", "id": s["id"], "node_id": f"DES_{s['id']}", "state": s["state"],
            "creator": self._user(base, s["creator"]), "description": s["description"], "environment": s["environment"],
            "target_url": s["target_url"], "created_at": s["created_at"], "updated_at": s["created_at"],
            "deployment_url": url, "repository_url": f"{base}/repos/{repo['full_name']}",
            "environment_url": s["environment_url"], "log_url": s["log_url"], "performed_via_github_app": None,
        }

    def _deployment(self, repo: dict, req: Request) -> dict:
        for d in repo.setdefault("deployments", []):
            if str(d["id"]) == req.match.group("id"):
                return d
        raise HttpError(404, {"message": "Not Found", "documentation_url": f"{DOCS}/deployments/deployments#get-a-deployment",
                              "status": "404"})

    def _newest_status(self, repo: dict, deployment_id: int) -> dict | None:
        return next((s for s in reversed(repo.setdefault("deployment_statuses", []))
                     if s["deployment_id"] == deployment_id), None)

    def h_create_deployment(self, req):
        repo = self._r(req)
        self._need(repo, req, "write")
        body = self._body(req, "ref")
        ref = body["ref"]
        try:
            sha = self._resolve(repo, ref) if isinstance(ref, str) else None
        except HttpError:
            sha = None
        if sha is None:
            raise HttpError(422, {"message": f"No ref found for: {ref}",
                                  "documentation_url": f"{DOCS}/deployments/deployments#create-a-deployment", "status": "422"})
        required = body.get("required_contexts")
        newest: dict[str, str] = {}
        for s in repo["statuses"]:
            if s["sha"] == sha:
                newest[s["context"]] = s["state"]
        failing = [c for c in (newest if required is None else required) if newest.get(c) != "success"]
        if failing:
            raise HttpError(409, {"message": f"Conflict: Commit status checks failed for {ref}.",
                                  "errors": [{"contexts": [{"context": c, "state": newest.get(c, "missing")} for c in failing],
                                              "resource": "Deployment", "field": "required_contexts", "code": "invalid"}],
                                  "documentation_url": f"{DOCS}/deployments/deployments#create-a-deployment", "status": "409"})
        environment = body.get("environment") or "production"
        payload = body.get("payload", {})
        d = {"id": self.new_id(), "sha": sha, "ref": ref, "task": body.get("task") or "deploy", "payload": payload,
             "environment": environment, "description": body.get("description"), "creator": req.user,
             "created_at": now_iso(), "updated_at": now_iso(),
             "transient_environment": bool(body.get("transient_environment", False)),
             "production_environment": bool(body.get("production_environment", environment == "production"))}
        repo.setdefault("deployments", []).append(d)
        return 201, self._deployment_json(req.base_url, repo, d), {}

    def h_list_deployments(self, req):
        repo = self._r(req)
        items = [d for d in reversed(repo.setdefault("deployments", []))
                 if all(str(d[k]) == req.query[k] for k in ("sha", "ref", "task", "environment") if k in req.query)]
        chunk, headers = paginate(req, items, default_per_page=30)
        return 200, [self._deployment_json(req.base_url, repo, d) for d in chunk], headers

    def h_get_deployment(self, req):
        repo = self._r(req)
        return 200, self._deployment_json(req.base_url, repo, self._deployment(repo, req)), {}

    def h_create_deployment_status(self, req):
        repo = self._r(req)
        self._need(repo, req, "write")
        d = self._deployment(repo, req)
        body = self._body(req, "state")
        invalid = None
        if body["state"] not in self._DEPLOYMENT_STATES:
            invalid = ("state", "state is not included in the list")
        elif len(body.get("description") or "") > 140:
            invalid = ("description", "description is too long (maximum is 140 characters)")
        if invalid:
            raise HttpError(422, {"message": "Validation Failed", "errors": [{"resource": "DeploymentStatus",
                                  "field": invalid[0], "code": "custom", "message": invalid[1]}],
                                  "documentation_url": f"{DOCS}/deployments/statuses#create-a-deployment-status",
                                  "status": "422"})
        statuses = repo.setdefault("deployment_statuses", [])
        log_url = body.get("log_url") or ""
        s = {"id": self.new_id(), "deployment_id": d["id"], "state": body["state"], "description": body.get("description") or "",
             "environment": body.get("environment") or d["environment"], "target_url": log_url or body.get("target_url") or "",
             "log_url": log_url or body.get("target_url") or "", "environment_url": body.get("environment_url") or "",
             "creator": req.user, "created_at": now_iso()}
        statuses.append(s)
        d["updated_at"] = now_iso()
        if body["state"] == "success" and body.get("auto_inactive", True):
            for other in repo["deployments"]:
                newest = self._newest_status(repo, other["id"])
                if (other["id"] != d["id"] and other["environment"] == d["environment"] and newest is not None
                        and newest["state"] == "success" and not other["transient_environment"]
                        and not other["production_environment"]):
                    statuses.append({**newest, "id": self.new_id(), "state": "inactive", "created_at": now_iso(),
                                     "description": newest["description"], "creator": req.user})
        return 201, self._deployment_status_json(req.base_url, repo, s), {}

    def h_list_deployment_statuses(self, req):
        repo = self._r(req)
        d = self._deployment(repo, req)
        items = [s for s in reversed(repo.setdefault("deployment_statuses", [])) if s["deployment_id"] == d["id"]]
        chunk, headers = paginate(req, items, default_per_page=30)
        return 200, [self._deployment_status_json(req.base_url, repo, s) for s in chunk], headers
