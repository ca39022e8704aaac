"""``llm-gitops bench``: measure a model's speed, memory and size and write the results."""

from __future__ import annotations

import json
from pathlib import Path

import click

from llm_gitops.cache import write_atomic
from llm_gitops.commands.eval import check_results_outputs, default_output, progress_printer, resolve_command_model
from llm_gitops.commands.options import config_option, model_option
from llm_gitops.config import load_config
from llm_gitops.perf.results import PERF_METRICS
from llm_gitops.workspace import cache_dir


@click.command("bench")
@config_option()
@model_option("Model to measure")
@click.option("--output", "output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Results JSON to write (default: .llm-gitops/results/perf-<digest>.json).")
@click.option("--no-cache", is_flag=True, help="Ignore and don't update the result cache.")
def command(config_path: Path | None, model_source: str | None, output: Path | None, no_cache: bool) -> None:
    """Measure load time, latency, throughput, peak memory and size on disk.

    Settings come from the config's perf section (prompts, max_new_tokens, warmup,
    repeats, threads). Generation is greedy with the KV cache and always produces
    max_new_tokens tokens. The measuring runs in a fresh process. Results are cached
    by model digest, settings, torch version and machine (CPU model, cores).

    \b
    Examples:
      llm-gitops bench --model ./model
      llm-gitops bench --model models:/adder@production --output perf.json --no-cache

    \b
    The results file (schema llm-gitops/perf-results/v1, see docs/results-schema.md):
      {"schema": "llm-gitops/perf-results/v1",
       "model": {"digest": "sha256:...", "source": "./model"},
       "settings": {...}, "machine": {"cpu", "cores", "threads", "torch", ...},
       "metrics": {"load_time_s", "ttft_ms", "latency_p50_ms", "latency_p95_ms",
                   "tokens_per_s", "peak_rss_mb", "size_on_disk_mb":
                   {"value", "unit", "higher_is_better", "samples": [...]}},
       "created_at": "...", "duration_s": 3.2, "cache_key": "..."}
    Thresholds name these as perf/METRIC, e.g. perf/latency_p95_ms.
    """
    config = load_config(config_path)
    check_results_outputs(config, output, no_cache=no_cache)
    model = resolve_command_model(config, model_source)
    from llm_gitops.perf.bench import run_bench

    results = run_bench(
        model, config.perf, cache_root=None if no_cache else cache_dir(config.base_dir), progress=progress_printer()
    )
    path = output or default_output(config, "perf", model)
    write_atomic(path, json.dumps(results.to_json(), indent=2) + "\n")

    click.echo(f"model {model.source} ({model.digest[:19]}){'  [cached]' if results.cached else ''}")
    width = max(len(k) for k in results.metrics)
    for name in PERF_METRICS:
        metric = results.metrics[name]
        click.echo(f"  {name.ljust(width)}  {metric.value:>12.3f} {metric.unit}")
    click.echo(f"wrote {path}")
