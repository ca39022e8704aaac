"""``llm-gitops jenkins trigger``: run a parameterised Jenkins job and report its result."""

from __future__ import annotations

import click

from llm_gitops.errors import GateFailed


def _parse_params(values: tuple[str, ...]) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="-p/--param")
        params[key.strip()] = value
    return params


@click.group("jenkins")
def command() -> None:
    """Work with Jenkins jobs (for teams whose pipelines live in Jenkins).

    \b
    Example:
      llm-gitops jenkins trigger deploy-model -p IMAGE_DIGEST=sha256:... --timeout 1800
    """


@command.command("trigger")
@click.argument("job")
@click.option("-p", "--param", "params", multiple=True, metavar="KEY=VALUE", help="A build parameter (repeatable).")
@click.option("--url", envvar="JENKINS_URL", required=True, help="Jenkins URL [env: JENKINS_URL].")
@click.option("--user", envvar="JENKINS_USER", required=True, help="Jenkins user [env: JENKINS_USER].")
@click.option("--token", envvar="JENKINS_API_TOKEN", required=True, show_envvar=False,
              help="The user's API token [env: JENKINS_API_TOKEN]; prefer the variable to the flag.")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Follow the build to its result.")
@click.option("--timeout", type=click.FloatRange(min=1), default=1800, show_default=True,
              help="Seconds to wait for the build to finish.")
@click.option("--poll-interval", type=click.FloatRange(min=0.01), default=2.0, show_default=True,
              help="Seconds between polls of the queue and the build.")
def trigger(job: str, params: tuple[str, ...], url: str, user: str, token: str, wait: bool, timeout: float,
            poll_interval: float) -> None:
    """Trigger JOB with parameters and print the build URL and result.

    Exit 0 when the build ends SUCCESS; 1 on FAILURE, UNSTABLE or ABORTED; 2 on a
    configuration problem (unknown job, bad credentials, bad -p). With --no-wait it
    exits 0 once the build is queued and prints the queue item's URL.

    \b
    Examples:
      export JENKINS_URL=https://jenkins.example.com JENKINS_USER=ci-bot JENKINS_API_TOKEN=...
      llm-gitops jenkins trigger deploy-model -p MODEL=adder -p ENV=staging
      llm-gitops jenkins trigger nightly-eval --no-wait
    """
    from llm_gitops.jenkins import trigger_job
    from llm_gitops.logsafe import register_secret

    register_secret(token)
    build = trigger_job(url=url, job=job, params=_parse_params(params), username=user, api_token=token, wait=wait,
                        timeout=timeout, poll_interval=poll_interval, progress=lambda m: click.echo(m, err=True))
    if not wait:
        click.echo(f"queued: {build.queue_url}")
        return
    click.echo(f"{build.url or build.queue_url} {build.result}")
    if not build.succeeded:
        raise GateFailed(f"Jenkins job {job!r} ended {build.result}: {build.url or build.queue_url}")


