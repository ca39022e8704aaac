"""The gate's policy: thresholds + measurements -> per-check verdicts -> one verdict.

Per check (one ``thresholds`` entry):

* ``min``/``max`` bound the candidate's *point estimate* on the samples evaluated; a
  violation is ``fail``. They are the team's floor on the measured number, like an SLO,
  and need no baseline; the report shows the value's 95% error bars beside it. (A bound
  on them would make a candidate at the floor pass or fail depending on the sample size,
  and could never decide a model that sits exactly on it.)
* ``max_drop`` is decided by *non-inferiority*: from the paired per-sample scores (or
  the perf samples), one-sided confidence bounds on the degradation ("drop": a fall, or
  a rise for lower-is-better metrics):
  - ``pass`` when the upper bound <= ``max_drop``: shown to be within tolerance;
  - ``fail`` when the lower bound > ``max_drop``: shown to be worse;
  - ``inconclusive`` otherwise; the report then gives the minimum detectable effect of
    this sample size (power 0.8, at the level the check is held to) and the samples that
    would resolve the observed drop (``gate.stats.resolution``, from the check's own bound method).
  ``hard_max_drop`` fails an *observed* drop beyond it, with no statistics (at any look
  of a sequential eval: it is the team's line on the measured number).
* Several relative checks: Holm's step-down procedure, separately for the two claims.
  A check passes at level ``alpha / (m - passed so far)``, so the chance that *any*
  truly regressed metric passes stays <= ``gate.alpha``; likewise the chance that any
  truly tolerable metric fails. Holm rather than Bonferroni because it is never less
  powerful and needs no assumption about how the metrics correlate (they often do:
  two metrics of one task share documents).
* Sequential looks (``SequentialDesign``): the same checks at each look of growing
  size, each bound at the look's critical value from ``gate.sequential`` (alpha
  spending), combined with Holm as in Maurer & Bretz (2013): each check's group-sequential
  boundaries are computed at its current Holm level, which rises when another check is
  decided. A decided check stays decided, and its task is evaluated no further once all
  its checks are; the gate stops at the first look where every relative check is decided.
  Every number of a check (values, delta, bounds, n, p) is of the look that decided it.
* No baseline yet (a team's first model): relative bounds are *skipped*, with a note
  that says how to set one up; the check is decided by its absolute bounds alone (a
  check with only relative bounds passes as "skipped"). This never blocks.
* The baseline has no value for the metric: ``inconclusive`` (a real mismatch).
* A metric missing from the candidate's results (or NaN) is ``error``.

The overall verdict is the worst check (error > fail > inconclusive > pass); the exit
code follows ``outcome.exit_code_for``. Candidate and baseline eval samples are paired
by doc id (the intersection; a mismatch is reported in the notes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Mapping, TypedDict, Unpack

import numpy as np

from llm_gitops.config.schema import GateSection, Threshold
from llm_gitops.evaluation.results import EvalResults, MetricResult
from llm_gitops.gate import sequential, stats
from llm_gitops.gate.sequential import SequentialDesign
from llm_gitops.gate.outcome import (
    BASELINE_HOWTO,
    NO_BASELINE_YET,
    CheckResult,
    GateOutcome,
    ModelInfo,
    exit_code_for,
    format_amount,
    format_value,
    worst,
)
from llm_gitops.perf.results import PerfMetric, PerfResults

__all__ = [
    "CheckResult",
    "GateOutcome",
    "Measurements",
    "ModelInfo",
    "NO_BASELINE_YET",
    "SequentialDesign",
    "decide",
    "error_outcome",
    "evaluate_threshold",
    "exit_code_for",
    "perf_statistic",
    "worst",
]

PERF_PREFIX = "perf/"
# Error bars of a value on its own (table and chart), not a decision level.
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Measurements:
    """What was measured on one model: eval results and/or perf results."""

    eval: EvalResults | None = None
    perf: PerfResults | None = None


# Perf metrics that are exact, not sampled: one measurement is the truth.
DETERMINISTIC_PERF = frozenset({"size_on_disk_mb"})


def perf_statistic(metric: PerfMetric) -> str:
    """The statistic (of ``stats.STATISTICS``) that turns the metric's samples into its value.

    The bench reports medians for some metrics and percentiles for others; the bootstrap
    must resample the same statistic. It is found by recomputing each candidate
    statistic from the samples (the name's hint first), falling back to the median.
    """
    name = metric.name
    hint = "p95" if "_p95" in name else ("median" if "_p50" in name else None)
    order = [s for s in (hint, "median", "mean", "p95") if s]
    samples = np.asarray(metric.samples, dtype=float)
    if samples.size:
        # Values and samples are rounded to 3 decimals by the bench.
        tolerance = 2e-3 + 1e-6 * abs(metric.value)
        for statistic in order:
            if abs(float(stats.STATISTICS[statistic](samples, axis=0)) - metric.value) <= tolerance:
                return statistic
    return order[0]


def bound_text(threshold: Threshold) -> str:
    parts = []
    for key in ("min", "max", "max_drop", "hard_max_drop"):
        value = getattr(threshold, key)
        if value is not None:
            parts.append(f"{key} {value:g}" if isinstance(value, float) else f"{key} {value}")
    return ", ".join(parts)


def _relative(threshold: Threshold) -> bool:
    return threshold.max_drop is not None or threshold.hard_max_drop is not None


# --------------------------------------------------------------------------- lookup
@dataclass(frozen=True)
class _Observed:
    kind: str
    value: float
    higher_is_better: bool
    unit: str
    err: float | None  # half-width of the value's own CI (error bars)
    eval_metric: MetricResult | None = None
    perf_metric: PerfMetric | None = None


def _lookup(metric: str, measured: Measurements | None) -> _Observed | None:
    if measured is None:
        return None
    z = stats.z_value(CONFIDENCE)
    if metric.startswith(PERF_PREFIX):
        perf = measured.perf.metrics.get(metric[len(PERF_PREFIX):]) if measured.perf else None
        if perf is None:
            return None
        samples = np.asarray(perf.samples, dtype=float)
        err = z * float(np.std(samples, ddof=1)) / math.sqrt(samples.size) if samples.size >= 2 else None
        return _Observed("perf", float(perf.value), perf.higher_is_better, perf.unit, err, perf_metric=perf)
    result = measured.eval.metrics.get(metric) if measured.eval else None
    return _observed_eval(result) if result is not None else None


def _observed_eval(result: MetricResult) -> _Observed:
    err = result.stderr if result.stderr is not None and not math.isnan(result.stderr) else None
    return _Observed("eval", float(result.value), result.higher_is_better, "",
                     stats.z_value(CONFIDENCE) * err if err is not None else None, eval_metric=result)


# --------------------------------------------------------------------------- evidence
@dataclass(frozen=True)
class _Comparison:
    """A relative check's data: the planned looks and the evidence at each available one."""

    looks: tuple[int, ...]  # planned cumulative sample counts (decide the critical values)
    evidence: tuple[Any, ...]  # stats.Evidence per available look (may be fewer than looks)
    note: str | None = None
    task: str | None = None  # the eval task whose documents the looks count
    documents: tuple[list[int], ...] = ()  # the paired doc ids of each look's evidence (eval)

    @property
    def testable(self) -> bool:
        return bool(self.evidence) and not math.isnan(self.evidence[-1].se)


def _paired_evidence(cs: np.ndarray, bs: np.ndarray, higher_is_better: bool):
    if stats.is_binary(cs) and stats.is_binary(bs):
        pair = (cs, bs) if higher_is_better else (bs, cs)
        return stats.PairedBinary.from_scores(*pair)
    d = (bs - cs) if higher_is_better else (cs - bs)
    if d.size >= 2 and np.ptp(d) > 0:
        return stats.MeanDifference.paired(d)
    # A paired t needs differences that vary: on one document it has no standard error,
    # and identical differences (sd 0) would give a zero-width bound, certainty that no
    # number of documents gives. Identical *scores* of a metric in [0, 1] are what 0/1
    # scores with no discordant document are: one unseen document could move the mean by
    # at most the range, 1, so Tango's bound with no discordant pair holds (2.6pt on 100
    # documents, 0.5pt on 500). Anything else is not testable (inconclusive).
    if d.size >= 2 and d[0] == 0 and min(cs.min(), bs.min()) >= 0.0 and max(cs.max(), bs.max()) <= 1.0:
        return stats.PairedBinary(0, 0, int(d.size), "Tango score bound with no discordant document "
                                  "(identical per-sample scores in [0, 1])")
    why = ("one paired document: a t bound needs two" if d.size < 2 else
           "identical per-sample differences: a t bound has no variance to go on")
    return stats.MeanDifference(float(np.mean(d)), float("nan"), int(d.size), None, why)


def _compare_eval(metric: str, c: MetricResult, b: MetricResult, design: SequentialDesign | None) -> _Comparison:
    note = None
    not_a_mean = any(m.scores and not m.is_mean_of_scores() for m in (c, b))
    if not_a_mean:
        # The per-sample scores are not what the value measures (lm-eval's perplexity is
        # exp(-mean) of per-sample log-likelihoods, higher for the better model): a paired
        # test on them would bound another quantity, in the opposite direction.
        note = (f"{metric}: its value is not the mean of its per-sample scores (e.g. a perplexity), so they are not "
                "paired; compared with an unpaired z bound on the stderrs (conservative)")
        c, b = replace(c, doc_ids=(), scores=()), replace(b, doc_ids=(), scores=())
    cand = dict(zip(c.doc_ids, c.scores))
    base = dict(zip(b.doc_ids, b.scores))
    common = set(cand) & set(base)
    hib = c.higher_is_better
    if cand and base and set(cand) != set(base):
        note = (
            f"{metric}: paired on {len(common)} common samples (candidate {len(cand)}, baseline {len(base)}); "
            "the evaluated subsets differ - use the same eval.limit, sampling and seed for both"
        )
    if common:
        def evidence(ids):
            return _paired_evidence(np.fromiter((cand[i] for i in ids), float, len(ids)),
                                    np.fromiter((base[i] for i in ids), float, len(ids)), hib)

        if design is not None and c.task in design.looks:
            order, looks = design.order[c.task], design.looks[c.task]
            documents = tuple(sorted(common.intersection(order[:n])) for n in looks if order[n - 1] in common)
        else:
            looks, documents = (len(common),), (sorted(common),)
        return _Comparison(looks, tuple(evidence(ids) for ids in documents), note, c.task, documents)
    delta = float(c.value) - float(b.value)
    if c.stderr is not None and b.stderr is not None and (c.stderr > 0 or b.stderr > 0):
        unpaired = f"{metric}: no paired per-sample scores; compared with an unpaired z bound on the stderrs (conservative)"
        ev = stats.MeanDifference(-delta if hib else delta, math.sqrt(c.stderr**2 + b.stderr**2), min(c.n, b.n), None,
                                  "normal bound on the stderrs (unpaired)")
        return _Comparison((ev.n or 1,), (ev,), note or unpaired, c.task)
    untested = (f"{metric}: its value is not the mean of its per-sample scores, and it has no stderrs; no test "
                "possible" if not_a_mean else f"{metric}: no per-sample scores or stderrs; no test possible")
    return _Comparison((1,), (), untested, c.task)


# The quantile each quantile statistic estimates.
_QUANTILES = {"median": 0.5, "p95": 0.95}


def _compare_perf(metric: str, c: PerfMetric, b: PerfMetric, *, n_resamples: int, seed: int,
                  alpha: float) -> _Comparison:
    delta = float(c.value) - float(b.value)
    degradation = -delta if c.higher_is_better else delta
    cs = np.asarray(c.samples, dtype=float)
    bs = np.asarray(b.samples, dtype=float)
    if c.name in DETERMINISTIC_PERF:
        return _Comparison((1,), (stats.Exact(degradation),))
    if cs.size >= 2 and bs.size >= 2:
        statistic = perf_statistic(c)
        # A bootstrap cannot bound a quantile beyond what the samples show: its replicates of
        # the p95 of 15 samples all lie at or below their largest, which is not even a 95%
        # upper bound on the p95 until 0.95^n <= alpha (59 samples). With fewer, the bounds
        # would claim a certainty the samples do not hold.
        q = _QUANTILES.get(statistic)
        needed = math.ceil(math.log(alpha) / math.log(q)) if q is not None else 2
        if min(cs.size, bs.size) < needed:
            return _Comparison((1,), (), f"{metric}: the {statistic} of {min(cs.size, bs.size)} samples cannot be "
                               f"bounded at gate.alpha {alpha:g}: it needs at least {needed} per side (perf.prompts x "
                               "perf.repeats); not tested")
        replicates = stats.unpaired_bootstrap_replicates(cs, bs, statistic=statistic, n_resamples=n_resamples, seed=seed)
        # Replicates of the bootstrapped statistic's difference, shifted so that they are
        # centred like the reported values (which the perf runner computed itself).
        centre = float(stats.STATISTICS[statistic](cs, axis=0) - stats.STATISTICS[statistic](bs, axis=0))
        shifted = replicates + (delta - centre)
        ev = stats.Bootstrap(degradation, -shifted if c.higher_is_better else shifted, int(cs.size),
                             f"unpaired bootstrap of the {statistic}")
        return _Comparison((int(cs.size),), (ev,))
    return _Comparison((1,), (), f"{metric}: fewer than 2 samples per side; no test possible")


# --------------------------------------------------------------------------- decisions
@dataclass
class _Relative:
    """One relative check while the looks are decided."""

    threshold: Threshold
    comparison: _Comparison
    allowed: float | None
    hard: float | None
    verdict: str | None = None  # pass | fail once decided
    cause: str | None = None
    look: int | None = None  # index of the look that decided it (or the last one seen)
    side: str | None = None  # "upper" (decided pass / checked for pass) or "lower"
    bound: float | None = None
    confidence: float | None = None  # the level of ``bound``, and of ``lower`` and ``upper``
    evidence: Any = None
    lower: float | None = None
    upper: float | None = None

    def observed(self, cand: _Observed, base: _Observed) -> tuple[_Observed, _Observed]:
        """The two values on the documents of the look that decided the check (or the last
        one seen), so that every number of the check comes from the same documents. A
        value that is not the mean of its per-sample scores (a corpus-level metric) cannot
        be recomputed on a subset and stays as measured."""
        documents = self.comparison.documents
        c, b = cand.eval_metric, base.eval_metric
        if self.look is None or not documents or not (c.is_mean_of_scores() and b.is_mean_of_scores()):
            return cand, base
        ids = documents[self.look]
        return _observed_eval(c.on_documents(ids)), _observed_eval(b.on_documents(ids))


def _decide_looks(rels: list[_Relative], alpha: float) -> list[dict[str, Any]]:
    """Decide the relative checks look by look (Holm over checks, alpha spending over looks).

    Returns the look log for the report. Checks still undecided keep the bounds of their
    last available look (at the levels in force then).
    """
    testable = {id(r) for r in rels if r.comparison.testable and r.allowed is not None}
    m = len(testable)
    passed = failed = 0
    log: list[dict[str, Any]] = []
    total_looks = max((len(r.comparison.evidence) for r in rels), default=0)
    for k in range(total_looks):
        active = [r for r in rels if r.verdict is None and k < len(r.comparison.evidence)]
        if not active:
            break
        decided_now = []
        changed = True
        while changed:  # a decision raises the Holm level of the others: re-test at this look
            changed = False
            level_pass = alpha / max(1, m - passed)
            level_fail = alpha / max(1, m - failed)
            for r in active:
                if r.verdict is not None:
                    continue
                ev = r.comparison.evidence[k]
                r.evidence, r.look = ev, k
                if r.hard is not None and ev.estimate > r.hard:
                    r.verdict, r.cause = "fail", "hard_max_drop"
                    r.side, r.bound, r.confidence = None, None, None
                    r.lower = r.upper = None
                    decided_now.append(r)
                    continue
                if id(r) not in testable:
                    continue
                conf_pass = sequential.confidence_levels(r.comparison.looks, level_pass)[k]
                conf_fail = sequential.confidence_levels(r.comparison.looks, level_fail)[k]
                # The pass claim is held to conf_pass (its upper bound), the fail claim to
                # conf_fail (its lower bound). The check records the bound that decided it,
                # or, undecided, the one on the side of the observed drop (the claim more
                # data would settle), with both ends of its interval at that bound's level.
                at_pass, at_fail = ev.bounds(conf_pass), ev.bounds(conf_fail)
                if at_pass[1] <= r.allowed:
                    r.verdict, r.cause = "pass", None
                    passed += 1
                elif at_fail[0] > r.allowed:
                    r.verdict, r.cause = "fail", "drop"
                    failed += 1
                if r.verdict == "pass" or (r.verdict is None and ev.estimate <= r.allowed):
                    r.side, r.confidence, (r.lower, r.upper) = "upper", conf_pass, at_pass
                else:
                    r.side, r.confidence, (r.lower, r.upper) = "lower", conf_fail, at_fail
                r.bound = r.upper if r.side == "upper" else r.lower
                if r.verdict is None:
                    continue
                changed = True
                decided_now.append(r)
        # Documents per eval task at this look (perf checks have their own fixed repeats).
        samples = {r.comparison.task: r.comparison.evidence[k].n for r in active if r.comparison.task}
        log.append({"look": k + 1, "samples": samples,
                    "decided": {r.threshold.metric: r.verdict for r in decided_now}})
    # ``next`` names only the tasks with an undecided check: a task whose checks are all
    # decided is evaluated no further (gate.looks). That is sound under Holm with alpha
    # spending: a decided check is final (Maurer & Bretz: a rejected hypothesis is not
    # tested again), its decision used the alpha spent up to its own look, and no other
    # check's statistic uses its task's documents; the Holm levels of the others depend
    # on how many checks are decided, not on the decided ones' later data. Its later
    # documents could change no decision, only cost time.
    pending = {}
    for r in rels:
        # A check without max_drop (hard_max_drop alone) is a rule on the observed drop: more
        # documents cannot decide it any better.
        if (r.verdict is None and r.allowed is not None and r.comparison.testable and r.comparison.task
                and len(r.comparison.evidence) < len(r.comparison.looks)):
            pending[r.comparison.task] = r.comparison.looks[len(r.comparison.evidence)]
    if log:
        log[-1]["next"] = pending or None
    return log


def _relative_check(threshold: Threshold, cand: _Observed, base: _Observed | None, baseline: Measurements | None,
                    design: SequentialDesign | None, n_resamples: int, seed: int, alpha: float) -> _Relative | str:
    """The relative part of a check, or the reason it cannot be compared."""
    metric = threshold.metric
    if baseline is None:
        return "no_baseline_yet"
    if base is None or math.isnan(base.value):
        return "no_baseline"
    if cand.kind == "eval":
        comparison = _compare_eval(metric, cand.eval_metric, base.eval_metric, design)
    else:
        comparison = _compare_perf(metric, cand.perf_metric, base.perf_metric, n_resamples=n_resamples, seed=seed,
                                   alpha=alpha)
    return _Relative(
        threshold, comparison,
        allowed=threshold.max_drop.allowed(base.value) if threshold.max_drop else None,
        hard=threshold.hard_max_drop.allowed(base.value) if threshold.hard_max_drop else None,
    )


def _in_units(drop, value: float, probe: CheckResult) -> str:
    # "max_drop 2pt" needs no "(2.0pt)"; "5%" and "0.02" read better with it.
    return "" if drop.unit == "pt" and probe.kind == "eval" else f" ({format_amount(probe, value)})"


def _check(threshold: Threshold, cand: _Observed | None, base: _Observed | None,
           rel: _Relative | str | None) -> tuple[CheckResult, str | None]:
    metric = threshold.metric
    bound = bound_text(threshold)
    if cand is None or math.isnan(cand.value):
        what = "no value" if cand is None else "a NaN value"
        return (CheckResult(metric, None, None, None, None, None, None, bound, "error",
                            f"the candidate's results have {what} for {metric}", cause="missing"), None)
    if isinstance(rel, _Relative) and base is not None:
        cand, base = rel.observed(cand, base)
    common = dict(kind=cand.kind, unit=cand.unit, higher_is_better=cand.higher_is_better,
                  candidate_err=cand.err, baseline_err=base.err if base else None)
    probe = CheckResult(metric, cand.value, base.value if base else None, None, None, None, None, bound, "pass", "",
                        **common)
    parts: list[tuple[str, str, str | None]] = []  # (verdict, reason, cause)
    if threshold.min is not None and cand.value < threshold.min:
        parts.append(("fail", f"{format_value(probe, cand.value)} is below min {threshold.min:g}", "min"))
    if threshold.max is not None and cand.value > threshold.max:
        parts.append(("fail", f"{format_value(probe, cand.value)} is above max {threshold.max:g}", "max"))

    extra: dict[str, Any] = {}
    note = None
    rel_bounds = ", ".join(f"{k} {getattr(threshold, k)}" for k in ("max_drop", "hard_max_drop") if getattr(threshold, k))
    if rel == "no_baseline_yet":
        parts.append(("pass", f"{NO_BASELINE_YET} ({rel_bounds})", "no_baseline"))
    elif rel == "no_baseline":
        parts.append(("inconclusive", f"the baseline's results have no value for {metric}: {rel_bounds} not checked",
                      "no_baseline"))
    elif isinstance(rel, _Relative):
        note = rel.comparison.note
        parts_rel, extra = _relative_parts(rel, probe)
        parts.extend(parts_rel)
    if not parts:
        parts.append(("pass", "within bounds", None))

    verdict = worst(v for v, _, _ in parts)
    # The relative cause leads: its description (drop, bound) says more than an absolute bound.
    decisive = sorted(((r, c) for v, r, c in parts if v == verdict),
                      key=lambda rc: rc[1] not in ("drop", "hard_max_drop", "no_baseline"))
    check = CheckResult(
        metric=metric, candidate=cand.value, baseline=base.value if base else None,
        bound=bound, verdict=verdict, reason="; ".join(r for r, _ in decisive),
        cause=decisive[0][1] if verdict != "pass" or decisive[0][1] == "no_baseline" else None,
        n=extra.pop("n", None) or _own_n(cand),
        **{**dict(delta=None, ci_low=None, ci_high=None, p_value=None), **extra}, **common,
    )
    return check, note


def _relative_parts(rel: _Relative, probe: CheckResult):
    """The verdict parts and report fields of a decided (or undecided) relative check."""
    threshold, hib = rel.threshold, probe.higher_is_better
    ev = rel.evidence or (rel.comparison.evidence[-1] if rel.comparison.evidence else None)
    word = "drop" if hib else "increase"
    sign = -1.0 if hib else 1.0  # degradation -> delta
    extra: dict[str, Any] = {"allowed_drop": rel.allowed}
    if ev is None:
        return [("inconclusive", f"{word} vs the baseline not testable (no samples to compare)", "drop")], extra
    deg = ev.estimate
    extra.update(delta=sign * deg, n=ev.n, test=ev.method, look=(rel.look + 1) if rel.look is not None else None)
    if rel.allowed is not None:
        extra["p_value"] = ev.p_above(rel.allowed)
    if rel.lower is not None and rel.upper is not None:
        lo, hi = sign * rel.upper, sign * rel.lower
        extra.update(ci_low=min(lo, hi), ci_high=max(lo, hi))
    if rel.bound is not None:
        extra.update(bound_side=rel.side, bound_value=rel.bound, confidence=rel.confidence)
    p = replace(probe, delta=sign * deg)
    amount = format_amount(p, deg)
    if rel.verdict == "fail" and rel.cause == "hard_max_drop":
        return [("fail", f"{word} of {amount} exceeds hard_max_drop {threshold.hard_max_drop}"
                 f"{_in_units(threshold.hard_max_drop, rel.hard, p)}", "hard_max_drop")], extra
    if rel.allowed is None:  # hard_max_drop alone, not exceeded
        return [], extra
    md = f"max_drop {threshold.max_drop}{_in_units(threshold.max_drop, rel.allowed, p)}"
    pct = f"{(rel.confidence or 0) * 100:.4g}%"
    if rel.verdict == "pass":
        return [("pass", f"{word} of {amount}: its {pct} upper bound {format_amount(p, rel.bound)} is within {md}",
                 "drop")], extra
    if rel.verdict == "fail":
        return [("fail", f"{word} of {amount}: its {pct} lower bound {format_amount(p, rel.bound)} exceeds {md}",
                 "drop")], extra
    if not rel.comparison.testable:
        return [("inconclusive", f"{word} of {amount} vs {md} is not testable ({ev.method})", "drop")], extra
    res = stats.resolution(ev, rel.allowed, confidence=rel.confidence)
    if res is not None:
        extra.update(mde=res.mde, samples_needed=res.samples_needed)
    if rel.side == "upper":
        why = f"its {pct} upper bound {format_amount(p, rel.bound)} exceeds {md}"
    else:
        why = f"its {pct} lower bound {format_amount(p, rel.bound)} does not exceed {md}"
    return [("inconclusive", f"{word} of {amount}: {why}, on {ev.n} samples", "drop")], extra


def _own_n(observed: _Observed) -> int | None:
    if observed.eval_metric is not None:
        return observed.eval_metric.n
    if observed.perf_metric is not None:
        return len(observed.perf_metric.samples) or None
    return None


# --------------------------------------------------------------------------- the gate
class RunContext(TypedDict, total=False):
    """What an outcome records besides the verdict, for the report; none of it is decided on."""

    candidate_info: ModelInfo | None
    baseline_info: ModelInfo | None
    settings: Mapping[str, Any] | None  # recorded next to the gate's own settings
    timings: Mapping[str, float] | None
    notes: tuple[str, ...]
    created_at: str
    version: str
    links: Mapping[str, str] | None  # CI run, artifacts, MLflow run: name -> URL


def evaluate_threshold(
    threshold: Threshold,
    candidate: Measurements,
    baseline: Measurements | None,
    *,
    alpha: float = 0.05,
    n_resamples: int = 2000,
    seed: int = 0,
) -> tuple[CheckResult, str | None]:
    """Decide one threshold on its own (no other checks, one look). Returns the check and a note."""
    outcome = decide([threshold], candidate=candidate, baseline=baseline,
                     gate=GateSection(alpha=alpha, bootstrap_samples=max(n_resamples, 100)), seed=seed)
    check = outcome.checks[0]
    notes = [n for n in outcome.notes if n != _no_baseline_note()]
    return check, (notes[0] if notes else None)


def _no_baseline_note() -> str:
    return f"{NO_BASELINE_YET}: {BASELINE_HOWTO}"


def decide(
    thresholds: list[Threshold] | tuple[Threshold, ...],
    *,
    candidate: Measurements,
    baseline: Measurements | None,
    gate: GateSection,
    seed: int = 0,
    design: SequentialDesign | None = None,
    **context: Unpack[RunContext],
) -> GateOutcome:
    """Check every threshold and combine the verdicts into a ``GateOutcome``.

    ``design``: decide eval checks look by look (sequential sampling); None decides on
    all the paired samples at once. The outcome's ``looks`` log says what each look
    decided and, under ``next``, the sample counts of the look still needed (None when
    every check is decided or the plan is exhausted): the caller evaluates up to it and
    decides again.
    """
    notes = list(context.get("notes", ()))
    observed = [(t, _lookup(t.metric, candidate), _lookup(t.metric, baseline)) for t in thresholds]
    rels: list[_Relative | str | None] = []
    for t, cand, base in observed:
        rel = None
        if _relative(t) and cand is not None and not math.isnan(cand.value):
            rel = _relative_check(t, cand, base, baseline, design, gate.bootstrap_samples, seed, gate.alpha)
        rels.append(rel)
    looks = _decide_looks([r for r in rels if isinstance(r, _Relative)], gate.alpha)
    checks = []
    for (t, cand, base), rel in zip(observed, rels):
        check, note = _check(t, cand, base, rel)
        checks.append(check)
        if note and note not in notes:
            notes.append(note)
    if any(r == "no_baseline_yet" for r in rels) and _no_baseline_note() not in notes:
        notes.insert(0, _no_baseline_note())
    extra = {"sequential": design is not None}
    return _outcome(worst(c.verdict for c in checks), tuple(checks), gate=gate, seed=seed,
                    context={**context, "notes": tuple(notes), "settings": {**extra, **(context.get("settings") or {})}},
                    # The looks are the eval's: with no eval check compared, there were none.
                    looks=tuple(looks) if design is not None and any(k["samples"] for k in looks) else ())


def gate_settings(gate: GateSection, *, seed: int, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    out = {
        "alpha": gate.alpha,
        "on_inconclusive": gate.on_inconclusive,
        "bootstrap_samples": gate.bootstrap_samples,
        "multiple_checks": "holm",
        "alpha_spending": f"alpha*t^{sequential.RHO:g}",
        "seed": seed,
    }
    out.update(extra or {})
    return out


def error_outcome(message: str, *, gate: GateSection, seed: int = 0, **context: Unpack[RunContext]) -> GateOutcome:
    """An outcome for a gate that could not measure: verdict ``error`` (exit 3)."""
    return _outcome("error", (), gate=gate, seed=seed, context=context, error=message)


def _outcome(verdict: str, checks: tuple[CheckResult, ...], *, gate: GateSection, seed: int, context: RunContext,
             error: str | None = None, looks: tuple = ()) -> GateOutcome:
    unknown = context.keys() - RunContext.__annotations__.keys()
    if unknown:  # **context takes any name at run time: a misspelt one must fail, not vanish
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
    return GateOutcome(
        verdict=verdict,
        checks=checks,
        candidate=context.get("candidate_info"),
        baseline=context.get("baseline_info"),
        settings=gate_settings(gate, seed=seed, extra=context.get("settings")),
        timings=dict(context.get("timings") or {}),
        notes=tuple(context.get("notes", ())),
        error=error,
        created_at=context.get("created_at", ""),
        version=context.get("version", ""),
        looks=looks,
        links=dict(context.get("links") or {}),
    )
