"""A model directory on disk (``./model`` or an absolute path), relative to ``base_dir``."""

from __future__ import annotations

from pathlib import Path

from llm_gitops.config.schema import ModelSourceSpec
from llm_gitops.models.sources.base import Fetched, refuse_rev
from llm_gitops.models.validate import validate_model_dir

KIND = "local"
PREFIX = ""
FORMS = "a directory"


def fetch(spec: ModelSourceSpec, *, base_dir: Path, tracking_uri: str | None = None) -> Fetched:
    refuse_rev(spec, hint=f"use source: dvc:{spec.source} to fetch it with DVC")
    # Validated before resolve(): a symlink loop or a dangling link is named as written.
    given = base_dir / Path(spec.source).expanduser()
    validate_model_dir(given)
    return Fetched(given.resolve(), spec.source)
