"""Evaluating in sequential looks: the same documents for both models, each evaluated once.

``evaluate_in_looks`` drives it: look 1 evaluates the first ``eval.limit`` (or 100)
documents of each task's seeded order (``evaluation.runner.document_order``) on both
models; the split sizes it reports fix the plan (``gate.sequential.plan_looks``); after
each look the caller's ``decide`` says, in the outcome's last ``looks`` entry, which look
is needed next and for which tasks, and only that look's *new* documents of those tasks
are evaluated (each task's slice of its order, up to its own next look, cached per task
by the eval runner: another gate against the same baseline reuses it whichever tasks it
still has undecided). A baseline with the candidate's digest is evaluated once for both
sides. A task whose checks are all decided is evaluated no further: no decision could
use its later documents (``gate.policy`` says why that keeps the error rates), and a task
without a relative check is judged on the first look, as without a baseline. The slices
are joined into one ``EvalResults`` per model (``join_slices``), which the gate decides
on with the ``SequentialDesign`` it returns, replaying every look.

Pure orchestration: measuring and deciding are passed in, so tests drive it with fakes.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import replace
from typing import Callable, Mapping

from llm_gitops.cache import content_key
from llm_gitops.config.schema import EvalSection
from llm_gitops.evaluation.results import EvalResults, MetricResult, agrees
from llm_gitops.evaluation.runner import document_order
from llm_gitops.models.resolved import ResolvedModel

# measure(model, (start, stop), documents) -> the results of the documents at those order
# positions: of every task (documents None), or exactly ``documents`` per task, the
# positions' documents of the tasks still undecided.
Measure = Callable[[ResolvedModel, tuple[int, int], "Mapping[str, list[int]] | None"], EvalResults]


def _mean(scores) -> float:
    return math.fsum(scores) / len(scores)


def _perplexity(scores) -> float:
    try:
        return math.exp(-_mean(scores))
    except OverflowError:
        return math.inf


def _median(scores) -> float:
    return statistics.median(scores)


def _aggregation(pieces: list[MetricResult]) -> Callable[..., float] | None:
    """The aggregate that each slice's value is of its per-sample scores (the mean, lm-eval's
    perplexity or the median), tried in that order; None when none is."""
    return next((how for how in (_mean, _perplexity, _median) if all(agrees(how(m.scores), m.value) for m in pieces)),
                None)


def join_slices(parts: list[EvalResults]) -> EvalResults:
    """One model's results over several order slices, as if evaluated at once.

    Per-sample scores are concatenated; each value is recomputed as their mean with the
    sample standard error (what lm-eval reports for per-sample mean metrics). A value
    that is another aggregate of its scores in every slice (lm-eval's ``perplexity``,
    exp(-mean) of per-sample log-likelihoods; ``median``) is recomputed as that aggregate,
    with the slices' stderrs combined; one that is none of these keeps the n-weighted mean
    of the slices' values (never the mean of scores that are not what it measures). A
    metric without per-sample scores in every slice keeps the n-weighted mean and no stderr.
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
        how = _aggregation(pieces) if scores and len(scores) == n else None
        if how is _mean:
            value = sum(scores) / n
            var = sum((s - value) ** 2 for s in scores) / (n - 1) if n > 1 else float("nan")
            stderr = math.sqrt(var / n) if n > 1 else None
        elif scores and len(scores) == n:
            value = how(scores) if how is not None else sum(m.value * m.n for m in pieces) / n
            errs = [m.stderr for m in pieces]
            stderr = (math.sqrt(sum((m.n * m.stderr / n) ** 2 for m in pieces))
                      if all(e is not None and math.isfinite(e) for e in errs) else None)
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


# The key, in each step of a trail of looks, of the digest of the measurements that step was
# decided on (no task is named "").
_DATA = ""


def fingerprint(candidate: EvalResults, baseline: EvalResults) -> str:
    """A digest of what the looks decide on: every per-sample score (and value) of both sides."""
    return content_key([[[key, list(m.doc_ids), list(m.scores), m.value, m.n] for key, m in sorted(r.metrics.items())]
                        for r in (candidate, baseline)])


def _replayed(step: object, design, done: Mapping[str, int], data: str) -> dict[str, int] | None:
    """The next look per undecided task that a trail's ``step`` gives, when it was decided on
    the measurements ``data`` and names, for each task, the look that follows the ``done``
    documents ({} to stop); None when it is not a step this run could take (other
    measurements, or an entry of another shape: another build's, a hand edit)."""
    if not isinstance(step, Mapping) or step.get(_DATA) != data:
        return None
    pending = {t: n for t, n in step.items() if t != _DATA}
    for task, n in pending.items():
        following = [k for k in design.looks.get(task, ()) if k > done.get(task, 0)]
        if type(n) is not int or not following or n != following[0]:
            return None
    return pending


def evaluate_in_looks(candidate: ResolvedModel, baseline: ResolvedModel | None, settings: EvalSection, *,
                      measure: Measure, decide: Callable[[EvalResults, EvalResults | None, object], object],
                      progress: Callable[[str], None] = lambda _m: None,
                      recall: Callable[[list[str]], list[dict[str, int]] | None] | None = None,
                      remember: Callable[[list[str], list[dict[str, int]]], None] | None = None,
                      order: Mapping[str, tuple[int, ...]] | None = None):
    """Evaluate both models look by look until ``decide`` asks for no further look.

    Returns (candidate results, baseline results or None, the SequentialDesign). Without
    a baseline there is nothing to compare, so only the first look is evaluated. A
    baseline with the candidate's digest is the same model: it is evaluated once, and its
    results serve both sides.

    ``order``: the documents to look through, per task, in look order (a side given as
    lm-eval results has scored only those); default: each task's whole split in its
    ``document_order``, its size as the first look reports it.

    After the first look (every task's first ``eval.limit`` documents, an order slice), a
    look measures exactly the new documents of each undecided task: from the end of its
    last look to its next one (``documents``; tasks of different sizes have different
    looks, and a task's documents are never evaluated ahead of the look that needs them).

    ``recall(first-look cache keys)`` may give the looks an earlier run went through on
    the same inputs (``remember`` stores them: each step's ``next``, the documents per
    undecided task, with a digest of the measurements it was decided on): those slices
    are then measured (from the eval cache) and joined without deciding at every look,
    so a re-run imports no numpy or scipy when its decision is cached too. A step whose
    measurements differ from this run's (evaluations pruned from the cache and measured
    again, not bit-exactly), or that this run could not take, ends the replay: the looks
    are decided from there, as on a cold cache.
    """
    from llm_gitops.gate import sequential

    stop = settings.first_look
    models = [m for m in (candidate, baseline) if m is not None]
    same = baseline is not None and bool(candidate.digest) and baseline.digest == candidate.digest
    evaluated = [candidate] if same else models  # the models measured: one when both sides are one model
    parts = {id(m): [measure(m, (0, stop), None)] for m in evaluated}
    if order is None:
        sizes = dict(parts[id(candidate)][0].settings.get("split_sizes") or {})
        order = {t: tuple(document_order(t, n, settings.seed, settings.sampling)) for t, n in sizes.items()}
    design = sequential.SequentialDesign(
        order=dict(order),
        looks={t: sequential.plan_looks(len(ids), first=min(settings.first_look, len(ids)), cap=settings.max_limit)
               for t, ids in order.items()},
    )
    done = {t: min(stop, len(ids)) for t, ids in design.order.items()}  # documents evaluated per task

    def joined() -> tuple[EvalResults, EvalResults | None]:
        cand = join_slices(parts[id(candidate)])
        if baseline is None:
            return cand, None
        return cand, replace(cand, model_source=baseline.source) if same else join_slices(parts[id(baseline)])

    first_keys = [parts[id(m if not same else candidate)][0].cache_key for m in models]
    trail = None
    if recall is not None and all(first_keys):
        try:
            trail = recall(first_keys)
        except (KeyError, TypeError, ValueError):
            trail = None  # a stored trail this build cannot read: decide afresh
    replay = list(trail) if isinstance(trail, (list, tuple)) else None
    went: list[dict] = []
    while True:
        cand, base = joined()
        if base is None:
            return cand, None, design
        data = fingerprint(cand, base)
        pending = _replayed(replay.pop(0), design, done, data) if replay else None
        if pending is None:
            replay = None  # no trail, its end, or a step not made from these measurements: decide
            outcome = decide(cand, base, design)
            looks = getattr(outcome, "looks", ())
            pending = dict((looks[-1].get("next") if looks else None) or {})
        went.append({**pending, _DATA: data})
        # Each undecided task's new documents: from the end of its last look to its next one.
        documents = {t: sorted(design.order[t][done[t]:n]) for t, n in pending.items() if t in design.order}
        documents = {t: ids for t, ids in documents.items() if ids}
        if not documents:
            if replay is None and remember is not None and all(first_keys):
                remember(first_keys, went)
            return cand, base, design
        start, new_stop = min(done[t] for t in documents), max(pending[t] for t in documents)
        if len({(done[t], pending[t]) for t in documents}) == 1:
            progress(f"gate: {', '.join(documents)} undecided after {start} documents; evaluating up to {new_stop}")
        else:
            progress("gate: " + ", ".join(f"{t} undecided after {done[t]} documents" for t in documents)
                     + "; evaluating up to " + ", ".join(f"{pending[t]} ({t})" for t in documents))
        # The model measured last goes first: if memory let only one stay loaded, it still is.
        evaluated.reverse()
        for m in evaluated:
            parts[id(m)].append(measure(m, (start, new_stop), documents))
        done.update({t: pending[t] for t in documents})
