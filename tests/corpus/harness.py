"""One harness for the bad-input corpus: run the real CLI on a bad input and check that
the failure is clean.

A clean failure (issue: hardening) is: the expected exit code, one ``error:`` line on
stderr that names the culprit, no traceback, and nothing written (the tree is compared
before and after). Every surface's corpus (config and task files, model directories,
results and event files, CLI flags and environment) goes through :func:`expect_clean_error`,
so the rule is stated once.

Runs are in-process (``llm_gitops.cli.main``) for speed; a SIGALRM bounds each one so a
hang is a failure with a name, not a stuck suite. Set ``LLM_GITOPS_CORPUS_TALLY=FILE`` to
append one JSON line per case (surface, case, outcome), which
``benchmarks/bad_input_corpus.py`` counts.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path

# Variables that would make a run think it is in CI, or post somewhere.
_CI_PREFIXES = ("GITHUB_", "GITLAB_", "CI_", "JENKINS_", "LLM_GITOPS_GITHUB", "LLM_GITOPS_GITLAB")
_CI_NAMES = {"CI", "GH_TOKEN", "BUILD_URL", "JOB_NAME", "CHANGE_ID", "GIT_COMMIT"}


class Hang(Exception):
    """The command did not finish within the case's time limit."""


@dataclass(frozen=True)
class CliRun:
    code: int | None
    out: str
    err: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def snapshot(root: Path) -> dict[str, tuple[str, str]]:
    """Every path under ``root`` with its kind and content hash (links are not followed)."""
    found: dict[str, tuple[str, str]] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                found[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                found[rel] = ("dir", "")
            elif path.is_file():
                found[rel] = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
            else:
                found[rel] = ("other", "")
    return found


@contextlib.contextmanager
def _environment(env: dict[str, str] | None):
    saved = dict(os.environ)
    try:
        for key in list(os.environ):
            if key.startswith(_CI_PREFIXES) or key in _CI_NAMES:
                del os.environ[key]
        os.environ.update(env or {})
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _alarm(signum, frame):  # noqa: ARG001 - signal handler signature
    raise Hang()


def run_cli(args: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout_s: int = 60) -> CliRun:
    """Run ``llm-gitops ARGS`` in-process in ``cwd`` with CI variables cleared and ``env`` set."""
    from llm_gitops.cli import main

    out, err = io.StringIO(), io.StringIO()
    old_cwd = os.getcwd()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout_s)
    code: int | None = 0
    try:
        os.chdir(cwd)
        with _environment(env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(args)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) or exc.code is None else 1
                if not isinstance(exc.code, int) and exc.code is not None:
                    err.write(f"{exc.code}\n")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        os.chdir(old_cwd)
    return CliRun(code=code, out=out.getvalue(), err=err.getvalue())


def _tally(surface: str, case: str, outcome: str) -> None:
    path = os.environ.get("LLM_GITOPS_CORPUS_TALLY")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"surface": surface, "case": case, "outcome": outcome}) + "\n")


def expect_clean_error(args: list[str], *, cwd: Path, culprit: str | list[str], surface: str, case: str,
                       code: int = 2, env: dict[str, str] | None = None, watch: Path | None = None,
                       timeout_s: int = 60) -> CliRun:
    """Run the CLI and assert a clean failure; returns the run for further checks.

    ``culprit``: text (or texts, all required) the one error line must contain, e.g. the
    file and field. ``watch``: the tree that must be unchanged (default ``cwd``).
    """
    root = watch or cwd
    before = snapshot(root)
    try:
        run = run_cli(args, cwd=cwd, env=env, timeout_s=timeout_s)
    except Hang:
        _tally(surface, case, "hang")
        raise AssertionError(f"{case}: no answer within {timeout_s} s") from None
    after = snapshot(root)
    problems = []
    if "Traceback (most recent call last)" in run.err or "Traceback (most recent call last)" in run.out:
        outcome = "traceback"
        problems.append("printed a traceback")
    elif after != before:
        outcome = "partial-write"
        changed = sorted(set(before.items()) ^ set(after.items()))
        problems.append(f"changed the tree: {changed[:5]}")
    elif run.code != code:
        outcome = "wrong-exit"
    else:
        outcome = "clean"
    if run.code != code:
        problems.append(f"exit {run.code}, expected {code}")
    lines = run.error_lines
    if len(lines) != 1:
        problems.append(f"expected one error line, got {len(lines)}: {lines[:6]}")
    elif not lines[0].startswith("error: "):
        problems.append(f"the line does not start with 'error: ': {lines[0]!r}")
    for text in [culprit] if isinstance(culprit, str) else culprit:
        if text not in run.err:
            problems.append(f"the error does not name {text!r}: {run.err.strip()!r}")
    if problems and outcome == "clean":
        outcome = "unclear-error"
    _tally(surface, case, outcome)
    assert not problems, f"{case}: " + "; ".join(problems)
    return run


__all__ = ["CliRun", "Hang", "expect_clean_error", "run_cli", "snapshot"]

