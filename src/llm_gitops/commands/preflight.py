"""Checks every command makes before it measures or writes anything.

A user error found after an evaluation has already filled the eval cache, the gate's
decision cache, ``mlflow.db`` or a report leaves a half-done run behind and costs the
evaluation's minutes. So commands check their flags, output paths and model sources
first, with these helpers, and each failure is one ``ConfigError`` line naming the flag
or field and the fix (exit 2). Nothing here creates or changes a file.
"""

from __future__ import annotations

import os
from pathlib import Path

from llm_gitops.config.schema import Config, ModelSourceSpec
from llm_gitops.errors import ConfigError
from llm_gitops.models.resolved import ResolvedModel


def source_flag(value: str | None, flag: str, *, example: str = "./model or {flag} models:/NAME@ALIAS") -> str | None:
    """``value`` of a model-source (or results path) flag; an empty or blank one, an unset
    CI variable, is an error, not 'unset' nor the current directory."""
    if value is not None and not value.strip():
        raise ConfigError(f"{flag} is empty", hint=f"give a {'path' if 'results' in flag else 'model source'}, "
                          f"e.g. {flag} {example.format(flag=flag)}")
    return value


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return candidate
    return Path(path.anchor or "/")


def check_output_dir(path: Path, label: str) -> None:
    """``path`` is a directory that exists and is writable, or can be created."""
    fix = "point it at a directory (it is created if missing)"
    if "\x00" in str(path):
        raise ConfigError(f"{label}: the path holds a NUL byte", hint=fix)
    existing = _nearest_existing(path)
    if os.path.lexists(existing) and not os.path.exists(existing):
        raise ConfigError(f"{label}: {existing} is a symbolic link that leads nowhere (or in a loop)", hint=fix)
    if not existing.is_dir():
        what = f"{label} {path} is" if existing == path else f"{label} {path}: {existing} is"
        raise ConfigError(f"{what} a file, not a directory", hint=fix)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{label}: {existing} is not writable", hint=f"{fix}, in a place this user may write")


def check_output_file(path: Path, label: str) -> None:
    """``path`` can be written as a file: not a directory, in a directory that exists or can be made."""
    if os.path.lexists(path) and not os.path.exists(path):
        raise ConfigError(f"{label} {path} is a symbolic link that leads nowhere (or in a loop)",
                          hint="point it at a regular file")
    if path.is_dir():
        raise ConfigError(f"{label} {path} is a directory", hint="give a file path, e.g. results.json")
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigError(f"{label} {path} is not writable", hint="give a path this user may write")
    check_output_dir(path.parent, f"{label} {path}: its directory")


def command_model(config: Config, source: ModelSourceSpec | str | None, *, flag: str, field: str = "models.candidate"
                  ) -> ResolvedModel:
    """Resolve (fetch when remote), validate and digest the model a command works on.

    Every command goes through here (and so through ``models.validate``) before it
    loads a model or writes anything: a broken directory is one clean error, exit 2.
    """
    from llm_gitops.models.sources import resolve_model

    if source is None:
        raise ConfigError(f"{config.where('models')}: {field} is not set and no {flag} was given",
                          hint=f"pass {flag} DIR|models:/NAME@ALIAS|dvc:PATH or set {field}")
    return resolve_model(source, base_dir=config.base_dir, tracking_uri=_tracking_uri(config, source))


def _tracking_uri(config: Config, source: ModelSourceSpec | str) -> str | None:
    text = source if isinstance(source, str) else source.source
    if not text.startswith("models:/"):
        return None
    from llm_gitops.tracking.mlflow_tracking import resolve_tracking_uri

    return resolve_tracking_uri(config)
