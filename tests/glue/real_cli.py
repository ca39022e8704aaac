"""The real llm-gitops for the glue tests, installed as the glue installs it.

`real_cli()` is a venv made by the glue's own install script
(jenkins/resources/org/llmgitops/install.sh) from this checkout: a real, non-editable
install of this commit's package, exactly what a workflow pinned to this commit gets.
Its third-party dependencies come from the test venv through a .pth line, so making it
downloads nothing and takes seconds. It is cached under the test cache, keyed by the
install script's own key (a digest of the package's content, extras and pins): it is
made once per change of the package.

`recording_cli()` puts an `llm-gitops` in front of it that records each call (argv, cwd,
the environment variables the CLI reads), then runs the real CLI: the glue tests check
what the glue passes and that the real CLI accepts it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import REPO_ROOT, test_cache_root

INSTALL_SCRIPT = REPO_ROOT / "jenkins" / "resources" / "org" / "llmgitops" / "install.sh"
EXTRAS = "eval,forge,tracking,dvc,quantize,build,serve"
TORCH = "2.13.0"
_DONE = ".glue-cli-done"

WATCHED_ENV = (
    "GITHUB_TOKEN", "GITLAB_TOKEN", "CI_JOB_TOKEN", "GITHUB_API_URL", "CI_API_V4_URL",
    "GITHUB_EVENT_PATH", "GITHUB_EVENT_NAME", "GITHUB_REPOSITORY", "GITHUB_SHA", "GITHUB_ACTIONS",
    "GITLAB_CI", "CI_PROJECT_ID", "CI_PROJECT_PATH", "CI_MERGE_REQUEST_IID", "CI_COMMIT_SHA",
    "JENKINS_URL", "CHANGE_ID", "GIT_COMMIT", "LLM_GITOPS_STATE_DIR",
)


def install_env(venv: Path, source: Path = REPO_ROOT, **extra: str) -> dict[str, str]:
    """The environment the glue gives the install script, for a venv made from `source`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLM_GITOPS_", "GITHUB_"))}
    env.update({"LLM_GITOPS_PYTHON": sys.executable, "LLM_GITOPS_VENV": str(venv), "LLM_GITOPS_SOURCE": str(source),
                "LLM_GITOPS_EXTRAS": EXTRAS, "LLM_GITOPS_TORCH_VERSION": TORCH, "PIP_NO_INDEX": "1",
                # the build backend comes from the test venv too ("0" turns isolation off)
                "PIP_NO_BUILD_ISOLATION": "0", **extra})
    return env


def install_key(source: Path = REPO_ROOT) -> str:
    proc = subprocess.run(["bash", str(INSTALL_SCRIPT)], env=install_env(Path("unused"), source, LLM_GITOPS_PRINT_KEY="1"),
                          capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def seed_venv(venv: Path) -> None:
    """A venv whose interpreter also sees the test venv's packages (a .pth line, whose own
    .pth files - the editable llm-gitops among them - are not processed), so that pip finds
    every dependency installed and downloads nothing (PIP_NO_INDEX makes sure)."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    purelib = Path(subprocess.run([str(venv / "bin" / "python"), "-c",
                                   "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    (purelib / "zz-llm-gitops-test-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    # The venv's own (older) setuptools and pip would shadow the test venv's: torch requires
    # the newer setuptools, and pip 23 rejects `name @ git+file://...` requirements.
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "uninstall", "-q", "-y", "setuptools", "pip"],
                   check=True, capture_output=True)


@contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def real_cli() -> Path:
    """The bin directory of a venv holding this checkout's llm-gitops, installed by install.sh."""
    root = test_cache_root() / "glue-cli"
    # Keyed on the test venv too: the venv sees that venv's packages (seed_venv), and two
    # checkouts of one commit (a clone beside a working tree) must not share it.
    venv = root / f"{install_key()}-{hashlib.sha256(sysconfig.get_path('purelib').encode()).hexdigest()[:8]}"
    if (venv / _DONE).is_file():
        return venv / "bin"
    with _locked(root / ".lock"):
        if not (venv / _DONE).is_file():
            # Older keys go once nobody can still be using them (a session that started
            # before the package changed keeps its venv for the hour).
            for old in root.iterdir() if root.exists() else ():
                if old.is_dir() and old != venv and time.time() - old.stat().st_mtime > 3600:
                    shutil.rmtree(old, ignore_errors=True)
            shutil.rmtree(venv, ignore_errors=True)
            seed_venv(venv)
            proc = subprocess.run(["bash", str(INSTALL_SCRIPT)], env=install_env(venv), capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"install.sh failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
            (venv / _DONE).write_text("")
    return venv / "bin"


@dataclass(frozen=True)
class RecordingCli:
    bin_dir: Path
    log: Path

    def records(self) -> list[dict]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def calls(self, command: str) -> list[dict]:
        return [r for r in self.records() if r["argv"][:1] == [command]]


RECORDER = """\
import json, os, sys
argv = sys.argv[1:]
with open({log!r}, "a", encoding="utf-8") as fh:
    fh.write(json.dumps({{"argv": argv, "cwd": os.getcwd(),
                         "env": {{k: os.environ.get(k) for k in {watched!r}}}}}) + "\\n")
if os.environ.get("GLUE_PARSE_ONLY") == "1":
    # The real CLI's parser checks every option the glue passed; nothing runs.
    import click, warnings
    from llm_gitops.cli import cli as main
    warnings.simplefilter("ignore", DeprecationWarning)  # click 8.2's protected_args
    try:
        ctx = main.make_context("llm-gitops", list(argv), resilient_parsing=False)
        name, cmd, rest = main.resolve_command(ctx, ctx.protected_args + ctx.args)
        cmd.make_context(name, rest, parent=ctx)
    except click.ClickException as exc:
        print(f"error: {{exc.format_message()}}", file=sys.stderr)
        sys.exit(2)
    print(f"llm-gitops parsed: {{' '.join(argv)}}")
    sys.exit(0)
os.execv({real!r}, [{real!r}, *argv])
"""


def recording_cli(root: Path) -> RecordingCli:
    """An `llm-gitops` in root/bin that records each call, then execs the real CLI."""
    real_bin = real_cli()
    bin_dir = root / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    log = root / "calls.jsonl"
    exe = bin_dir / "llm-gitops"
    exe.write_text(f"#!{real_bin / 'python'}\n" + RECORDER.format(log=str(log), watched=WATCHED_ENV,
                                                                    real=str(real_bin / "llm-gitops")))
    exe.chmod(0o755)
    return RecordingCli(bin_dir=bin_dir, log=log)


def seeding_python(root: Path) -> Path:
    """A bin directory with a `python3` that makes venvs with seed_venv (so the glue's own
    install of llm-gitops from a checkout downloads nothing) and is the test venv's Python
    otherwise. Run the glue with PIP_NO_INDEX=1 and PIP_NO_BUILD_ISOLATION=0 as well."""
    bin_dir = root / "python-bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    seed = (f'import sys; sys.path.insert(0, {str(REPO_ROOT)!r}); from pathlib import Path; '
            f'from tests.glue.real_cli import seed_venv; seed_venv(Path(sys.argv[1]))')
    script = (f'#!/bin/sh\nif [ "$1" = "-m" ] && [ "$2" = "venv" ]; then exec "{sys.executable}" -c "{seed}" "$3"; fi\n'
              f'exec "{sys.executable}" "$@"\n')
    for name in ("python3", "python"):
        (bin_dir / name).write_text(script)
        (bin_dir / name).chmod(0o755)
    return bin_dir


OFFLINE_PIP = {"PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0"}
