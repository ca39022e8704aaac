"""Synthetic eval and perf results for gate and report tests (no model needed)."""

from __future__ import annotations

import numpy as np

from llm_gitops.evaluation.results import EvalResults, MetricResult
from llm_gitops.perf.results import PerfMetric, PerfResults


def paired_scores(n: int, p_base: float, p_cand: float, seed: int = 0) -> tuple[list[float], list[float]]:
    """Binary per-sample scores (candidate, baseline) with accuracies p_cand and p_base.

    The candidate agrees with the baseline except for the answers flipped to move its
    accuracy, as a fine-tuned or quantized model does.
    """
    rng = np.random.default_rng(seed)
    base = np.zeros(n)
    base[rng.choice(n, int(round(p_base * n)), replace=False)] = 1.0
    cand = flip_to(base, p_base, p_cand, rng)
    return cand.tolist(), base.tolist()


def flip_to(base: np.ndarray, p_base: float, p_cand: float, rng: np.random.Generator) -> np.ndarray:
    """A copy of the 0/1 ``base`` with just enough answers flipped to move its accuracy to ``p_cand``."""
    cand = base.copy()
    n = len(base)
    shift = int(round((p_base - p_cand) * n))
    ones, zeros = np.flatnonzero(base == 1), np.flatnonzero(base == 0)
    if shift > 0:
        cand[rng.choice(ones, shift, replace=False)] = 0.0
    elif shift < 0:
        cand[rng.choice(zeros, -shift, replace=False)] = 1.0
    return cand


def metric(key: str, scores, doc_ids=None, *, higher_is_better: bool = True) -> MetricResult:
    task, name = key.split("/", 1)
    scores = [float(s) for s in scores]
    n = len(scores)
    value = float(np.mean(scores)) if n else float("nan")
    stderr = float(np.std(scores, ddof=1) / np.sqrt(n)) if n > 1 else None
    return MetricResult(
        task=task, metric=name, value=value, stderr=stderr, n=n, higher_is_better=higher_is_better,
        doc_ids=tuple(doc_ids if doc_ids is not None else range(n)), scores=tuple(scores),
    )


def eval_results(*metrics: MetricResult, digest: str = "sha256:" + "a" * 64, source: str = "./model",
                 cached: bool = False) -> EvalResults:
    return EvalResults(
        model_digest=digest, model_source=source, harness_version="0.4.13", task_config_hash="sha256:t",
        settings={"limit": None, "seed": 1234}, metrics={m.key: m for m in metrics},
        created_at="2026-11-24T06:00:00Z", duration_s=1.0, cache_key="k-" + digest[-6:], cached=cached,
    )


def perf_metric(name: str, samples, *, higher_is_better: bool = False, unit: str = "ms", value: float | None = None) -> PerfMetric:
    samples = tuple(float(s) for s in samples)
    return PerfMetric(name, float(np.mean(samples)) if value is None else value, unit, higher_is_better, samples)


def perf_results(*metrics: PerfMetric, digest: str = "sha256:" + "a" * 64) -> PerfResults:
    return PerfResults(
        model_digest=digest, model_source="./model", settings={"repeats": 5}, machine={"cores": 2},
        metrics={m.name: m for m in metrics}, created_at="2026-11-24T06:00:00Z", duration_s=1.0,
    )


def counted_scores(losses: int, wins: int, n: int, p_base: float = 0.8) -> tuple[list[float], list[float]]:
    """Binary (candidate, baseline) scores of ``n`` documents with exactly ``losses`` (baseline
    right, candidate wrong) and ``wins``; the rest agree, ``p_base`` of them right."""
    ties = n - losses - wins
    right = int(round(p_base * n)) - losses  # both right, so the baseline's accuracy is ~p_base
    if right < 0 or right > ties:
        raise ValueError("counts do not fit the accuracy")
    base = [1.0] * losses + [0.0] * wins + [1.0] * right + [0.0] * (ties - right)
    cand = [0.0] * losses + [1.0] * wins + [1.0] * right + [0.0] * (ties - right)
    order = np.random.default_rng(n + losses + wins).permutation(n)
    return [cand[i] for i in order], [base[i] for i in order]
