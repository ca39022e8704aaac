"""``llm-gitops deploy``: make an environment run the release its deploy/<env>.yaml names."""

from __future__ import annotations

import json
from pathlib import Path

import click

from llm_gitops.commands.forge_access import forge_context, forge_option
from llm_gitops.commands.options import config_option


def environment_target(config, env: str):
    """The environment's spec and its deploy target, built from the config."""
    from llm_gitops.deploy.target import TARGETS
    from llm_gitops.errors import ConfigError

    if env not in config.environments:
        raise ConfigError(f"--env {env}: no such environment in {config.where('environments')}",
                          hint=f"use one of: {', '.join(config.environments) or '(none: add an environments: section)'}")
    spec = config.environments[env]
    if spec.target == "kubernetes":
        where = {"kubeconfig": _kubeconfig(spec.kubernetes.kubeconfig)}
    else:
        where = {"engine_url": spec.docker.engine or config.image.engine}
    target = TARGETS[spec.target](env=env, spec=spec, base_dir=config.base_dir, container_port=config.image.port,
                                  **where)
    return spec, target


def _kubeconfig(configured: str | None) -> str | None:
    """The setting, else $KUBECONFIG's first file, else ~/.kube/config if any; None: in-cluster credentials."""
    import os

    if configured:
        return configured
    listed = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    if listed:
        return listed[0]
    default = Path.home() / ".kube" / "config"
    return str(default) if default.is_file() else None


@click.command("deploy")
@config_option()
@click.option("--env", "env", required=True, metavar="ENV", help="The environment to reconcile (a name under environments:).")
@click.option("--promote", is_flag=True,
              help="Switch traffic to the colour already running the release (after auto_promote: false).")
@click.option("--no-scale-down", is_flag=True,
              help="Leave the previous colour running after the switch instead of waiting scale_down_delay and removing it.")
@forge_option("Where the deployment and the verification (status llm-gitops/verified/ENV on the commit that set "
              "deploy/ENV.yaml) are recorded: the CI's forge, the local git repository, or nowhere.")
def command(config_path: Path | None, env: str, promote: bool, no_scale_down: bool, forge_choice: str) -> None:
    """Make ENV run the release that deploy/ENV.yaml names, blue/green.

    Steps: pull the image by digest, start it as the colour that is not live, wait for its
    readiness, run the pre-promotion analysis (smoke completions, the smoke eval of the
    release's recorded eval if analysis.smoke_eval is set, then the metric checks of
    environments.ENV.analysis against the new colour itself), switch traffic (docker:
    haproxy's runtime API, no reload, no failed request; kubernetes: the Service's
    selector, or an Argo Rollouts promote), watch the post-promotion window (a failure
    switches back), keep the previous colour warm for scale_down_delay, then remove it.
    Running it again with nothing to change does nothing; a deploy that was killed is
    completed or undone by the next run. One deploy per environment at a time.

    The record of what was done and measured is written to
    .llm-gitops/deploys/ENV/<time>-<release>.json and printed as JSON on stdout. Once ENV
    runs the release, the commit that set deploy/ENV.yaml gets the status
    llm-gitops/verified/ENV (description: the release id): the evidence 'llm-gitops
    promote' requires before the release may move downstream. The deploy is also recorded
    on the forge as a deployment of that commit to ENV (in_progress, then success, failure
    or error), shown on the forge's environment page: a forge that fails before the target
    changes stops the deploy (exit 2, nothing changed); after that, it is a warning.

    \b
    Examples:
      llm-gitops deploy --env staging
      llm-gitops deploy --env prod --promote     # after auto_promote: false

    \b
    Exit codes: 0 deployed (or nothing to do), 1 not promoted (readiness or analysis
    failed; the live colour kept all traffic), 2 bad config, deploy file or release,
    an engine/haproxy problem, or the forge did not record the deployment (nothing started).
    """
    from llm_gitops.cache import write_atomic
    from llm_gitops.commands.deploy_record import open_recorder
    from llm_gitops.config import load_config
    from llm_gitops.deploy.bluegreen import DeployFailed, deploy, promote_preview
    from llm_gitops.deploy.desired import load_desired
    from llm_gitops.errors import LlmGitopsError
    from llm_gitops.workspace import state_dir

    config = load_config(config_path)
    spec, target = environment_target(config, env)
    desired = load_desired(config.base_dir, env)
    ctx = forge_context(forge_choice)  # once; a bad CI context or --forge is exit 2 before anything starts

    def say(line: str) -> None:
        click.echo(line, err=True)

    if promote:
        if desired.release is None:
            say(f"deploy/{env}.yaml names no release: nothing to promote")
            return
        left = promote_preview(env, target, desired.release)
        say(f"{env}: traffic on {desired.release.id}" + (f" (left {left})" if left else " (already live)"))
        if (recorder := open_recorder(forge_choice, config.base_dir, env, say, ctx=ctx, environment_url=spec.url)) is not None:
            recorder.complete_pending(f"{env} runs {desired.release.id} (promoted)")
        return
    failure = None
    smoke_eval = []
    if spec.analysis.smoke_eval is not None and desired.release is not None:
        from llm_gitops.deploy.smoke_eval import check_recorded

        # Before the target is touched: a release that recorded no eval is exit 2, nothing deployed.
        check_recorded(desired.release, spec.analysis.smoke_eval, env=env)
    # The forge deployment is created before the target changes, finished after (deploy/forge_record.py).
    recorder = (open_recorder(forge_choice, config.base_dir, env, say, ctx=ctx, environment_url=spec.url)
                if desired.release is not None else None)

    def begin() -> None:
        if spec.analysis.smoke_eval is not None:
            from llm_gitops.deploy.smoke_eval import plan_smoke_eval

            # Once there is work to do, before anything starts (a task changed since the
            # release was gated is exit 2, nothing deployed); a deploy with nothing to do
            # does not care.
            smoke_eval.append(plan_smoke_eval(desired.release, spec.analysis.smoke_eval, config.eval, config.gate,
                                              base_dir=config.base_dir, env=env))
        if recorder is not None:
            recorder.begin(desired.release.id)

    def analyse(*args, **kwargs):
        from llm_gitops.deploy.analysis import run_analysis

        return run_analysis(*args, smoke_eval=smoke_eval[0] if smoke_eval else None, **kwargs)

    try:
        record = deploy(env, spec, desired.release, target, progress=say, scale_down=not no_scale_down, begin=begin,
                        analyse=analyse)
    except DeployFailed as exc:
        # The flow raises only once traffic is back where it was; what it measured is kept.
        failure, record = exc, exc.record
    except LlmGitopsError as exc:
        if recorder is not None:  # the target failed half-way (engine, front, cluster): an error, not a verdict
            recorder.end("error", exc.message)
        raise
    if recorder is not None:
        recorder.finish(record.action, record.message)
    if record.action != "none":
        out = state_dir(config.base_dir) / "deploys" / env / f"{record.started_at.replace(':', '')}-{record.release}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(out, json.dumps(record.to_json(), indent=2) + "\n")
        say(f"deploy record: {out}")
    if failure is not None:
        raise failure
    if desired.release is not None and record.action in ("deployed", "none"):
        _record_verified(forge_choice, config.base_dir, env, desired.release.id, say, ctx)
    say(record.message)
    click.echo(json.dumps(record.to_json(), indent=2))


def _record_verified(forge_choice: str, root: Path, env: str, release_id: str, say, ctx) -> None:
    """The deploy succeeded whatever happens here: a status that cannot be written is a warning."""
    from llm_gitops.commands.forge_access import open_forge
    from llm_gitops.deploy.promotion import record_verified, verified_context
    from llm_gitops.errors import LlmGitopsError
    from llm_gitops.logsafe import redact

    try:
        access = open_forge(forge_choice, root, ctx)
        if access is None:
            return
        forge, repo = access
        sha = record_verified(forge, repo, root, env, release_id)
    except LlmGitopsError as exc:
        say(f"warning: {env} runs {release_id} but it was not recorded as verified: {redact(str(exc))}")
        return
    say(f"{verified_context(env)} = success ({release_id}) on {sha[:12]}")
