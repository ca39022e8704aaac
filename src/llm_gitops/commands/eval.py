"""``llm-gitops eval``: run the config's lm-eval suite on one model and write the results."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import click

from llm_gitops.cache import write_atomic
from llm_gitops.commands.options import config_option, model_option
from llm_gitops.commands.preflight import check_output_dir, check_output_file, command_model, source_flag
from llm_gitops.config import load_config
from llm_gitops.config.schema import Config
from llm_gitops.models.resolved import ResolvedModel
from llm_gitops.workspace import cache_dir, state_dir


def resolve_command_model(config: Config, source: str | None) -> ResolvedModel:
    """The model ``--model`` names, else ``models.candidate``: resolved and validated
    (``preflight.command_model``) before anything is loaded or written."""
    return command_model(config, source_flag(source, "--model") or config.models.candidate, flag="--model")


def default_output(config: Config, kind: str, model: ResolvedModel) -> Path:
    return state_dir(config.base_dir) / "results" / f"{kind}-{model.short_digest}.json"


def check_results_outputs(config: Config, output: Path | None, *, no_cache: bool) -> None:
    """Before measuring: the results file (``--output``, else the state directory) and the cache can be written."""
    if output is not None:
        check_output_file(output, "--output")
    else:
        check_output_dir(state_dir(config.base_dir) / "results", "the results directory (.llm-gitops/results)")
    if not no_cache:
        check_output_dir(cache_dir(config.base_dir), "the cache directory (.llm-gitops/cache)")


def progress_printer(quiet: bool = False):
    return (lambda _msg: None) if quiet else (lambda msg: click.echo(msg, err=True))


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


@click.command("eval")
@config_option()
@model_option("Model to evaluate (with eval.backend: local-completions, only its tokenizer is used)")
@click.option("--output", "output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Results JSON to write (default: .llm-gitops/results/eval-<digest>.json, the evaluated "
                   "model's digest).")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Samples per task (overrides eval.limit; eval.sampling picks which).")
@click.option("--no-cache", is_flag=True, help="Ignore and don't update the result cache.")
def command(config_path: Path | None, model_source: str | None, output: Path | None, limit: int | None,
            no_cache: bool) -> None:
    """Run the lm-eval suite (eval.tasks) on a model and write its results JSON.

    Results are cached by content: the model's digest, each task's config and data
    files, the eval settings and the lm-eval version. Re-running on unchanged
    inputs answers from .llm-gitops/cache/ without loading the model.

    With eval.backend: local-completions the model evaluated is the one served at
    eval.endpoint: --model (or models.candidate) only supplies the tokenizer, unless
    eval.tokenizer names one. The results, their file name and the cache key carry
    the served model's digest when the server reports one (llm-gitops serve does);
    otherwise they name the endpoint, and nothing is cached.

    \b
    Examples:
      llm-gitops eval --model ./model
      llm-gitops eval --model models:/adder@production --limit 100 --output base.json
      llm-gitops eval --config ci/.llm-gitops.yaml --no-cache

    \b
    The results file (schema llm-gitops/eval-results/v1, see docs/results-schema.md):
      {"schema": "llm-gitops/eval-results/v1",
       "model": {"digest": "sha256:...", "source": "./model"},
       "harness": {"name": "lm-eval", "version": "0.4.x"},
       "task_config_hash": "sha256:...", "settings": {"limit": 200, ...},
       "metrics": {"add_em/exact_match": {"task", "metric", "value", "stderr",
                   "n", "higher_is_better", "samples": {"doc_ids", "scores"}}},
       "created_at": "...", "duration_s": 6.1, "cache_key": "..."}
    Metric keys are TASK/METRIC, the names thresholds use.
    """
    config = load_config(config_path)
    settings = config.eval if limit is None else config.eval.model_copy(update={"limit": limit})
    say = progress_printer()
    from llm_gitops.evaluation.endpoint import located
    from llm_gitops.evaluation.runner import run_eval
    from llm_gitops.evaluation.tasks import resolve_tasks

    # Task files and output paths are checked before a model is fetched or loaded.
    resolve_tasks(settings, base_dir=config.base_dir)
    check_results_outputs(config, output, no_cache=no_cache)
    model = resolve_command_model(config, model_source)
    with located(config.where):
        results = run_eval(model, settings, base_dir=config.base_dir,
                           cache_root=None if no_cache else cache_dir(config.base_dir), progress=say)
    # What was evaluated: the model itself, or with local-completions the served one
    # (--model then only gave the tokenizer); its digest names the file and the line.
    model = replace(model, digest=results.model_digest, source=results.model_source)
    path = output or default_output(config, "eval", model)
    write_atomic(path, json.dumps(results.to_json(), indent=2) + "\n")

    rows = [("metric", "value", "stderr", "n")]
    rows += [(k, _fmt(m.value), _fmt(m.stderr), str(m.n)) for k, m in sorted(results.metrics.items())]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    click.echo(f"model {model.source} ({model.digest[:19]}){'  [cached]' if results.cached else ''}")
    for row in rows:
        click.echo("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    click.echo(f"wrote {path}")
