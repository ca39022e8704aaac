"""What every kind of model source shares: the Protocol its module follows and what it returns."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from llm_gitops.config.schema import ModelSourceSpec
from llm_gitops.errors import ModelSourceError


@dataclass(frozen=True)
class Fetched:
    """A source made local: the validated directory, and the label reports show for it."""

    path: Path
    label: str


class ModelSource(Protocol):
    """One kind of source; each is a module of ``models.sources`` with these names.

    ``PREFIX`` is how a source string of the kind starts ("models:/", "dvc:"); the local
    kind's is "" and it takes whatever no other kind claims. ``fetch`` makes the source
    local (downloading into the llm-gitops cache when remote), validates it with
    ``models.validate`` (with a fix phrased for where it came from) and returns it.
    """

    KIND: str
    PREFIX: str
    FORMS: str  # how a user writes one, for help texts: "models:/NAME/VERSION, models:/NAME@ALIAS"

    def fetch(self, spec: ModelSourceSpec, *, base_dir: Path, tracking_uri: str | None) -> Fetched: ...


def refuse_rev(spec: ModelSourceSpec, hint: str) -> None:
    """``rev`` (a git revision) means something only to the kinds that take it."""
    if spec.rev:
        raise ModelSourceError(f"{spec.source}: 'rev' applies only to dvc: sources", hint=hint)
