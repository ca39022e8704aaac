"""Analysis of one colour: smoke requests and metric checks, Flagger-style.

``run_analysis`` sends ``smoke_requests`` completions straight to the colour, then (given a
``SmokeEvalPlan``) runs the smoke eval against it (``deploy.smoke_eval``: the release's
recorded eval, decided with the gate's rule), then runs ``iterations`` rounds ``interval`` apart; each round reads the colour's own Prometheus
``/metrics`` twice and judges what happened between the two reads. The ending follows
Argo Rollouts: ``Successful``, ``Failed`` (``threshold`` rounds failed), ``Error``
(the colour could not be asked) or ``Inconclusive`` (no round had data); only
``Successful`` promotes. No traffic is never read as "no errors" (Flagger's users were
bitten by that): a round without requests is inconclusive. Every value measured and the
question asked are kept in the result for the deploy record.
"""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from typing import Callable

from llm_gitops.config.environments import AnalysisSection, MetricCheck
from llm_gitops.deploy.smoke_eval import SmokeEvalPlan, run_smoke_eval

COMPLETIONS_ROUTE = "/v1/completions"
_REQUESTS = "llm_gitops_requests_total"
_DURATION_BUCKET = "llm_gitops_request_duration_seconds_bucket"
_HTTP_TIMEOUT_S = 30.0
_SMOKE_BODY = {"prompt": "1", "max_tokens": 1, "temperature": 0}


@dataclass(frozen=True)
class Measurement:
    round: int
    check: str  # smoke | error_rate | latency_p95_ms | smoke_eval:TASK/METRIC
    value: float | None  # None: no data (smoke_eval: the served model's score)
    limit: float | None  # smoke_eval: the tolerated drop, in the metric's units
    verdict: str  # pass | fail | no-data | error (smoke_eval: also inconclusive)
    detail: str = ""
    # smoke_eval only: documents paired, the release's recorded score, the degradation bound that decided
    n: int | None = None
    recorded: float | None = None
    bound: float | None = None


@dataclass(frozen=True)
class AnalysisResult:
    phase: str  # pre-promotion | post-promotion
    status: str  # Successful | Failed | Error | Inconclusive
    reason: str
    measurements: tuple[Measurement, ...] = field(default_factory=tuple)

    @property
    def promotes(self) -> bool:
        return self.status == "Successful"

    def to_json(self) -> dict:
        return {"phase": self.phase, "status": self.status, "reason": self.reason,
                "measurements": [asdict(m) for m in self.measurements]}


@dataclass(frozen=True)
class Snapshot:
    """The counters the checks need, from one read of ``/metrics``."""

    by_status: dict[str, float]  # status code -> completions answered
    buckets: dict[float, float]  # upper bound (s) -> cumulative count

    def total(self) -> float:
        return sum(self.by_status.values())


def _http(method: str, url: str, body: dict | None = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(request, timeout=_HTTP_TIMEOUT_S) as resp:  # noqa: S310 - our own colour's URL
            return resp.status, resp.read(1 << 22)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(1 << 16)


def read_snapshot(endpoint: str) -> Snapshot:
    """Parse the colour's ``/metrics`` (Prometheus text format) into a :class:`Snapshot`."""
    from prometheus_client.parser import text_string_to_metric_families

    status, body = _http("GET", endpoint.rstrip("/") + "/metrics")
    if status != 200:
        raise OSError(f"/metrics answered {status}")
    by_status: dict[str, float] = {}
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(body.decode("utf-8", "replace")):
        for sample in family.samples:
            if sample.labels.get("route") != COMPLETIONS_ROUTE:
                continue
            if sample.name == _REQUESTS:
                code = sample.labels.get("status", "")
                by_status[code] = by_status.get(code, 0.0) + sample.value
            elif sample.name == _DURATION_BUCKET:
                bound = sample.labels.get("le", "+Inf")
                buckets[math.inf if bound == "+Inf" else float(bound)] = sample.value
    return Snapshot(by_status=by_status, buckets=buckets)


def _p95_ms(before: Snapshot, after: Snapshot) -> float | None:
    """p95 latency (ms) of the requests between two snapshots, by linear interpolation in its bucket."""
    bounds = sorted(after.buckets)
    counts = [after.buckets[b] - before.buckets.get(b, 0.0) for b in bounds]
    if not counts or counts[-1] <= 0:
        return None
    rank = 0.95 * counts[-1]
    lower, below = 0.0, 0.0
    for bound, cumulative in zip(bounds, counts):
        if cumulative >= rank:
            if math.isinf(bound):
                return lower * 1000.0  # beyond the last finite bucket: its bound is the best we know
            inside = cumulative - below
            share = (rank - below) / inside if inside else 1.0
            return (lower + (bound - lower) * share) * 1000.0
        lower, below = bound, cumulative
    return None


def judge(check: MetricCheck, before: Snapshot, after: Snapshot) -> tuple[float | None, str]:
    """(value, verdict) of one check over the requests between two snapshots."""
    answered = after.total() - before.total()
    if answered <= 0:
        return None, "no-data"
    if check.metric == "error_rate":
        errors = sum(after.by_status.get(code, 0.0) - before.by_status.get(code, 0.0)
                     for code in after.by_status if code.startswith("5"))
        value = errors / answered
    else:
        value = _p95_ms(before, after)
        if value is None:
            return None, "no-data"
    return value, "pass" if value <= check.max else "fail"


def run_analysis(endpoint: str, spec: AnalysisSection, *, phase: str, smoke: bool = True,
                 sleep: Callable[[float], None] = time.sleep, progress: Callable[[str], None] = lambda _: None,
                 smoke_eval: SmokeEvalPlan | None = None) -> AnalysisResult:
    """Judge the colour at ``endpoint`` (its own base URL, not the front's).

    ``smoke_eval`` runs with the smoke requests (``smoke``: pre-promotion), so never on
    post-promotion traffic.
    """
    measurements: list[Measurement] = []

    def result(status: str, reason: str) -> AnalysisResult:
        return AnalysisResult(phase=phase, status=status, reason=reason, measurements=tuple(measurements))

    url = endpoint.rstrip("/") + COMPLETIONS_ROUTE

    def send_smoke(round_: int) -> AnalysisResult | None:
        for _ in range(spec.smoke_requests):
            try:
                status, body = _http("POST", url, _SMOKE_BODY)
            except OSError as exc:
                measurements.append(Measurement(round_, "smoke", None, None, "error", str(exc)[:200]))
                return result("Error", f"the colour did not answer a completion: {exc}")
            verdict = "pass" if status == 200 else "fail"
            measurements.append(Measurement(round_, "smoke", float(status), 200.0, verdict,
                                            "" if status == 200 else body[:200].decode("utf-8", "replace")))
            if status != 200:
                return result("Failed", f"a smoke completion was answered {status}")
        return None

    if smoke and (failed := send_smoke(0)) is not None:
        return failed
    evaluated = ""
    if smoke and smoke_eval is not None:
        judged = run_smoke_eval(smoke_eval, endpoint, progress=progress)
        measurements.extend(Measurement(0, f"smoke_eval:{c.metric}", c.served, c.allowed_drop, c.verdict, c.reason,
                                        n=c.n, recorded=c.recorded, bound=c.bound) for c in judged.checks)
        if not judged.checks:  # the preview could not be asked at all
            measurements.append(Measurement(0, "smoke_eval", None, None, "error", judged.reason[:300]))
        if judged.status != "Successful":
            return result(judged.status, judged.reason)
        evaluated = judged.reason
    if not spec.metrics:
        progress(f"analysis ({phase}): smoke requests answered; no metric checks configured")
        return result("Successful", evaluated or ("smoke requests answered" if smoke and spec.smoke_requests else
                                                  "no checks configured"))
    failures = passes = 0
    for round_ in range(1, spec.iterations + 1):
        try:
            before = read_snapshot(endpoint)
            if smoke and (failed := send_smoke(round_)) is not None:
                return failed
            sleep(spec.interval)
            after = read_snapshot(endpoint)
        except OSError as exc:
            measurements.append(Measurement(round_, "metrics", None, None, "error", str(exc)[:200]))
            return result("Error", f"could not read the colour's metrics: {exc}")
        verdicts = []
        for check in spec.metrics:
            value, verdict = judge(check, before, after)
            measurements.append(Measurement(round_, check.metric, value, check.max, verdict))
            verdicts.append(verdict)
        shown = ", ".join(f"{m.check}={'no data' if m.value is None else f'{m.value:.4g}'}"
                          for m in measurements[-len(spec.metrics):])
        if "fail" in verdicts:
            failures += 1
            progress(f"analysis ({phase}) round {round_}/{spec.iterations}: FAIL ({shown})")
            if failures >= spec.threshold:
                return result("Failed", f"{failures} round(s) failed (threshold {spec.threshold}): {shown}")
        elif "no-data" in verdicts:
            progress(f"analysis ({phase}) round {round_}/{spec.iterations}: no data ({shown})")
        else:
            passes += 1
            progress(f"analysis ({phase}) round {round_}/{spec.iterations}: pass ({shown})")
    if passes == 0:
        return result("Inconclusive", "no round had data (no requests reached the colour): not promoting")
    return result("Successful", f"{passes}/{spec.iterations} rounds passed, {failures} failed")
