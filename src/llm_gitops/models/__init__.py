"""Model sources (local dir, MLflow registry, DVC), content digests and loading."""

from llm_gitops.models.resolved import ResolvedModel

__all__ = ["ResolvedModel"]
