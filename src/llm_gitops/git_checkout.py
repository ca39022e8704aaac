"""Read-only facts about the git checkout a command runs in (its HEAD, HEAD's parents).

Outside a repository (or without git) every answer is None or empty: callers decide
whether that matters.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def git_output(directory: Path, *args: str) -> str | None:
    """``git -C directory ARGS``'s stripped stdout, or None when git fails or prints nothing."""
    try:
        proc = subprocess.run(["git", "-C", str(directory), *args], capture_output=True, text=True, timeout=10,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (proc.stdout.strip() or None) if proc.returncode == 0 else None


def head_commit(directory: Path) -> str | None:
    """HEAD of the repository holding ``directory``."""
    return git_output(directory, "rev-parse", "HEAD")


def head_and_parents(directory: Path) -> tuple[str, ...]:
    """HEAD and its parents (a merge checkout has two); () outside a repository."""
    line = git_output(directory, "rev-list", "--parents", "-n", "1", "HEAD")
    return tuple(line.split()) if line else ()
