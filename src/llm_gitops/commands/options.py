"""Options that several commands share, defined once so that they read and behave alike."""

from __future__ import annotations

from pathlib import Path

import click

DEFAULT_CONFIG_HELP = "Config file (default: the nearest .llm-gitops.yaml)."


def config_option(help: str = DEFAULT_CONFIG_HELP, *, dir_okay: bool = False):
    """``--config PATH`` into the ``config_path`` parameter (None: look for the nearest config)."""
    return click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=dir_okay), default=None,
                        help=help)


def model_option(what: str, *, required: bool = False):
    """``--model SRC`` into ``model_source``: ``what`` the command does with it, then the
    source forms every kind in ``models.sources`` accepts (so a new kind shows up here)."""
    from llm_gitops.models.sources import source_forms

    if required:  # no default at all: click 8.5 takes an explicit default=None as satisfying required
        return click.option("--model", "model_source", required=True, metavar="SRC", help=f"{what}: {source_forms()}.")
    return click.option("--model", "model_source", default=None, metavar="SRC",
                        help=f"{what}: {source_forms()} (default: models.candidate).")
