"""The example repository as a team would have it after adopting llm-gitops: a fresh git
repository copied from examples/repo-template/, its trained model tracked by DVC and pushed
to a DVC remote (a local directory), and nothing of the model or training data in git."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.example_models import EXAMPLE_REPO, ensure_example_models

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}


def _run(cmd: list[str], cwd: Path) -> str:
    env = {**os.environ, **GIT_ENV, "DVC_NO_ANALYTICS": "1", "GIT_TERMINAL_PROMPT": "0",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def dvc_example_repo(root: Path, *, remote: str = "https://github.com/acme/adder.git") -> Path:
    """root/adder: the example with the good trained model in a DVC remote at root/dvc-remote.

    The model is the cached trained one (no training here): `dvc commit` records it and the
    prepared data in dvc.lock as `dvc repro` would have, `dvc push` uploads them, and the
    working copies are removed, so a job must `dvc pull model` to gate anything.
    """
    models = ensure_example_models()
    repo = root / "adder"
    ignore = shutil.ignore_patterns("model", "model-*", "train.jsonl", ".llm-gitops", "__pycache__", ".dvc", "dvc.lock")
    shutil.copytree(EXAMPLE_REPO, repo, ignore=ignore)
    shutil.copy(models.data / "train.jsonl", repo / "data" / "train.jsonl")
    shutil.copytree(models.good, repo / "model", ignore=shutil.ignore_patterns(".*"))
    dvc = [sys.executable, "-m", "dvc"]
    _run(["git", "init", "-q", "-b", "main"], repo)
    _run(["git", "remote", "add", "origin", remote], repo)
    _run([*dvc, "init", "-q"], repo)
    _run([*dvc, "remote", "add", "-d", "storage", str(root / "dvc-remote")], repo)
    _run([*dvc, "commit", "-f", "-q"], repo)
    _run([*dvc, "push", "-q"], repo)
    shutil.rmtree(repo / "model")
    (repo / "data" / "train.jsonl").unlink()
    shutil.rmtree(repo / ".dvc" / "cache", ignore_errors=True)
    _run(["git", "add", "-A"], repo)
    _run(["git", "commit", "-q", "-m", "adder: model gated by llm-gitops"], repo)
    return repo
