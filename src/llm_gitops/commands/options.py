"""Options that several commands share, defined once so that they read and behave alike."""

from __future__ import annotations

from pathlib import Path

import click

DEFAULT_CONFIG_HELP = "Config file (default: the nearest .llm-gitops.yaml)."


def config_option(help: str = DEFAULT_CONFIG_HELP, *, dir_okay: bool = False):
    """``--config PATH`` into the ``config_path`` parameter (None: look for the nearest config)."""
    return click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=dir_okay), default=None,
                        help=help)
