"""``llm-gitops release``: record a built image and its gate evidence as an immutable release."""

from __future__ import annotations

from pathlib import Path

import click

from llm_gitops.commands.options import config_option
from llm_gitops.git_checkout import head_commit


@click.command("release")
@config_option()
@click.option("--build", "build_path", type=click.Path(path_type=Path, dir_okay=False), default=None, metavar="FILE",
              help="The build record of the pushed image (default: .llm-gitops/build.json, written by 'llm-gitops build').")
@click.option("--gate-report", type=click.Path(path_type=Path, dir_okay=False), default=None, metavar="FILE",
              help="The gate's report.json for the model in the image (default: report.json in report.output_dir, "
                   "if present).")
@click.option("--env", "env", default=None, metavar="ENV",
              help="Also set deploy/ENV.yaml to the new release (e.g. staging after a merge), printing what changes.")
@click.option("--eval-docs", type=click.IntRange(min=1), default=None, metavar="N",
              help="Documents per task whose scores the release records, for deploys' smoke evals (default: "
                   "eval.limit, the gate's first look, so its cached scores are used; at most 1000).")
@click.option("--no-eval", is_flag=True,
              help="Record no eval (environments with analysis.smoke_eval then refuse the release).")
def command(config_path: Path | None, build_path: Path | None, gate_report: Path | None, env: str | None,
            eval_docs: int | None, no_eval: bool) -> None:
    """Record the pushed image and its gate evidence as a release; print its id.

    A release is immutable and content-addressed: deploy/releases/r-XXXXXXXXXXXX.json holds
    the image by digest, the model digest and source, the quantization method, the gate
    report's digest, verdict and metric values, the source commit and the build time; the
    id is derived from that content, so an edited file no longer loads. Commit the file
    with the deploy/<env>.yaml change that names it: git history is the deploy history.

    With a gate report it also records the gated eval: the per-document scores of the
    model the report names (checked by digest) on the first --eval-docs documents of
    each task, and each task's config digest. They come from the eval cache when the
    gate ran here (its first look), else the model is evaluated on them now. A deploy's
    smoke eval (environments.ENV.analysis.smoke_eval) asks the preview the same documents.

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
    recorded = None
    if gate_report is not None and not no_eval:
        recorded = _recorded_eval(config, gate_report, eval_docs)
    release = release_from_build(build_path, report_path=gate_report, source_commit=head_commit(root),
                                 recorded_eval=recorded)
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


def _recorded_eval(config, report_path: Path, docs: int | None):
    """The gated model's scores on the first ``docs`` documents per task (see release.eval_record)."""
    from llm_gitops.commands.preflight import command_model
    from llm_gitops.release.eval_record import MAX_RECORDED_DOCS, check_gated_model, gated_candidate, record_eval
    from llm_gitops.release.record import read_gate_report
    from llm_gitops.workspace import cache_dir

    source, digest = gated_candidate(read_gate_report(report_path), report_path)
    model = command_model(config, source, flag="--gate-report", field=f"{report_path}: models.candidate.source")
    check_gated_model(model, digest, report_path)
    say = lambda line: click.echo(line, err=True)  # noqa: E731
    recorded = record_eval(model, config.eval, base_dir=config.base_dir, cache_root=cache_dir(config.base_dir),
                           docs=docs or min(config.eval.first_look, MAX_RECORDED_DOCS), progress=say)
    say(f"recorded eval: {recorded.documents} documents per task of {', '.join(sorted(recorded.task_configs))} "
        f"({model.short_digest})")
    return recorded
