"""Which forge a deploy-side command talks to, and as whom (the command layer reads the environment).

``auto``: the forge of the CI job (GitHub Actions, GitLab CI) with its token; outside a CI
with a known forge, the ``local`` forge on the checkout (a git repository on disk).
"""

from __future__ import annotations

from pathlib import Path

import click

from llm_gitops import ci_context
from llm_gitops.errors import ConfigError

FORGE_CHOICES = ("auto", "github", "gitlab", "local", "none")


def forge_option(help: str):
    return click.option("--forge", "forge_choice", type=click.Choice(FORGE_CHOICES), default="auto", show_default=True,
                        help=help)


def forge_context(choice: str) -> ci_context.CiContext:
    """The CI context, detected once per command before anything changes: a malformed one,
    or a ``--forge`` that is not the CI job's forge, is exit 2 then (a token is only ever
    sent to its own forge)."""
    ctx = ci_context.detect()
    if choice in ("github", "gitlab"):
        ci_context.refuse_other_forge(ctx, choice, "--forge")
    return ctx


def open_forge(choice: str, root: Path, ctx: ci_context.CiContext):
    """(forge, repo) for ``choice`` in the CI context ``ctx`` (``forge_context``'s, which
    has checked that a named forge is the job's), or None for ``none``; ConfigError when
    the forge cannot be used."""
    from llm_gitops.forges.publish import forge_client
    from llm_gitops.forges.registry import make_forge

    if choice == "none":
        return None
    name = ctx.forge if choice == "auto" else choice
    if name is None or name == "local":
        return make_forge("local"), str(root)
    token = ci_context.forge_token(None, name)
    if token is None:
        names = " or ".join(ci_context.TOKEN_VARIABLES[name])
        raise ConfigError(f"no {name} token to write the deploy record and pull requests with", hint=f"set {names}")
    if ctx.repo is None:
        raise ConfigError(f"which {name} repository is this? The CI context names none",
                          hint="run in the CI job of the model repo, or pass --forge local")
    return forge_client(ctx, name, token), ctx.repo
