"""The one install script (jenkins/resources/org/llmgitops/install.sh), run for real.

It installs this checkout's package into a venv (dependencies seen from the test venv, so
nothing is downloaded), keys the install by the package's content, reuses a venv whose
key matches - also after a CI cache restored it into another directory - and refuses
clearly when it is not told what to install. It never prints the credentials of a URL it
is given (nor lets pip print them), and a failed install is its documented exit 2.

The glue's one writer of GitHub step outputs (step-outputs.sh, beside it) is run for real
too: no value - a config path, a venv - can forge another output key.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess

import pytest

from tests.glue.real_cli import INSTALL_SCRIPT, install_env, install_key, seed_venv
from tests.glue.support import REPO_ROOT, parse_github_output

STEP_OUTPUTS = INSTALL_SCRIPT.with_name("step-outputs.sh")
PASSWORD = "s3cretPass99"

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


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def bare_venv(tmp_path_factory):
    """One venv (made by install.sh itself) for the failed installs: nothing is ever installed in it."""
    return tmp_path_factory.mktemp("failed-installs") / "venv"


@pytest.mark.parametrize("setting", ["source", "spec", "torch-index"])
def test_a_url_s_credentials_are_never_printed_and_a_failed_install_is_exit_2(bare_venv, setting):
    # An unreachable private mirror: pip's clone (or index) fails; neither the script's own
    # lines nor pip's (Collecting, Cloning, Running command git clone, its error) show the password.
    url = f"https://deploy:{PASSWORD}@127.0.0.1:{closed_port()}"
    # pip sees only this URL (not the machine's pip config) and gives up at once.
    isolated = {"PIP_CONFIG_FILE": os.devnull, "PIP_RETRIES": "0", "PIP_TIMEOUT": "5", "LLM_GITOPS_EXTRAS": "forge"}
    extra = {"source": {"LLM_GITOPS_SOURCE": f"{url}/llm-gitops.git", "LLM_GITOPS_SOURCE_REF": "v0.1.0"},
             "spec": {"LLM_GITOPS_SPEC": f"llm-gitops[forge] @ git+{url}/llm-gitops.git@v0.1.0"},
             "torch-index": {"LLM_GITOPS_VERSION": "0.1.0", "LLM_GITOPS_EXTRAS": "eval",
                             "LLM_GITOPS_TORCH_INDEX_URL": f"{url}/whl/cpu", "PIP_NO_INDEX": ""}}[setting]
    proc = install(bare_venv, **{**isolated, **extra})
    log = proc.stdout + proc.stderr
    assert PASSWORD not in log and "deploy:" not in log, log
    assert proc.returncode == 2, log
    assert proc.stderr.rstrip().splitlines()[-1].startswith("error: llm-gitops install: pip could not install "), log
    # The URL is still shown - by the script and by pip - its userinfo replaced as the CLI's logs do.
    if setting == "torch-index":
        assert "Installing torch==2.13.0" in proc.stdout
        assert "Looking in indexes: https://***@127.0.0.1:" in proc.stdout, log
    else:
        assert "Installing llm-gitops[forge] @ git+https://***@127.0.0.1:" in proc.stdout, log
        assert "git clone" in log and "https://***@127.0.0.1:" in proc.stderr, log  # pip's own lines
    assert not list(bare_venv.glob("lib/python*/site-packages/llm_gitops*"))


def test_a_refused_source_url_is_shown_without_its_credentials(tmp_path):
    proc = install(tmp_path / "venv", LLM_GITOPS_SOURCE=f"https://deploy:{PASSWORD}@git.example.invalid/l.git")
    assert proc.returncode == 2 and "LLM_GITOPS_SOURCE_REF" in proc.stderr
    assert "https://***@git.example.invalid/l.git" in proc.stderr and PASSWORD not in proc.stderr


def write_outputs(tmp_path, *args: str, path: bool = False):
    files = {"GITHUB_OUTPUT": tmp_path / "output", "GITHUB_PATH": tmp_path / "path"}
    for f in files.values():
        f.touch()
    proc = subprocess.run(["bash", str(STEP_OUTPUTS), *args], env={"PATH": "/usr/bin:/bin", **{k: str(v) for k, v in files.items()}},
                          capture_output=True, text=True)
    return proc, files["GITHUB_OUTPUT"].read_text(), files["GITHUB_PATH"].read_text()


def test_step_outputs_round_trip_any_one_line_value(tmp_path):
    tricky = "dir=x<<EOF/.llm-gitops/cache $(touch pwned) ghadelimiter_"
    proc, output, _ = write_outputs(tmp_path, "results", tricky, "install-key", "abc123")
    assert proc.returncode == 0, proc.stderr
    assert parse_github_output(output) == [("results", tricky), ("install-key", "abc123")]
    # Each value under its own random delimiter.
    delimiters = [line.split("<<", 1)[1] for line in output.splitlines() if line.startswith(("results<<", "install-key<<"))]
    assert len(set(delimiters)) == 2 and all(len(d) == len("ghadelimiter_") + 32 for d in delimiters)
    assert not list(tmp_path.rglob("pwned"))


@pytest.mark.parametrize("line_break", ["\n", "\r", "\r\n"])
def test_a_value_with_a_line_break_is_refused_and_nothing_is_written(tmp_path, line_break):
    # A config input with a newline: before, `results=<dir>` let it add `verdict=pass`.
    proc, output, _ = write_outputs(tmp_path, "install-key", "abc", "results", f"x{line_break}verdict=pass/.llm-gitops/cache")
    assert proc.returncode == 2
    assert proc.stderr == "error: llm-gitops step outputs: the value of output results holds a line break " \
                          "(from an input with a newline?)\n"
    assert output == ""  # checked before anything is written: not even install-key
    proc, _, path = write_outputs(tmp_path, "--path", f"/venv{line_break}/tmp/evil/bin", path=True)
    assert proc.returncode == 2 and path == ""


def test_a_bad_output_name_is_refused(tmp_path):
    proc, output, _ = write_outputs(tmp_path, "verdict=pass\nx", "v")
    assert proc.returncode == 2 and output == ""


def test_install_writes_its_outputs_and_path_on_github(tmp_path, fake_python):
    venv = tmp_path / "venv"
    github = {"GITHUB_OUTPUT": str(tmp_path / "output"), "GITHUB_PATH": str(tmp_path / "path"),
              "FAKE_PYTHON_LOG": str(fake_python.log)}
    proc = install(venv, LLM_GITOPS_PYTHON=str(fake_python.exe), LLM_GITOPS_VERSION="1.2.3", **github)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert parse_github_output((tmp_path / "output").read_text()) == [("version", "0.0.0+fake"), ("bin", str(venv / "bin"))]
    assert (tmp_path / "path").read_text() == f"{venv / 'bin'}\n"


def test_a_venv_input_with_a_newline_forges_no_output_or_path_entry(tmp_path, fake_python):
    # The venv input reaches `bin` (and GITHUB_PATH): a newline in it must not add `verdict=...`.
    venv = tmp_path / "v\nverdict=pass"
    github = {"GITHUB_OUTPUT": str(tmp_path / "output"), "GITHUB_PATH": str(tmp_path / "path"),
              "FAKE_PYTHON_LOG": str(fake_python.log)}
    (tmp_path / "output").touch()
    (tmp_path / "path").touch()
    proc = install(venv, LLM_GITOPS_PYTHON=str(fake_python.exe), LLM_GITOPS_VERSION="1.2.3", **github)
    assert proc.returncode == 2
    assert "the value of output bin holds a line break" in proc.stderr
    assert (tmp_path / "output").read_text() == "" and (tmp_path / "path").read_text() == ""
