"""Which metrics a config's thresholds may name, checked before any model is loaded.

Shared by ``validate-config`` and ``gate`` so both reject a threshold the gate could not
decide as meant (on a metric that no task produces, or a bound that no value could meet)
with the same message. Only ``check_reported`` runs after the eval: the names a metric
function reports are known once it has run.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable

from llm_gitops.config.schema import Config, Drop, Threshold
from llm_gitops.errors import ConfigError
from llm_gitops.evaluation.tasks import ANY_METRIC, TaskSuite, expected_metrics
from llm_gitops.perf.results import PERF_METRICS


def available_metrics(config: Config, suite: TaskSuite | None = None) -> set[str]:
    """Every ``TASK/METRIC`` the eval suite produces plus every ``perf/NAME``.

    ``suite``: ``eval.tasks`` resolved already (else they are resolved here).
    """
    eval_metrics = expected_metrics(config.eval, base_dir=config.base_dir, suite=suite) if config.eval.tasks else set()
    return set(eval_metrics) | {f"perf/{name}" for name in PERF_METRICS}


# lm-eval metrics whose value is a share between 0 and 1 (the mean of per-document 0/1
# scores or fractions). On them a drop of 1 or more tolerates any drop at all: ``max_drop:
# 2`` meant as two points switches the check off. The base name, before any ",filter".
PROPORTION_METRICS = frozenset({"acc", "acc_norm", "acc_mutual_info", "exact_match", "em", "f1", "mc1", "mc2"})


def is_proportion(metric: str) -> bool:
    """Whether ``TASK/METRIC[,FILTER]`` is one of ``PROPORTION_METRICS``."""
    task, _, name = metric.partition("/")
    return task != "perf" and name.split(",", 1)[0] in PROPORTION_METRICS


def produces(known: set[str], metric: str) -> bool:
    """Whether ``metric`` is one of ``known`` (``available_metrics``), where ``TASK/*`` and
    ``TASK/*,FILTER`` stand for any metric name of that task and filter (a metric function's)."""
    if metric in known:
        return True
    task, _, rest = metric.partition("/")
    _, comma, filter_name = rest.partition(",")
    return f"{task}/{ANY_METRIC}{comma}{filter_name}" in known


def check_thresholds(config: Config, known: set[str] | None = None) -> None:
    """Raise ``ConfigError`` for the first threshold the gate could not decide as meant.

    Shared by ``validate-config`` and ``gate``: no thresholds at all; a metric that nothing
    produces (checked when ``known``, ``available_metrics(config)``, is given); on a
    share between 0 and 1, a bound no value could meet or a drop that tolerates any drop.
    """
    if not config.thresholds:
        raise ConfigError(
            f"{config.where('thresholds')}: thresholds: none configured, so the gate has nothing to decide",
            hint="add e.g. '- {metric: TASK/METRIC, max_drop: 2pt}' under thresholds (see 'llm-gitops init')",
        )
    for index, threshold in enumerate(config.thresholds):
        if known is not None and not produces(known, threshold.metric):
            _refuse_group_metric(config, index, threshold.metric, known)
            close = difflib.get_close_matches(threshold.metric, sorted(known), n=1)
            hint = (f"did you mean {close[0]!r}? " if close else "") + f"available: {', '.join(sorted(known))}"
            if any(f"/{ANY_METRIC}" in key for key in known):
                hint += f" ({ANY_METRIC}: any name the task's metric function reports)"
            raise ConfigError(f"{config.where('thresholds', index, 'metric')}: thresholds[{index}].metric: no task "
                              f"produces {threshold.metric!r}", hint=hint)
        if is_proportion(threshold.metric):
            _check_share_bounds(config, index, threshold)


def _check_share_bounds(config: Config, index: int, threshold: Threshold) -> None:
    metric = threshold.metric
    for field, bound, impossible, fix in (("min", threshold.min, lambda v: v > 1, "at most 1"),
                                          ("max", threshold.max, lambda v: v < 0, "at least 0")):
        if bound is not None and impossible(bound):
            example = f"e.g. {bound / 100:g} for {bound:g}%" if 1 < bound <= 100 else "a share between 0 and 1"
            raise ConfigError(f"{config.where('thresholds', index, field)}: thresholds[{index}].{field}: {bound:g} on "
                              f"{metric}, a share between 0 and 1: no value could pass",
                              hint=f"write a {field} {fix}, {example}")
    for field in ("max_drop", "hard_max_drop"):
        drop: Drop | None = getattr(threshold, field)
        # The most a drop of this size tolerates on a share: 1 is everything.
        if drop is None or drop.allowed(1.0) < 1:
            continue
        hint = (f"write '{drop.value:g}pt' for {drop.value:g} points (i.e. {drop.value / 100:g})"
                if drop.unit == "abs" and drop.value < 100 else "write a drop below 100pt, e.g. 2pt")
        raise ConfigError(f"{config.where('thresholds', index, field)}: thresholds[{index}].{field}: {drop} on "
                          f"{metric}, a share between 0 and 1, tolerates any drop", hint=hint)


def _refuse_group_metric(config: Config, index: int, metric: str, known: set[str]) -> None:
    """A threshold on a built-in group's or tag's own metric (``mmlu/acc``): the gate checks
    the metrics of the group's tasks, each on its own, and says so rather than only "no task
    produces it" beside a list of them."""
    group = metric.split("/", 1)[0]
    if group not in {t.name for t in config.eval.tasks if t.name} or any(k.split("/", 1)[0] == group for k in known):
        return
    name = metric.split("/", 1)[1] if "/" in metric else ""
    members = sorted(k for k in known if not k.startswith("perf/") and k.split("/", 1)[1] == name)
    if not members:
        return
    tasks = sorted({k.split("/", 1)[0] for k in members})
    shown = ", ".join(members[:3]) + (f" ... ({len(members)} in all)" if len(members) > 3 else "")
    raise ConfigError(f"{config.where('thresholds', index, 'metric')}: thresholds[{index}].metric: {group!r} is a "
                      f"group of {len(tasks)} tasks, and the gate checks each task's {name} on its own, not the "
                      "group's aggregate", hint=f"name its tasks' metrics, one threshold each: {shown}")


def check_reported(config: Config, thresholds: Iterable[Threshold], reported: Collection[str]) -> None:
    """Raise ``ConfigError`` for an eval threshold on a metric the candidate's eval did not
    report although it reported others of the task: a name a metric function was expected
    to report (``check_thresholds`` cannot know those before the run), or a typo of one."""
    for threshold in thresholds:
        if threshold.metric.startswith("perf/") or threshold.metric in reported:
            continue
        task = threshold.metric.split("/", 1)[0]
        same = sorted(key for key in reported if key.split("/", 1)[0] == task)
        if not same:
            continue  # nothing of the task at all: a failed measurement, which the policy reports
        index = config.thresholds.index(threshold)
        raise ConfigError(f"{config.where('thresholds', index, 'metric')}: thresholds[{index}].metric: the eval "
                          f"reported no {threshold.metric!r} (task {task!r} reported {', '.join(same)})",
                          hint="name one of those: what a metric function reports is known once it runs")


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
