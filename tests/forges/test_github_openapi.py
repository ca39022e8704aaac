"""The requests PyGithub sends for our GitHub operations, and the stand-in's answers,
checked against GitHub's official OpenAPI description (npm @octokit/openapi)."""

from __future__ import annotations

import json
import re
from functools import lru_cache

import pytest

from llm_gitops.forges.base import FileChange, ReactionTarget
from tests.forges.npm_packages import npm_package

jsonschema = pytest.importorskip("jsonschema")


def _nullable_to_jsonschema(node):
    """OpenAPI 3.0 ``nullable: true`` -> JSON Schema's null type, everywhere in the document."""
    if isinstance(node, dict):
        for value in node.values():
            _nullable_to_jsonschema(value)
        if node.pop("nullable", False):
            if isinstance(node.get("type"), str):
                node["type"] = [node["type"], "null"]
                if "enum" in node:
                    node["enum"] = [*node["enum"], None]
            else:
                inner = dict(node)
                node.clear()
                node["anyOf"] = [inner, {"type": "null"}]
    elif isinstance(node, list):
        for value in node:
            _nullable_to_jsonschema(value)


@lru_cache(maxsize=1)
def _spec() -> dict:
    spec = json.loads((npm_package("@octokit/openapi") / "generated" / "api.github.com.json").read_text())
    _nullable_to_jsonschema(spec)
    return spec


def _operation(method: str, path: str) -> tuple[str, dict]:
    """The OpenAPI path template and operation that ``method path`` is an instance of."""
    best = None
    for template, item in _spec()["paths"].items():
        if method.lower() not in item:
            continue
        pattern = "^" + re.sub(r"\\\{path\\\}", ".+", re.sub(r"\\\{(?!path\\\})[^}]+\\\}", "[^/]+", re.escape(template))) + "$"
        if re.match(pattern, path):
            literal = len(re.sub(r"\{[^}]+\}", "", template))
            if best is None or literal > best[0]:
                best = (literal, template, item[method.lower()])
    assert best is not None, f"{method} {path} is not an operation in GitHub's OpenAPI description"
    return best[1], best[2]


def _without_required(node):
    # Without "required", oneOf alternatives overlap; anyOf keeps the type checks.
    if isinstance(node, dict):
        return {("anyOf" if k == "oneOf" else k): _without_required(v) for k, v in node.items() if k != "required"}
    if isinstance(node, list):
        return [_without_required(v) for v in node]
    return node


@lru_cache(maxsize=1)
def _lenient_components() -> dict:
    return _without_required(_spec()["components"])


def _validate(instance, schema: dict, what: str, *, lenient: bool = False) -> None:
    # lenient: the stand-in answers a subset of GitHub's fields (those clients read);
    # every field it does send must have GitHub's type and shape.
    components = _lenient_components() if lenient else _spec()["components"]
    root = {**(_without_required(schema) if lenient else schema), "components": components}
    validator = jsonschema.Draft4Validator(root)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
    assert not errors, f"{what}: " + "; ".join(f"{list(e.path)}: {e.message[:200]}" for e in errors[:5])


def _check_requests(h) -> set[str]:
    """Validate every request body the stand-in got; returns the operations seen ("METHOD /template")."""
    checked = set()
    for request in h.s.requests_snapshot():
        template, op = _operation(request.method, request.path)
        checked.add(f"{request.method} {template}")
        if request.body is not None:
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            _validate(request.body, schema, f"request body of {request.method} {template}")
    return checked


def _check_answers(h, calls: list[tuple[str, str, dict | None]]) -> None:
    """Send each (method, url, body) to the stand-in; its status and answer must be GitHub's."""
    import requests

    for method, url, body in calls:
        response = requests.request(method, url, json=body, headers={"Authorization": f"token {h.token}"}, timeout=5)
        path = url.split(h.s.url, 1)[1].split("?")[0]
        template, op = _operation(method, path)
        spec = op["responses"].get(str(response.status_code))
        assert spec is not None, f"{method} {template} answered {response.status_code}, not in the description"
        if "content" in spec:
            schema = spec["content"]["application/json"]["schema"]
            _validate(response.json(), schema, f"response of {method} {template}", lenient=True)


def test_requests_and_responses_match_githubs_openapi(h_github_only):
    h, forge = h_github_only
    comment = forge.upsert_sticky_comment(h.pr, "report v1", ("gate", None)).comment
    forge.upsert_sticky_comment(h.pr, "report v2", ("gate", None))
    forge.set_commit_status(h.repo, h.head_sha, "success", "llm-gitops/gate", "passed", target_url="http://ci.invalid/1",
                            summary="## details")
    forge.set_commit_status(h.repo, h.head_sha, "pending", "llm-gitops/gate", "running")
    forge.add_reaction(ReactionTarget(h.pr, comment.id), "rocket")
    forge.add_reaction(ReactionTarget(h.pr), "eyes")
    forge.user_permission(h.repo, "acme")
    forge.create_branch_with_changes(h.repo, "promote", "main", [FileChange("deploy/staging.yaml", "release: v2\n"),
                                                                  FileChange("deploy/new.yaml", "x: 1\n")], "promote")
    forge.read_file(h.repo, "deploy/staging.yaml", "promote")
    pr = forge.open_pull_request(h.repo, "promote", "main", "Promote", "body")
    forge.merge_pull_request(pr.ref)
    forge.get_pull_request(h.pr)

    checked = _check_requests(h)
    assert {"POST /repos/{owner}/{repo}/issues/{issue_number}/comments",
            "PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}",
            "POST /repos/{owner}/{repo}/statuses/{sha}", "POST /repos/{owner}/{repo}/check-runs",
            "POST /repos/{owner}/{repo}/git/refs", "PUT /repos/{owner}/{repo}/contents/{path}",
            "POST /repos/{owner}/{repo}/pulls", "PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge",
            "GET /repos/{owner}/{repo}/collaborators/{username}/permission"} <= checked


def test_standin_answers_match_githubs_openapi(h_github_only):
    """The stand-in's shapes are what PyGithub parses: every field it sends has GitHub's type."""
    h, forge = h_github_only
    comment = forge.upsert_sticky_comment(h.pr, "report", ("gate", None)).comment
    forge.set_commit_status(h.repo, h.head_sha, "success", "llm-gitops/gate", "passed", summary="s")
    base = f"{h.s.url}/repos/{h.repo}"
    _check_answers(h, [
        ("GET", base, None),
        ("GET", f"{base}/pulls/{h.number}", None),
        ("GET", f"{base}/issues/{h.number}/comments", None),
        ("PATCH", f"{base}/issues/comments/{comment.id}", {"body": "x"}),
        ("POST", f"{base}/statuses/{h.head_sha}", {"state": "failure", "context": "c"}),
        ("POST", f"{base}/check-runs", {"name": "c", "head_sha": h.head_sha, "status": "completed", "conclusion": "neutral",
                                       "output": {"title": "t", "summary": "s"}}),
        ("GET", f"{base}/branches/main", None),
        ("GET", f"{base}/contents/README.md?ref=main", None),
        ("GET", f"{base}/collaborators/acme/permission", None),
        ("POST", f"{base}/issues/comments/{comment.id}/reactions", {"content": "heart"}),
    ])


@pytest.fixture
def h_github_only(github, fast_retry):
    from tests.forges.conftest import Harness

    h = Harness("github", github, fast_retry)
    h.token = github.token
    return h, h.forge


def test_the_check_can_fail():
    _, op = _operation("POST", "/repos/acme/x/statuses/abc")
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    with pytest.raises(AssertionError, match="state"):
        _validate({"state": "bogus", "context": "c"}, schema, "bad status")
    with pytest.raises(AssertionError, match="not an operation"):
        _operation("POST", "/repos/acme/x/no-such-endpoint")


def test_deployment_requests_and_answers_match_githubs_openapi(h_github_only):
    """Deployments: what PyGithub (and our raw status call) sends, and every answer of the stand-in."""
    h, forge = h_github_only
    made = forge.create_deployment(h.repo, sha=h.head_sha, ref="main", environment="staging", description="deploying",
                                   payload={"release": "r-000000000001"})
    forge.set_deployment_status(h.repo, made, "success", "staging runs r-000000000001",
                                environment_url="http://127.0.0.1:8080", log_url="http://ci.invalid/run/1")
    second = forge.create_deployment(h.repo, sha=h.head_sha, ref="main", environment="staging", description="again",
                                     payload={"release": "r-000000000002"})
    forge.set_deployment_status(h.repo, second, "failure", "analysis Failed")
    forge.list_deployments(h.repo, "staging")
    checked = _check_requests(h)
    assert {"POST /repos/{owner}/{repo}/deployments", "GET /repos/{owner}/{repo}/deployments",
            "POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses",
            "GET /repos/{owner}/{repo}/deployments/{deployment_id}/statuses"} <= checked

    base = f"{h.s.url}/repos/{h.repo}"
    _check_answers(h, [
        ("POST", f"{base}/deployments", {"ref": "main", "environment": "prod", "payload": {"release": "r"},
                                         "required_contexts": [], "auto_merge": False}),
        ("GET", f"{base}/deployments?environment=staging", None),
        ("GET", f"{base}/deployments/{made.id}", None),
        ("POST", f"{base}/deployments/{made.id}/statuses", {"state": "error", "description": "d", "log_url": "http://x"}),
        ("GET", f"{base}/deployments/{made.id}/statuses", None),
        ("POST", f"{base}/deployments", {"ref": "no-such-ref"}),
    ])
