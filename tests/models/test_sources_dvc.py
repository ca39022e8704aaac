"""resolve_model on dvc:PATH, with real git repositories, real DVC and a local-directory remote."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from llm_gitops.config.schema import ModelSourceSpec
from llm_gitops.errors import ModelSourceError
from llm_gitops.models.digest import model_digest
from llm_gitops.models.sources import resolve_model
from tests.support.tiny_model import tiny_model_copy

DVC = str(Path(sys.executable).with_name("dvc"))
GIT_ENV = {
    "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.invalid",
    "DVC_NO_ANALYTICS": "1",
}  # fmt: skip


def sh(cwd: Path, *args: str) -> str:
    done = subprocess.run(args, cwd=cwd, env={**os.environ, **GIT_ENV}, capture_output=True, text=True)
    assert done.returncode == 0, f"{args}: {done.stderr}"
    return done.stdout.strip()


@pytest.fixture(autouse=True)
def _own_state_dir(monkeypatch):
    monkeypatch.delenv("LLM_GITOPS_STATE_DIR", raising=False)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """repo/ with models/adder tracked, committed and pushed to remote/ (a relative remote path)."""
    root = tmp_path_factory.mktemp("dvc")
    repo = root / "repo"
    repo.mkdir()
    sh(repo, "git", "init", "-q")
    sh(repo, DVC, "init", "-q")
    # A relative remote (DVC stores it relative to .dvc/): repo+remote copy as a pair.
    sh(repo, DVC, "remote", "add", "-d", "store", "../remote")
    tiny_model_copy(repo / "models" / "adder")
    sh(repo, DVC, "add", "-q", "models/adder")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "track the model")
    sh(repo, DVC, "push", "-q")
    return root


@pytest.fixture
def repo(template, tmp_path):
    shutil.copytree(template, tmp_path / "dvc", symlinks=True)
    return tmp_path / "dvc" / "repo"


def lose_local_copies(repo: Path) -> None:
    """Delete the workspace data and the local DVC cache: only the remote has it."""
    shutil.rmtree(repo / "models" / "adder")
    shutil.rmtree(repo / ".dvc" / "cache")


def test_workspace_copy_is_used_when_it_matches(repo):
    resolved = resolve_model("dvc:models/adder", base_dir=repo)
    assert resolved.kind == "dvc" and resolved.source == "dvc:models/adder"
    assert resolved.path == (repo / "models" / "adder").resolve()
    assert resolved.digest == model_digest(repo / "models" / "adder")


def test_push_delete_resolve_pulls_it_back(repo):
    expected = model_digest(repo / "models" / "adder")
    lose_local_copies(repo)
    resolved = resolve_model("dvc:models/adder", base_dir=repo)
    assert resolved.digest == expected
    assert (repo / "models" / "adder" / "model.safetensors").is_file()


def test_path_not_tracked_names_it_and_what_is_tracked(repo):
    tiny_model_copy(repo / "models" / "other")
    with pytest.raises(ModelSourceError) as excinfo:
        resolve_model("dvc:models/other", base_dir=repo)
    message = str(excinfo.value)
    assert "models/other is not tracked by DVC" in message
    assert "tracked: models/adder" in message and "dvc add models/other" in message


def test_no_remote_configured(repo):
    sh(repo, DVC, "remote", "remove", "store")
    lose_local_copies(repo)
    with pytest.raises(ModelSourceError) as excinfo:
        resolve_model("dvc:models/adder", base_dir=repo)
    message = str(excinfo.value)
    assert "dvc:models/adder" in message and "no default DVC remote" in message
    assert "dvc remote add -d NAME URL" in message


def test_no_remote_but_local_cache_still_works(repo):
    sh(repo, DVC, "remote", "remove", "store")
    expected = model_digest(repo / "models" / "adder")
    shutil.rmtree(repo / "models" / "adder")
    assert resolve_model("dvc:models/adder", base_dir=repo).digest == expected


def test_remote_without_the_data(repo, tmp_path):
    (tmp_path / "empty-remote").mkdir()
    sh(repo, DVC, "remote", "add", "-f", "-d", "empty", str(tmp_path / "empty-remote"))
    lose_local_copies(repo)
    with pytest.raises(ModelSourceError) as excinfo:
        resolve_model("dvc:models/adder", base_dir=repo)
    message = str(excinfo.value)
    assert "remote 'empty'" in message and "does not have the data of models/adder" in message
    assert "dvc push models/adder" in message


def test_not_a_dvc_repository(tmp_path):
    tiny_model_copy(tmp_path / "model")
    with pytest.raises(ModelSourceError, match=f"{tmp_path} is not inside a DVC repository.*dvc init"):
        resolve_model("dvc:model", base_dir=tmp_path)


def test_modified_workspace_copy_is_not_silently_used(repo):
    (repo / "models" / "adder" / "config.json").write_text('{"changed": true}')
    with pytest.raises(ModelSourceError, match="differs from what DVC tracks.*dvc checkout models/adder"):
        resolve_model("dvc:models/adder", base_dir=repo)


def test_rev_fetches_the_data_of_that_commit(repo):
    first_commit = sh(repo, "git", "rev-parse", "HEAD")
    first_digest = model_digest(repo / "models" / "adder")
    shutil.rmtree(repo / "models" / "adder")
    tiny_model_copy(repo / "models" / "adder", seed=1)
    sh(repo, DVC, "add", "-q", "models/adder")
    sh(repo, "git", "commit", "-qam", "retrain")
    sh(repo, DVC, "push", "-q")
    shutil.rmtree(repo / ".dvc" / "cache")  # the old version now lives on the remote only

    old = resolve_model(ModelSourceSpec(source="dvc:models/adder", rev=first_commit[:10]), base_dir=repo)
    assert old.digest == first_digest != model_digest(repo / "models" / "adder")
    assert old.path.is_relative_to(repo / ".llm-gitops" / "cache")
    assert old.source == f"dvc:models/adder@{first_commit[:10]}"
    again = resolve_model(ModelSourceSpec(source="dvc:models/adder", rev=first_commit), base_dir=repo)
    assert again.path == old.path


def test_unknown_rev(repo):
    with pytest.raises(ModelSourceError, match="unknown git revision 'no-such-branch'"):
        resolve_model(ModelSourceSpec(source="dvc:models/adder", rev="no-such-branch"), base_dir=repo)
