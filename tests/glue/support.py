"""Shared plumbing for the CI-glue tests: where the tools are, a clean environment for
them, throwaway repositories (the real CLI is in tests/glue/real_cli.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, test_cache_root

VENV_BIN = Path(sys.executable).parent
INSTALL_HINT = "run scripts/system/glue.sh"
# The SHAs the actions and the example workflow pin; tests map them to local stubs.
CHECKOUT = "actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8"
STUBS = Path(__file__).parent / "stubs"


def pinned_actions() -> set[str]:
    """Every `owner/repo@sha` the shipped actions use (act fetches them even when skipped)."""
    import re

    found = set()
    for action in (REPO_ROOT / "actions").glob("*/action.yml"):
        found.update(re.findall(r"uses:\s*([\w.-]+/[\w.-]+)@([0-9a-f]{40})", action.read_text()))
    return {f"{repo}@{sha}" for repo, sha in found}


def tool(name: str) -> str:
    """The path of a command from the venv or PATH, or skip the test naming the installer."""
    found = shutil.which(name, path=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if not found:
        pytest.skip(f"{name} is not installed; {INSTALL_HINT}")
    return found


def gitlab_ci_local() -> str:
    path = test_cache_root() / "npm" / "node_modules" / ".bin" / "gitlab-ci-local"
    if not path.exists():
        pytest.skip(f"gitlab-ci-local is not installed in {path.parent}; {INSTALL_HINT}")
    tool("rsync")  # gitlab-ci-local copies the repository with it
    return str(path)


def java_home() -> str:
    for candidate in sorted(Path("/usr/lib/jvm").glob("java-17-openjdk-*")):
        if (candidate / "bin" / "java").exists():
            return str(candidate)
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    pytest.skip(f"no OpenJDK 17 found; {INSTALL_HINT}")


def clean_env(home: Path, *path_first: Path, **extra: str) -> dict[str, str]:
    """A small environment for a CI tool: its own HOME, PATH with `path_first` in front.

    Only what the tools need is kept, so no token or CI variable of the machine running
    the tests leaks into a job.
    """
    keep = ("LANG", "LC_ALL", "TMPDIR", "HF_HOME", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE",
            "TRANSFORMERS_OFFLINE", "MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK", "TOKENIZERS_PARALLELISM",
            "LLM_GITOPS_TEST_CACHE")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    home.mkdir(parents=True, exist_ok=True)
    path = [str(p) for p in path_first] + [str(VENV_BIN), "/usr/local/bin", "/usr/bin", "/bin"]
    env.update(HOME=str(home), PATH=os.pathsep.join(path), **extra)
    return env


def run(cmd: list[str], *, env: dict[str, str], cwd: Path, timeout: float = 300, check: bool = True):
    """Run a tool; on an unexpected exit code fail with its whole output."""
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} exited {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}")
    return proc


def git_repo(path: Path, *, remote: str = "git@gitlab.example:acme/models.git") -> str:
    """Make `path` a git repository with one commit and an origin remote; return the SHA."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    for args in (["init", "-q", "-b", "main"], ["remote", "add", "origin", remote], ["add", "-A"],
                 ["commit", "-q", "-m", "init"]):
        subprocess.run(["git", *args], cwd=path, env=env, check=True, capture_output=True)
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True,
                          check=True).stdout.strip()


def real_cli_available(command: str) -> bool:
    """True when the real CLI has `command` (other parts of the project may still be landing)."""
    import importlib.util

    try:
        return importlib.util.find_spec(f"llm_gitops.commands.{command}") is not None
    except ModuleNotFoundError:
        return False


@dataclass(frozen=True)
class FakePython:
    exe: Path
    log: Path

    def pip_installs(self) -> list[list[str]]:
        """The argument lists of every `pip install` call, in order."""
        if not self.log.exists():
            return []
        calls = [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]
        return [c["argv"][3:] for c in calls if c["argv"][:3] == ["-m", "pip", "install"]]

    def calls(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()] if self.log.exists() else []


def make_fake_python(root: Path) -> FakePython:
    """A `python` in root/python-bin that records pip installs (tests/glue/fake_python.py)."""
    bin_dir = root / "python-bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    exe = bin_dir / "python"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{Path(__file__).with_name("fake_python.py")}" "$0" "$@"\n')
    exe.chmod(0o755)
    return FakePython(exe=exe, log=root / "python-calls.jsonl")


GATE_CONFIG = """\
version: 1
models:
  candidate: ./models/candidate
  baseline: ./models/baseline
eval:
  tasks: [tasks/add_em.yaml]
  limit: 8
gate:
  perf: false
tracking:
  mlflow:
    enabled: false
thresholds:
  - metric: add_em/exact_match
    min: 0.0
"""


def write_gate_project(repo: Path, models: Path) -> None:
    """A tiny gate setup in `repo`: one local lm-eval task, an absolute floor it meets (a pass).

    `models` holds candidate/ and baseline/ (see tiny_models); the eval is real lm-eval on
    a random tiny model, so the gate exercises the whole CLI in a few seconds.
    """
    from tests.evaluation.conftest import write_suite

    write_suite(repo, count=8)
    shutil.copytree(models, repo / "models")
    (repo / ".llm-gitops.yaml").write_text(GATE_CONFIG)
    (repo / ".gitignore").write_text(".llm-gitops/\n")


def tiny_models(root: Path) -> Path:
    """root/candidate and root/baseline: the same tiny random model twice (equal digests)."""
    from tests.support.tiny_model import make_tiny_model

    make_tiny_model(root / "candidate", seed=0)
    make_tiny_model(root / "baseline", seed=0)
    return root


def require_real_gate() -> None:
    """Skip unless the real `gate` command and the forge stand-ins are in this tree."""
    import importlib.util

    if not real_cli_available("gate"):
        pytest.skip("llm-gitops has no 'gate' command in this tree yet")
    if importlib.util.find_spec("tests.standins.forge") is None:
        pytest.skip("the forge stand-ins (tests/standins/forge.py) are not in this tree yet")


@dataclass
class CaptureServer:
    """A loopback HTTP server that answers 404 to everything and records each request's
    path and Authorization header (None when absent): what a git fetch sent it."""

    url: str
    requests: list[tuple[str, str | None]]


@contextmanager
def capture_server():
    """A CaptureServer on 127.0.0.1 at a free port, stopped on exit."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[tuple[str, str | None]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            seen.append((self.path, self.headers.get("Authorization")))
            self.send_error(404)

        do_POST = do_GET  # noqa: N815

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield CaptureServer(url=f"http://127.0.0.1:{server.server_address[1]}", requests=seen)
    finally:
        server.shutdown()
        server.server_close()


def parse_github_output(text: str) -> list[tuple[str, str]]:
    """(name, value) pairs as the Actions runner reads a $GITHUB_OUTPUT file: `name=value`
    lines, and `name<<DELIMITER` ... `DELIMITER` blocks (lines split at \\n, \\r\\n or \\r)."""
    import re

    lines = re.split(r"\r\n|\r|\n", text)
    if lines and lines[-1] == "":
        lines.pop()
    pairs, i = [], 0
    while i < len(lines):
        line = lines[i]
        eq, heredoc = line.find("="), line.find("<<")
        if heredoc != -1 and (eq == -1 or heredoc < eq):
            name, delimiter = line[:heredoc], line[heredoc + 2:]
            end = lines.index(delimiter, i + 1)  # ValueError: an unclosed block, as the runner refuses
            pairs.append((name, "\n".join(lines[i + 1:end])))
            i = end + 1
        elif eq != -1:
            pairs.append((line[:eq], line[eq + 1:]))
            i += 1
        elif line == "":
            i += 1
        else:
            raise ValueError(f"not an output line: {line!r}")
    return pairs
