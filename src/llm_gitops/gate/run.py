"""The gate's core: plan a run, measure candidate and baseline, decide, render.

``run_gate(request, progress=...)`` is what ``llm-gitops gate`` calls, and what deploy
analysis and chat-ops call: every input is explicit in the frozen :class:`GateRequest`
(no click, no environment). It returns a :class:`GateRun`: the :class:`GateOutcome` and
its rendered reports. Writing files and step outputs, posting and tracking are the
caller's; so is resolving model sources (``models.sources``), which happens before, so
that a bad source is an error before anything is measured.

Decisions are cached by content (``gate.decisions``): a re-run whose measurements,
thresholds and policy are unchanged reuses the rendered reports without importing
numpy/scipy (to decide) or matplotlib (to draw).
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from llm_gitops import __version__
from llm_gitops.cache import ResultCache, content_key
from llm_gitops.config.schema import Config, EvalSection, Threshold
from llm_gitops.errors import ConfigError, LlmGitopsError, MeasurementFailed
from llm_gitops.evaluation.results import EvalResults
from llm_gitops.evaluation.endpoint import UNKNOWN_SERVED_PREFIX
from llm_gitops.evaluation.tasks import TaskSuite, resolve_tasks
from llm_gitops.gate.decisions import DecisionCache
from llm_gitops.gate.outcome import GateOutcome, ModelInfo
from llm_gitops.logsafe import redact
from llm_gitops.models.resolved import ResolvedModel
from llm_gitops.report.rendered import RenderedGate
from llm_gitops.timestamps import utc_timestamp

PERF_PREFIX = "perf/"
Progress = Callable[[str], None]


def _quiet(_msg: str) -> None:
    pass


@dataclass(frozen=True)
class GatePlan:
    """What the gate will do, settled before any model is touched."""

    config: Config  # with the request's overrides (limit) applied
    thresholds: tuple[Threshold, ...]  # those that will be checked
    needs_eval: bool
    needs_perf: bool
    notes: tuple[str, ...]
    # eval.tasks resolved (their files read and hashed) once for the whole gate: every
    # eval call of every look reuses it. None without eval tasks.
    suite: TaskSuite | None = None


def with_limit(config: Config, limit: int | None) -> Config:
    """``config`` with ``eval.limit`` overridden (None: unchanged); ConfigError when the
    limit, as the first sequential look, would exceed ``eval.max_limit``."""
    if limit is None:
        return config
    cap = config.eval.max_limit
    if cap is not None and limit > cap:  # max_limit is only allowed with the looks on
        raise ConfigError(f"--limit {limit}: above eval.max_limit ({cap}, {config.where('eval', 'max_limit')}), "
                          "the most documents per task the looks may evaluate",
                          hint=f"pass --limit {cap} or less, or raise eval.max_limit")
    return config.model_copy(update={"eval": config.eval.model_copy(update={"limit": limit})})


def plan_gate(config: Config, *, no_perf: bool = False, limit: int | None = None,
              no_perf_reason: str | None = None) -> GatePlan:
    """Validate the config for a gate run (no model is loaded); raise ConfigError (EvalError for a task).

    ``no_perf_reason``: why perf cannot be measured this run (e.g. a side given as lm-eval
    results has no model to benchmark); perf thresholds are then reported as not checked.
    """
    from llm_gitops.gate.metrics import available_metrics, check_thresholds

    config = with_limit(config, limit)
    check_thresholds(config)  # before the tasks are read: none configured is said first
    suite = resolve_tasks(config.eval, base_dir=config.base_dir) if config.eval.tasks else None
    check_thresholds(config, available_metrics(config, suite))
    perf = [t for t in config.thresholds if t.metric.startswith(PERF_PREFIX)]
    notes = []
    thresholds = list(config.thresholds)
    perf_off = no_perf or not config.gate.perf or no_perf_reason is not None
    if perf and perf_off:
        why = "--no-perf" if no_perf else ("gate.perf is false" if not config.gate.perf else no_perf_reason)
        notes.append(f"perf thresholds not checked ({why}): {', '.join(t.metric for t in perf)}")
        thresholds = [t for t in thresholds if not t.metric.startswith(PERF_PREFIX)]
    return GatePlan(
        config=config,
        thresholds=tuple(thresholds),
        needs_eval=any(not t.metric.startswith(PERF_PREFIX) for t in thresholds),
        needs_perf=bool(perf) and not perf_off,
        notes=tuple(notes),
        suite=suite,
    )


@dataclass(frozen=True)
class GateRequest:
    """Everything one gate run depends on."""

    config: Config
    candidate: ResolvedModel
    baseline: ResolvedModel | None = None
    limit: int | None = None  # samples per task; overrides eval.limit
    no_perf: bool = False  # skip the benchmark; perf thresholds are reported as not checked
    # Where eval/bench results and decisions are cached; None: nothing is read or written.
    cache_root: Path | None = None
    chart: bool = False  # draw chart.png (imports matplotlib)
    # Eval results given instead of evaluating that side (lm-eval's own output, read by
    # ``evaluation.lm_eval_results.results_side``); the side's ResolvedModel stands for them.
    candidate_eval: EvalResults | None = None
    baseline_eval: EvalResults | None = None
    # Shown in the report and comment: {"CI run": URL, "artifacts": URL, ...}.
    links: Mapping[str, str] | None = None
    # time.perf_counter() when the caller began the gate (resolving models, reading results
    # files): the report's total counts from there. None: from run_gate's start.
    started: float | None = None


@dataclass(frozen=True)
class GateRun:
    """A gate's result: the decision, its renderings, and how it was reached."""

    outcome: GateOutcome
    rendered: RenderedGate
    decision_key: str | None = None  # key in the decision cache; None when not cacheable
    reused: bool = False  # the decision came from the cache
    # A failed measurement (verdict 'error'): its redacted traceback, for a log.
    failure_detail: str | None = None

    @property
    def verdict(self) -> str:
        return self.rendered.verdict

    def with_outcome(self, *, root: Path | None, **changes) -> "GateRun":
        """This run with ``changes`` to its outcome (links, timings, ...), re-rendered; the
        chart, which shows none of what changes, is kept as drawn."""
        outcome = replace(self.outcome, **changes)
        if outcome == self.outcome:
            return self
        rendered = replace(RenderedGate.from_outcome(outcome, root=root), png=self.rendered.png)
        return replace(self, outcome=outcome, rendered=rendered)

    @property
    def exit_code(self) -> int:
        return self.rendered.exit_code


def run_gate(request: GateRequest, *, progress: Progress = _quiet, plan: GatePlan | None = None) -> GateRun:
    """Measure both models (cached by content), decide and render.

    ``plan`` is the request's ``plan_gate`` when the caller already made it (to fail
    early on a bad config). Raises ``LlmGitopsError`` for a configuration-class problem
    (an unknown task, an unusable model); any other failure of a measurement is the
    verdict ``error``, with the traceback in ``GateRun.failure_detail``.
    """
    started = request.started if request.started is not None else time.perf_counter()
    plan = plan or plan_gate(request.config, no_perf=request.no_perf, limit=request.limit)
    decisions = DecisionCache(request.cache_root) if request.cache_root is not None else None
    config = plan.config
    candidate, baseline = request.candidate, request.baseline
    notes = list(plan.notes)
    if baseline is not None and baseline.digest == candidate.digest:
        notes.append(f"candidate and baseline are the same model ({candidate.short_digest})")
    both_given = request.candidate_eval is not None and request.baseline_eval is not None
    settings = {
        "eval_tasks": [t.label for t in config.eval.tasks],
        # Two results files are decided on the documents they scored: no limit or sampling applies.
        "eval_limit": None if both_given else config.eval.limit,
        "eval_sampling": None if both_given else config.eval.sampling,
        "eval_sequential": None,  # set below when the eval runs in sequential looks
        "num_fewshot": config.eval.num_fewshot,
        "perf": plan.needs_perf,
        "cache": request.cache_root is not None,
    }
    common = dict(gate=config.gate, seed=config.eval.seed, settings=settings, version=__version__,
                  created_at=utc_timestamp(), links=dict(request.links or {}))
    timings: dict[str, float] = {}
    results: dict[str, object] = {}
    given = {role: r for role, r in (("candidate", request.candidate_eval), ("baseline", request.baseline_eval))
             if r is not None}
    if plan.needs_eval:
        results.update({f"{role}_eval": r for role, r in given.items()})

    def infos() -> dict:
        return dict(candidate_info=_model_info(candidate, results.get("candidate_eval"), results.get("candidate_perf")),
                    baseline_info=_model_info(baseline, results.get("baseline_eval"), results.get("baseline_perf")))

    evals = _plan_evals(config, given, has_baseline=baseline is not None) if plan.needs_eval else _EvalPlan()
    notes.extend(evals.notes)
    skip = set(given) | ({"candidate", "baseline"} if evals.in_looks else set())
    steps = _steps(plan, candidate, baseline, request.cache_root, progress, skip_eval=skip, documents=evals.documents)
    measuring: dict[str, str] = {}  # the looks measure both models: which one a failure is of
    if evals.in_looks:
        # The looks decide as they go, so the perf measurements the decisions also count (Holm) come first.
        steps.append(("candidate and baseline", "eval",
                      lambda: _evaluate_in_looks(plan, request, results, progress, pairing=evals.pairing,
                                                 measuring=measuring)))
    design = None
    for role, kind, step in steps:
        t0 = time.perf_counter()
        try:
            measured = step()
        except Exception as exc:  # noqa: BLE001 - a failed measurement is the verdict 'error'
            if not isinstance(exc, MeasurementFailed) and (isinstance(exc, (LlmGitopsError, ImportError))
                                                           or is_own_bug(exc)):
                # A config-class problem (unknown task, unusable model) or a missing optional
                # dependency (the CLI names the extra to install): exit 2, nothing written. A
                # bug of llm-gitops: exit 3 with a crash log, not a verdict about the models.
                raise
            text = str(exc).strip()
            first = redact(text.splitlines()[0] if text else "")
            timings[f"{role}_{kind}_s"] = time.perf_counter() - t0
            timings["total_s"] = time.perf_counter() - started
            from llm_gitops.gate.policy import error_outcome

            what = "evaluation" if kind == "eval" else "benchmark"
            whose = measuring.get("role", role)
            cause = first if isinstance(exc, MeasurementFailed) else f"{type(exc).__name__}: {first}"
            outcome = error_outcome(f"the {whose}'s {what} failed: {cause}",
                                    timings=timings, notes=tuple(notes), **infos(), **common)
            return GateRun(outcome, RenderedGate.from_outcome(outcome, chart=request.chart, root=config.base_dir),
                           failure_detail=redact(traceback.format_exc()))
        if " and " in role:  # the sequential looks measured both models
            results["candidate_eval"], base_eval, design = measured
            if base_eval is not None:
                results["baseline_eval"] = base_eval
            settings["eval_sequential"] = {t: list(looks) for t, looks in design.looks.items()}
        else:
            results[f"{role}_{kind}"] = measured
        timings[f"{role.replace(' and ', '_')}_{kind}_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - started
    if given and "candidate_eval" in results and "baseline_eval" in results:
        from llm_gitops.evaluation.lm_eval_results import check_same_documents, restrict_to_common_docs

        if len(given) == 1:  # the model side was evaluated here: on the results' documents, as their run asked them?
            (given_role, _), = given.items()
            # Few-shot examples are drawn in evaluation order: on part of the documents, other prompts are expected.
            check_same_documents(results[f"{given_role}_eval"], results[f"{_OTHER_ROLE[given_role]}_eval"],
                                 given_role=given_role, prompts=not config.eval.num_fewshot)

        # Results from elsewhere may cover other documents than this side: pair on the common ones.
        results["candidate_eval"], results["baseline_eval"], restricted = restrict_to_common_docs(
            results["candidate_eval"], results["baseline_eval"], candidate_label=candidate.source,
            baseline_label=baseline.source if baseline is not None else "baseline")
        notes.extend(restricted)

    for role in ("candidate", "baseline"):
        served_by = _served_by(results.get(f"{role}_eval"))
        if served_by is not None and str(results[f"{role}_eval"].model_digest).startswith(UNKNOWN_SERVED_PREFIX):
            # What is behind the URL was not checked against the model named: say so in the report.
            notes.append(f"the {role}'s scores come from the server at {served_by}, which does not report the digest "
                         "of the model it serves: they are of whatever it served, which llm-gitops could not check")
    dtypes = {role: _evaluated_where(results.get(f"{role}_eval"))["dtype"] for role in _OTHER_ROLE}
    if None not in dtypes.values() and dtypes["candidate"] != dtypes["baseline"]:
        # eval.dtype auto follows each model's saved dtype on a GPU; results files carry their own.
        notes.append(f"the candidate was evaluated in {dtypes['candidate']}, the baseline in {dtypes['baseline']}: "
                     "precisions do not score bit-identically, so part of the difference may be theirs")
    if results.get("candidate_eval") is not None:
        from llm_gitops.gate.metrics import check_reported

        check_reported(config, plan.thresholds, results["candidate_eval"].metrics)
    key = decision_key(plan, candidate, baseline, results) if decisions is not None else None
    if key is not None:
        cached = decisions.get(key)
        if cached is not None:
            progress("gate: same measurements, thresholds and policy as an earlier run: reusing its decision")
            outcome = GateOutcome.from_json(json.loads(cached.json))
            if not request.chart:
                cached = replace(cached, png=None)
            elif cached.png is None:
                cached = cached.with_chart(outcome)
                decisions.put(key, cached)
            # The decision is the earlier run's; when, how long, what came from the caches and the
            # links (this CI run, its artifacts) are this run's.
            timings["total_s"] = time.perf_counter() - started
            info = infos()
            return GateRun(outcome, cached, decision_key=key, reused=True).with_outcome(
                root=config.base_dir, links=common["links"], created_at=common["created_at"], timings=dict(timings),
                candidate=info["candidate_info"], baseline=info["baseline_info"], notes=(*outcome.notes, REUSED_NOTE))

    progress("gate: deciding")
    # gate.policy (numpy, scipy) is imported only to decide: a reused decision needs neither.
    from llm_gitops.gate.policy import Measurements, decide

    outcome = decide(
        plan.thresholds,
        candidate=Measurements(eval=results.get("candidate_eval"), perf=results.get("candidate_perf")),
        baseline=None if baseline is None else Measurements(eval=results.get("baseline_eval"),
                                                             perf=results.get("baseline_perf")),
        timings=timings, notes=tuple(notes), design=design, **infos(), **common,
    )
    rendered = RenderedGate.from_outcome(outcome, chart=request.chart, root=config.base_dir)
    if key is not None:
        decisions.put(key, rendered)
    return GateRun(outcome, rendered, decision_key=key)


_OTHER_ROLE = {"candidate": "baseline", "baseline": "candidate"}
REUSED_NOTE = "decision reused: an earlier run had the same measurements, thresholds and policy"


@dataclass(frozen=True)
class _EvalPlan:
    """How the gate evaluates: in sequential looks or in one; for a model compared with
    lm-eval results, on which of their documents."""

    in_looks: bool = False
    pairing: dict[str, tuple[int, ...]] | None = None  # the looks' documents (``pairing_order``)
    documents: dict[str, list[int]] | None = None  # one look's documents, when paired
    notes: tuple[str, ...] = ()


def _plan_evals(config: Config, given: Mapping[str, EvalResults], *, has_baseline: bool) -> _EvalPlan:
    """The eval plan for sides ``given`` as lm-eval results (role -> results).

    Sequential looks (eval.sequential) decide as they go. Results given for both sides are
    decided at once: their documents are evaluated already, stopping early would save
    nothing and lose power. A model compared with results is evaluated on the documents
    they scored, so that every document it costs is paired (lm-eval's --limit takes a
    split's first documents; eval.sampling: random would choose others): in looks through
    them, or in one look on the first eval.limit of them.
    """
    settings = config.eval
    pairing = given_role = None
    if len(given) == 1 and has_baseline:
        (given_role, given_eval), = given.items()
        pairing = pairing_order(given_eval, settings)
    in_looks = settings.sequential_on and (not given or pairing is not None)
    notes = []
    if settings.sequential_on and given and not in_looks:
        notes.append("sequential looks not used: a side is lm-eval results, so the gate decides in one look "
                     "on the documents both sides have")
    documents = None
    if pairing is not None:
        model_role = _OTHER_ROLE[given_role]
        if in_looks:
            how = ", in sequential looks"
        else:
            documents = {t: sorted(ids[:settings.limit]) for t, ids in pairing.items()}
            capped = any(len(documents[t]) < len(ids) for t, ids in pairing.items())
            how = f" (at most eval.limit {settings.limit} per task)" if capped else ""
        notes.append(f"the {model_role} model was evaluated on the documents the {given_role}'s lm-eval results "
                     f"scored{how}")
        made_with = given_eval.settings.get("backend")
        if made_with and made_with != settings.backend:
            notes.append(f"the {given_role}'s results were made with lm-eval's {made_with!r} model, the {model_role} "
                         f"is evaluated with {settings.backend!r} (eval.backend): backends do not score bit-identically, "
                         "so part of the difference may be theirs")
        if settings.num_fewshot:
            # lm-eval draws each document's examples from one seeded stream, in evaluation order.
            notes.append(f"few-shot examples are drawn in evaluation order, so on part of the results' documents the "
                         f"{model_role} model may see other examples than the results' run did: still a valid pairing, "
                         "a noisier one")
    return _EvalPlan(in_looks, pairing, documents, tuple(notes))


# Exceptions that, raised by llm-gitops's own code, mean that code is wrong; raised by
# torch, transformers or lm-eval (or a measuring child process) they are a failed run.
_PROGRAMMING_ERRORS = (AttributeError, NameError, TypeError, KeyError, IndexError, AssertionError)
_PACKAGE_DIR = Path(__file__).resolve().parents[1]


def is_own_bug(exc: BaseException) -> bool:
    """Whether ``exc`` is a programming error raised in llm-gitops's own code."""
    frames = traceback.extract_tb(exc.__traceback__)
    return (isinstance(exc, _PROGRAMMING_ERRORS) and bool(frames)
            and Path(frames[-1].filename).resolve().is_relative_to(_PACKAGE_DIR))


def _evaluate_in_looks(plan: GatePlan, request: GateRequest, measured: dict[str, object], progress: Progress,
                       pairing: Mapping[str, tuple[int, ...]] | None = None, measuring: dict[str, str] | None = None):
    """Both models' evals in sequential looks (``gate.looks``), each look decided with
    the perf results already ``measured``; returns (candidate, baseline, design).

    ``pairing``: one side is lm-eval results (``request.candidate_eval`` or
    ``baseline_eval``) and the looks go through the documents they scored, in this order
    (``pairing_order``): a look slices the results and evaluates the model on the same documents.
    """
    from llm_gitops.evaluation import runner
    from llm_gitops.evaluation.resident import ResidentModels
    from llm_gitops.gate.looks import evaluate_in_looks

    config = plan.config
    given = {id(m): r for m, r in ((request.candidate, request.candidate_eval), (request.baseline, request.baseline_eval))
             if r is not None}

    def measure(model: ResolvedModel, order_slice: tuple[int, int], documents: Mapping[str, list[int]] | None):
        # documents: the slice's documents of the tasks still undecided (None: of every task).
        if measuring is not None:
            measuring["role"] = "candidate" if model is request.candidate else "baseline"
        if pairing is None and documents is None:
            return runner.run_eval(model, config.eval, base_dir=config.base_dir, cache_root=request.cache_root,
                                   progress=progress, order_slice=order_slice, resident=resident, suite=plan.suite,
                                   expect_digest=model.digest)
        if documents is None:
            start, stop = order_slice
            documents = {t: sorted(ids[start:stop]) for t, ids in pairing.items() if ids[start:stop]}
        if id(model) in given:
            return _on_documents(given[id(model)], documents, order_slice)
        return runner.run_eval(model, config.eval, base_dir=config.base_dir, cache_root=request.cache_root,
                               progress=progress, documents=documents, resident=resident, suite=plan.suite,
                               expect_digest=model.digest)

    def decide_look(cand, base, design):
        # gate.policy (numpy, scipy) only when a look is decided, not when a cached trail is replayed.
        from llm_gitops.gate.policy import Measurements, decide

        return decide(plan.thresholds, candidate=Measurements(eval=cand, perf=measured.get("candidate_perf")),
                      baseline=Measurements(eval=base, perf=measured.get("baseline_perf")), gate=config.gate,
                      seed=config.eval.seed, design=design)

    trail = ResultCache(request.cache_root, "gate-looks") if request.cache_root is not None else None

    def trail_key(first_keys: list[str]) -> str:
        # What decides where the looks stop: the first look's measurements (models, tasks,
        # eval settings), the perf measurements Holm counts, the checks and the policy.
        # "trail": the stored format (each look's undecided tasks), not readable by older builds.
        return content_key({"llm_gitops": __version__, "trail": "next", "first_look": first_keys, "thresholds": [
            t.model_dump(mode="json") for t in plan.thresholds], "gate": config.gate.model_dump(mode="json"),
            "looks": [config.eval.first_look, config.eval.max_limit],
            "perf": [getattr(measured.get(k), "cache_key", None) for k in ("candidate_perf", "baseline_perf")]})

    def recall(first_keys: list[str]) -> list[int] | None:
        if trail is None or any(getattr(measured.get(k), "cache_key", "") == "" for k in measured):
            return None
        found = trail.get(trail_key(first_keys))
        return list(found["next"]) if found is not None else None

    def remember(first_keys: list[str], went: list[dict[str, int]]) -> None:
        if trail is not None:
            trail.put(trail_key(first_keys), {"next": went})

    # Both models stay loaded from look to look while memory allows (evaluation.resident).
    with ResidentModels() as resident:
        return evaluate_in_looks(request.candidate, request.baseline, config.eval, measure=measure,
                                 decide=decide_look, progress=progress, recall=recall, remember=remember,
                                 order=pairing)


def _steps(plan: GatePlan, candidate: ResolvedModel, baseline: ResolvedModel | None, cache_root: Path | None,
           progress: Progress, skip_eval: set[str] = frozenset(),
           documents: dict[str, list[int]] | None = None) -> list[tuple[str, str, Callable[[], object]]]:
    """(role, kind, measure) for each measurement the plan needs, evals first (none for
    ``skip_eval`` roles; on exactly ``documents`` per task when given, else on eval.limit's)."""
    config = plan.config
    models = [(role, m) for role, m in (("candidate", candidate), ("baseline", baseline)) if m is not None]
    steps: list[tuple[str, str, Callable[[], object]]] = []
    if plan.needs_eval:
        from llm_gitops.evaluation import runner

        steps += [(role, "eval", lambda m=m: runner.run_eval(m, config.eval, base_dir=config.base_dir,
                                                             cache_root=cache_root, progress=progress,
                                                             documents=documents, suite=plan.suite,
                                                             expect_digest=m.digest))
                  for role, m in models if role not in skip_eval]
    if plan.needs_perf:
        from llm_gitops.perf import bench

        steps += [(role, "perf", lambda m=m: bench.run_bench(m, config.perf, cache_root=cache_root, progress=progress))
                  for role, m in models]
    return steps


def pairing_order(given: EvalResults, settings: EvalSection) -> dict[str, tuple[int, ...]] | None:
    """Per task, the documents ``given`` (lm-eval results) scored, in the order a model
    compared with it is evaluated on them: shuffled by the seed as a split's documents are
    (``runner.document_order``), or ascending for ``eval.sampling: first``.

    None when they cannot be subset: a metric without per-sample scores, or whose value
    is not their mean (lm-eval aggregates some metrics otherwise); the model side is then
    evaluated as configured, on eval.limit's documents.
    """
    from llm_gitops.evaluation.runner import document_order

    if not all(metric.doc_ids and metric.is_mean_of_scores() for metric in given.metrics.values()):
        return None
    scored: dict[str, set[int]] = {}
    for metric in given.metrics.values():
        scored.setdefault(metric.task, set()).update(metric.doc_ids)
    order: dict[str, tuple[int, ...]] = {}
    for task, ids in sorted(scored.items()):
        ascending = sorted(ids)
        order[task] = tuple(ascending[i] for i in document_order(task, len(ascending), settings.seed, settings.sampling))
    return order


def _on_documents(results: EvalResults, documents: Mapping[str, list[int]], order_slice: tuple[int, int]) -> EvalResults:
    """``results`` (lm-eval's, given) over ``documents`` per task: a sequential look's share of them."""
    metrics = {key: m.on_documents(documents[m.task]) for key, m in results.metrics.items() if m.task in documents}
    return replace(results, metrics=metrics, settings={**results.settings, "order_slice": list(order_slice)},
                   cache_key=content_key([results.cache_key, list(order_slice), sorted(documents)]))


def _served_by(eval_results) -> str | None:
    """The completions URL a model's eval asked (eval.backend local-completions), else None."""
    endpoint = (getattr(eval_results, "settings", None) or {}).get("endpoint")
    return endpoint.get("endpoint") if isinstance(endpoint, dict) else None


def _model_info(model: ResolvedModel | None, eval_results, perf_results) -> ModelInfo | None:
    if model is None:
        return None
    return ModelInfo(
        source=model.source,
        digest=model.digest,
        kind=model.kind,
        eval_cached=eval_results.cached if eval_results is not None else None,
        perf_cached=perf_results.cached if perf_results is not None else None,
        eval_cache_key=eval_results.cache_key if eval_results is not None else None,
        harness_version=eval_results.harness_version if eval_results is not None else None,
        served_by=_served_by(eval_results),
        **_evaluated_where(eval_results),
    )


def _evaluated_where(eval_results) -> dict[str, str | None]:
    """Where a side's eval ran and in which dtype, as its results record them. A server's
    scores say neither (the server placed its model), nor does an unresolved ``auto``."""
    settings = getattr(eval_results, "settings", None) or {}
    if _served_by(eval_results) is not None:
        return {"device": None, "dtype": None}
    return {field: value if isinstance(value, str) and value and value != "auto" else None
            for field, value in ((f, settings.get(f)) for f in ("device", "dtype"))}


def decision_key(plan: GatePlan, candidate: ResolvedModel, baseline: ResolvedModel | None,
                 results: dict[str, object]) -> str | None:
    """What decides the verdict: every measurement's cache key, the checks and the policy."""
    keys = {name: getattr(result, "cache_key", "") for name, result in results.items()}
    if not keys or not all(keys.values()):
        return None  # something was measured without a cache key: decide afresh
    config = plan.config
    return content_key({
        "llm_gitops": __version__,
        "measurements": keys,
        "thresholds": [t.model_dump(mode="json") for t in plan.thresholds],
        "gate": config.gate.model_dump(mode="json"),
        # The planned looks set each look's critical values.
        "looks": [config.eval.sequential_on, config.eval.first_look, config.eval.max_limit],
        "notes": list(plan.notes),
        "candidate": [candidate.source, candidate.digest],
        "baseline": [baseline.source, baseline.digest] if baseline is not None else None,
    })
