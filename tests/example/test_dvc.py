"""`dvc repro` rebuilds the example model offline, and a local DVC remote round-trips it."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.example_models import EXAMPLE_REPO

pytestmark = pytest.mark.slow  # trains (a few steps of) the real model


def _tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def _copy_repo(dest: Path) -> Path:
    # What a fresh clone holds: no model, no train.jsonl, no local state.
    ignore = shutil.ignore_patterns("model", "model-*", "train.jsonl", ".llm-gitops", "__pycache__", ".dvc", "dvc.lock")
    shutil.copytree(EXAMPLE_REPO, dest, ignore=ignore)
    return dest


@pytest.fixture
def repo(tmp_path) -> Path:
    repo = _copy_repo(tmp_path / "adder")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"].update(steps=4, log_every=2, batch_size=32)  # seconds, not minutes
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return repo


def dvc(repo: Path, *args: str) -> str:
    env = dict(os.environ, DVC_NO_ANALYTICS="1", GIT_TERMINAL_PROMPT="0")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # `python` in dvc.yaml
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"dvc {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def test_repro_push_pull_round_trip(repo, tmp_path):
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    dvc(repo, "init", "-q")
    committed_eval = (repo / "data" / "eval" / "add_em.jsonl").read_bytes()

    out = dvc(repo, "repro")
    assert "Running stage 'prepare'" in out and "Running stage 'train'" in out
    assert (repo / "model" / "model.safetensors").is_file() and (repo / "model" / "tokenizer.json").is_file()
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    assert set(lock["stages"]) == {"prepare", "train"}
    assert lock["stages"]["train"]["params"]["params.yaml"]["train"]["steps"] == 4
    # The committed eval set is what the pipeline makes (cache: false keeps it in git).
    assert (repo / "data" / "eval" / "add_em.jsonl").read_bytes() == committed_eval
    ignored = (repo / ".gitignore").read_text()
    assert "/model" in ignored and "add_em.jsonl" not in ignored

    # A change to the train params reruns only training.
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"]["steps"] = 5
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = dvc(repo, "repro")
    assert "Stage 'prepare' didn't change" in out and "Running stage 'train'" in out

    # Push to a local-directory remote, lose everything, pull it back.
    remote = tmp_path / "remote"
    dvc(repo, "remote", "add", "-d", "storage", str(remote))
    before = _tree_digest(repo / "model")
    dvc(repo, "push")
    assert any(p.is_file() for p in remote.rglob("*"))
    shutil.rmtree(repo / "model")
    (repo / "data" / "train.jsonl").unlink()
    shutil.rmtree(repo / ".dvc" / "cache")
    dvc(repo, "pull")
    assert _tree_digest(repo / "model") == before
    assert "Data and pipelines are up to date" in dvc(repo, "status")
