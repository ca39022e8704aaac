"""The eval results file: a stable, documented JSON schema (``schema: llm-gitops/eval-results/v1``).

::

    {
      "schema": "llm-gitops/eval-results/v1",
      "model": {"digest": "sha256:...", "source": "./model"},
      "harness": {"name": "lm-eval", "version": "0.4.x"},
      "task_config_hash": "sha256 over every task's resolved config",
      "settings": {"limit": 200, "sampling": "random", "num_fewshot": 0, "batch_size": 16, "seed": 1234, ...},
      "metrics": {
        "add_em/exact_match": {
          "task": "add_em", "metric": "exact_match", "value": 0.81, "stderr": 0.017,
          "n": 200, "higher_is_better": true,
          "samples": {"doc_ids": [3, 17, ...], "scores": [1.0, 0.0, ...]}
        }
      },
      "created_at": "2026-11-24T06:00:00Z", "duration_s": 6.1, "cache_key": "..."
    }

``samples`` holds the per-sample scores in doc-id order; the gate pairs candidate and
baseline samples by doc id for its paired significance test.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

EVAL_SCHEMA = "llm-gitops/eval-results/v1"


def agrees(computed: float, reported: float) -> bool:
    """Whether a value computed from per-sample scores is the reported one, up to the
    rounding of summing them in another order (relative 1e-6, absolute below 1)."""
    return computed == reported or abs(computed - reported) <= 1e-6 * max(1.0, abs(reported))


@dataclass(frozen=True)
class MetricResult:
    task: str
    metric: str
    value: float
    stderr: float | None
    n: int
    higher_is_better: bool
    doc_ids: tuple[int, ...] = ()
    scores: tuple[float, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.task}/{self.metric}"

    def is_mean_of_scores(self) -> bool:
        """Whether the value is the mean of the per-sample scores (so any subset of the
        documents has a value too); False without scores."""
        if not self.scores:
            return False
        return agrees(math.fsum(self.scores) / len(self.scores), self.value)

    def on_documents(self, docs: Iterable[int]) -> "MetricResult":
        """This metric over those of ``docs`` it was evaluated on, its value and stderr
        recomputed as a per-document mean (the caller knows the value is one)."""
        keep = set(docs)
        pairs = [(d, s) for d, s in zip(self.doc_ids, self.scores) if d in keep]
        scores = tuple(s for _, s in pairs)
        n = len(scores)
        value = math.fsum(scores) / n if n else float("nan")
        stderr = math.sqrt(math.fsum((s - value) ** 2 for s in scores) / (n - 1) / n) if n > 1 else None
        return replace(self, value=value, stderr=stderr, n=n, doc_ids=tuple(d for d, _ in pairs), scores=scores)

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "metric": self.metric,
            "value": self.value,
            "stderr": self.stderr,
            "n": self.n,
            "higher_is_better": self.higher_is_better,
            "samples": {"doc_ids": list(self.doc_ids), "scores": list(self.scores)},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "MetricResult":
        samples = data.get("samples") or {}
        return cls(
            task=data["task"],
            metric=data["metric"],
            value=float(data["value"]),
            stderr=None if data.get("stderr") is None else float(data["stderr"]),
            n=int(data["n"]),
            higher_is_better=bool(data.get("higher_is_better", True)),
            doc_ids=tuple(int(i) for i in samples.get("doc_ids", ())),
            scores=tuple(float(s) for s in samples.get("scores", ())),
        )


def sample_hash(doc_hash: str, prompt_hash: str, target_hash: str) -> str:
    """One evaluated document as lm-eval hashes it (its data, the prompt it was asked with,
    its target), shortened: ``"doc:prompt:target"``, 16 hex digits each."""
    return ":".join(h[:16] for h in (doc_hash, prompt_hash, target_hash))


@dataclass(frozen=True)
class EvalResults:
    model_digest: str
    model_source: str
    harness_version: str
    task_config_hash: str
    settings: dict[str, Any]
    metrics: dict[str, MetricResult]
    created_at: str
    duration_s: float
    cache_key: str = ""
    cached: bool = field(default=False, compare=False)  # True when served from the cache
    # task -> doc id -> ``sample_hash``: what each document was, so that results from
    # elsewhere can be checked to be the same documents and prompts. Empty in results
    # cached before it was recorded.
    sample_hashes: dict[str, dict[int, str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": EVAL_SCHEMA,
            "model": {"digest": self.model_digest, "source": self.model_source},
            "harness": {"name": "lm-eval", "version": self.harness_version},
            "task_config_hash": self.task_config_hash,
            "settings": dict(self.settings),
            "metrics": {k: m.to_json() for k, m in sorted(self.metrics.items())},
            "created_at": self.created_at,
            "duration_s": self.duration_s,
            "cache_key": self.cache_key,
            "sample_hashes": {task: {str(d): h for d, h in sorted(hashes.items())}
                              for task, hashes in sorted(self.sample_hashes.items())},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], *, cached: bool = False) -> "EvalResults":
        if data.get("schema") != EVAL_SCHEMA:
            raise ValueError(f"not an eval results file (schema {data.get('schema')!r}, expected {EVAL_SCHEMA!r})")
        return cls(
            model_digest=data["model"]["digest"],
            model_source=data["model"].get("source", ""),
            harness_version=data["harness"]["version"],
            task_config_hash=data["task_config_hash"],
            settings=dict(data.get("settings") or {}),
            metrics={k: MetricResult.from_json(v) for k, v in data["metrics"].items()},
            created_at=data.get("created_at", ""),
            duration_s=float(data.get("duration_s", 0.0)),
            cache_key=data.get("cache_key", ""),
            cached=cached,
            sample_hashes={task: {int(d): str(h) for d, h in hashes.items()}
                           for task, hashes in (data.get("sample_hashes") or {}).items()},
        )


