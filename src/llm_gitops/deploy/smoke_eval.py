"""The smoke eval of a preview colour: the release's recorded eval, asked of the live server.

``plan_smoke_eval`` is settled before anything is deployed (a release that records no
eval, a task that is not recorded or whose config changed since, no tokenizer: one
clear error, exit 2, nothing started). ``run_smoke_eval`` then evaluates the preview's
endpoint with the gate's ``local-completions`` backend on the recorded documents, pairs
each served per-document score with the recorded one, and decides every metric with
the gate's own rule (``gate.policy.decide``: non-inferiority on the paired scores within
``max_drop``, Holm over the metrics). The preview's answers are never cached: each
deploy asks the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from llm_gitops.config.environments import SmokeEval
from llm_gitops.config.schema import EvalSection, GateSection, Threshold
from llm_gitops.errors import ConfigError, LlmGitopsError
from llm_gitops.evaluation.results import EvalResults, MetricResult
from llm_gitops.release.record import Release

# verdict of the gate's rule -> how the analysis ends (Argo Rollouts' words)
_STATUS = {"pass": "Successful", "fail": "Failed", "inconclusive": "Inconclusive", "error": "Error"}


@dataclass(frozen=True)
class SmokeEvalPlan:
    """What a smoke eval asks and what it compares with, checked before the deploy starts."""

    release_id: str
    spec: SmokeEval
    settings: EvalSection  # the config's tasks with the recorded eval's settings, for the served model
    base_dir: Path
    tokenizer: Path
    documents: dict[str, list[int]]  # task -> doc ids to evaluate
    recorded: EvalResults  # the release's scores on those documents
    gate: GateSection
    field: str  # the config field, for messages


@dataclass(frozen=True)
class SmokeEvalCheck:
    """One metric's verdict, with every value that decided it (for the deploy record)."""

    metric: str
    verdict: str  # pass | fail | inconclusive | error
    n: int | None
    recorded: float | None
    served: float | None
    allowed_drop: float | None
    bound: float | None  # the degradation bound that decided (or came nearest to deciding)
    reason: str


@dataclass(frozen=True)
class SmokeEvalResult:
    status: str  # Successful | Failed | Inconclusive | Error
    reason: str
    checks: tuple[SmokeEvalCheck, ...] = ()


def _first_recorded(task: str, recorded_ids: set[int], settings: dict, limit: int) -> list[int]:
    """The first ``limit`` recorded documents in the task's seeded order (the order they were recorded in)."""
    from llm_gitops.evaluation.runner import document_order

    size = (settings.get("split_sizes") or {}).get(task)
    if isinstance(size, int) and size > 0 and max(recorded_ids) < size:
        order = document_order(task, size, int(settings.get("seed") or 0), str(settings.get("sampling") or "random"))
        return sorted([d for d in order if d in recorded_ids][:limit])
    return sorted(recorded_ids)[:limit]


def _tokenizer(spec: SmokeEval, eval_settings: EvalSection, release: Release, base_dir: Path, field: str) -> Path:
    configured = spec.tokenizer or eval_settings.tokenizer
    if configured is not None:
        path = Path(configured).expanduser()
        path = path if path.is_absolute() else (base_dir / path).resolve()
        if not path.is_dir():
            raise ConfigError(f"{field}.tokenizer: {path} is not a directory",
                              hint="point it at the served model's tokenizer directory (relative to the config file)")
        return path
    guess = (base_dir / release.model_source).resolve() if release.model_source else None
    if guess is None or "://" in release.model_source or ":" in release.model_source.split("/", 1)[0] \
            or not guess.is_dir():
        raise ConfigError(f"{field}: the served model's tokenizer is needed and release {release.id}'s model "
                          f"({release.model_source}) is not a local directory here",
                          hint=f"set {field}.tokenizer (or eval.tokenizer) to a directory with its tokenizer")
    return guess


def check_recorded(release: Release, spec: SmokeEval, *, env: str) -> tuple[dict[str, MetricResult], list[str]]:
    """The release's recorded metrics and the tasks to ask; ConfigError when it recorded none of them.

    Needs only the release and the config, so the deploy command checks it before it
    touches the target; ``plan_smoke_eval`` checks the rest once there is work to do.
    """
    field = f"environments.{env}.analysis.smoke_eval"
    recorded = release.eval
    if recorded is None:
        raise ConfigError(f"{field}: release {release.id} records no eval to compare the preview with",
                          hint="make the release with 'llm-gitops release' from a gate report (it records the gated "
                          f"eval), or remove {field}")
    try:
        metrics = {key: MetricResult.from_json(m) for key, m in recorded.metrics.items()}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"release {release.id}: its recorded eval is not readable ({type(exc).__name__}: {exc})",
                          hint="make a new release with 'llm-gitops release'") from None
    have = sorted(recorded.task_configs)
    tasks = spec.tasks if spec.tasks is not None else have
    unknown = [t for t in tasks if t not in recorded.task_configs]
    if unknown:
        raise ConfigError(f"{field}.tasks: release {release.id} recorded no eval of {', '.join(unknown)}",
                          hint=f"use tasks it recorded: {', '.join(have)}")
    return metrics, tasks


def plan_smoke_eval(release: Release, spec: SmokeEval, eval_settings: EvalSection, gate: GateSection, *,
                    base_dir: Path, env: str) -> SmokeEvalPlan:
    """Check that the release's recorded eval can be asked of a preview; raise ConfigError."""
    from llm_gitops.evaluation.tasks import resolve_tasks

    field = f"environments.{env}.analysis.smoke_eval"
    metrics, tasks = check_recorded(release, spec, env=env)
    recorded = release.eval
    suite = resolve_tasks(eval_settings, base_dir=base_dir)
    digests = {t.name: t.config_hash for t in suite.tasks}
    for task in tasks:
        now = digests.get(task, suite.config_hash)
        if task not in digests and not suite.has_builtin:
            raise ConfigError(f"{field}: task {task!r}, which release {release.id} recorded, is not in eval.tasks",
                              hint=f"add it back to eval.tasks or leave it out of {field}.tasks")
        if now != recorded.task_configs[task]:
            raise ConfigError(f"{field}: task {task!r} changed (config or data) since release {release.id} was "
                              "gated: its scores no longer pair with the recorded ones",
                              hint=f"leave {task} out of {field}.tasks, or make a new release of a model gated on it")
    documents: dict[str, list[int]] = {}
    chosen: dict[str, MetricResult] = {}
    # lm-eval draws each document's few-shot examples in turn from one seeded generator:
    # only the very documents recorded get the same examples (and so the same scores).
    limit = spec.limit if not recorded.settings.get("num_fewshot") else None
    for key, metric in sorted(metrics.items()):
        if metric.task not in tasks or not metric.doc_ids:
            continue
        if metric.task not in documents:
            ids = set(metric.doc_ids)
            documents[metric.task] = _first_recorded(metric.task, ids, recorded.settings, limit or len(ids))
        chosen[key] = metric.on_documents(documents[metric.task])
    settings = eval_settings.model_copy(update={
        "backend": "local-completions", "device": "cpu", "dtype": "float32", "limit": None, "sequential": False,
        "max_limit": None, "sampling": recorded.settings.get("sampling") or "random",
        "seed": int(recorded.settings.get("seed") or 0), "num_fewshot": int(recorded.settings.get("num_fewshot") or 0),
        "max_gen_toks": recorded.settings.get("max_gen_toks"),
    })
    baseline = EvalResults(model_digest=recorded.model_digest, model_source=f"release {release.id} (recorded)",
                           harness_version=recorded.harness_version, task_config_hash="", settings=dict(recorded.settings),
                           metrics=chosen, created_at="", duration_s=0.0)
    return SmokeEvalPlan(release_id=release.id, spec=spec, settings=settings, base_dir=base_dir,
                         tokenizer=_tokenizer(spec, eval_settings, release, base_dir, field), documents=documents,
                         recorded=baseline, gate=gate, field=field)


def decide_smoke_eval(plan_recorded: EvalResults, served: EvalResults, spec: SmokeEval, gate: GateSection,
                      *, seed: int = 0) -> SmokeEvalResult:
    """The gate's rule on the served scores (candidate) vs the recorded ones (baseline)."""
    from llm_gitops.gate.policy import Measurements, decide

    thresholds = [Threshold(metric=key, max_drop=spec.max_drop) for key in sorted(plan_recorded.metrics)]
    outcome = decide(thresholds, candidate=Measurements(eval=served), baseline=Measurements(eval=plan_recorded),
                     gate=gate.model_copy(update={"on_inconclusive": spec.on_inconclusive}), seed=seed)
    checks = tuple(SmokeEvalCheck(metric=c.metric, verdict=c.verdict, n=c.n, recorded=c.baseline, served=c.candidate,
                                  allowed_drop=c.allowed_drop, bound=c.bound_value, reason=c.reason)
                   for c in outcome.checks)
    verdict = outcome.verdict
    status = _STATUS[verdict]
    if verdict == "inconclusive" and spec.on_inconclusive == "pass":
        status = "Successful"
    shown = "; ".join(c.reason for c in checks if c.verdict == verdict) or outcome.summary
    return SmokeEvalResult(status, f"smoke eval {verdict}: {shown}", checks)


def run_smoke_eval(plan: SmokeEvalPlan, endpoint: str, *,
                   progress: Callable[[str], None] = lambda _m: None) -> SmokeEvalResult:
    """Evaluate the colour at ``endpoint`` on the plan's documents and decide."""
    from llm_gitops.evaluation.runner import run_eval
    from llm_gitops.models.resolved import ResolvedModel

    settings = plan.settings.model_copy(update={"endpoint": endpoint})
    # The server is the model; the tokenizer directory stands in for its files (run_eval
    # keys nothing on it: the preview's answers are not cached).
    model = ResolvedModel(path=plan.tokenizer, digest=plan.recorded.model_digest, source=endpoint, kind="local")
    counts = ", ".join(f"{t} {len(d)}" for t, d in sorted(plan.documents.items()))
    progress(f"smoke eval: asking {endpoint} the documents release {plan.release_id} recorded ({counts})")
    try:
        served = run_eval(model, settings, base_dir=plan.base_dir, cache_root=None, progress=progress,
                          documents=plan.documents)
    except LlmGitopsError as exc:  # the endpoint is down or answers garbage (named as eval.endpoint)
        return SmokeEvalResult("Error", f"smoke eval could not ask the preview: {exc}")
    except Exception as exc:  # noqa: BLE001 - lm-eval's client fails in many ways; the preview is not promoted
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        return SmokeEvalResult("Error", f"smoke eval failed: {type(exc).__name__}: {first}")
    result = decide_smoke_eval(plan.recorded, served, plan.spec, plan.gate, seed=plan.settings.seed)
    for check in result.checks:
        progress(f"smoke eval {check.metric}: {check.verdict} ({check.reason})")
    return result
