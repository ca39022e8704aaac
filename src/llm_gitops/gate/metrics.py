"""Which metrics a config's thresholds may name, checked before any model is loaded.

Shared by ``validate-config`` and ``gate`` so both reject a threshold on a metric that no
task produces with the same message.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from llm_gitops.config.schema import Config
from llm_gitops.errors import ConfigError
from llm_gitops.perf.results import PERF_METRICS

if TYPE_CHECKING:
    from llm_gitops.evaluation.tasks import TaskSuite


def available_metrics(config: Config, suite: TaskSuite | None = None) -> set[str]:
    """Every ``TASK/METRIC`` the eval suite produces plus every ``perf/NAME``.

    ``suite``: ``eval.tasks`` resolved already (else they are resolved here).
    """
    from llm_gitops.evaluation.tasks import expected_metrics

    eval_metrics = expected_metrics(config.eval, base_dir=config.base_dir, suite=suite) if config.eval.tasks else set()
    return set(eval_metrics) | {f"perf/{name}" for name in PERF_METRICS}


def check_threshold_metrics(config: Config, known: set[str] | None = None) -> None:
    """Raise ``ConfigError`` for the first threshold whose metric nothing produces.

    ``known``: ``available_metrics(config)``, when the caller has it already.
    """
    if not config.thresholds:
        return
    known = available_metrics(config) if known is None else known
    for index, threshold in enumerate(config.thresholds):
        if threshold.metric in known:
            continue
        close = difflib.get_close_matches(threshold.metric, sorted(known), n=1)
        hint = (f"did you mean {close[0]!r}? " if close else "") + f"available: {', '.join(sorted(known))}"
        raise ConfigError(
            f"{config.where('thresholds', index, 'metric')}: thresholds[{index}].metric: no task produces {threshold.metric!r}",
            hint=hint,
        )


def check_smoke_eval_tasks(config: Config, known: set[str]) -> None:
    """Raise ``ConfigError`` for a smoke eval task that ``eval.tasks`` does not produce.

    A release records the gated eval, which runs ``eval.tasks``: a smoke eval naming any
    other task would be refused at deploy time, when a release is on its way out.
    ``known``: ``available_metrics(config)``.
    """
    tasks = sorted({key.split("/", 1)[0] for key in known if not key.startswith("perf/")})
    for env, spec in config.environments.items():
        smoke = spec.analysis.smoke_eval
        if smoke is None or not smoke.tasks:
            continue
        for index, name in enumerate(smoke.tasks):
            if name in tasks:
                continue
            field = f"environments.{env}.analysis.smoke_eval.tasks[{index}]"
            close = difflib.get_close_matches(name, tasks, n=1)
            raise ConfigError(
                f"{config.where('environments', env, 'analysis', 'smoke_eval', 'tasks', index)}: {field}: "
                f"{name!r} is not a task of eval.tasks, so no release records it",
                hint=(f"did you mean {close[0]!r}? " if close else "") + f"tasks: {', '.join(tasks) or '(none)'}",
            )
