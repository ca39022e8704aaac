"""``llm-gitops rollback``: traffic back to the warm previous colour, at once."""

from __future__ import annotations

from pathlib import Path

import click

from llm_gitops.commands.forge_access import forge_context, forge_option
from llm_gitops.commands.options import config_option


@click.command("rollback")
@config_option()
@click.option("--env", "env", required=True, metavar="ENV", help="The environment to roll back.")
@click.option("--base", default="main", show_default=True, help="The branch the rollback pull request targets.")
@forge_option("Where the rollback pull request is opened (none: only move traffic).")
def command(config_path: Path | None, env: str, base: str, forge_choice: str) -> None:
    """Move ENV's traffic back to the previous colour, which is kept warm after a deploy.

    One weight change in haproxy's runtime API (docker: no restart, no failed request, done
    in well under a second) or one apply of the Service's selector (kubernetes; with Argo Rollouts, an undo
    to the warm ReplicaSet and a promote). It needs no deploy lock, so it never waits behind the deploy it
    undoes. It records a deployment of the release now live on the forge (a warning if it
    cannot: traffic has moved already). Then it opens (or updates) the pull request that
    sets deploy/ENV.yaml to the release now live, so that git says what runs: without it
    the next 'llm-gitops deploy' would roll forward again.

    \b
    Examples:
      llm-gitops rollback --env prod
    """
    from llm_gitops.commands.deploy import environment_target
    from llm_gitops.commands.forge_access import open_forge
    from llm_gitops.config import load_config
    from llm_gitops.deploy.bluegreen import rollback

    config = load_config(config_path)
    spec, target = environment_target(config, env)
    ctx = forge_context(forge_choice)  # once; a bad CI context or --forge is exit 2 before traffic moves
    left, now = rollback(env, target)
    colours = target.colours()
    live_release = colours[now].release_id
    click.echo(f"{env}: traffic moved from {left} back to {now} ({live_release})")
    if live_release is not None:
        from llm_gitops.commands.deploy_record import open_recorder

        # After the switch: the forge may only warn (deploy/forge_record.py).
        recorder = open_recorder(forge_choice, config.base_dir, env, lambda line: click.echo(line, err=True),
                                 ctx=ctx, release_id=live_release, environment_url=spec.url)
        if recorder is not None:
            recorder.record_rollback(live_release, colours[left].release_id)
    access = open_forge(forge_choice, config.base_dir, ctx)
    if access is None or live_release is None:
        return
    from llm_gitops.deploy.desired import releases_dir
    from llm_gitops.deploy.promotion import open_rollback
    from llm_gitops.release.record import load_release

    forge, repo = access
    pr, action = open_rollback(env=env, root=config.base_dir, release=load_release(releases_dir(config.base_dir), live_release),
                               forge=forge, repo=repo, base=base, moved_from=colours[left].release_id)
    click.echo(f"rollback pull request #{pr.ref.number} {action}: {pr.url}", err=True)
