"""``llm-gitops register``: publish a model as a new version of an MLflow registered model."""

from __future__ import annotations

import re
from pathlib import Path

import click

from llm_gitops.commands.options import config_option, model_option
from llm_gitops.config import load_config

# The registry's own rules, checked before anything is uploaded: a bad alias found only
# after the version exists would leave a version registered and the alias unmoved.
# '@' is refused in names too, because models:/NAME@ALIAS could not be parsed back.
_BAD_NAME_CHARS = ("/", ":", "@")
_ALIAS = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_VERSION_LIKE = re.compile(r"^[vV]\d+$")


def _check_name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    value = value.strip()
    if not value or any(c in value for c in _BAD_NAME_CHARS):
        raise click.BadParameter(f"{value!r} is not a registered model name; use one without '/', ':' or '@' "
                                 "(e.g. adder)")
    return value


def _check_alias(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    if not _ALIAS.match(value):
        raise click.BadParameter(f"{value!r} is not an alias; use letters, digits, '_' and '-' (e.g. production)")
    if value.lower() == "latest" or _VERSION_LIKE.match(value):
        raise click.BadParameter(f"{value!r} is reserved by MLflow (it reads as a version); pick another, "
                                 "e.g. production")
    return value


@click.command("register")
@config_option("Config file; its tracking.mlflow settings pick the store and experiment "
               "(default: the nearest .llm-gitops.yaml).")
@model_option("Model to publish (a directory is relative to the config file)", required=True)
@click.option("--name", required=True, callback=_check_name, help="Registered model name, e.g. adder.")
@click.option("--alias", default=None, callback=_check_alias,
              help="Point this alias (e.g. production) at the new version.")
def command(config_path: Path | None, model_source: str, name: str, alias: str | None) -> None:
    """Publish a model as a new version of an MLflow registered model.

    The model is resolved and validated first (a broken directory never becomes a
    baseline), then logged as the artifacts of a run in tracking.mlflow.experiment and
    registered in the store tracking.mlflow.tracking_uri names (default: the sqlite
    store under .llm-gitops/). The version is tagged with the model's digest and
    source. With --alias, that alias moves to the new version, so a gate whose baseline
    is models:/NAME@ALIAS compares against it from then on.

    Prints the version and its models:/ URIs.

    \b
    Examples:
      # seed the baseline the gate compares against
      llm-gitops register --model ./model --name adder --alias production
      llm-gitops register --config ci/.llm-gitops.yaml --model dvc:model --name adder
      llm-gitops register --model models:/adder@staging --name adder --alias production

    \b
    Exit codes: 0 registered; 2 bad flag, config or model source (nothing is
    registered), or the MLflow store failed or cannot be reached; 3 internal error.
    """
    from llm_gitops.commands.eval import resolve_command_model
    from llm_gitops.tracking.mlflow_tracking import display_uri, register_model_dir, resolve_tracking_uri

    config = load_config(config_path)
    model = resolve_command_model(config, model_source)
    click.echo(f"register: {model.source} ({model.short_digest}) as {name!r}", err=True)
    version = register_model_dir(config, name, model.path, alias=alias, tags={"source": model.source})
    click.echo(f"registered {name} version {version} ({model.digest}) in {display_uri(resolve_tracking_uri(config))}")
    click.echo(f"models:/{name}/{version}")
    if alias:
        click.echo(f"models:/{name}@{alias}")
