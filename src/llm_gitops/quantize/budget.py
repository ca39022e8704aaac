"""``quantize --budget``: try each method, keep the best artifact that costs little enough.

For every method in ``quantize.methods`` the source is compressed, the artifact and the
source are evaluated on the gate's eval suite, and the drop is judged by the gate's own
policy: one ``Threshold(metric, max_drop=budget)`` per eval metric, decided by
``gate.policy.decide`` with the config's ``gate`` settings. So "within budget" means
exactly what a gate with those thresholds would call ``pass``: the upper confidence bound
of every drop is within the budget (Holm over the metrics). A drop shown beyond it is
``fail``, one neither shown within nor beyond is ``inconclusive``; neither is within
budget (an unconfirmed loss is not a free pass).

Among the artifacts within budget the smallest (``prefer: smallest``) or the one with
the lowest per-token latency (``prefer: fastest``, measured by ``perf.bench``) is moved
to the output; the others are deleted or moved under ``keep_all``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from llm_gitops.config.schema import Config, Drop, Threshold
from llm_gitops.errors import ConfigError, GateFailed, LlmGitopsError
from llm_gitops.evaluation.results import EvalResults
from llm_gitops.gate.outcome import CheckResult, GateOutcome, format_amount, format_value
from llm_gitops.models.resolved import ResolvedModel
from llm_gitops.perf.results import PerfResults
from llm_gitops.quantize.artifact import (
    Artifact,
    check_output_dir,
    applicable_methods,
    check_applies,
    replace_dir,
    staging_dir,
    write_artifact,
)
from llm_gitops.quantize.base import Progress, QuantizeParams, no_progress
from llm_gitops.quantize.registry import get_quantizer

# Per-token latency: what "fastest" minimises.
SPEED_METRIC = "latency_p50_ms"


@dataclass(frozen=True)
class Candidate:
    """One method's attempt: its artifact, eval results and the gate's verdict on them."""

    method: str
    status: str  # "within" | "over" | "inconclusive" | "not applicable" | "error"
    artifact: Artifact | None = None
    eval: EvalResults | None = None
    outcome: GateOutcome | None = None
    perf: PerfResults | None = None
    reason: str = ""  # why it is not within budget (or why it could not run)

    @property
    def latency(self) -> float | None:
        metric = self.perf.metrics.get(SPEED_METRIC) if self.perf else None
        return metric.value if metric else None


@dataclass(frozen=True)
class BudgetResult:
    budget: Drop
    prefer: str
    source: ResolvedModel
    source_size: int
    baseline: EvalResults
    baseline_perf: PerfResults | None
    candidates: tuple[Candidate, ...]
    chosen: Candidate | None  # its artifact.path is the output directory
    kept: dict[str, Path]  # method -> where --keep-all put it


def _status(verdict: str) -> str:
    return {"pass": "within", "fail": "over", "inconclusive": "inconclusive"}.get(verdict, "error")


def budget_thresholds(baseline: EvalResults, budget: Drop) -> list[Threshold]:
    """One gate threshold per eval metric: a drop of at most ``budget``."""
    return [Threshold(metric=key, max_drop=budget) for key in sorted(baseline.metrics)]


def judge(artifact_eval: EvalResults, baseline: EvalResults, budget: Drop, config: Config) -> GateOutcome:
    """The gate's decision on the artifact vs the source for a ``budget`` drop."""
    from llm_gitops.gate.policy import Measurements, decide

    return decide(
        budget_thresholds(baseline, budget),
        candidate=Measurements(eval=artifact_eval),
        baseline=Measurements(eval=baseline),
        gate=config.gate,
        seed=config.eval.seed,
    )


def _pick(within: list[Candidate], prefer: str) -> Candidate | None:
    if not within:
        return None
    if prefer == "fastest":
        timed = [c for c in within if c.latency is not None]
        if timed:
            return min(timed, key=lambda c: (c.latency, c.artifact.size_bytes))
    return min(within, key=lambda c: c.artifact.size_bytes)


def run_budget(
    source: ResolvedModel,
    output: Path,
    *,
    config: Config,
    budget: Drop,
    methods: list[str] | tuple[str, ...],
    prefer: str,
    params: QuantizeParams,
    cache_root: Path | None,
    keep_all: Path | None = None,
    progress: Progress = no_progress,
) -> BudgetResult:
    """Try ``methods`` on ``source``; move the chosen artifact to ``output``.

    Returns every attempt whatever happened; ``chosen`` is None when none fits (the
    caller prints the comparison, then ``require_choice`` raises ``GateFailed``).
    """
    from llm_gitops.evaluation.runner import run_eval
    from llm_gitops.models.sources import resolve_model

    if not config.eval.tasks:
        raise ConfigError(
            f"{config.path or 'config'}: eval.tasks is empty; --budget measures the drop on the eval suite",
            hint="add eval.tasks to the config, or quantize without --budget",
        )
    if prefer not in ("smallest", "fastest"):
        raise ConfigError(f"--prefer {prefer!r} is not one of smallest, fastest")
    output = Path(output).absolute()
    check_output_dir(output, Path(source.path))
    if keep_all is not None:
        for method in methods:
            check_output_dir(Path(keep_all).absolute() / method, Path(source.path))
    for method in methods:
        get_quantizer(method).check(params)  # bad parameters fail before minutes of work
    _, reasons = applicable_methods(Path(source.path))
    if all(reasons.get(m) is not None for m in methods):
        check_applies(methods[0], Path(source.path))  # a usage error naming what does apply

    progress(f"budget: evaluating the source model {source.source}")
    baseline = run_eval(source, config.eval, base_dir=config.base_dir, cache_root=cache_root, progress=progress)
    work = staging_dir(output, "budget")
    candidates: list[Candidate] = []
    kept: dict[str, Path] = {}
    try:
        for method in methods:
            if reasons.get(method) is not None:
                candidates.append(Candidate(method, "not applicable", reason=reasons[method]))
                continue
            target = work / method
            target.mkdir()
            progress(f"budget: {method}")
            try:
                artifact = write_artifact(source, target, method, params, progress)
                resolved = resolve_model(str(target), base_dir=config.base_dir)
                resolved = replace(resolved, source=f"{method} artifact")
                results = run_eval(resolved, config.eval, base_dir=config.base_dir, cache_root=cache_root, progress=progress)
            except LlmGitopsError as exc:
                candidates.append(Candidate(method, "error", reason=str(exc)))
                continue
            outcome = judge(results, baseline, budget, config)
            status = _status(outcome.verdict)
            reason = "" if status == "within" else outcome.summary_reason
            candidates.append(Candidate(method, status, artifact, results, outcome, reason=reason))
            progress(f"budget: {method}: {status}" + (f" ({reason})" if reason else ""))

        baseline_perf = None
        if prefer == "fastest" and any(c.status == "within" for c in candidates):
            from llm_gitops.perf.bench import run_bench

            baseline_perf = run_bench(source, config.perf, cache_root=cache_root, progress=progress)
            timed = []
            for c in candidates:
                if c.status == "within":
                    resolved = resolve_model(str(c.artifact.path), base_dir=config.base_dir)
                    perf = run_bench(replace(resolved, source=f"{c.method} artifact"), config.perf, cache_root=cache_root, progress=progress)
                    c = replace(c, perf=perf)
                timed.append(c)
            candidates = timed

        chosen = _pick([c for c in candidates if c.status == "within"], prefer)
        if chosen is not None:
            replace_dir(chosen.artifact.path, output)
            chosen_final = replace(chosen, artifact=replace(chosen.artifact, path=output))
            candidates = [chosen_final if c is chosen else c for c in candidates]
            chosen = chosen_final
        if keep_all is not None:
            keep_all = Path(keep_all).absolute()
            keep_all.mkdir(parents=True, exist_ok=True)
            for c in candidates:
                if c.artifact is not None and c is not chosen and c.artifact.path.exists():
                    destination = keep_all / c.method
                    replace_dir(c.artifact.path, destination)
                    kept[c.method] = destination
    finally:
        shutil.rmtree(work, ignore_errors=True)
    from llm_gitops.quantize.artifact import files_size

    return BudgetResult(
        budget=budget,
        prefer=prefer,
        source=source,
        source_size=files_size(Path(source.path)),
        baseline=baseline,
        baseline_perf=baseline_perf,
        candidates=tuple(candidates),
        chosen=chosen,
        kept=kept,
    )


def require_choice(result: BudgetResult) -> Candidate:
    """The chosen candidate, or ``GateFailed`` (exit 1) saying why none fits."""
    if result.chosen is not None:
        return result.chosen
    tried = "; ".join(f"{c.method}: {c.status}" for c in result.candidates)
    raise GateFailed(
        f"no method keeps every eval metric within the budget of {result.budget} ({tried})",
        hint="raise quantize.budget / --budget, add methods to quantize.methods, or lower --sparsity",
    )


# --------------------------------------------------------------------------- table
def _check_for(candidate: Candidate, metric: str) -> CheckResult | None:
    if candidate.outcome is None:
        return None
    return next((c for c in candidate.outcome.checks if c.metric == metric), None)


def _mb(size: int | None) -> str:
    return "-" if size is None else f"{size / 1e6:.2f} MB"


def format_table(result: BudgetResult) -> str:
    """The comparison as aligned text: one row per method, the source first."""
    metrics = sorted(result.baseline.metrics)
    speed = result.prefer == "fastest"
    header = ["method", "size", "ratio", *metrics] + (["ms/token"] if speed else []) + ["verdict"]
    rows = [header]
    src_row = ["source (fp32)", _mb(result.source_size), "1.00"]
    for metric in metrics:
        src_row.append(f"{result.baseline.metrics[metric].value:.3f}")
    if speed:
        src_perf = result.baseline_perf.metrics.get(SPEED_METRIC) if result.baseline_perf else None
        src_row.append("-" if src_perf is None else f"{src_perf.value:.3g}")
    rows.append(src_row + ["-"])
    for c in result.candidates:
        row = [c.method]
        row.append(_mb(c.artifact.size_bytes) if c.artifact else "-")
        row.append(f"{c.artifact.size_ratio:.2f}" if c.artifact else "-")
        for metric in metrics:
            check = _check_for(c, metric)
            if check is None or check.candidate is None:
                row.append("-")
            else:
                row.append(f"{format_value(check, check.candidate)} ({format_amount(check, check.delta, signed=True)})")
        if speed:
            row.append("-" if c.latency is None else f"{c.latency:.3g}")
        verdict = {"within": "within budget", "over": "over budget"}.get(c.status, c.status)
        if c is result.chosen:
            verdict += "  <- chosen"
        row.append(verdict)
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"  {c.method}: {c.reason}" for c in result.candidates if c.reason]
    return "\n".join(lines + notes)
