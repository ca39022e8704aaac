"""``llm-gitops quantize``: compress a model into an artifact directory, optionally
searching the methods for the best one within an accuracy budget."""

from __future__ import annotations

from pathlib import Path

import click
from pydantic import ValidationError

from llm_gitops.commands.eval import progress_printer, resolve_command_model
from llm_gitops.commands.options import config_option, model_option
from llm_gitops.commands.preflight import check_output_dir
from llm_gitops.config.load import find_config, load_config
from llm_gitops.config.schema import Config, QuantizeSection
from llm_gitops.errors import ConfigError
from llm_gitops.quantize.registry import QUANTIZERS


def _methods_help() -> str:
    width = max(len(name) for name in QUANTIZERS)
    return "\n".join(f"  {name.ljust(width)}  {q.summary}" for name, q in QUANTIZERS.items())


def _load(config_path: Path | None) -> Config:
    """The given or nearest config; without one, the defaults (quantize needs no eval)."""
    if config_path is not None:
        return load_config(config_path)
    found = find_config()
    return load_config(found) if found is not None else Config(version=1)


def _section(config: Config, **overrides) -> QuantizeSection:
    """``config.quantize`` with the flags that were given, validated like the file."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        current = {name: getattr(config.quantize, name) for name in QuantizeSection.model_fields}
        return QuantizeSection.model_validate({**current, **given})
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "?"
        msg = err["msg"].removeprefix("Value error, ")
        raise ConfigError(f"--{field.replace('_', '-')} {given.get(field)!r}: {msg}") from None


HELP = f"""Quantize, prune or distill a model into an artifact directory.

The artifact holds the compressed weights, the tokenizer and a manifest
(llm-gitops-artifact.json: method, parameters, source and artifact digests, sizes,
library versions). eval, bench, gate and serve load it like any model directory.
The output is written atomically: a failure leaves nothing behind.

\b
Methods (--method, or the first of quantize.methods):
{_methods_help()}

With --budget (or quantize.budget) every method in quantize.methods is tried, the
artifact and the source are evaluated on eval.tasks, and each drop is judged by the
gate's own test (a max_drop threshold per metric). The smallest (or, with --prefer
fastest, the fastest) artifact within budget is kept at --output; exit 1 if none is.

\b
Examples:
  llm-gitops quantize --model ./model --output ./model-int8
  llm-gitops quantize --model ./model --output ./model-pruned --method prune --sparsity 0.3
  llm-gitops quantize --model models:/adder@production --output ./small --budget 1pt
  llm-gitops quantize --model ./model --output ./fast --budget 2pt --prefer fastest --keep-all ./tried
"""


@click.command("quantize", help=HELP)
@config_option("Config file (default: the nearest .llm-gitops.yaml; none is needed without --budget).")
@model_option("Source model")
@click.option("--output", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Artifact directory to write (replaced if it is an earlier artifact).")
@click.option("--method", type=click.Choice(list(QUANTIZERS)), default=None,
              help="Method to use (with --budget: the only method tried).")
@click.option("--budget", default=None, metavar="DROP",
              help="Accuracy drop allowed vs the source: 0.02, 2pt or 5% (overrides quantize.budget).")
@click.option("--no-budget", is_flag=True, help="Ignore quantize.budget: just quantize with one method.")
@click.option("--sparsity", type=float, default=None, help="prune: fraction of weights to zero (overrides quantize.sparsity).")
@click.option("--prefer", type=click.Choice(["smallest", "fastest"]), default=None,
              help="Budget search: keep the smallest or the fastest artifact within budget (quantize.prefer).")
@click.option("--keep-all", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Budget search: move the artifacts not chosen to DIR/<method> instead of deleting them.")
@click.option("--no-cache", is_flag=True, help="Budget search: ignore and don't update the eval result cache.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
def command(config_path: Path | None, model_source: str | None, output: Path, method: str | None, budget: str | None,
            no_budget: bool, sparsity: float | None, prefer: str | None, keep_all: Path | None, no_cache: bool, quiet: bool) -> None:
    from llm_gitops.quantize.base import QuantizeParams
    from llm_gitops.workspace import cache_dir

    config = _load(config_path)
    section = _section(config, budget=budget, sparsity=sparsity, prefer=prefer)
    params = QuantizeParams.from_section(section, base_dir=config.base_dir)
    say = progress_printer(quiet)
    if budget is not None and no_budget:
        raise ConfigError("--budget and --no-budget contradict each other", hint="give one of them")
    # Where the artifact (and the artifacts not chosen) will go is checked before any work.
    check_output_dir(output, "--output")
    if keep_all is not None:
        check_output_dir(keep_all, "--keep-all")

    if section.budget is None or no_budget:
        from llm_gitops.quantize.artifact import build_artifact

        chosen_method = method or section.methods[0]
        source = resolve_command_model(config, model_source)
        artifact = build_artifact(source, output, chosen_method, params, say)
        click.echo(
            f"{artifact.method}: {artifact.path} ({artifact.size_bytes / 1e6:.2f} MB, {artifact.size_ratio:.2f}x "
            f"the source) {artifact.digest}"
        )
        return

    from llm_gitops.evaluation.tasks import resolve_tasks
    from llm_gitops.quantize.budget import format_table, require_choice, run_budget

    if config.eval.tasks:
        resolve_tasks(config.eval, base_dir=config.base_dir)  # task files are checked before any work
    source = resolve_command_model(config, model_source)
    result = run_budget(
        source,
        output,
        config=config,
        budget=section.budget,
        methods=[method] if method else list(section.methods),
        prefer=section.prefer,
        params=params,
        cache_root=None if no_cache else cache_dir(config.base_dir),
        keep_all=keep_all,
        progress=say,
    )
    click.echo(f"budget {result.budget} (prefer {result.prefer}), source {source.source}:")
    click.echo(format_table(result))
    for name, path in result.kept.items():
        click.echo(f"kept {name}: {path}")
    chosen = require_choice(result)
    click.echo(f"chose {chosen.method}: {chosen.artifact.path} ({chosen.artifact.size_ratio:.2f}x) {chosen.artifact.digest}")
