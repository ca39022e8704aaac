"""The one install script (jenkins/resources/org/llmgitops/install.sh), run for real.

It installs this checkout's package into a venv (dependencies seen from the test venv, so
nothing is downloaded), keys the install by the package's content, reuses a venv whose
key matches - also after a CI cache restored it into another directory - and refuses
clearly when it is not told what to install.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.glue.real_cli import INSTALL_SCRIPT, install_env, install_key, seed_venv
from tests.glue.support import REPO_ROOT

pytestmark = pytest.mark.glue


def install(venv, **extra):
    return subprocess.run(["bash", str(INSTALL_SCRIPT)], env=install_env(venv, **extra), capture_output=True, text=True)


def test_the_install_key_follows_the_package_content(tmp_path):
    source = tmp_path / "checkout"
    shutil.copytree(REPO_ROOT / "src" / "llm_gitops", source / "src" / "llm_gitops",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO_ROOT / "pyproject.toml", source / "pyproject.toml")
    first = install_key(source)
    assert first == install_key(source)
    (source / "src" / "llm_gitops" / "cli.py").write_text((source / "src" / "llm_gitops" / "cli.py").read_text() + "\n# x\n")
    assert install_key(source) != first


def test_nothing_to_install_is_a_clear_error(tmp_path):
    proc = install(tmp_path / "venv", LLM_GITOPS_SOURCE="")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: llm-gitops install: nothing to install")
    proc = install(tmp_path / "venv", LLM_GITOPS_SOURCE="https://git.example.invalid/llm-gitops.git")
    assert proc.returncode == 2 and "LLM_GITOPS_SOURCE_REF" in proc.stderr
    assert not (tmp_path / "venv").exists()


@pytest.mark.slow
def test_a_venv_restored_elsewhere_is_reused_and_still_runs(tmp_path):
    venv = tmp_path / "job-1" / ".llm-gitops" / "venv"
    seed_venv(venv)
    first = install(venv)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Installing " in first.stdout
    # A CI cache restores it in another job's directory: nothing is installed again, and
    # the command works from its new place.
    moved = tmp_path / "job-2" / ".llm-gitops" / "venv"
    moved.parent.mkdir(parents=True)
    shutil.move(venv, moved)
    second = install(moved)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "already installed" in second.stdout and "Installing " not in second.stdout
    assert f"moved the venv's scripts from {venv} to {moved}" in second.stdout
    proc = subprocess.run([str(moved / "bin" / "llm-gitops"), "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("llm-gitops, version"), proc.stderr
    # The installed package is this checkout's, not the test venv's editable one.
    where = subprocess.run([str(moved / "bin" / "python"), "-c", "import llm_gitops; print(llm_gitops.__file__)"],
                           capture_output=True, text=True).stdout
    assert where.startswith(str(moved))
