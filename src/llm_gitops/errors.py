"""The one exception tree of llm-gitops, and the exit codes it maps to.

Exit codes (documented in the README and in ``llm-gitops --help``):

* 0 - success; for ``gate``: the verdict is ``pass``
* 1 - the gate (or budget search) ran and failed
* 2 - configuration or usage error: bad config, bad model dir, bad flag
* 3 - internal error: an unexpected exception (a bug; the CLI writes a log to paste)
* 4 - ``gate`` could not measure: an evaluation or benchmark failed while running (out
  of memory, a crash inside the harness) after every input was checked. The verdict is
  ``error`` and report.json says why. It is not 3 because it is most often not a bug
  of llm-gitops (memory, the harness, the model's own code), and a CI job may retry it;
  it is not 2 because nothing the user wrote was found wrong up front. A programming
  error raised in llm-gitops's own code stays 3 (``gate.run.is_own_bug``).

``gate.outcome.verdict_effects`` maps each gate verdict to its exit code and commit
state, in one table.

Core modules raise these; only ``cli.py`` turns them into messages and exit codes.
Messages are one line that names the culprit (file, field, value) and the fix.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3
EXIT_NO_VERDICT = 4


class LlmGitopsError(Exception):
    """Base of every error llm-gitops reports on purpose."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message} ({hint})")

    def __str__(self) -> str:  # one line, hint appended
        return self.message if not self.hint else f"{self.message}; {self.hint}"


class ConfigError(LlmGitopsError):
    """The config file (or a flag that overrides it) is wrong."""


class ModelSourceError(LlmGitopsError):
    """A model source cannot be resolved, or the directory is not a usable model."""


class NoSuchModelYet(ModelSourceError):
    """A registry source names a model or alias that does not exist (yet).

    As a gate's baseline that is a team's first model: the gate skips its relative
    checks with a note instead of failing (``commands/gate.py``).
    """


class EvalError(LlmGitopsError):
    """An eval task is unknown or its data cannot be read."""


class MeasurementFailed(LlmGitopsError):
    """A measurement failed while it ran, after every input was checked (a server at
    eval.endpoint that breaks down mid-run): no verdict, and a retry may succeed."""

    exit_code = EXIT_NO_VERDICT


class ExternalServiceError(LlmGitopsError):
    """A forge, registry, engine, MLflow or Jenkins answered with an error."""

    exit_code = EXIT_USAGE


class MissingExtra(LlmGitopsError):
    """An optional dependency is not installed: the message says what to install."""

    def __init__(self, module: str, install: str, command: str | None = None):
        self.module, self.install = module, install
        who = f"'llm-gitops {command}'" if command else "this command"
        super().__init__(f"{who} needs the Python package {module!r}, which this install lacks", hint=install)


class GateFailed(LlmGitopsError):
    """Raised by commands whose failure is a verdict, not a misuse (exit 1)."""

    exit_code = EXIT_FAILED
