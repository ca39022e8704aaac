"""Bad CI environments through the real ``llm-gitops gate --report-to github|gitlab``:
malformed variables of GitHub Actions, GitLab CI and Jenkins, API URLs that are not
URLs, and step-output files that cannot be written. Each is exit 2 with one line naming
the variable (or flag) and the fix, before anything is measured or written.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.corpus.harness import expect_clean_error
from tests.forges.ci_env import fake_measurements, gate_repo, github_env, gitlab_env, pull_request_event

REPO = "acme/adder-model"
SHA = "b" * 40
API = "http://127.0.0.1:9"

BAD_URLS = ["ftp://host/api", "not a url", "http://", "http:///path", "http://host:99999", "http://host:port",
            "javascript:alert(1)", "http://a b", "http://host\n", "file:///etc/passwd", "//host/api", "host/api",
            "http://user:pa ss@host"]
BAD_NUMBERS = ["abc", "-1", "0", "1.5", "1e3", "0x10", "\u0663", "99999999999999999999", "7 8", "+7"]
BAD_SHAS = ["zz", "a" * 65, "abc", "g" * 40, SHA + "x", f"{SHA[:20]} {SHA[:19]}", "$(id)"]
BAD_REPOS = ["noslash", "a/b/c", "a b/c", "a/b\n", "/", "a/", "/b", "../etc", "a/..", "a;b/c", "a/b?x=1"]
BAD_PROJECTS = ["noslash", "a//b", "a/b/", "/a/b", "a b/c", "a/b\n", "a/./b", "a/b#c"]
BAD_BRANCHES = ["a\nb", "x" * 2000, "\x1b[31mred"]


def _github(**overrides: str | None) -> Callable[[Path], tuple[dict[str, str], str]]:
    def make(tmp: Path) -> tuple[dict[str, str], str]:
        env = github_env(API, REPO, tmp / "event.json", token="ghs_EnvCorpusToken0123456789abcdef",
                         event=pull_request_event(5, SHA, REPO))
        env.update({k: v for k, v in overrides.items() if v is not None})
        return env, "github"
    return make


def _github_without_event(event_name: str, path: str | None) -> Callable[[Path], tuple[dict[str, str], str]]:
    """A pull-request event whose payload file is not named (unset, or set to "")."""
    def make(tmp: Path) -> tuple[dict[str, str], str]:
        env, forge = _github(GITHUB_EVENT_NAME=event_name)(tmp)
        env.pop("GITHUB_EVENT_PATH")
        return ({**env, "GITHUB_EVENT_PATH": path} if path is not None else env), forge
    return make


def _github_push(**overrides: str) -> Callable[[Path], tuple[dict[str, str], str]]:
    def make(tmp: Path) -> tuple[dict[str, str], str]:
        env = github_env(API, REPO, tmp / "event.json", token="ghs_EnvCorpusToken0123456789abcdef",
                         event={"ref": "refs/heads/main"}, event_name="push")
        return {**env, **overrides}, "github"
    return make


def _gitlab(**overrides: str) -> Callable[[Path], tuple[dict[str, str], str]]:
    def make(tmp: Path) -> tuple[dict[str, str], str]:
        env = gitlab_env(API, REPO, 3, SHA, 12, token="glpat-EnvCorpusToken0123456789")
        return {**env, **overrides}, "gitlab"
    return make


def _jenkins(**overrides: str) -> Callable[[Path], tuple[dict[str, str], str]]:
    def make(tmp: Path) -> tuple[dict[str, str], str]:
        env = {"JENKINS_URL": "http://127.0.0.1:8", "BUILD_URL": "http://127.0.0.1:8/job/x/1/", "JOB_NAME": "x",
               "CHANGE_ID": "5", "CHANGE_URL": f"{API}/{REPO}/pull/5", "GIT_COMMIT": SHA, "CHANGE_TARGET": "main",
               "GITHUB_TOKEN": "ghs_EnvCorpusToken0123456789abcdef", **overrides}
        return env, "github"
    return make


def _file(variable: str, make_path: Callable[[Path], str]) -> Callable[[Path], tuple[dict[str, str], str]]:
    def make(tmp: Path) -> tuple[dict[str, str], str]:
        env, forge = _github()(tmp)
        return {**env, variable: make_path(tmp)}, forge
    return make


def _dir(tmp: Path) -> str:
    (tmp / "adir").mkdir()
    return str(tmp / "adir")


def _fifo(tmp: Path) -> str:
    os.mkfifo(tmp / "fifo")
    return str(tmp / "fifo")


def _dangling(tmp: Path) -> str:
    os.symlink(tmp / "nowhere", tmp / "dangling")
    return str(tmp / "dangling")


def _loop(tmp: Path) -> str:
    os.symlink(tmp / "loop", tmp / "loop")
    return str(tmp / "loop")


def _under_file(tmp: Path) -> str:
    (tmp / "file").write_text("")
    return str(tmp / "file" / "out")


BAD_FILES: dict[str, tuple[Callable[[Path], str], str]] = {
    "directory": (_dir, "is a directory"),
    "missing-dir": (lambda tmp: str(tmp / "no" / "such" / "out"), "does not exist"),
    "under-a-file": (_under_file, "is not a directory"),
    "fifo": (_fifo, "not a regular file"),
    "dangling-link": (_dangling, "leads nowhere"),
    "link-loop": (_loop, "leads nowhere"),
    "name-too-long": (lambda tmp: str(tmp / ("x" * 300)), "cannot be used"),
}

# (case id, environment maker, text the error line must name)
CASES: list[tuple[str, Callable, list[str]]] = []
for _i, _v in enumerate(BAD_URLS):
    for _var in ("GITHUB_API_URL", "LLM_GITOPS_GITHUB_API_URL", "GITHUB_SERVER_URL"):
        CASES.append((f"github-{_var}-{_i}", _github(**{_var: _v}), [_var]))
    for _var in ("CI_API_V4_URL", "LLM_GITOPS_GITLAB_URL", "CI_PIPELINE_URL"):
        CASES.append((f"gitlab-{_var}-{_i}", _gitlab(**{_var: _v}), [_var]))
for _i, _v in enumerate(BAD_NUMBERS):
    CASES.append((f"gitlab-iid-{_i}", _gitlab(CI_MERGE_REQUEST_IID=_v), ["CI_MERGE_REQUEST_IID", "number"]))
    CASES.append((f"gitlab-project-id-{_i}", _gitlab(CI_MERGE_REQUEST_PROJECT_ID=_v), ["CI_MERGE_REQUEST_PROJECT_ID"]))
    CASES.append((f"github-run-id-{_i}", _github(GITHUB_RUN_ID=_v), ["GITHUB_RUN_ID"]))
    CASES.append((f"jenkins-change-id-{_i}", _jenkins(CHANGE_ID=_v), ["CHANGE_ID"]))
for _i, _v in enumerate(BAD_SHAS):
    CASES.append((f"gitlab-sha-{_i}", _gitlab(CI_COMMIT_SHA=_v), ["CI_COMMIT_SHA", "commit sha"]))
    CASES.append((f"github-push-sha-{_i}", _github_push(GITHUB_SHA=_v), ["GITHUB_SHA", "commit sha"]))
    CASES.append((f"jenkins-sha-{_i}", _jenkins(GIT_COMMIT=_v), ["GIT_COMMIT"]))
for _i, _v in enumerate(BAD_REPOS):
    CASES.append((f"github-repository-{_i}", _github(GITHUB_REPOSITORY=_v), ["GITHUB_REPOSITORY", "OWNER/REPO"]))
for _i, _v in enumerate(BAD_PROJECTS):
    CASES.append((f"gitlab-project-path-{_i}", _gitlab(CI_PROJECT_PATH=_v), ["CI_PROJECT_PATH"]))
for _i, _v in enumerate(BAD_BRANCHES):
    CASES.append((f"gitlab-target-branch-{_i}", _gitlab(CI_MERGE_REQUEST_TARGET_BRANCH_NAME=_v),
                  ["CI_MERGE_REQUEST_TARGET_BRANCH_NAME"]))
    CASES.append((f"jenkins-target-{_i}", _jenkins(CHANGE_TARGET=_v), ["CHANGE_TARGET"]))
for _i, _v in enumerate(BAD_URLS[:6]):
    CASES.append((f"jenkins-change-url-{_i}", _jenkins(CHANGE_URL=_v), ["CHANGE_URL"]))
for _name, (_make, _problem) in BAD_FILES.items():
    for _var in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"):
        CASES.append((f"{_var}-{_name}", _file(_var, _make), [_var, _problem]))
for _i, _v in enumerate(["a b", "x" * 50, "bot]", "-x", "a\nb", "app[bot][bot]", "app[Bot]"]):
    CASES.append((f"github-login-{_i}", _github(LLM_GITOPS_GITHUB_LOGIN=_v), ["LLM_GITOPS_GITHUB_LOGIN"]))
# Not-a-file cases of the pull request's event belong to the event corpus; its variable:
CASES.append(("github-event-path-missing", _github(GITHUB_EVENT_PATH="/nonexistent/event.json"),
              ["GITHUB_EVENT_PATH", "does not exist"]))
for _name in ("pull_request", "pull_request_target"):
    for _value in ("", None):
        CASES.append((f"github-event-path-unset-{_name}-{_value!r}", _github_without_event(_name, _value),
                      ["GITHUB_EVENT_PATH is not set", "pull_request"]))


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 100


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    return gate_repo(tmp_path_factory.mktemp("env-corpus"))


@pytest.mark.parametrize("case,make,culprit", CASES, ids=[c[0] for c in CASES])
def test_bad_ci_environment_is_a_clean_error_before_measuring(repo, tmp_path, monkeypatch, case, make, culprit):
    evaluated = fake_measurements(monkeypatch)
    env, forge = make(tmp_path)
    run = expect_clean_error(["gate", "--report-to", forge], cwd=repo, env=env, surface="env", case=case,
                             culprit=culprit)
    assert evaluated == []
    assert "pa ss" not in run.err  # a URL's credentials are never shown


# A directory is click's to refuse (dir_okay=False), with its own usage message.
@pytest.mark.parametrize("name", sorted(set(BAD_FILES) - {"directory"}))
def test_output_env_flag_that_cannot_be_written(repo, tmp_path, monkeypatch, name):
    make_path, problem = BAD_FILES[name]
    evaluated = fake_measurements(monkeypatch)
    env, _ = _github()(tmp_path)
    expect_clean_error(["gate", "--report-to", "none", "--output-env", make_path(tmp_path)], cwd=repo, env=env,
                       surface="env", case=f"--output-env-{name}", culprit=["--output-env", problem])
    assert evaluated == []


@pytest.mark.parametrize("output_dir", ["out\nverdict=pass\nx", "out\rLLM_GITOPS_VERDICT=pass", "out\n"])
def test_config_text_with_a_line_break_cannot_reach_a_dotenv_file(repo, tmp_path, monkeypatch, output_dir):
    evaluated = fake_measurements(monkeypatch)
    env, _ = _github()(tmp_path)
    expect_clean_error(["gate", "--report-to", "none", "--output-dir", str(tmp_path / output_dir),
                        "--output-env", str(tmp_path / "gate.env")], cwd=repo, env=env, watch=tmp_path,
                       surface="env", case=f"output-dir-{output_dir!r}", culprit=["--output-env", "line break"])
    assert evaluated == []


def test_a_fine_environment_gets_past_the_checks(repo, tmp_path, monkeypatch):
    """The same setup without a defect runs the gate (so the corpus errors are the defects')."""
    evaluated = fake_measurements(monkeypatch)
    from tests.corpus.harness import run_cli

    env, _ = _github()(tmp_path)
    env["GITHUB_OUTPUT"] = str(tmp_path / "out.txt")
    run = run_cli(["gate", "--report-to", "none", "--output-dir", str(tmp_path / "reports")], cwd=repo, env=env)
    assert run.code == 0, run.err
    assert evaluated == ["model"]
    assert "verdict<<ghadelimiter_" in (tmp_path / "out.txt").read_text()
