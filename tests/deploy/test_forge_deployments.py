"""``llm-gitops deploy`` and ``rollback`` record each deploy on the forge as a deployment
with statuses, through the real CLI, on a real git checkout, against the GitHub and GitLab
stand-ins (real PyGithub / python-gitlab) and the local forge. The deploy target is the
in-memory one (deploy/fake.py), put in the registry in place of docker: what the forge
must show, and what a failing forge may and may not change, does not depend on the target.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from llm_gitops.cli import main
from llm_gitops.deploy.desired import releases_dir
from llm_gitops.deploy.fake import FakeTarget
from llm_gitops.forges.registry import make_forge
from llm_gitops.release.record import GateEvidence, Release, write_release
from tests.corpus.harness import expect_clean_error
from tests.forges.ci_env import github_env, gitlab_env
from tests.forges.conftest import GITHUB_TOKEN, GITLAB_TOKEN, REPO, cli_sleeps  # noqa: F401 - a fixture
from tests.standins.forge import ForgeStandin

CONFIG = """\
version: 1
environments:
  staging:
    target: docker
    scale_down_delay: 0
    analysis: {smoke_requests: 0}
"""
CI_VARIABLES = ("GITHUB_ACTIONS", "GITLAB_CI", "CI_PROJECT_PATH", "JENKINS_URL", "BUILD_URL", "GITHUB_TOKEN",
                "GITLAB_TOKEN", "CI_JOB_TOKEN", "CI_COMMIT_REF_NAME", "GITHUB_REF_NAME", "LLM_GITOPS_GITHUB_TOKEN",
                "LLM_GITOPS_GITLAB_TOKEN")


def make_release(n: int) -> Release:
    return Release(image=f"registry.local/adder@sha256:{n:064x}", model_digest=f"sha256:{n}", model_source="./m",
                   quantization="none", source_commit=None, built_at="2026-12-02T00:00:00Z",
                   gate=GateEvidence(report_digest="sha256:" + "0" * 64, verdict="pass", summary=""))


class Checkout:
    """A model repo's checkout whose deploys run on the in-memory target."""

    def __init__(self, root, target: FakeTarget, standin=None):
        self.root, self.target, self.standin = root, target, standin

    def git(self, *args: str) -> str:
        return subprocess.run(["git", "-C", str(self.root), "-c", "user.name=dev", "-c", "user.email=dev@example.com",
                               *args], capture_output=True, text=True, check=True).stdout.strip()

    def want(self, release: Release) -> str:
        """Commit deploy/staging.yaml naming ``release`` (the forge learns the commit, as a push would)."""
        write_release(release, releases_dir(self.root))
        (self.root / "deploy" / "staging.yaml").write_text(f"version: 1\nrelease: {release.id}\n")
        self.git("add", "-A")
        self.git("commit", "-qm", f"staging -> {release.id}")
        sha = self.git("rev-parse", "HEAD")
        if self.standin is not None:
            self.standin.add_commit(REPO, sha)
        return sha

    def cli(self, capsys, *args: str) -> tuple[int, str]:
        capsys.readouterr()
        with pytest.raises(SystemExit) as ended:
            main(list(args))
        return ended.value.code, capsys.readouterr().err


@pytest.fixture
def checkout(tmp_path, monkeypatch, cli_sleeps):  # noqa: F811 - the fixture imported above
    from llm_gitops.deploy import target as targets

    for name in CI_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    root = tmp_path / "repo"
    (root / "deploy").mkdir(parents=True)
    (root / ".llm-gitops.yaml").write_text(CONFIG)
    fake = FakeTarget()
    monkeypatch.setitem(targets.TARGETS, "docker", lambda **kwargs: fake)
    monkeypatch.chdir(root)
    c = Checkout(root, fake)
    c.git("init", "-q", "-b", "main")
    c.git("commit", "-q", "--allow-empty", "-m", "init")
    return c


@pytest.fixture(params=["github", "gitlab"])
def hosted(request, checkout, monkeypatch, tmp_path):
    """The checkout in a CI job of a GitHub or GitLab project served by the stand-in."""
    kind = request.param
    if kind == "github":
        standin = ForgeStandin.start(kind="github", token=GITHUB_TOKEN)
        standin.add_repo(REPO, files={"README.md": "adder\n"})
        env = github_env(standin.url, REPO, tmp_path / "event.json", token=GITHUB_TOKEN, event={}, event_name="push")
    else:
        standin = ForgeStandin.start(kind="gitlab", token=GITLAB_TOKEN)
        standin.add_project(REPO, files={"README.md": "adder\n"})
        env = gitlab_env(standin.url, REPO, 1, "f" * 40, standin.project_id(REPO), token=GITLAB_TOKEN)
        for key in ("CI_MERGE_REQUEST_IID", "CI_MERGE_REQUEST_PROJECT_ID", "CI_MERGE_REQUEST_SOURCE_PROJECT_ID"):
            env.pop(key)
        env["CI_COMMIT_REF_NAME"] = "main"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    checkout.standin, checkout.kind, checkout.env = standin, kind, env
    yield checkout
    standin.stop()


def history(c: Checkout) -> list[dict]:
    """(sha, newest state, every state, payload release) of the environment's deployments, oldest first."""
    rows = []
    for d in c.standin.deployments(REPO, "staging"):
        if c.kind == "github":
            states = [s["state"] for s in d["statuses"]]
            rows.append({"sha": d["sha"], "states": states, "release": d["payload"].get("release"),
                         "description": d["statuses"][-1]["description"] if d["statuses"] else "",
                         "log_url": d["statuses"][-1]["log_url"] if d["statuses"] else "",
                         "environment_url": d["statuses"][-1]["environment_url"] if d["statuses"] else ""})
        else:
            rows.append({"sha": d["sha"], "states": d["statuses"], "release": None, "ref": d["ref"]})
    return rows


def test_deploys_and_a_rollback_leave_the_history_on_the_forge(hosted, capsys):
    c = hosted
    (c.root / ".llm-gitops.yaml").write_text(CONFIG + "    url: https://staging.models.example\n")
    r1, r2 = make_release(1), make_release(2)
    sha1 = c.want(r1)
    code, err = c.cli(capsys, "deploy", "--env", "staging")
    assert code == 0, err
    done = "success"
    ended = {"github": ["in_progress", "success"], "gitlab": ["running", "success"]}[c.kind]
    [first] = history(c)
    assert first["sha"] == sha1 and first["states"] == ended
    if c.kind == "github":
        assert first["release"] == r1.id and first["description"] == f"staging runs {r1.id} on blue"
        assert first["log_url"].endswith(f"/{REPO}/actions/runs/77")
        assert first["environment_url"] == "https://staging.models.example"
    else:
        assert first["ref"] == "main"

    # Nothing to do: nothing new on the forge.
    code, err = c.cli(capsys, "deploy", "--env", "staging")
    assert code == 0 and "nothing to do" in err
    assert len(history(c)) == 1

    sha2 = c.want(r2)
    code, err = c.cli(capsys, "deploy", "--env", "staging", "--no-scale-down")
    assert code == 0, err
    first, second = history(c)
    assert second["sha"] == sha2 and second["states"][-1] == done
    # GitHub marks the superseded deployment inactive; GitLab's current one is simply the newest.
    assert first["states"][-1] == ("inactive" if c.kind == "github" else "success")

    code, err = c.cli(capsys, "rollback", "--env", "staging", "--forge", c.kind)
    assert code == 0, err
    assert c.target.live_colour == "blue"
    *_, back = history(c)
    assert back["sha"] == sha1 and back["states"][-1] == done  # the commit that named r1
    if c.kind == "github":
        assert back["release"] == r1.id and history(c)[1]["states"][-1] == "inactive"
    forge = make_forge(c.kind, token=GITHUB_TOKEN if c.kind == "github" else GITLAB_TOKEN, api_url=c.standin.url)
    listed = forge.list_deployments(REPO, "staging")
    assert [d.sha for d in listed] == [sha1, sha2, sha1] and listed[0].state == "success"


def test_a_deploy_that_does_not_promote_ends_as_failure_with_its_reason(hosted, capsys):
    c = hosted
    c.want(make_release(1))
    assert c.cli(capsys, "deploy", "--env", "staging")[0] == 0
    c.target.fail_ready.add("green")
    c.want(make_release(2))
    code, err = c.cli(capsys, "deploy", "--env", "staging")
    assert code == 1 and "never became ready" in err
    _, failed = history(c)
    assert failed["states"][-1] == ("failure" if c.kind == "github" else "failed")
    if c.kind == "github":
        assert failed["description"].startswith("green never became ready")


def _server_down(c: Checkout) -> None:
    c.standin.inject_errors(20, method="POST", path_contains="/deployments")


def _read_only(c: Checkout) -> None:
    if c.kind == "github":
        c.standin.set_permission(REPO, "llm-gitops-bot", "read")
    else:
        c.standin.set_access(REPO, "llm-gitops-bot", "reporter")


def _no_such_repo(c: Checkout) -> None:
    c.env["GITHUB_REPOSITORY" if c.kind == "github" else "CI_PROJECT_PATH"] = "acme/elsewhere"


@pytest.mark.parametrize("fault, culprit", [
    (_server_down, ["deploy staging: not started", "failed after 4 attempts", "502"]),
    (_read_only, ["deploy staging: not started", "refused", "403"]),
    (_no_such_repo, ["deploy staging: not started", "acme/elsewhere not found"]),
], ids=["5xx", "403", "404"])
def test_a_forge_that_fails_the_create_stops_the_deploy_before_anything_changes(hosted, fault, culprit):
    c = hosted
    c.want(make_release(1))
    fault(c)
    expect_clean_error(["deploy", "--env", "staging"], cwd=c.root, env=c.env, culprit=culprit, surface="deploy",
                       case=f"forge deployment refused ({c.kind}, {fault.__name__})")
    assert c.target.calls == [] and c.target.live_colour is None
    assert history(c) == []


def test_a_forge_that_fails_the_final_status_is_a_warning_and_the_deploy_stands(hosted, capsys):
    c = hosted
    c.want(make_release(1))
    switch = c.target.switch

    def switch_then_forge_down(colour):
        # The forge goes down once traffic has moved: from here on it may only warn.
        c.standin.inject_errors(20, method="POST" if c.kind == "github" else "PUT", path_contains="/deployments/")
        return switch(colour)

    c.target.switch = switch_then_forge_down
    code, err = c.cli(capsys, "deploy", "--env", "staging")
    assert code == 0, err
    assert c.target.live_colour == "blue"
    warnings = [line for line in err.splitlines() if line.startswith("warning: deployment")]
    assert len(warnings) == 1 and "was not set to success" in warnings[0]
    [only] = history(c)
    assert only["states"][-1] in ("in_progress", "running")


def test_the_local_forge_keeps_the_history_and_forge_none_records_nothing(checkout, capsys):
    c = checkout
    c.want(make_release(1))
    assert c.cli(capsys, "deploy", "--env", "staging", "--forge", "none")[0] == 0
    forge = make_forge("local")
    assert forge.list_deployments(str(c.root), "staging") == []
    c.target.live_colour, c.target.running = None, {}
    code, err = c.cli(capsys, "deploy", "--env", "staging", "--forge", "local")
    assert code == 0, err
    [d] = forge.list_deployments(str(c.root), "staging")
    assert (d.state, d.release, d.sha) == ("success", make_release(1).id, c.git("rev-parse", "HEAD"))
    records = json.loads((c.root / ".git" / "llm-gitops" / "records.json").read_text())
    assert [s["state"] for s in records["deployments"][0]["statuses"]] == ["in_progress", "success"]


def test_awaiting_promotion_stays_in_progress_until_promoted(checkout, capsys):
    c = checkout
    (c.root / ".llm-gitops.yaml").write_text(CONFIG + "    auto_promote: false\n")
    c.want(make_release(1))
    assert c.cli(capsys, "deploy", "--env", "staging", "--forge", "local")[0] == 0
    forge = make_forge("local")
    assert forge.list_deployments(str(c.root), "staging")[0].state == "in_progress"
    code, err = c.cli(capsys, "deploy", "--env", "staging", "--forge", "local", "--promote")
    assert code == 0, err
    [d] = forge.list_deployments(str(c.root), "staging")
    assert d.state == "success" and d.description.endswith("(promoted)")


def test_a_deployment_left_in_progress_is_completed_or_ended(hosted, capsys):
    c = hosted
    forge = make_forge(c.kind, token=GITHUB_TOKEN if c.kind == "github" else GITLAB_TOKEN, api_url=c.standin.url)
    # A deploy of r1 was killed after recording its deployment: this run of the same commit completes it.
    sha1 = c.want(make_release(1))
    left = forge.create_deployment(REPO, sha=sha1, ref="main", environment="staging", description="killed",
                                   payload={"release": make_release(1).id})
    assert c.cli(capsys, "deploy", "--env", "staging")[0] == 0
    assert [d.id for d in forge.list_deployments(REPO, "staging")] == [left.id]
    assert forge.list_deployments(REPO, "staging")[0].state == "success"
    # One of another commit, left in progress, ends as error when a later deploy takes over.
    stale = forge.create_deployment(REPO, sha=sha1, ref="main", environment="staging", description="killed",
                                    payload={"release": make_release(1).id})
    sha2 = c.want(make_release(2))
    assert c.cli(capsys, "deploy", "--env", "staging")[0] == 0
    newest, ended, _ = forge.list_deployments(REPO, "staging")
    assert (newest.sha, newest.state) == (sha2, "success")
    assert (ended.id, ended.state) == (stale.id, "error" if c.kind == "github" else "failure")


def test_a_deploy_killed_after_its_switch_is_recorded_by_the_next_that_has_nothing_to_do(checkout, capsys):
    c = checkout
    r1 = make_release(1)
    sha = c.want(r1)
    forge = make_forge("local")
    forge.create_deployment(str(c.root), sha=sha, ref="main", environment="staging", description="killed",
                            payload={"release": r1.id})
    c.target.running, c.target.live_colour = {"blue": r1.id}, "blue"  # it had switched before it died
    code, err = c.cli(capsys, "deploy", "--env", "staging", "--forge", "local")
    assert code == 0 and "nothing to do" in err
    [d] = forge.list_deployments(str(c.root), "staging")
    assert d.state == "success" and "already runs" in d.description
    assert c.target.calls == []


@pytest.mark.parametrize("url, culprit", [
    ("ftp://models.example", ["url", "not an http(s) URL"]),
    ("https://deployer:s3cret@models.example", ["url", "must not hold credentials"]),
], ids=["scheme", "credentials"])
def test_a_bad_environment_url_is_a_config_error(checkout, url, culprit):
    c = checkout
    (c.root / ".llm-gitops.yaml").write_text(CONFIG + f"    url: {url}\n")
    c.want(make_release(1))
    run = expect_clean_error(["deploy", "--env", "staging", "--forge", "local"], cwd=c.root, culprit=culprit,
                             surface="deploy", case=f"environments.staging.url {url.split(':')[0]}")
    assert "s3cret" not in run.err and c.target.calls == []


def test_a_malformed_ci_context_stops_the_deploy_before_anything_changes(hosted):
    # Detected once, before the target is touched: not a warning and a deploy left unrecorded.
    c = hosted
    c.want(make_release(1))
    bad = {"GITHUB_REPOSITORY": "../etc"} if c.kind == "github" else {"CI_PROJECT_PATH": "a//b"}
    culprit = list(bad)
    expect_clean_error(["deploy", "--env", "staging"], cwd=c.root, env={**c.env, **bad}, culprit=culprit,
                       surface="deploy", case=f"malformed CI context ({c.kind})")
    assert c.target.calls == [] and history(c) == []


@pytest.mark.parametrize("hosted", ["gitlab"], indirect=True)
def test_a_forge_other_than_the_jobs_is_refused_before_anything_changes(hosted):
    c = hosted
    c.want(make_release(1))
    expect_clean_error(["deploy", "--env", "staging", "--forge", "github"], cwd=c.root,
                       env={**c.env, "GITHUB_TOKEN": GITHUB_TOKEN}, surface="deploy",
                       culprit=["--forge is github, but this gitlab-ci run is for a gitlab repository"],
                       case="--forge of another forge")
    assert c.target.calls == [] and c.standin.requests_snapshot() == []
