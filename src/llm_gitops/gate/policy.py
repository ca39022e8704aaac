"""The gate's policy: thresholds + measurements -> per-check verdicts -> one verdict.

Per check (one ``thresholds`` entry):

* ``min``/``max`` bound the candidate's value; a violation is ``fail``.
* ``max_drop``/``hard_max_drop`` compare with the baseline. "Drop" means degradation in
  the metric's direction: for a lower-is-better metric (latency, memory) an increase.
  - observed degradation <= ``max_drop``: ``pass`` (within tolerance);
  - observed degradation > ``hard_max_drop``: ``fail`` whatever the statistics say;
  - otherwise it is ``fail`` only when "degradation > max_drop" is significant at
    ``gate.alpha`` (see ``gate.stats``), else ``inconclusive``: a drop beyond the
    tolerance that the data cannot confirm is never a silent pass.
* No baseline: the relative bounds cannot be checked. Such a check is ``inconclusive``
  with a note that names the fix (set ``models.baseline`` or pass ``--baseline``), not
  ``pass``: a config that asks for a drop check must not read as if the check passed.
  With the default ``on_inconclusive: fail`` this blocks; a first model without any
  baseline can set ``gate.on_inconclusive: neutral`` or drop the ``max_drop``.
* A metric missing from the candidate's results (or NaN) is ``error``.

The overall verdict is the worst check (error > fail > inconclusive > pass); the exit
code follows ``outcome.exit_code_for``. Candidate and baseline eval samples are paired
by doc id (the intersection; a mismatch is reported in the notes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, TypedDict, Unpack

import numpy as np

from llm_gitops.config.schema import GateSection, Threshold
from llm_gitops.evaluation.results import EvalResults, MetricResult
from llm_gitops.gate import stats
from llm_gitops.gate.outcome import (
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
    "decide",
    "error_outcome",
    "evaluate_threshold",
    "exit_code_for",
    "perf_statistic",
    "worst",
]

PERF_PREFIX = "perf/"
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
    if result is None:
        return None
    err = z * result.stderr if result.stderr is not None and not math.isnan(result.stderr) else None
    return _Observed("eval", float(result.value), result.higher_is_better, "", err, eval_metric=result)


# --------------------------------------------------------------------------- comparison
@dataclass(frozen=True)
class _Comparison:
    delta: float  # candidate - baseline
    ci_low: float | None
    ci_high: float | None
    n: int | None
    test: str | None
    note: str | None
    # p-value of "degradation > margin" for a margin; NaN when it cannot be tested.
    p_for: Any


def _nan(_margin: float) -> float:
    return float("nan")


def _compare_eval(metric: str, c: MetricResult, b: MetricResult, *, n_resamples: int, seed: int) -> _Comparison:
    cand = dict(zip(c.doc_ids, c.scores))
    base = dict(zip(b.doc_ids, b.scores))
    common = sorted(set(cand) & set(base))
    note = None
    if cand and base and set(cand) != set(base):
        note = (
            f"{metric}: paired on {len(common)} common samples (candidate {len(cand)}, baseline {len(base)}); "
            "the evaluated subsets differ - use the same eval.limit, sampling and seed for both"
        )
    if len(common) >= 2:
        cs = np.fromiter((cand[i] for i in common), dtype=float, count=len(common))
        bs = np.fromiter((base[i] for i in common), dtype=float, count=len(common))
        interval = stats.paired_bootstrap(cs, bs, n_resamples=n_resamples, confidence=CONFIDENCE, seed=seed)
        hib = c.higher_is_better
        method = stats.drop_test(cs, bs, margin=0.0, higher_is_better=hib).method
        return _Comparison(
            interval.estimate, interval.low, interval.high, len(common), method, note,
            lambda m: stats.drop_test(cs, bs, margin=m, higher_is_better=hib).p_value,
        )
    delta = float(c.value) - float(b.value)
    if c.stderr is not None and b.stderr is not None and (c.stderr > 0 or b.stderr > 0):
        se = math.sqrt(c.stderr**2 + b.stderr**2)
        z = stats.z_value(CONFIDENCE)
        sign = -1.0 if c.higher_is_better else 1.0
        unpaired = f"{metric}: no paired per-sample scores; compared with an unpaired z-test on the stderrs (conservative)"
        return _Comparison(
            delta, delta - z * se, delta + z * se, min(c.n, b.n), "z-test on stderrs (unpaired)",
            note or unpaired, lambda m: stats.normal_drop_p(sign * delta, se, m),
        )
    return _Comparison(delta, None, None, None, None, note or f"{metric}: no per-sample scores or stderrs; no test possible", _nan)


def _compare_perf(metric: str, c: PerfMetric, b: PerfMetric, *, n_resamples: int, seed: int) -> _Comparison:
    delta = float(c.value) - float(b.value)
    cs = np.asarray(c.samples, dtype=float)
    bs = np.asarray(b.samples, dtype=float)
    if c.name in DETERMINISTIC_PERF:
        degradation = -delta if c.higher_is_better else delta
        return _Comparison(delta, delta, delta, 1, "exact (a deterministic measurement)", None,
                           lambda m: 0.0 if degradation > m else 1.0)
    if cs.size >= 2 and bs.size >= 2:
        statistic = perf_statistic(c)
        replicates = stats.unpaired_bootstrap_replicates(cs, bs, statistic=statistic, n_resamples=n_resamples, seed=seed)
        tail = (1.0 - CONFIDENCE) / 2.0
        # The interval is of the bootstrapped statistic's difference, shifted so that it
        # is centred like the reported values (which the perf runner computed itself).
        centre = float(stats.STATISTICS[statistic](cs, axis=0) - stats.STATISTICS[statistic](bs, axis=0))
        low, high = np.quantile(replicates, [tail, 1.0 - tail]) + (delta - centre)
        sign = -1.0 if c.higher_is_better else 1.0
        shifted = sign * (replicates + (delta - centre))
        return _Comparison(
            delta, float(low), float(high), int(cs.size), f"unpaired bootstrap of the {statistic}",
            None, lambda m: stats.bootstrap_p_above(shifted, m),
        )
    return _Comparison(delta, None, None, None, None, f"{metric}: fewer than 2 samples per side; no test possible", _nan)


# --------------------------------------------------------------------------- one check
def evaluate_threshold(
    threshold: Threshold,
    candidate: Measurements,
    baseline: Measurements | None,
    *,
    alpha: float = 0.05,
    n_resamples: int = 2000,
    seed: int = 0,
) -> tuple[CheckResult, str | None]:
    """Decide one threshold. Returns the check and an optional note for the report."""
    metric = threshold.metric
    bound = bound_text(threshold)
    cand = _lookup(metric, candidate)
    if cand is None or math.isnan(cand.value):
        what = "no value" if cand is None else "a NaN value"
        return (
            CheckResult(metric, None, None, None, None, None, None, bound, "error",
                        f"the candidate's results have {what} for {metric}", cause="missing"),
            None,
        )
    base = _lookup(metric, baseline)
    common = dict(kind=cand.kind, unit=cand.unit, higher_is_better=cand.higher_is_better, confidence=CONFIDENCE,
                  candidate_err=cand.err, baseline_err=base.err if base else None)
    probe = CheckResult(metric, cand.value, None, None, None, None, None, bound, "pass", "", **common)

    parts: list[tuple[str, str, str | None]] = []  # (verdict, reason, cause)
    if threshold.min is not None and cand.value < threshold.min:
        parts.append(("fail", f"{format_value(probe, cand.value)} is below min {threshold.min:g}", "min"))
    if threshold.max is not None and cand.value > threshold.max:
        parts.append(("fail", f"{format_value(probe, cand.value)} is above max {threshold.max:g}", "max"))

    comparison = None
    note = None
    if base is not None and not math.isnan(base.value):
        if cand.kind == "eval":
            comparison = _compare_eval(metric, cand.eval_metric, base.eval_metric, n_resamples=n_resamples, seed=seed)
        else:
            comparison = _compare_perf(metric, cand.perf_metric, base.perf_metric, n_resamples=n_resamples, seed=seed)
        note = comparison.note

    relative = threshold.max_drop is not None or threshold.hard_max_drop is not None
    allowed = threshold.max_drop.allowed(base.value) if (threshold.max_drop and base) else None
    p_value = None
    if relative:
        rel_bounds = ", ".join(f"{k} {getattr(threshold, k)}" for k in ("max_drop", "hard_max_drop") if getattr(threshold, k))
        if baseline is None:
            parts.append(("inconclusive",
                          f"no baseline to compare with: {rel_bounds} not checked (set models.baseline or pass --baseline)",
                          "no_baseline"))
        elif comparison is None:
            parts.append(("inconclusive", f"the baseline's results have no value for {metric}: {rel_bounds} not checked",
                          "no_baseline"))
        else:
            deg = -comparison.delta if cand.higher_is_better else comparison.delta
            probe_b = CheckResult(metric, cand.value, base.value, comparison.delta, None, None, None, bound, "pass", "", **common)
            hard = threshold.hard_max_drop.allowed(base.value) if threshold.hard_max_drop else None
            word = "drop" if cand.higher_is_better else "increase"

            def in_units(drop, value):
                # "max_drop 2pt" needs no "(2.0pt)"; "5%" and "0.02" read better with it.
                return "" if drop.unit == "pt" and cand.kind == "eval" else f" ({format_amount(probe_b, value)})"

            if allowed is not None and deg > allowed:
                p_value = comparison.p_for(allowed)
            if hard is not None and deg > hard:
                parts.append(("fail", f"{word} of {format_amount(probe_b, deg)} exceeds hard_max_drop "
                              f"{threshold.hard_max_drop}{in_units(threshold.hard_max_drop, hard)}", "hard_max_drop"))
            elif allowed is not None and deg > allowed:
                if p_value is not None and not math.isnan(p_value) and p_value < alpha:
                    parts.append(("fail", f"{word} of {format_amount(probe_b, deg)} exceeds max_drop {threshold.max_drop}"
                                  f"{in_units(threshold.max_drop, allowed)}, significant at alpha={alpha:g}", "drop"))
                else:
                    why = "not testable" if p_value is None or math.isnan(p_value) else f"not significant at alpha={alpha:g}"
                    parts.append(("inconclusive", f"{word} of {format_amount(probe_b, deg)} exceeds max_drop "
                                  f"{threshold.max_drop}{in_units(threshold.max_drop, allowed)} but is {why}", "drop"))
    if not parts:
        parts.append(("pass", "within bounds", None))

    verdict = worst(v for v, _, _ in parts)
    # The relative cause leads: its description (drop, CI, p) says more than a bound.
    decisive = sorted(((r, c) for v, r, c in parts if v == verdict), key=lambda rc: rc[1] not in ("drop", "hard_max_drop"))
    reason = "; ".join(r for r, _ in decisive)
    check = CheckResult(
        metric=metric,
        candidate=cand.value,
        baseline=base.value if base else None,
        delta=comparison.delta if comparison else None,
        ci_low=comparison.ci_low if comparison else None,
        ci_high=comparison.ci_high if comparison else None,
        p_value=p_value,
        bound=bound,
        verdict=verdict,
        reason=reason,
        test=comparison.test if comparison else None,
        n=comparison.n if comparison and comparison.n is not None else _own_n(cand),
        allowed_drop=allowed,
        cause=decisive[0][1],
        **common,
    )
    return check, note


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


def decide(
    thresholds: list[Threshold] | tuple[Threshold, ...],
    *,
    candidate: Measurements,
    baseline: Measurements | None,
    gate: GateSection,
    seed: int = 0,
    **context: Unpack[RunContext],
) -> GateOutcome:
    """Check every threshold and combine the verdicts into a ``GateOutcome``."""
    checks = []
    notes = list(context.get("notes", ()))
    for threshold in thresholds:
        check, note = evaluate_threshold(
            threshold, candidate, baseline, alpha=gate.alpha, n_resamples=gate.bootstrap_samples, seed=seed
        )
        checks.append(check)
        if note and note not in notes:
            notes.append(note)
    return _outcome(worst(c.verdict for c in checks), tuple(checks), gate=gate, seed=seed,
                    context={**context, "notes": tuple(notes)})


def gate_settings(gate: GateSection, *, seed: int, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    out = {
        "alpha": gate.alpha,
        "on_inconclusive": gate.on_inconclusive,
        "bootstrap_samples": gate.bootstrap_samples,
        "confidence": CONFIDENCE,
        "seed": seed,
    }
    out.update(extra or {})
    return out


def error_outcome(message: str, *, gate: GateSection, seed: int = 0, **context: Unpack[RunContext]) -> GateOutcome:
    """An outcome for a gate that could not measure: verdict ``error`` (exit 3)."""
    return _outcome("error", (), gate=gate, seed=seed, context=context, error=message)


def _outcome(verdict: str, checks: tuple[CheckResult, ...], *, gate: GateSection, seed: int, context: RunContext,
             error: str | None = None) -> GateOutcome:
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
    )
