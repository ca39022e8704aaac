"""What the gate decided: frozen results, their stable JSON, and their one-line summary.

The report JSON (``schema: llm-gitops/gate-report/v1``)::

    {
      "schema": "llm-gitops/gate-report/v1",
      "verdict": "fail",                   # pass | fail | inconclusive | error
      "exit_code": 1,
      "summary": "fail - 1 of 4 checks failed: add_em/exact_match dropped 12.0pt (...)",
      "models": {
        "candidate": {"source": "./model", "digest": "sha256:...", "kind": "local", "eval_cached": true, ...},
        "baseline": {...} | null
      },
      "checks": [
        {"metric": "add_em/exact_match", "kind": "eval", "unit": "", "higher_is_better": true,
         "candidate": 0.68, "baseline": 0.80, "delta": -0.12, "ci_low": -0.159, "ci_high": -0.081,
         "confidence": 0.95, "p_value": 0.0001, "test": "...", "n": 500, "allowed_drop": 0.02,
         "bound": "min 0.5, max_drop 2pt", "verdict": "fail", "reason": "...",
         "candidate_err": 0.04, "baseline_err": 0.035,
         "bound_side": "lower", "bound_value": 0.081, "look": 3, "mde": null, "samples_needed": null}
      ],
      "settings": {"alpha": 0.05, "on_inconclusive": "fail", ...},
      "timings": {"candidate_eval_s": 6.1, ...},
      "notes": ["..."], "error": null,
      "created_at": "2026-11-24T06:00:00Z", "llm_gitops_version": "0.1.0",
      "looks": [{"look": 1, "samples": {"add_em": 100}, "decided": {}},
                {"look": 2, "samples": {"add_em": 200}, "decided": {"add_em/exact_match": "fail"}, "next": null}],
      "links": {"CI run": "https://...", "MLflow run": "..."}
    }

``delta`` is candidate - baseline in the metric's units; ``ci_low``/``ci_high`` are the
two one-sided bounds at ``confidence`` (so a (2 * confidence - 1) interval) in delta's
terms. A relative check is decided by one of them: ``bound_side`` "upper" (pass: the
degradation's upper bound ``bound_value`` <= ``allowed_drop``) or "lower" (fail: its lower
bound > ``allowed_drop``); ``confidence`` is that bound's one-sided level after Holm's
adjustment and the alpha spent at the look, and ``test`` the method. ``p_value`` is the
nominal one-sided p of "the degradation exceeds allowed_drop" at the deciding look.
``n`` is the samples the check was decided on; ``looks`` logs a sequential eval.
Numbers that could not be computed are ``null`` (JSON has no NaN).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from llm_gitops.errors import EXIT_FAILED, EXIT_NO_VERDICT, EXIT_OK

GATE_REPORT_SCHEMA = "llm-gitops/gate-report/v1"
# A first model has no baseline: its relative checks are skipped, not blocking (the gate,
# its summary and validate-config all say it in these words).
NO_BASELINE_YET = "no baseline yet: relative checks skipped"
BASELINE_HOWTO = ("to compare later candidates, publish this model as the baseline: 'llm-gitops register' and "
                  "models.baseline: models:/NAME@production, or models.baseline: dvc:PATH at main")

# Worst first: the overall verdict is the worst of the checks.
VERDICT_ORDER = ("error", "fail", "inconclusive", "pass")
VERDICTS = frozenset(VERDICT_ORDER)


def worst(verdicts) -> str:
    """The most severe verdict (error > fail > inconclusive > pass); none -> pass."""
    found = set(verdicts)
    unknown = found - VERDICTS
    if unknown:
        raise ValueError(f"unknown verdict(s): {sorted(unknown)}")
    for verdict in VERDICT_ORDER:
        if verdict in found:
            return verdict
    return "pass"


# The one mapping of a verdict to what it does: the exit code of ``llm-gitops gate`` and
# the commit state posted on the forge. An inconclusive verdict does what
# ``gate.on_inconclusive`` says: "fail" blocks (the safe default: a drop that cannot be
# ruled out), "pass" lets it through, "neutral" lets the job pass while the posted state
# still says it was not shown to be fine.
_EFFECTS = {
    "pass": (EXIT_OK, "success"),
    "fail": (EXIT_FAILED, "failure"),
    "error": (EXIT_NO_VERDICT, "error"),
}
_INCONCLUSIVE_EFFECTS = {
    "fail": (EXIT_FAILED, "failure"),
    "pass": (EXIT_OK, "success"),
    "neutral": (EXIT_OK, "neutral"),
}


def verdict_effects(verdict: str, on_inconclusive: str = "fail") -> tuple[int, str]:
    """(exit code, commit state) of ``verdict`` under ``gate.on_inconclusive``."""
    if verdict == "inconclusive":
        if on_inconclusive not in _INCONCLUSIVE_EFFECTS:
            raise ValueError(f"unknown on_inconclusive {on_inconclusive!r}")
        return _INCONCLUSIVE_EFFECTS[on_inconclusive]
    if verdict not in _EFFECTS:
        raise ValueError(f"unknown verdict {verdict!r}")
    return _EFFECTS[verdict]


def exit_code_for(verdict: str, on_inconclusive: str) -> int:
    """Exit code of the gate: pass 0, fail 1, error 4; inconclusive per ``gate.on_inconclusive``."""
    return verdict_effects(verdict, on_inconclusive)[0]


def commit_state_for(verdict: str, on_inconclusive: str) -> str:
    """Commit state to post: success, failure, error; inconclusive per ``gate.on_inconclusive``."""
    return verdict_effects(verdict, on_inconclusive)[1]


def _num(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


@dataclass(frozen=True)
class CheckResult:
    """One threshold's verdict on one metric."""

    metric: str  # TASK/METRIC or perf/NAME
    candidate: float | None
    baseline: float | None
    delta: float | None  # candidate - baseline (paired mean difference when paired)
    ci_low: float | None  # CI of delta
    ci_high: float | None
    p_value: float | None  # of "the degradation exceeds the allowed drop"
    bound: str  # the threshold as written: "min 0.5, max_drop 2pt"
    verdict: str
    reason: str
    kind: str = "eval"  # eval | perf
    unit: str = ""
    higher_is_better: bool = True
    confidence: float = 0.95
    test: str | None = None
    n: int | None = None  # paired samples (eval) or candidate samples (perf)
    allowed_drop: float | None = None  # max_drop in metric units
    candidate_err: float | None = None  # half-width of the candidate's own CI (error bars)
    baseline_err: float | None = None
    # What decided a non-pass verdict: min | max | drop | hard_max_drop | no_baseline |
    # missing | error (None for a pass).
    cause: str | None = None
    # The bound that decided a relative check (or, undecided, the one nearer a decision):
    # "upper" (pass: upper bound <= allowed_drop) or "lower" (fail: lower bound > it), its
    # value as a degradation in metric units, at ``confidence`` (one-sided); ``look`` is
    # the 1-based look of a sequential eval it was decided at (``n`` samples).
    bound_side: str | None = None
    bound_value: float | None = None
    look: int | None = None
    # An inconclusive relative check: the distance from allowed_drop this n resolves
    # (minimum detectable effect at ``confidence``, power 0.8) and the samples that would
    # resolve the observed drop (None: no number of samples would).
    mde: float | None = None
    samples_needed: int | None = None

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}")

    def bound_of(self, name: str) -> str:
        """The value of one bound as written in ``bound`` ('2pt' for 'max_drop')."""
        for part in self.bound.split(", "):
            key, _, value = part.partition(" ")
            if key == name:
                return value
        return ""

    def claim_p(self) -> tuple[str, float] | None:
        """The claim of the check's bound and its nominal p: ('within max_drop', p) for the
        upper bound (a pass: non-inferiority, 1 - ``p_value``), ('beyond max_drop', p_value)
        for the lower one (a fail); None without a p."""
        if self.p_value is None or math.isnan(self.p_value):
            return None
        if self.bound_side == "upper":
            return "within max_drop", 1.0 - self.p_value
        return "beyond max_drop", self.p_value

    @property
    def degradation(self) -> float | None:
        """How much worse the candidate is (positive = worse), in the metric's units."""
        if self.delta is None:
            return None
        return -self.delta if self.higher_is_better else self.delta

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "kind": self.kind,
            "unit": self.unit,
            "higher_is_better": self.higher_is_better,
            "candidate": _num(self.candidate),
            "baseline": _num(self.baseline),
            "delta": _num(self.delta),
            "ci_low": _num(self.ci_low),
            "ci_high": _num(self.ci_high),
            "confidence": self.confidence,
            "p_value": _num(self.p_value),
            "test": self.test,
            "n": self.n,
            "allowed_drop": _num(self.allowed_drop),
            "bound": self.bound,
            "verdict": self.verdict,
            "reason": self.reason,
            "candidate_err": _num(self.candidate_err),
            "baseline_err": _num(self.baseline_err),
            "cause": self.cause,
            "bound_side": self.bound_side,
            "bound_value": _num(self.bound_value),
            "look": self.look,
            "mde": _num(self.mde),
            "samples_needed": self.samples_needed,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "CheckResult":
        return cls(**{k: data.get(k) for k in _CHECK_FIELDS if k in data})


_CHECK_FIELDS = (
    "metric", "candidate", "baseline", "delta", "ci_low", "ci_high", "p_value", "bound", "verdict", "reason",
    "kind", "unit", "higher_is_better", "confidence", "test", "n", "allowed_drop", "candidate_err", "baseline_err", "cause",
    "bound_side", "bound_value", "look", "mde", "samples_needed",
)


@dataclass(frozen=True)
class ModelInfo:
    """Which model was measured, and whether its results came from the cache."""

    source: str
    digest: str
    kind: str = "local"
    eval_cached: bool | None = None
    perf_cached: bool | None = None
    eval_cache_key: str | None = None
    harness_version: str | None = None
    # The completions URL its eval asked (eval.backend local-completions), else None.
    served_by: str | None = None
    # Where its eval ran and in which precision ("cuda", "bfloat16"), as its results record
    # them; None where they don't say (a server's, lm-eval output without them).
    device: str | None = None
    dtype: str | None = None

    @property
    def short_digest(self) -> str:
        return self.digest.split(":", 1)[-1][:12]

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "digest": self.digest,
            "kind": self.kind,
            "eval_cached": self.eval_cached,
            "perf_cached": self.perf_cached,
            "eval_cache_key": self.eval_cache_key,
            "harness_version": self.harness_version,
            "served_by": self.served_by,
            "device": self.device,
            "dtype": self.dtype,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> "ModelInfo | None":
        if data is None:
            return None
        return cls(**{k: data.get(k) for k in ("source", "digest", "kind", "eval_cached", "perf_cached", "eval_cache_key", "harness_version", "served_by", "device", "dtype")})


@dataclass(frozen=True)
class GateOutcome:
    """The gate's decision with everything the report shows."""

    verdict: str
    checks: tuple[CheckResult, ...]
    candidate: ModelInfo | None
    baseline: ModelInfo | None
    settings: Mapping[str, Any] = field(default_factory=dict)
    timings: Mapping[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    error: str | None = None  # why the verdict is "error", when it is
    created_at: str = ""
    version: str = ""
    # A sequential eval's looks: {"look": 1, "samples": {TASK: n}, "decided": {METRIC: verdict},
    # "next": {TASK: n} | null on the last}; empty when decided in one go.
    looks: tuple[Mapping[str, Any], ...] = ()
    # Where the reader can see more: {"CI run": URL, "artifacts": URL, "MLflow run": URL}.
    links: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}")

    @property
    def on_inconclusive(self) -> str:
        return str(self.settings.get("on_inconclusive", "fail"))

    @property
    def exit_code(self) -> int:
        return exit_code_for(self.verdict, self.on_inconclusive)

    @property
    def summary(self) -> str:
        """One plain-text line: the verdict and why (commit statuses, logs, tracking tags)."""
        return f"{self.verdict} - {self.summary_reason}"

    @property
    def summary_reason(self) -> str:
        if self.verdict == "error":
            return self.error or "the gate could not decide"
        total = len(self.checks)
        if self.verdict == "pass":
            skipped = sum(1 for c in self.checks if c.cause == "no_baseline")
            note = f" ({NO_BASELINE_YET})" if skipped else ""
            return f"all {total} check{'s' if total != 1 else ''} passed{note}"
        bad = [c for c in self.checks if c.verdict == self.verdict]
        word = {"fail": "failed", "inconclusive": "inconclusive"}[self.verdict]
        shown = "; ".join(describe_check(c) for c in bad[:2])
        more = f"; and {len(bad) - 2} more: {', '.join(c.metric for c in bad[2:])}" if len(bad) > 2 else ""
        text = f"{len(bad)} of {total} check{'s' if total != 1 else ''} {word}: {shown}{more}"
        if self.verdict == "inconclusive" and self.on_inconclusive != "fail":
            text += f" (gate.on_inconclusive: {self.on_inconclusive}, not blocking)"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": GATE_REPORT_SCHEMA,
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "summary": self.summary,
            "models": {
                "candidate": self.candidate.to_json() if self.candidate else None,
                "baseline": self.baseline.to_json() if self.baseline else None,
            },
            "checks": [c.to_json() for c in self.checks],
            "settings": dict(self.settings),
            "timings": {k: round(float(v), 3) for k, v in self.timings.items()},
            "notes": list(self.notes),
            "error": self.error,
            "created_at": self.created_at,
            "llm_gitops_version": self.version,
            "looks": [dict(look) for look in self.looks],
            "links": dict(self.links),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "GateOutcome":
        if data.get("schema") != GATE_REPORT_SCHEMA:
            raise ValueError(f"not a gate report (schema {data.get('schema')!r}, expected {GATE_REPORT_SCHEMA!r})")
        return cls(
            verdict=data["verdict"],
            checks=tuple(CheckResult.from_json(c) for c in data.get("checks", ())),
            candidate=ModelInfo.from_json((data.get("models") or {}).get("candidate")),
            baseline=ModelInfo.from_json((data.get("models") or {}).get("baseline")),
            settings=dict(data.get("settings") or {}),
            timings=dict(data.get("timings") or {}),
            notes=tuple(data.get("notes") or ()),
            error=data.get("error"),
            created_at=data.get("created_at", ""),
            version=data.get("llm_gitops_version", ""),
            looks=tuple(data.get("looks") or ()),
            links=dict(data.get("links") or {}),
        )


# --------------------------------------------------------------------------- formatting
def uses_points(check: CheckResult) -> bool:
    """Eval scores in [0, 1] (accuracy, exact match) read best as percentage points."""
    if check.kind != "eval" or check.unit:
        return False
    values = [v for v in (check.candidate, check.baseline) if v is not None]
    return bool(values) and all(0.0 <= v <= 1.0 for v in values)


def format_value(check: CheckResult, value: float | None) -> str:
    """A metric value as the table shows it: 0.812, 41.3 ms."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if uses_points(check):
        return f"{value:.3f}"
    text = f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{text} {check.unit}".rstrip()


def format_amount(check: CheckResult, amount: float | None, *, signed: bool = False) -> str:
    """A difference: 12.0pt for [0, 1] scores, 3.2 ms otherwise."""
    if amount is None or math.isnan(amount):
        return "-"
    sign = "+" if signed and amount > 0 else ""
    if uses_points(check):
        return _no_negative_zero(f"{sign}{amount * 100:.1f}") + "pt"
    return f"{_no_negative_zero(f'{sign}{amount:.3g}')} {check.unit}".rstrip()


def _no_negative_zero(text: str) -> str:
    # "-0.0" reads as a drop where there is none.
    stripped = text.lstrip("-+").replace("0", "").replace(".", "")
    return text.lstrip("-") if stripped == "" else text


def format_range(check: CheckResult, low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return ""
    if uses_points(check):
        return f"{_no_negative_zero(f'{low * 100:.1f}')}..{_no_negative_zero(f'{high * 100:.1f}')}"
    # One precision for both ends (3 significant digits of the larger), so "0.21..1.20".
    decimals = _decimals(max(abs(low), abs(high)))
    return f"{_no_negative_zero(f'{low:.{decimals}f}')}..{_no_negative_zero(f'{high:.{decimals}f}')}"


def _decimals(magnitude: float) -> int:
    if magnitude == 0 or math.isnan(magnitude) or math.isinf(magnitude):
        return 0
    return min(4, max(0, 2 - math.floor(math.log10(magnitude))))


def format_p(p: float | None) -> str:
    if p is None or math.isnan(p):
        return "p n/a"
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"


def describe_check(check: CheckResult) -> str:
    """Why a check is not a pass, in one clause that names its metric and the bound that decided:
    'add_em/exact_match dropped 12.0pt (lower bound 8.1pt > max_drop 2pt at 97.5%, n=400)'.
    An inconclusive one says what would settle it (the samples needed)."""
    deg = check.degradation
    # Other reasons of the same verdict (an absolute bound also violated) follow.
    tail = "".join(f"; {r}" for r in check.reason.split("; ")[1:] if r)
    if check.cause in ("drop", "hard_max_drop") and deg is not None:
        verb = "dropped" if check.higher_is_better else "rose"
        pieces = []
        if check.cause == "hard_max_drop":
            pieces.append(f"beyond hard_max_drop {check.bound_of('hard_max_drop')}")
        elif check.bound_value is not None and check.allowed_drop is not None:
            op = ">" if check.bound_value > check.allowed_drop else "<="
            pieces.append(f"{check.bound_side} bound {format_amount(check, check.bound_value)} {op} max_drop "
                          f"{check.bound_of('max_drop')} at {check.confidence * 100:.4g}%, n={check.n}")
        elif check.verdict == "inconclusive" and check.test:
            pieces.append(f"not testable: {check.test}")
        if check.verdict == "inconclusive":
            pieces.append(settle_text(check))
        pieces = [p for p in pieces if p]
        extra = f" ({'; '.join(pieces)})" if pieces else ""
        return f"{check.metric} {verb} {format_amount(check, deg)}{extra}{tail}"
    if check.cause == "no_baseline" and check.verdict != "pass":
        return f"{check.metric} has no value in the baseline's results to compare with"
    return f"{check.metric}: {check.reason}"


def settle_text(check: CheckResult) -> str:
    """What would settle an inconclusive relative check, or '' when nothing is known."""
    if check.samples_needed is not None:
        return f"~{check.samples_needed:,} samples would settle it"
    if check.mde is not None:
        return "the drop sits on max_drop: no sample size settles it"
    return ""
