"""Evaluating in sequential looks: the same documents for both models, each evaluated once.

``evaluate_in_looks`` drives it: look 1 evaluates the first ``eval.limit`` (or 100)
documents of each task's seeded order (``evaluation.runner.document_order``) on both
models; the split sizes it reports fix the plan (``gate.sequential.plan_looks``); after
each look the caller's ``decide`` says, in the outcome's last ``looks`` entry, which look
is needed next and for which tasks, and only that look's *new* documents of those tasks
are evaluated (an order slice, cached on its own by the eval runner). A task whose checks
are all decided is evaluated no further: no decision could use its later documents
(``gate.policy`` says why that keeps the error rates), and a task without a relative
check is judged on the first look, as without a baseline. The slices are joined into one
``EvalResults`` per model (``join_slices``), which the gate decides on with the
``SequentialDesign`` it returns, replaying every look.

Pure orchestration: measuring and deciding are passed in, so tests drive it with fakes.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Callable, Mapping

from llm_gitops.cache import content_key
from llm_gitops.config.schema import EvalSection
from llm_gitops.evaluation.results import EvalResults, MetricResult
from llm_gitops.evaluation.runner import document_order
from llm_gitops.models.resolved import ResolvedModel

# measure(model, (start, stop), documents) -> the results of the documents at those order
# positions: of every task (documents None), or exactly ``documents`` per task, the
# positions' documents of the tasks still undecided.
Measure = Callable[[ResolvedModel, tuple[int, int], "Mapping[str, list[int]] | None"], EvalResults]


def join_slices(parts: list[EvalResults]) -> EvalResults:
    """One model's results over several order slices, as if evaluated at once.

    Per-sample scores are concatenated; each value is recomputed as their mean with the
    sample standard error (what lm-eval reports for per-sample mean metrics). A metric
    without per-sample scores in every slice keeps the n-weighted mean and no stderr.
    """
    if len(parts) == 1:
        return parts[0]
    keys = list(dict.fromkeys(k for p in parts for k in p.metrics))
    metrics = {}
    for key in keys:
        pieces = [p.metrics[key] for p in parts if key in p.metrics]
        doc_ids = tuple(d for m in pieces for d in m.doc_ids)
        scores = tuple(s for m in pieces for s in m.scores)
        n = sum(m.n for m in pieces)
        if scores and len(scores) == n:
            value = sum(scores) / n
            var = sum((s - value) ** 2 for s in scores) / (n - 1) if n > 1 else float("nan")
            stderr = math.sqrt(var / n) if n > 1 else None
        else:
            value = sum(m.value * m.n for m in pieces) / n if n else float("nan")
            stderr, doc_ids, scores = None, (), ()
        metrics[key] = MetricResult(pieces[0].task, pieces[0].metric, value, stderr, n, pieces[0].higher_is_better,
                                    doc_ids, scores)
    slices = [p.settings.get("order_slice") for p in parts]
    settings = {**parts[0].settings, "order_slice": [slices[0][0], slices[-1][1]] if all(slices) else None}
    hashes: dict[str, dict[int, str]] = {}
    for part in parts:
        for task, by_doc in part.sample_hashes.items():
            hashes.setdefault(task, {}).update(by_doc)
    return replace(parts[0], metrics=metrics, settings=settings, duration_s=round(sum(p.duration_s for p in parts), 3),
                   sample_hashes=hashes,
                   cache_key=content_key([p.cache_key for p in parts]) if all(p.cache_key for p in parts) else "",
                   cached=all(p.cached for p in parts))


def evaluate_in_looks(candidate: ResolvedModel, baseline: ResolvedModel | None, settings: EvalSection, *,
                      measure: Measure, decide: Callable[[EvalResults, EvalResults | None, object], object],
                      progress: Callable[[str], None] = lambda _m: None,
                      recall: Callable[[list[str]], list[dict[str, int]] | None] | None = None,
                      remember: Callable[[list[str], list[dict[str, int]]], None] | None = None,
                      order: Mapping[str, tuple[int, ...]] | None = None):
    """Evaluate both models look by look until ``decide`` asks for no further look.

    Returns (candidate results, baseline results or None, the SequentialDesign). Without
    a baseline there is nothing to compare, so only the first look is evaluated.

    ``order``: the documents to look through, per task, in look order (a side given as
    lm-eval results has scored only those); default: each task's whole split in its
    ``document_order``, its size as the first look reports it.

    ``recall(first-look cache keys)`` may give the looks an earlier run went through on
    the same inputs (``remember`` stores them: each look's ``next``, the documents per
    undecided task): those slices are then measured (from the eval cache) and joined
    without deciding at every look, so a re-run imports no numpy or scipy when its
    decision is cached too.
    """
    from llm_gitops.gate import sequential

    stop = settings.first_look
    models = [m for m in (candidate, baseline) if m is not None]
    parts = {id(m): [measure(m, (0, stop), None)] for m in models}
    if order is None:
        sizes = dict(parts[id(candidate)][0].settings.get("split_sizes") or {})
        order = {t: tuple(document_order(t, n, settings.seed, settings.sampling)) for t, n in sizes.items()}
    design = sequential.SequentialDesign(
        order=dict(order),
        looks={t: sequential.plan_looks(len(ids), first=min(settings.first_look, len(ids)), cap=settings.max_limit)
               for t, ids in order.items()},
    )
    first_keys = [parts[id(m)][0].cache_key for m in models]
    trail = recall(first_keys) if recall is not None and all(first_keys) else None
    replay = list(trail) if trail is not None else None
    went: list[dict[str, int]] = []
    while True:
        joined = {key: join_slices(value) for key, value in parts.items()}
        cand, base = joined[id(candidate)], joined.get(id(baseline)) if baseline is not None else None
        if base is None:
            return cand, None, design
        if replay is not None:  # the looks an earlier run on the same inputs went through
            if not replay:
                return cand, base, design
            pending = replay.pop(0)
        else:
            outcome = decide(cand, base, design)
            looks = getattr(outcome, "looks", ())
            pending = looks[-1].get("next") if looks else None
            if not pending:
                if remember is not None and all(first_keys):
                    remember(first_keys, went)
                return cand, base, design
        went.append(dict(pending))
        # Every undecided task has been evaluated through the same looks: on to the furthest next one.
        new_stop = max(pending.values())
        documents = None
        if set(pending) != set(design.order):  # only the undecided tasks
            documents = {t: sorted(design.order[t][stop:new_stop]) for t in pending if design.order[t][stop:new_stop]}
        progress(f"gate: {', '.join(pending)} undecided after {stop} documents; evaluating up to {new_stop}")
        # The model measured last goes first: if memory let only one stay loaded, it still is.
        models.reverse()
        for m in models:
            parts[id(m)].append(measure(m, (stop, new_stop), documents))
        stop = new_stop
