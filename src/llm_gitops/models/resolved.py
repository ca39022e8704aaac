from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ResolvedModel:
    """A model made local: the directory to load and the digest that identifies it.

    ``digest`` is ``sha256:<hex>`` over the weight and tokenizer files (names and
    contents, order-independent), so the same weights fetched from MLflow, DVC or a
    local copy share one digest, and therefore one cached eval.
    """

    path: Path
    digest: str
    source: str  # what the user wrote: a dir, models:/name@alias, dvc:path
    kind: str  # "local" | "mlflow" | "dvc" | "hf" | "adapter"
    # An adapter's base model (``models.adapters``); None for a whole model. For an
    # adapter, ``path`` is its view and ``digest`` covers the adapter and this base.
    base: ResolvedModel | None = None

    @property
    def short_digest(self) -> str:
        return self.digest.split(":", 1)[-1][:12]
