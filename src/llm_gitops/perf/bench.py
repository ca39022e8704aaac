"""``bench``: load time, time to first token, per-token latency, throughput, memory, size.

Measurements run in a child process (``llm_gitops.perf.measure``) so that they describe
the model alone. Results are cached like evals: the key covers the model digest, the
perf settings, the torch version and the machine (CPU model, cores, threads), so a
number measured on one runner is never reused on another kind.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

from llm_gitops.cache import ResultCache, content_key
from llm_gitops.config.schema import PerfSection
from llm_gitops.errors import ModelSourceError
from llm_gitops.machine_lock import alone_on_this_machine
from llm_gitops.models.digest import digest_files, is_weight_file
from llm_gitops.models.resolved import ResolvedModel
from llm_gitops.perf.results import PERF_SCHEMA, PerfMetric, PerfResults
from llm_gitops.timestamps import utc_timestamp

CACHE_NAMESPACE = "perf"
# Bump when a change here alters measurements for the same inputs.
BENCH_REVISION = 1
MB = 1024 * 1024  # reported "MB" are MiB, like RSS figures from the kernel


def cpu_model() -> str:
    """The CPU's model name (``platform.processor()`` is empty on most Linux systems)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(settings: PerfSection) -> dict[str, Any]:
    """What the numbers depend on besides the model (no torch import)."""
    try:
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch_version = "not-installed"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return {
        "cpu": cpu_model(),
        "cores": cores,
        "threads": settings.threads,
        "torch": torch_version,
        "python": platform.python_version(),
    }


def perf_settings(settings: PerfSection) -> dict[str, Any]:
    return settings.model_dump(mode="json")


def bench_cache_key(model_digest: str, settings: dict[str, Any], machine: dict[str, Any]) -> str:
    return content_key(
        {"schema": PERF_SCHEMA, "bench": BENCH_REVISION, "model": model_digest, "settings": settings, "machine": machine}
    )


def size_on_disk_mb(model_dir: Path) -> float:
    """MB of weight files (tokenizer and config files are noise next to them)."""
    return sum(p.stat().st_size for p in digest_files(model_dir) if is_weight_file(p)) / MB


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), linear interpolation like numpy's default."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summarize(raw: dict[str, Any], size_mb: float) -> dict[str, PerfMetric]:
    """The PERF_METRICS from the measuring process's raw samples."""
    token_ms = [float(v) for v in raw["token_ms"]]
    r3 = lambda v: round(float(v), 3)  # noqa: E731 - sub-microsecond digits are noise
    return {
        "load_time_s": PerfMetric("load_time_s", r3(statistics.median(raw["load_time_s"])), "s", False, tuple(map(r3, raw["load_time_s"]))),
        "ttft_ms": PerfMetric("ttft_ms", r3(statistics.median(raw["ttft_ms"])), "ms", False, tuple(map(r3, raw["ttft_ms"]))),
        "latency_p50_ms": PerfMetric("latency_p50_ms", r3(percentile(token_ms, 50)), "ms", False, tuple(map(r3, token_ms))),
        "latency_p95_ms": PerfMetric("latency_p95_ms", r3(percentile(token_ms, 95)), "ms", False, tuple(map(r3, token_ms))),
        "tokens_per_s": PerfMetric("tokens_per_s", r3(statistics.median(raw["tokens_per_s"])), "tokens/s", True, tuple(map(r3, raw["tokens_per_s"]))),
        "peak_rss_mb": PerfMetric("peak_rss_mb", r3(raw["peak_rss_mb"]), "MB", False, (r3(raw["peak_rss_mb"]),)),
        "size_on_disk_mb": PerfMetric("size_on_disk_mb", r3(size_mb), "MB", False, (r3(size_mb),)),
    }


def _measure_in_child(model: ResolvedModel, settings: dict[str, Any]) -> dict[str, Any]:
    request = json.dumps({"model_dir": str(model.path), "settings": settings})
    proc = subprocess.run(
        [sys.executable, "-m", "llm_gitops.perf.measure"],
        input=request,
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        answer = json.loads(proc.stdout) if proc.stdout.strip() else None
    except ValueError:
        answer = None
    if proc.returncode == 0 and isinstance(answer, dict) and "error" not in answer:
        return answer
    if isinstance(answer, dict) and "error" in answer:
        if answer.get("usage"):
            raise ModelSourceError(f"bench: {answer['error']}")
        raise ModelSourceError(
            f"bench: cannot load or run {model.source}: {answer['type']}: {answer['error']}",
            hint="check that the directory is a causal LM that 'transformers' can load",
        )
    tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
    raise RuntimeError(f"the bench's measuring process failed (exit {proc.returncode}):\n{tail}")


def run_bench(
    model: ResolvedModel,
    settings: PerfSection,
    *,
    cache_root: Path | None,
    progress: Callable[[str], None] | None = None,
) -> PerfResults:
    """Measure ``model`` (or answer from the cache; ``cache_root`` None disables it)."""
    say = progress or (lambda _msg: None)
    recorded = perf_settings(settings)
    machine = machine_info(settings)
    key = bench_cache_key(model.digest, recorded, machine)
    cache = ResultCache(cache_root, CACHE_NAMESPACE) if cache_root is not None else None
    if (cached := _cached(cache, key, model, say)) is not None:
        return cached
    # One benchmark of this machine at a time, whatever its model or cache: two at once (two
    # CI jobs on one runner) would each measure the other's load. The one waited for may
    # have measured this very model.
    with alone_on_this_machine("bench", on_wait=lambda: say("bench: waiting for another llm-gitops benchmark on "
                                                            "this machine to finish (they run one at a time)")):
        if (cached := _cached(cache, key, model, say)) is not None:
            return cached
        say(
            f"bench: measuring {model.source} ({model.short_digest}): {settings.warmup} warm-up + "
            f"{settings.repeats} repeats x {len(settings.prompts)} prompts x {settings.max_new_tokens} tokens"
        )
        started = time.perf_counter()
        raw = _measure_in_child(model, recorded)
        machine = {**machine, "threads_used": raw.get("threads")}
        duration = round(time.perf_counter() - started, 3)
        results = PerfResults(
            model_digest=model.digest,
            model_source=model.source,
            settings=recorded,
            machine=machine,
            metrics=summarize(raw, size_on_disk_mb(model.path)),
            created_at=utc_timestamp(),
            duration_s=duration,
            cache_key=key,
        )
        if cache is not None:
            cache.put(key, results.to_json())
        say(f"bench: done in {duration:.1f}s")
        return results


def _cached(cache: ResultCache | None, key: str, model: ResolvedModel, say: Callable[[str], None]) -> PerfResults | None:
    """The cache's results under ``key`` for ``model``; None when absent or from an incompatible build."""
    hit = cache.get(key) if cache is not None else None
    if hit is None:
        return None
    try:
        results = PerfResults.from_json(hit, cached=True)
    except (KeyError, TypeError, ValueError):
        return None
    say(f"bench: cache hit for {model.short_digest}")
    return replace(results, model_source=model.source)
