"""Step outputs for the CI glue: ``$GITHUB_OUTPUT``, the job summary and ``--output-env``.

GitHub Actions reads outputs from the file ``$GITHUB_OUTPUT`` names; GitLab
(``artifacts: reports: dotenv``) and Jenkins read ``LLM_GITOPS_<KEY>=value`` lines from
the file given with ``--output-env``. The same values go to both, so the three CI
systems see the same outputs. The file paths come from the detected CI context
(``ci_context.detect``); nothing here reads the environment.

Values can hold text from the config (a report path under ``report.output_dir``), so
no value may forge a key:

* ``$GITHUB_OUTPUT`` gets GitHub's multi-line form, ``key<<DELIMITER`` / value /
  ``DELIMITER``, with a random delimiter checked not to occur in the value;
* a dotenv line cannot carry a line break (GitLab reads no quoting), so a value with a
  newline, carriage return or NUL is refused;
* keys are checked against the names each reader accepts.

:func:`check_step_outputs` checks every destination (and the values known up front)
before anything is measured, and touches no file.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

from llm_gitops.ci_context import CiContext, shown
from llm_gitops.errors import ConfigError

GITHUB_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,99}$")
DOTENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
# GitHub refuses a job summary above 1 MiB per step (and then shows none of it).
SUMMARY_LIMIT = 1024 * 1024
_SUMMARY_NOTE = "\n\n… (truncated: the full report is in the job's artifacts)\n"
_LINE_BREAKS = ("\n", "\r", "\x00")


def _destinations(ctx: CiContext, output_env: Path | None) -> list[tuple[str, str]]:
    """(label for messages, path) of every file this run will append to."""
    found = []
    if ctx.github_output:
        found.append((f"GITHUB_OUTPUT={shown(ctx.github_output)}", ctx.github_output))
    if ctx.step_summary:
        found.append((f"GITHUB_STEP_SUMMARY={shown(ctx.step_summary)}", ctx.step_summary))
    if output_env is not None:
        found.append((f"--output-env {shown(output_env)}", os.fspath(output_env)))
    return found


def _check_destination(label: str, path: str) -> None:
    """Raise ConfigError unless ``path`` can be appended to; creates and changes nothing."""
    fix = "point it at a file in an existing, writable directory"
    parent = os.path.dirname(os.path.abspath(path)) if "\x00" not in path else ""
    try:
        try:
            os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            exists = False
        else:
            exists = True
        if exists:
            try:
                mode = os.stat(path).st_mode
            except OSError:
                raise ConfigError(f"{label}: a symbolic link that leads nowhere (or in a loop)", hint=fix) from None
            if stat.S_ISDIR(mode):
                raise ConfigError(f"{label} is a directory", hint=fix)
            if not (stat.S_ISREG(mode) or stat.S_ISCHR(mode)):  # a FIFO would block the write
                raise ConfigError(f"{label} is not a regular file", hint=fix)
            if not os.access(path, os.W_OK):
                raise ConfigError(f"{label} is not writable", hint=fix)
            return
        if not os.path.isdir(parent):
            what = "is not a directory" if os.path.exists(parent) else "does not exist"
            raise ConfigError(f"{label}: the directory {shown(parent)} {what}", hint=f"create it first, or {fix}")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise ConfigError(f"{label}: the directory {shown(parent)} is not writable", hint=fix)
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte in the path
        raise ConfigError(f"{label} cannot be used ({getattr(exc, 'strerror', None) or exc})", hint=fix) from None


def _check_dotenv(values: Mapping[str, str], output_env: Path) -> None:
    for key, value in values.items():
        if not DOTENV_KEY.match(key):
            raise ValueError(f"{key!r} is not a dotenv variable name")  # a bug, not a user error
        if any(c in value for c in _LINE_BREAKS):
            raise ConfigError(
                f"--output-env {shown(output_env)}: the value of {key} ({shown(value, 60)}) holds a line break, "
                "which a dotenv file cannot carry",
                hint="remove newlines from the setting it comes from (e.g. report.output_dir)",
            )


def check_step_outputs(ctx: CiContext, output_env: Path | None, values: Mapping[str, str] | None = None) -> None:
    """Check, before anything is measured, that every step-output file can be written.

    ``values``: dotenv values already known (e.g. the report paths), checked to fit a
    dotenv line. Raises ConfigError naming the variable or flag and the fix; creates,
    opens and changes no file.
    """
    for label, path in _destinations(ctx, output_env):
        _check_destination(label, path)
    if output_env is not None and values:
        _check_dotenv(values, output_env)


def _append(label: str, path: str, text: str) -> None:
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text)  # one write: a reader never sees half a record
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{label} could not be written ({getattr(exc, 'strerror', None) or exc})",
                          hint="point it at a file in an existing, writable directory") from None


def github_output_text(values: Mapping[str, str]) -> str:
    """``values`` in GitHub's multi-line output form, each under its own random delimiter."""
    parts = []
    for key, value in values.items():
        if not GITHUB_KEY.match(key):
            raise ValueError(f"{key!r} is not a step output name")  # a bug, not a user error
        delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        while delimiter in value:  # never in practice; checked so that no value can close it
            delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        parts.append(f"{key}<<{delimiter}\n{value}\n{delimiter}\n")
    return "".join(parts)


def dotenv_text(values: Mapping[str, str], output_env: Path) -> str:
    """``KEY=value`` lines; a value that would break a line is a ConfigError."""
    _check_dotenv(values, output_env)
    return "".join(f"{key}={value}\n" for key, value in values.items())


def write_step_outputs(ctx: CiContext, github: dict[str, str], dotenv: dict[str, str], output_env: Path | None) -> None:
    """Append ``github`` to ``ctx.github_output`` when set and ``dotenv`` to ``output_env`` when given."""
    # Both texts are built (and checked) before either file is touched.
    github_text = github_output_text(github) if ctx.github_output else ""
    env_text = dotenv_text(dotenv, output_env) if output_env is not None else ""
    if ctx.github_output:
        _append(f"GITHUB_OUTPUT={shown(ctx.github_output)}", ctx.github_output, github_text)
    if output_env is not None:
        _append(f"--output-env {shown(output_env)}", os.fspath(output_env), env_text)


def append_step_summary(ctx: CiContext, markdown: str) -> None:
    """Append ``markdown`` to the job summary when ``ctx.step_summary`` is set, cut to GitHub's limit."""
    if not ctx.step_summary:
        return
    text = markdown if markdown.endswith("\n") else markdown + "\n"
    if len(text.encode("utf-8")) > SUMMARY_LIMIT:
        keep = SUMMARY_LIMIT - len(_SUMMARY_NOTE.encode("utf-8"))
        text = text.encode("utf-8")[:keep].decode("utf-8", "ignore") + _SUMMARY_NOTE
    _append(f"GITHUB_STEP_SUMMARY={shown(ctx.step_summary)}", ctx.step_summary, text)
