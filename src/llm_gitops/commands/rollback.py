"""``llm-gitops rollback``: traffic back to the warm previous colour, at once."""

from __future__ import annotations

from pathlib import Path

import click

from llm_gitops.commands.options import config_option


@click.command("rollback")
@config_option()
@click.option("--env", "env", required=True, metavar="ENV", help="The environment to roll back.")
def command(config_path: Path | None, env: str) -> None:
    """Move ENV's traffic back to the previous colour, which is kept warm after a deploy.

    One weight change in haproxy's runtime API: no restart, no failed request, done in
    well under a second. It needs no deploy lock, so it never waits behind the deploy it
    undoes. Afterwards, set deploy/ENV.yaml to the release now live (the rollback PR),
    or the next 'llm-gitops deploy' rolls forward again.

    \b
    Examples:
      llm-gitops rollback --env prod
    """
    from llm_gitops.commands.deploy import environment_target
    from llm_gitops.config import load_config
    from llm_gitops.deploy.bluegreen import rollback

    config = load_config(config_path)
    _, target = environment_target(config, env)
    left, now = rollback(env, target)
    click.echo(f"{env}: traffic moved from {left} back to {now} ({target.colours()[now].release_id})")
