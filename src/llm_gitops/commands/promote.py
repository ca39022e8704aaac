"""``llm-gitops promote``: open the pull request that moves an environment to the release verified upstream."""

from __future__ import annotations

from pathlib import Path

import click

from llm_gitops.commands.forge_access import forge_context, forge_option
from llm_gitops.commands.options import config_option


@click.command("promote")
@config_option()
@click.option("--to", "env", required=True, metavar="ENV", help="The environment to promote into (it names its "
              "upstream with environments.ENV.requires).")
@click.option("--base", default="main", show_default=True, help="The branch the pull request targets (the branch "
              "the deploy files live on).")
@forge_option("Where the pull request is opened: the CI's forge, or the local git repository.")
def command(config_path: Path | None, env: str, base: str, forge_choice: str) -> None:
    """Open (or update) the pull request that sets deploy/ENV.yaml to the release verified upstream.

    The upstream is environments.ENV.requires (e.g. prod requires staging). The release is
    the one deploy/UPSTREAM.yaml names on the base branch, and it must be verified there:
    the commit that set it carries the status llm-gitops/verified/UPSTREAM = success for
    that release, written by the upstream's deploy job. Statuses live on the forge, so a
    pull request cannot forge them by editing files.

    Refused, with the reason: an environment on hold (deploy/ENV.yaml: hold: true), nothing
    deployed upstream, a release not verified, failed, or stale (the upstream moved on and
    its deploy has not finished). One open pull request per environment: a newer release
    updates it. Its body is a release card: image, model digest and metric deltas against
    what ENV runs now, and the upstream evidence.

    \b
    Examples:
      llm-gitops promote --to prod
      llm-gitops promote --to prod --forge local     # try the loop on a laptop, no token

    \b
    Exit codes: 0 pull request opened or updated, or ENV already runs that release;
    2 refused (the line says why), or the forge failed.
    """
    from llm_gitops.commands.forge_access import open_forge
    from llm_gitops.config import load_config
    from llm_gitops.deploy.promotion import open_promotion, plan_promotion

    config = load_config(config_path)
    access = open_forge(forge_choice, config.base_dir, forge_context(forge_choice))
    if access is None:
        from llm_gitops.errors import ConfigError

        raise ConfigError("--forge none: promotion reads verification statuses and opens a pull request on a forge",
                          hint="use --forge auto, github, gitlab or local")
    forge, repo = access
    plan = plan_promotion(env=env, environments=config.environments, root=config.base_dir, forge=forge, repo=repo)
    if plan is None:
        click.echo(f"{env} already runs the release verified upstream: nothing to promote", err=True)
        return
    pr, action = open_promotion(plan, forge, repo, base)
    for line in plan.change.lines():
        click.echo(line, err=True)
    click.echo(f"promotion of {plan.release.id} to {env}: pull request #{pr.ref.number} {action}", err=True)
    click.echo(pr.url)
