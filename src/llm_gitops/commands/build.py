"""``llm-gitops build``: build, tag and push a model's serving image; print its digest."""

from __future__ import annotations

from pathlib import Path

import click

from llm_gitops import ci_context
from llm_gitops.commands.options import config_option
from llm_gitops.commands.step_outputs import check_step_outputs, write_step_outputs


@click.command("build")
@config_option("Config file (default: the nearest .llm-gitops.yaml); its image section sets the defaults.")
@click.option("--model", "model_source", default=None, metavar="SRC",
              help="Model to package: a directory (plain or a quantize artifact), models:/NAME/VERSION, "
                   "models:/NAME@ALIAS or dvc:PATH (default: models.candidate).")
@click.option("--repository", default=None, metavar="REPO",
              help="Image repository, e.g. registry.example.com/team/adder (default: image.repository).")
@click.option("--tag", default=None, help="Image tag (default: the first 12 hex digits of the model digest).")
@click.option("--push/--no-push", default=True, show_default=True, help="Push to the registry after building.")
@click.option("--base-image", default=None, metavar="IMAGE",
              help="Base image with python3 + venv (default: image.base_image). It is not pulled if present.")
@click.option("--wheelhouse", type=click.Path(path_type=Path, file_okay=False), default=None, metavar="DIR",
              help="Install dependencies offline from wheels in DIR (filled on this machine with pip download "
                   "when empty or stale). Default: image.wheelhouse; none = install from the package index.")
@click.option("--ca-bundle", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None, metavar="FILE",
              help="Extra CA certificates (PEM) the image trusts, e.g. for an intercepting proxy.")
@click.option("--eval-report", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None, metavar="FILE",
              help="Gate report whose digest is stamped on the image (default: report.json in report.output_dir, if any).")
@click.option("--engine", "engine_url", default=None, metavar="URL",
              help="Docker API URL of the engine (default: image.engine, else DOCKER_HOST, else the default socket).")
@click.option("--no-cache", "nocache", is_flag=True, help="Build every layer afresh.")
@click.option("--output-env", type=click.Path(path_type=Path, dir_okay=False), default=None, metavar="FILE",
              help="Append LLM_GITOPS_IMAGE=REPO:TAG and LLM_GITOPS_IMAGE_DIGEST=sha256:... to FILE "
                   "(a dotenv file for later CI steps).")
@click.option("-q", "--quiet", is_flag=True, help="Don't print the build log; print only the digest.")
def command(config_path: Path | None, model_source: str | None, repository: str | None, tag: str | None, push: bool,
            base_image: str | None, wheelhouse: Path | None, ca_bundle: Path | None, eval_report: Path | None,
            engine_url: str | None, nocache: bool, output_env: Path | None, quiet: bool) -> None:
    """Build the model's serving image through the Docker API, tag and push it, and print its digest.

    The image runs 'llm-gitops serve' on the model as a non-root user, with a
    HEALTHCHECK on /readyz and OCI labels (revision, source, created) plus
    io.llm-gitops.model.digest, io.llm-gitops.quantization.method and
    io.llm-gitops.eval.report-digest. Dependencies are layered before the model, so
    a new model rebuilds one layer. Works with Docker Engine and with Podman's Docker
    API ('podman system service').

    stdout gets one line, the pushed digest (the image ID with --no-push); the log
    goes to stderr. After a successful push the result is recorded in
    .llm-gitops/build.json. With $GITHUB_OUTPUT set, 'image=REPO:TAG' and
    'digest=sha256:...' are appended to it.

    \b
    Examples:
      llm-gitops build --model ./model --repository registry.example.com/team/adder
      llm-gitops build --model ./model-int8 --tag "$GIT_SHA" --wheelhouse ~/.cache/wheels \\
          --base-image localhost/python:3.11 --output-env build.env
      llm-gitops build --model ./model --no-push --repository localhost/adder
    """
    from llm_gitops.build.image import build_image
    from llm_gitops.commands.eval import resolve_command_model
    from llm_gitops.config import load_config

    config = load_config(config_path)
    ctx = ci_context.detect()
    check_step_outputs(ctx, output_env)  # before the (long) build, not after it
    model = resolve_command_model(config, model_source)

    def progress(line: str) -> None:
        if not quiet:
            click.echo(line, err=True)

    result = build_image(
        config, model, repository=repository, tag=tag, push=push, base_image=base_image, wheelhouse=wheelhouse,
        ca_bundle=ca_bundle, engine_url=engine_url, eval_report=eval_report, nocache=nocache, progress=progress,
    )
    digest = result.digest or result.image_id
    if not quiet:
        where = f"pushed {result.reference}" if result.digest else f"built {result.image}:{result.tag} (not pushed)"
        click.echo(f"{where}; {result.size / 1e6:.0f} MB, {result.cached_steps}/{result.steps} steps cached", err=True)
    click.echo(digest)
    if result.digest:
        image = f"{result.image}:{result.tag}"
        write_step_outputs(ctx, {"image": image, "digest": result.digest},
                           {"LLM_GITOPS_IMAGE": image, "LLM_GITOPS_IMAGE_DIGEST": result.digest}, output_env)
