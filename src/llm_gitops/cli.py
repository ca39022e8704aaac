"""The ``llm-gitops`` command line: parses, dispatches, and maps errors to exit codes.

Commands live one per module in ``llm_gitops.commands`` and are imported lazily, so
``llm-gitops --help`` or a comment-only job never imports torch.
"""

from __future__ import annotations

import atexit
import importlib
import logging
import os
import sys
import tempfile
import traceback

import click

from llm_gitops import __version__
from llm_gitops.errors import EXIT_INTERNAL, LlmGitopsError
from llm_gitops.quick_exit import quick_exit

# name -> (module under llm_gitops.commands, one-line summary shown by --help)
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("init", "Write a commented starter .llm-gitops.yaml."),
    "validate-config": ("validate_config", "Check .llm-gitops.yaml and print what it resolves to."),
    "schema": ("schema", "Print the JSON Schema of .llm-gitops.yaml, for editor completion."),
    "eval": ("eval", "Run the lm-eval suite on a model (cached by content)."),
    "bench": ("bench", "Measure load time, latency, throughput, memory and size (cached)."),
    "gate": ("gate", "Compare a candidate with thresholds and a baseline; pass, fail or inconclusive."),
    "quantize": ("quantize", "Quantize, prune or distill a model, optionally within an accuracy budget."),
    "serve": ("serve", "Serve a model over an OpenAI-compatible HTTP API with Prometheus metrics."),
    "build": ("build", "Build, tag and push the model's container image; print its digest."),
    "jenkins": ("jenkins", "Trigger a parameterised Jenkins job and follow it to its result."),
    "register": ("register", "Publish a model as a new MLflow registered-model version, optionally moving an alias."),
    "release": ("release", "Record a pushed image and its gate evidence as an immutable, content-addressed release."),
    "deploy": ("deploy", "Make an environment run the release deploy/<env>.yaml names, blue/green."),
    "rollback": ("rollback", "Move an environment's traffic back to the warm previous colour, at once."),
    "promote": ("promote", "Open the pull request that moves an environment to the release verified upstream."),
}

EXIT_CODES_HELP = """
Exit codes: 0 success (gate: pass), 1 gate or budget failed, 2 configuration or
usage error, 3 internal error (a bug: the message names a log file to report),
4 gate could not measure (an evaluation or benchmark failed while running).
"""


class LazyGroup(click.Group):
    """A group that imports a command's module only when that command runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module_name, _ = COMMANDS[cmd_name]
        module = importlib.import_module(f"llm_gitops.commands.{module_name}")
        return module.command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Summaries come from the table so that --help imports no command module.
        with formatter.section("Commands"):
            formatter.write_dl([(name, summary) for name, (_, summary) in COMMANDS.items()])

    def resolve_command(self, ctx, args):
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError:
            import difflib

            name = args[0] if args else ""
            close = difflib.get_close_matches(name, list(COMMANDS), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise click.UsageError(f"No such command '{name}'.{hint}", ctx) from None


@click.group(cls=LazyGroup, epilog=EXIT_CODES_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="llm-gitops")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """GitOps CI/CD for large language models.

    \b
    Typical pull-request job:
      llm-gitops validate-config
      llm-gitops gate --candidate ./model --baseline models:/adder@production
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if verbose < 2:
        # transformers imports torchao on every model load, and torchao warns about CUDA
        # libraries a CPU machine doesn't have: noise that hides our own progress lines.
        logging.getLogger("torchao").setLevel(logging.ERROR)
        # torchao registers enums that torch.compile now handles natively: a deprecation
        # warning per process, about code that is not ours.
        logging.getLogger("torch.utils._pytree").setLevel(logging.ERROR)
    from llm_gitops.logsafe import install_redaction

    install_redaction()


def write_log(text: str, *, kind: str) -> str:
    """Write ``text`` (a traceback) to a new temp file with the version and argv; returns its path.

    Tracebacks go to a file the message names, never to the terminal: an error is one line.
    """
    fd, path = tempfile.mkstemp(prefix=f"llm-gitops-{kind}-", suffix=".log")
    from llm_gitops.logsafe import redact

    with os.fdopen(fd, "w") as fh:
        fh.write(f"llm-gitops {__version__}\nargv: {redact(' '.join(sys.argv))}\n\n")
        fh.write(redact(text))
    return path


def _write_crash_log() -> str:
    return write_log(traceback.format_exc(), kind="crash")


def _invoke(argv: list[str] | None) -> None:
    """Run the CLI; an import of an optional module the install lacks is a usage error."""
    try:
        cli.main(args=argv, prog_name="llm-gitops", standalone_mode=False)
    except (ImportError, LlmGitopsError) as exc:
        # A command may have wrapped the ImportError in its own error ("cannot load the
        # model"): the missing extra is still the cause to name.
        from llm_gitops.extras import missing_extra

        args = sys.argv[1:] if argv is None else argv
        missing = missing_extra(exc, next((a for a in args if a in COMMANDS), None))
        if missing is None:
            raise
        raise missing from None


def usage_error_line(exc: click.ClickException) -> str:
    """A bad flag as every other error reads: one ``error:`` line naming it, and where help is.

    (click's own form is a usage block, a blank line and ``Error: ...``: four lines that a
    CI log shows apart and a script cannot tell from progress.)
    """
    from llm_gitops.logsafe import redact

    message = " ".join(exc.format_message().split())
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, click.UsageError) and ctx is not None:
        return f"error: {ctx.command_path}: {redact(message)} (see '{ctx.command_path} --help')"
    return f"error: {redact(message)}"


# The shell's status for a process ended by SIGTERM (128 + 15).
EXIT_TERMINATED = 143


class Terminated(KeyboardInterrupt):
    """SIGTERM, as a CI system cancels a job: unwound as Ctrl-C is (temporary files are
    removed, nothing half-written is left), then exit 143."""


def _terminate(signum, frame) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the CLI and turn errors into exit codes."""
    try:
        _invoke(argv)
    except LlmGitopsError as exc:
        from llm_gitops.logsafe import redact

        click.echo(f"error: {redact(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(usage_error_line(exc), err=True)
        sys.exit(2 if exc.exit_code in (1, 2) else exc.exit_code)
    except click.exceptions.Abort as exc:  # click's form of a KeyboardInterrupt (its cause)
        terminated = isinstance(exc.__cause__, Terminated)
        click.echo("Terminated." if terminated else "Aborted.", err=True)
        sys.exit(EXIT_TERMINATED if terminated else 130)
    except SystemExit:
        raise
    except KeyboardInterrupt as exc:
        sys.exit(EXIT_TERMINATED if isinstance(exc, Terminated) else 130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        path = _write_crash_log()
        click.echo(
            f"internal error: {type(exc).__name__}: {exc}. This is a bug in llm-gitops; "
            f"the traceback is in {path} - please attach it to an issue.",
            err=True,
        )
        sys.exit(EXIT_INTERNAL)
    sys.exit(0)


def run() -> None:
    """The ``llm-gitops`` executable: :func:`main`, then a quick exit.

    A gate or eval run leaves torch, transformers, lm-eval and MLflow in memory, and
    tearing those down at interpreter exit takes one to two seconds of nothing useful
    (measured: 1.8 s after a cold gate on a 2-core runner), which every CI job would
    pay. So once the command is done this does what a normal exit does that matters
    (wait for non-daemon threads, run atexit handlers, flush the standard streams) and
    then ends the process by :func:`quick_exit`. In-process callers (tests) use
    :func:`main`, which exits normally.

    SIGTERM (a CI cancel) is raised as :class:`Terminated`, so that it unwinds as Ctrl-C
    does; ``serve`` puts uvicorn's own handling in front of it while it serves.
    """
    import signal

    signal.signal(signal.SIGTERM, _terminate)
    try:
        main()
        code: int | str | None = 0
    except SystemExit as exc:
        code = exc.code
    leave(code)


def leave(code: int | str | None) -> None:
    """End the process with ``code`` (a SystemExit code) after a clean, teardown-free exit."""
    import threading

    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("message") prints the message and exits 1
        print(code, file=sys.stderr)
        status = 1
    current = threading.current_thread()
    for thread in threading.enumerate():
        if thread is not current and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()  # logging.shutdown among them: handlers are flushed and closed
    quick_exit(status)
