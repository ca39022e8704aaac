"""Fixtures: forge stand-ins on loopback, seeded with a repository and an open PR/MR."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from llm_gitops.forges.base import PullRequestRef
from llm_gitops.forges.registry import make_forge
from llm_gitops.forges.retry import RetryPolicy
from tests.standins.forge import ForgeStandin

GITHUB_TOKEN = "ghs_StandinTokenForTests0123456789abcdef"
GITLAB_TOKEN = "glpat-StandinTokenForTests012345"
REPO = "acme/adder-model"


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
