"""The bench results file (``schema: llm-gitops/perf-results/v1``).

::

    {
      "schema": "llm-gitops/perf-results/v1",
      "model": {"digest": "sha256:...", "source": "./model"},
      "settings": {"prompts": [...], "max_new_tokens": 16, "warmup": 2, "repeats": 5, "threads": 2},
      "machine": {"cpu": "...", "cores": 2, "torch": "2.13.0"},
      "metrics": {
        "load_time_s":       {"value": 0.41, "unit": "s",   "higher_is_better": false, "samples": [...]},
        "ttft_ms":           {"value": 3.1,  "unit": "ms",  "higher_is_better": false, "samples": [...]},
        "latency_p50_ms":    {"value": 2.0,  "unit": "ms",  "higher_is_better": false, "samples": [...]},
        "latency_p95_ms":    {...}, "tokens_per_s": {...}, "peak_rss_mb": {...}, "size_on_disk_mb": {...}
      },
      "created_at": "...", "duration_s": 3.2, "cache_key": "..."
    }

Gate thresholds name these as ``perf/<metric>``. ``samples`` are per-repeat values (per
token for latency) that let the gate tell noise from a real slowdown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PERF_SCHEMA = "llm-gitops/perf-results/v1"

PERF_METRICS = (
    "load_time_s",
    "ttft_ms",
    "latency_p50_ms",
    "latency_p95_ms",
    "tokens_per_s",
    "peak_rss_mb",
    "size_on_disk_mb",
)


@dataclass(frozen=True)
class PerfMetric:
    name: str
    value: float
    unit: str
    higher_is_better: bool
    samples: tuple[float, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "unit": self.unit, "higher_is_better": self.higher_is_better, "samples": list(self.samples)}


@dataclass(frozen=True)
class PerfResults:
    model_digest: str
    model_source: str
    settings: dict[str, Any]
    machine: dict[str, Any]
    metrics: dict[str, PerfMetric]
    created_at: str
    duration_s: float
    cache_key: str = ""
    cached: bool = field(default=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": PERF_SCHEMA,
            "model": {"digest": self.model_digest, "source": self.model_source},
            "settings": dict(self.settings),
            "machine": dict(self.machine),
            "metrics": {k: m.to_json() for k, m in sorted(self.metrics.items())},
            "created_at": self.created_at,
            "duration_s": self.duration_s,
            "cache_key": self.cache_key,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], *, cached: bool = False) -> "PerfResults":
        if data.get("schema") != PERF_SCHEMA:
            raise ValueError(f"not a perf results file (schema {data.get('schema')!r}, expected {PERF_SCHEMA!r})")
        return cls(
            model_digest=data["model"]["digest"],
            model_source=data["model"].get("source", ""),
            settings=dict(data.get("settings") or {}),
            machine=dict(data.get("machine") or {}),
            metrics={
                k: PerfMetric(k, float(v["value"]), v.get("unit", ""), bool(v.get("higher_is_better", False)), tuple(v.get("samples", ())))
                for k, v in data["metrics"].items()
            },
            created_at=data.get("created_at", ""),
            duration_s=float(data.get("duration_s", 0.0)),
            cache_key=data.get("cache_key", ""),
            cached=cached,
        )
