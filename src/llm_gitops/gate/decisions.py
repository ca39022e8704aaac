"""The gate's decision cache: a rendered decision per content key, and where it was tracked.

The key (``gate.run.decision_key``) covers every measurement's cache key, the checked
thresholds, the gate policy and the models, so an entry is reused only for the same
decision. Each entry also remembers the MLflow runs already logged for it, per
(tracking store, commit): however often CI re-runs a job, one commit's decision is one
MLflow run.
"""

from __future__ import annotations

from pathlib import Path

from llm_gitops.cache import ResultCache
from llm_gitops.report.rendered import RenderedGate

NAMESPACE = "gate"


class DecisionCache:
    def __init__(self, root: Path):
        self._cache = ResultCache(root, NAMESPACE)

    def get(self, key: str) -> RenderedGate | None:
        entry = self._cache.get(key)
        if entry is None:
            return None
        try:
            return RenderedGate.from_json(entry)
        except (KeyError, TypeError, ValueError):
            return None  # an entry from an incompatible build: decide afresh

    def put(self, key: str, rendered: RenderedGate) -> None:
        entry = self._cache.get(key) or {}
        self._cache.put(key, {**entry, **rendered.to_json()})

    def tracked_run(self, key: str, store: str, commit: str) -> tuple[str, str | None] | None:
        """(run id, UI page or None) of the MLflow run already logged for this decision in
        ``store`` at ``commit``."""
        entry = self._cache.get(key) or {}
        for pair in entry.get("tracked", ()):
            if isinstance(pair, list) and len(pair) in (2, 3) and pair[0] == f"{store} {commit}":
                return str(pair[1]), (str(pair[2]) if len(pair) == 3 and pair[2] else None)
        return None

    def add_tracked(self, key: str, store: str, commit: str, run_id: str, url: str | None = None) -> None:
        entry = self._cache.get(key)
        if entry is None:
            return
        entry["tracked"] = [*entry.get("tracked", []), [f"{store} {commit}", run_id, url]]
        self._cache.put(key, entry)
