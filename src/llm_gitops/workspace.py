"""Where llm-gitops keeps its state in a repo: ``<repo>/.llm-gitops/``.

``LLM_GITOPS_STATE_DIR`` overrides it (CI caches, read-only checkouts).
"""

from __future__ import annotations

import os
from pathlib import Path

STATE_DIRNAME = ".llm-gitops"


def state_dir(base_dir: Path) -> Path:
    override = os.environ.get("LLM_GITOPS_STATE_DIR")
    return Path(override).resolve() if override else (Path(base_dir) / STATE_DIRNAME).resolve()


def cache_dir(base_dir: Path) -> Path:
    return state_dir(base_dir) / "cache"


def user_cache_dir() -> Path:
    """Per-user cache shared by every repo (``LLM_GITOPS_CACHE_DIR``, else XDG's cache dir)."""
    override = os.environ.get("LLM_GITOPS_CACHE_DIR")
    if override:
        return Path(override).resolve()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "llm-gitops"
