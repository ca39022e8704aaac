"""``llm-gitops schema``: print the JSON Schema of .llm-gitops.yaml (for editors)."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("schema")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), default=None, metavar="FILE",
              help="Write the schema to FILE instead of stdout.")
def command(output: Path | None) -> None:
    """Print the JSON Schema of .llm-gitops.yaml (version 1), for editor completion and checks.

    The starter config ('llm-gitops init') names the published copy on its first line,
    '# yaml-language-server: $schema=...', which editors with the YAML language server
    (VS Code's YAML extension, Neovim, JetBrains) read. Point that line at a local copy for
    an unreleased version. 'llm-gitops validate-config' stays the judge: it also checks
    what a schema cannot (that a threshold's metric exists, that task files load).

    \b
    Examples:
      llm-gitops schema > .llm-gitops.schema.json
      llm-gitops schema --output .vscode/llm-gitops.schema.json
    """
    from llm_gitops.cache import write_atomic
    from llm_gitops.config.json_schema import config_json_schema

    text = json.dumps(config_json_schema(), indent=2, sort_keys=True) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    write_atomic(output, text)
    click.echo(f"wrote {output}", err=True)
