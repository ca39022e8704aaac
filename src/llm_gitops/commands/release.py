"""``llm-gitops release``: record a built image and its gate evidence as an immutable release."""

from __future__ import annotations

import subprocess
from pathlib import Path

import click

from llm_gitops.commands.options import config_option


def _head_commit(directory: Path) -> str | None:
    try:
        proc = subprocess.run(["git", "-C", str(directory), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() or None if proc.returncode == 0 else None


@click.command("release")
@config_option()
@click.option("--build", "build_path", type=click.Path(path_type=Path, dir_okay=False), default=None, metavar="FILE",
              help="The build record of the pushed image (default: .llm-gitops/build.json, written by 'llm-gitops build').")
@click.option("--gate-report", type=click.Path(path_type=Path, dir_okay=False), default=None, metavar="FILE",
              help="The gate's report.json for the model in the image (default: report.json in report.output_dir, "
                   "if present).")
@click.option("--env", "env", default=None, metavar="ENV",
              help="Also set deploy/ENV.yaml to the new release (e.g. staging after a merge), printing what changes.")
def command(config_path: Path | None, build_path: Path | None, gate_report: Path | None, env: str | None) -> None:
    """Record the pushed image and its gate evidence as a release; print its id.

    A release is immutable and content-addressed: deploy/releases/r-XXXXXXXXXXXX.json holds
    the image by digest, the model digest and source, the quantization method, the gate
    report's digest, verdict and metric values, the source commit and the build time; the
    id is derived from that content, so an edited file no longer loads. Commit the file
    with the deploy/<env>.yaml change that names it: git history is the deploy history.

    \b
    Examples:
      llm-gitops build --model ./model && llm-gitops release
      llm-gitops release --env staging            # and point staging at it
      llm-gitops release --build out/build.json --gate-report reports/report.json
    """
    from llm_gitops.config import load_config
    from llm_gitops.deploy.desired import DesiredState, desired_path, load_desired, releases_dir
    from llm_gitops.errors import ConfigError
    from llm_gitops.release.record import compare, release_from_build, write_release
    from llm_gitops.cache import write_atomic
    from llm_gitops.workspace import state_dir

    config = load_config(config_path)
    root = config.base_dir
    if env is not None and env not in config.environments:
        raise ConfigError(f"--env {env}: no such environment in {config.where('environments')}",
                          hint=f"use one of: {', '.join(config.environments) or '(none configured)'}")
    build_path = build_path or state_dir(root) / "build.json"
    if gate_report is None:
        default = config.resolve_path(config.report.output_dir) / "report.json"
        gate_report = default if default.is_file() else None
    current = load_desired(root, env) if env is not None and desired_path(root, env).exists() else None
    release = release_from_build(build_path, report_path=gate_report, source_commit=_head_commit(root))
    path = write_release(release, releases_dir(root))
    click.echo(f"release {release.id}: {release.image} ({path.relative_to(root)})", err=True)
    if env is not None:
        old_state = current.state if current is not None else DesiredState(version=1)
        for line in compare(current.release if current else None, release).lines():
            click.echo(line, err=True)
        new_state = old_state.model_copy(update={"release": release.id})
        write_atomic(desired_path(root, env), new_state.to_yaml(env))
        click.echo(f"deploy/{env}.yaml -> {release.id}", err=True)
    click.echo(release.id)
