"""``llm-gitops init``: write a commented starter config."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import click

from llm_gitops.cache import write_atomic
from llm_gitops.commands.preflight import check_output_file
from llm_gitops.config import CONFIG_FILENAME, parse_config
from llm_gitops.errors import ConfigError


def starter_config_text() -> str:
    return resources.files("llm_gitops.config").joinpath("starter.yaml").read_text(encoding="utf-8")


@click.command("init")
@click.option("--path", "path", type=click.Path(path_type=Path), default=Path(CONFIG_FILENAME), show_default=True,
              help="Where to write the config.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def command(path: Path, force: bool) -> None:
    """Write a commented starter .llm-gitops.yaml.

    \b
    Examples:
      llm-gitops init
      llm-gitops init --path configs/.llm-gitops.yaml --force
    """
    if path.exists() and not force:
        raise ConfigError(f"{path} already exists", hint="pass --force to overwrite it")
    check_output_file(path, "--path")
    text = starter_config_text()
    parse_config(text, path)  # the starter must always be valid
    write_atomic(path, text)
    click.echo(f"wrote {path}; edit it, then run: llm-gitops validate-config --config {path}")
