"""Make a model source local: a directory, an MLflow registry version, or DVC-tracked data.

``resolve_model`` returns the directory to load and its content digest. Every kind ends
the same way: the directory is validated (``models.validate``) and digested
(``models.digest``), so a model fetched from MLflow and the same files in a local
directory share one digest and one cached eval.

Each kind is one module of this package following ``base.ModelSource`` (``KIND``,
``PREFIX``, ``fetch``), registered in ``SOURCES``: adding a kind is one module and one
entry. The modules import their libraries (mlflow, dvc, ...) only when they fetch.

* ``./model`` (or an absolute path): ``local``;
* ``models:/NAME/VERSION``, ``models:/NAME@ALIAS``, ``models:/NAME/latest``: ``mlflow_registry``;
* ``dvc:PATH`` (with an optional ``rev``): ``dvc_repo``;
* ``hf:ORG/NAME`` or ``hf:ORG/NAME@REVISION`` (the Hugging Face Hub): ``hub``.
"""

from __future__ import annotations

from pathlib import Path

from llm_gitops.config.schema import ModelSourceSpec
from llm_gitops.errors import ModelSourceError
from llm_gitops.models.adapters import is_adapter, resolve_adapter
from llm_gitops.models.digest import model_digest
from llm_gitops.models.resolved import ResolvedModel
from llm_gitops.models.sources import dvc_repo, hub, local, mlflow_registry
from llm_gitops.models.sources.base import Fetched, ModelSource
from llm_gitops.workspace import cache_dir

# Kind -> module. The local kind (PREFIX "") takes whatever no other prefix claims.
SOURCES: dict[str, ModelSource] = {
    mlflow_registry.KIND: mlflow_registry,
    dvc_repo.KIND: dvc_repo,
    hub.KIND: hub,
    local.KIND: local,
}

__all__ = ["SOURCES", "Fetched", "ModelSource", "resolve_model", "source_forms", "source_kind"]


def source_forms() -> str:
    """Every way to write a model source, for help texts ("a directory, models:/..., dvc:PATH")."""
    kinds = sorted(SOURCES.values(), key=lambda kind: kind.PREFIX != "")  # the local directory first
    return ", ".join(getattr(kind, "FORMS", None) or f"{kind.PREFIX}NAME" for kind in kinds)


def source_kind(source: str) -> ModelSource:
    """The kind that handles ``source``: the longest matching prefix, else the local one."""
    prefixed = [kind for kind in SOURCES.values() if kind.PREFIX and source.startswith(kind.PREFIX)]
    return max(prefixed, key=lambda kind: len(kind.PREFIX)) if prefixed else SOURCES[local.KIND]


def resolve_model(spec: ModelSourceSpec | str, *, base_dir: Path, tracking_uri: str | None = None) -> ResolvedModel:
    """Fetch (if needed), validate and digest the model ``spec`` names.

    ``tracking_uri`` is the MLflow store for ``models:/`` URIs; None means the default
    store under ``base_dir``'s state directory. Raises ``ModelSourceError`` for a missing
    or broken directory, an unknown registered model/version/alias or an untracked or
    unfetchable DVC path, and ``ExternalServiceError`` when a server cannot be reached.
    """
    if isinstance(spec, str):
        if not spec.strip():
            raise ModelSourceError("the model source is empty", hint="give a directory, models:/NAME@ALIAS or dvc:PATH")
        spec = ModelSourceSpec(source=spec)
    kind = source_kind(spec.source)
    base_dir = Path(base_dir).resolve()
    fetched = kind.fetch(spec, base_dir=base_dir, tracking_uri=tracking_uri)
    if is_adapter(fetched.path):
        # A LoRA/PEFT adapter: its base is resolved as a source of its own.
        return resolve_adapter(
            fetched.path,
            fetched.label,
            override=spec.base,
            resolve=lambda source: resolve_model(source, base_dir=base_dir, tracking_uri=tracking_uri),
            view_root=cache_dir(base_dir) / "models" / "adapters",
        )
    if spec.base:
        raise ModelSourceError(
            f"{spec.source}: 'base' applies only to adapter directories (with adapter_config.json)",
            hint="drop 'base' for a whole model",
        )
    return ResolvedModel(path=fetched.path, digest=model_digest(fetched.path), source=fetched.label, kind=kind.KIND)
