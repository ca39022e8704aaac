"""``llm-gitops validate-config``: parse, validate and summarise the config."""

from __future__ import annotations

import json
from pathlib import Path

import click

from llm_gitops.commands.options import config_option
from llm_gitops.config import load_config


@click.command("validate-config")
@config_option(dir_okay=True)
@click.option("--json", "as_json", is_flag=True, help="Print the resolved config as JSON.")
@click.option("--check-tasks/--no-check-tasks", default=True, show_default=True,
              help="Also check eval tasks, that every threshold names a metric a task produces and that "
                   "every smoke eval names one of eval.tasks.")
def command(config_path: Path | None, as_json: bool, check_tasks: bool) -> None:
    """Check .llm-gitops.yaml and print what it resolves to.

    Exit 0 when valid; exit 2 with FILE:LINE: FIELD: problem; fix on the first error.

    \b
    Examples:
      llm-gitops validate-config
      llm-gitops validate-config --config examples/repo-template/.llm-gitops.yaml --json
    """
    config = load_config(config_path)
    from llm_gitops.gate.metrics import available_metrics, check_smoke_eval_tasks, check_thresholds

    # What the gate would refuse is refused here, with the same message.
    if check_tasks:
        known = available_metrics(config)  # loads the tasks: checked even when no threshold names their metrics
        check_thresholds(config, known)
        check_smoke_eval_tasks(config, known)
    else:
        check_thresholds(config)
    if as_json:
        click.echo(json.dumps(config.model_dump(mode="json"), indent=2))
        return
    click.echo(f"{config.path}: valid (version {config.version})")
    models = config.models
    click.echo(f"  candidate: {models.candidate.source if models.candidate else '(from --candidate)'}")
    if models.baseline:
        click.echo(f"  baseline:  {models.baseline.source}")
    else:
        # The gate says the same: a first model is not blocked for lack of a baseline.
        from llm_gitops.gate.outcome import BASELINE_HOWTO, NO_BASELINE_YET

        click.echo(f"  baseline:  (none) {NO_BASELINE_YET}; {BASELINE_HOWTO}")
    click.echo(f"  eval tasks: {', '.join(t.label for t in config.eval.tasks) or '(none)'}")
    for t in config.thresholds:
        bounds = [f"{k}={v}" for k, v in (("min", t.min), ("max", t.max), ("max_drop", t.max_drop), ("hard_max_drop", t.hard_max_drop)) if v is not None]
        click.echo(f"  threshold {t.metric}: {', '.join(bounds)}")
