"""Fixtures: forge stand-ins on loopback, seeded with a repository and an open PR/MR."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from llm_gitops.forges import retry
from llm_gitops.forges.base import PullRequestRef, sticky_marker
from llm_gitops.forges.registry import make_forge
from llm_gitops.forges.retry import RetryPolicy
from tests.corpus.harness import CliRun, run_cli
from tests.forges.ci_env import fake_measurements, gate_repo, github_env, gitlab_env, pull_request_event
from tests.standins.forge import ForgeStandin

GITHUB_TOKEN = "ghs_StandinTokenForTests0123456789abcdef"
GITLAB_TOKEN = "glpat-StandinTokenForTests012345"
REPO = "acme/adder-model"
BOT = "llm-gitops-bot"  # the stand-ins' token user
MARKER = sticky_marker("gate")


class _Sleeps(list):
    """Records the waits a retry asked for, and waits for real only a little."""

    def __call__(self, seconds: float) -> None:
        import time

        self.append(seconds)
        time.sleep(min(seconds, 0.01))


@pytest.fixture
def sleeps() -> _Sleeps:
    return _Sleeps()


@pytest.fixture
def fast_retry(sleeps) -> RetryPolicy:
    return RetryPolicy(attempts=4, base_delay=0.05, max_delay=5, max_total=10, sleep=sleeps)


@dataclass
class Seeded:
    standin: object
    repo: str
    number: int
    head_sha: str
    token: str


@pytest.fixture
def github():
    standin = ForgeStandin.start(kind="github", token=GITHUB_TOKEN)
    standin.add_repo(REPO, files={"README.md": "adder\n", "deploy/staging.yaml": "release: v1\n"})
    number = standin.add_pull(REPO, head="feature", title="Retrain the adder")
    yield Seeded(standin, REPO, number, standin.pull(REPO, number)["head_sha"], GITHUB_TOKEN)
    standin.stop()


@pytest.fixture
def gitlab():
    standin = ForgeStandin.start(kind="gitlab", token=GITLAB_TOKEN)
    standin.add_project(REPO, files={"README.md": "adder\n", "deploy/staging.yaml": "release: v1\n"})
    iid = standin.add_merge_request(REPO, source="feature", title="Retrain the adder")
    yield Seeded(standin, REPO, iid, standin.merge_request(REPO, iid)["sha"], GITLAB_TOKEN)
    standin.stop()


class Harness:
    """Uniform view of a seeded stand-in, whichever forge it speaks."""

    def __init__(self, kind, seeded, policy):
        self.kind, self.s, self.repo, self.number, self.head_sha = kind, seeded.standin, seeded.repo, seeded.number, seeded.head_sha
        self.pr = PullRequestRef(self.repo, self.number)
        self.forge = make_forge(kind, token=seeded.token, api_url=self.s.url, policy=policy)

    def comments(self):
        return self.s.comments(self.repo, self.number) if self.kind == "github" else self.s.notes(self.repo, self.number)

    def statuses(self, sha=None):
        return self.s.statuses(self.repo, sha)

    def writes(self):
        return [r for r in self.s.requests if r.method != "GET" and not r.path.startswith("/_standin")]

    def push(self):
        return self.s.push(self.repo, "feature", {"model.txt": "new weights"})

    def grant(self, user, level):
        if self.kind == "github":
            self.s.set_permission(self.repo, user, level)
        else:
            self.s.set_access(self.repo, user, {"read": "guest", "triage": "reporter", "write": "developer",
                                                 "maintain": "maintainer", "admin": "owner"}[level])


@pytest.fixture(params=["github", "gitlab"])
def h(request, fast_retry):
    return Harness(request.param, request.getfixturevalue(request.param), fast_retry)


# ------------------------------------------------------------------ the gate CLI on a stand-in
@dataclass
class Site:
    """One forge stand-in with an open PR/MR and the CI environment of a job on it."""

    kind: str
    standin: object
    number: int
    env: dict[str, str]

    def comments(self) -> list[dict]:
        if self.kind == "github":
            return self.standin.comments(REPO, self.number)
        return self.standin.notes(REPO, self.number)

    def ours(self) -> list[dict]:
        author = "user" if self.kind == "github" else "author"
        return [c for c in self.comments() if c[author] == BOT and c["body"].startswith(MARKER)]

    @property
    def comment_path(self) -> str:
        return "/comments" if self.kind == "github" else "/notes"

    def statuses(self) -> list[dict]:
        return self.standin.statuses(REPO)

    @property
    def repo_dir(self) -> Path:
        return Path(self.env["_REPO_DIR"])

    def gate(self, *flags: str, **env: str) -> CliRun:
        """``llm-gitops [FLAGS] gate --report-to KIND`` in the CI job's environment (+ ``env``)."""
        return run_cli([*flags, "gate", "--report-to", self.kind], cwd=self.repo_dir,
                       env={**{k: v for k, v in self.env.items() if not k.startswith("_")}, **env})


@pytest.fixture
def cli_sleeps():
    """Every retry wait the CLI asks for, recorded and not waited (the CLI uses the
    default policy; its sleep is swapped on the shared default object)."""
    waits: list[float] = []
    policy = retry.DEFAULT_POLICY
    original = policy.sleep
    object.__setattr__(policy, "sleep", waits.append)
    yield waits
    object.__setattr__(policy, "sleep", original)


@pytest.fixture(params=["github", "gitlab"])
def site(request, tmp_path, monkeypatch, cli_sleeps):
    fake_measurements(monkeypatch)
    repo_dir = gate_repo(tmp_path)
    if request.param == "github":
        standin = ForgeStandin.start(kind="github", token=GITHUB_TOKEN)
        standin.add_repo(REPO, files={"README.md": "adder\n"})
        number = standin.add_pull(REPO, head="feature")
        sha = standin.pull(REPO, number)["head_sha"]
        env = github_env(standin.url, REPO, tmp_path / "event.json", token=GITHUB_TOKEN,
                         event=pull_request_event(number, sha, REPO))
    else:
        standin = ForgeStandin.start(kind="gitlab", token=GITLAB_TOKEN)
        standin.add_project(REPO, files={"README.md": "adder\n"})
        number = standin.add_merge_request(REPO, source="feature")
        env = gitlab_env(standin.url, REPO, number, standin.merge_request(REPO, number)["sha"],
                         standin.project_id(REPO), token=GITLAB_TOKEN)
    yield Site(request.param, standin, number, {**env, "_REPO_DIR": str(repo_dir)})
    standin.stop()
