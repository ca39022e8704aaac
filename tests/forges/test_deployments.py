"""Forge deployments, one contract for every forge: the in-memory fake, the local forge on
a real git repository, GitHub's stand-in through PyGithub and GitLab's through
python-gitlab. A deployment is created in_progress and ends success, failure or error;
a success supersedes the environment's previous one (inactive) where the forge has
that state (GitLab has not: its newest successful deployment is the current one)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

import pytest

from llm_gitops.errors import ExternalServiceError
from llm_gitops.forges.base import Deployment, Forge
from llm_gitops.forges.fake import FakeForge
from llm_gitops.forges.registry import make_forge
from tests.forges.conftest import Harness


@dataclass
class Site:
    kind: str
    forge: Forge
    repo: str
    sha: str
    standin: object = None

    def deploy(self, env: str, release: str, description: str = "deploying") -> Deployment:
        return self.forge.create_deployment(self.repo, sha=self.sha, ref="main", environment=env,
                                            description=description, payload={"release": release})


@pytest.fixture(params=["fake", "local", "github", "gitlab"])
def site(request, tmp_path, fast_retry):
    kind = request.param
    if kind == "fake":
        return Site(kind, FakeForge(), "acme/adder-model", "a" * 40)
    if kind == "local":
        root = tmp_path / "repo"
        root.mkdir()
        git = ["git", "-C", str(root), "-c", "user.name=dev", "-c", "user.email=dev@example.com"]
        subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
        subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "init"], check=True)
        sha = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
        return Site(kind, make_forge("local"), str(root), sha)
    h = Harness(kind, request.getfixturevalue(kind), fast_retry)
    return Site(kind, h.forge, h.repo, h.head_sha, h.s)


def test_a_deployment_starts_in_progress_then_succeeds(site):
    made = site.deploy("staging", "r-000000000001", "deploying r-000000000001")
    assert (made.environment, made.sha, made.state) == ("staging", site.sha, "in_progress")
    assert site.forge.list_deployments(site.repo, "staging")[0].state == "in_progress"
    site.forge.set_deployment_status(site.repo, made, "success", "staging runs r-000000000001",
                                     environment_url="http://127.0.0.1:8080", log_url="http://ci.invalid/run/7")
    [listed] = site.forge.list_deployments(site.repo, "staging")
    assert (listed.id, listed.state, listed.sha) == (made.id, "success", site.sha)
    if site.kind == "gitlab":  # GitLab keeps no payload and no description
        assert (listed.release, listed.description) == (None, "")
    else:
        assert (listed.release, listed.description) == ("r-000000000001", "staging runs r-000000000001")


def test_history_is_newest_first_and_a_success_supersedes_the_last_one(site):
    first = site.deploy("prod", "r-1")
    site.forge.set_deployment_status(site.repo, first, "success", "prod runs r-1")
    other_env = site.deploy("staging", "r-2")
    site.forge.set_deployment_status(site.repo, other_env, "success", "staging runs r-2")
    failed = site.deploy("prod", "r-2")
    site.forge.set_deployment_status(site.repo, failed, "failure", "pre-promotion analysis Failed: error rate 0.4")
    second = site.deploy("prod", "r-3")
    site.forge.set_deployment_status(site.repo, second, "success", "prod runs r-3")
    history = site.forge.list_deployments(site.repo, "prod")
    assert [d.id for d in history] == [second.id, failed.id, first.id]
    superseded = "success" if site.kind == "gitlab" else "inactive"
    assert [d.state for d in history] == ["success", "failure", superseded]
    if site.kind != "gitlab":
        assert history[1].description == "pre-promotion analysis Failed: error rate 0.4"
        assert [d.release for d in history] == ["r-3", "r-2", "r-1"]
    # Another environment's current deployment is not touched.
    assert [d.state for d in site.forge.list_deployments(site.repo, "staging")] == ["success"]
    assert site.forge.list_deployments(site.repo, "nowhere") == []


def test_error_is_a_state_of_its_own_where_the_forge_has_one(site):
    made = site.deploy("staging", "r-1")
    site.forge.set_deployment_status(site.repo, made, "error", "haproxy's admin socket is gone")
    assert site.forge.list_deployments(site.repo, "staging")[0].state == ("failure" if site.kind == "gitlab" else "error")


@pytest.fixture(params=["github", "gitlab"])
def hosted(request, fast_retry):
    return Harness(request.param, request.getfixturevalue(request.param), fast_retry)


def test_what_the_standins_hold_is_what_the_apis_were_asked(hosted):
    h = hosted
    # A failing gate status on the commit must not block the deploy record (required_contexts: []).
    h.forge.set_commit_status(h.repo, h.head_sha, "failure", "llm-gitops/gate", "gate fail")
    made = h.forge.create_deployment(h.repo, sha=h.head_sha, ref="main", environment="staging",
                                     description="x" * 300, payload={"release": "r-1"})
    h.forge.set_deployment_status(h.repo, made, "success", "staging runs r-1", environment_url="http://127.0.0.1:8080",
                                  log_url="http://ci.invalid/run/7")
    [d] = h.s.deployments(h.repo, "staging")
    if h.kind == "github":
        assert (d["ref"], d["sha"], d["payload"], d["environment"]) == (h.head_sha, h.head_sha, {"release": "r-1"}, "staging")
        assert len(d["description"]) == 140 and d["transient_environment"] is False
        assert [(s["state"], s["environment_url"], s["log_url"]) for s in d["statuses"]] == [
            ("in_progress", "", ""), ("success", "http://127.0.0.1:8080", "http://ci.invalid/run/7")]
        create = next(r for r in h.s.requests_snapshot() if r.method == "POST" and r.path.endswith("/deployments"))
        assert create.body["auto_merge"] is False and create.body["required_contexts"] == []
    else:
        assert (d["ref"], d["sha"], d["tag"], d["statuses"]) == ("main", h.head_sha, False, ["running", "success"])
        assert "staging" in h.s.environments(h.repo)  # created by its first deployment


def test_a_create_whose_answer_was_lost_is_not_made_twice(hosted):
    h = hosted
    h.s.inject_errors(1, method="POST", path_contains="/deployments", after=True)
    h.forge.create_deployment(h.repo, sha=h.head_sha, ref="main", environment="prod", description="d",
                              payload={"release": "r-1"})
    assert len(h.s.deployments(h.repo, "prod")) == 1


def test_a_server_that_keeps_failing_is_one_clear_error(hosted):
    h = hosted
    h.s.inject_errors(10, method="POST", path_contains="/deployments")
    with pytest.raises(ExternalServiceError, match="creating a deployment of .* to prod on .* failed after 4 attempts"):
        h.forge.create_deployment(h.repo, sha=h.head_sha, ref="main", environment="prod", description="d",
                                  payload={"release": "r-1"})
    assert h.s.deployments(h.repo, "prod") == []


def test_github_refuses_a_commit_it_does_not_have(github, fast_retry):
    h = Harness("github", github, fast_retry)
    with pytest.raises(ExternalServiceError, match="No ref found"):
        h.forge.create_deployment(h.repo, sha="e" * 40, ref="main", environment="prod", description="d",
                                  payload={"release": "r-1"})


def test_limit_keeps_the_newest(site):
    for n in range(3):
        site.deploy("prod", f"r-{n}")
    newest = site.forge.list_deployments(site.repo, "prod")
    assert [d.id for d in site.forge.list_deployments(site.repo, "prod", limit=1)] == [newest[0].id]
    assert len(site.forge.list_deployments(site.repo, "prod", limit=2)) == 2
