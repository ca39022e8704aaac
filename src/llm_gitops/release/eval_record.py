"""The gated eval a release records: the gate's candidate on the first documents of each task.

``record_eval`` evaluates the model a gate report names (checked by digest) on the first
``docs`` documents of each task's seeded order (``evaluation.runner.document_order``),
through the eval runner and its cache: for a sequential gate with ``docs`` equal to its
first look (``eval.limit``) that is the very entry the gate wrote, so nothing runs again;
otherwise the same model, tasks and settings are evaluated on those documents now. The
per-document scores go into the release (``RecordedEval``), where a deploy's smoke eval
pairs them with what the live preview answers (``deploy.smoke_eval``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from llm_gitops.config.schema import EvalSection
from llm_gitops.errors import ConfigError
from llm_gitops.evaluation.lm_eval_results import RESULTS_KIND
from llm_gitops.models.resolved import ResolvedModel
from llm_gitops.release.record import RecordedEval

# Documents per task a release records at most: enough for a smoke eval to resolve a few
# points, small enough that a release of tens of tasks stays far below its 1 MiB cap.
MAX_RECORDED_DOCS = 1000
# Settings that change per-document scores of the same model on the same documents.
COMPARABLE_SETTINGS = ("seed", "sampling", "num_fewshot", "max_gen_toks")


def gated_candidate(report: dict[str, Any], report_path: Path) -> tuple[str, str]:
    """(source, digest) of the candidate a gate report.json names."""
    candidate = (report.get("models") or {}).get("candidate") if isinstance(report.get("models"), dict) else None
    source = candidate.get("source") if isinstance(candidate, dict) else None
    digest = candidate.get("digest") if isinstance(candidate, dict) else None
    if not isinstance(source, str) or not isinstance(digest, str) or not source or not digest:
        raise ConfigError(f"{report_path}: the gate report names no candidate model (models.candidate)",
                          hint="pass the report.json that 'llm-gitops gate' wrote, or --no-eval")
    if candidate.get("kind") == RESULTS_KIND:
        raise ConfigError(f"{report_path}: the gate read the candidate's lm-eval results ({source}), so there is no "
                          "model here to record an eval of", hint="release with --no-eval (no smoke eval possible), "
                          "or gate the model itself")
    return source, digest


def check_gated_model(model: ResolvedModel, digest: str, report_path: Path) -> None:
    if model.digest != digest:
        raise ConfigError(f"{report_path}: the gate evaluated {digest[:19]}, but {model.source} is now "
                          f"{model.digest[:19]}", hint="release the model that was gated (re-run the gate on this "
                          "one), or pass --no-eval")


def record_eval(model: ResolvedModel, settings: EvalSection, *, base_dir: Path, cache_root: Path | None, docs: int,
                progress: Callable[[str], None] = lambda _m: None) -> RecordedEval:
    """Evaluate (or read from the cache) ``model`` on the first ``docs`` documents of each task."""
    from llm_gitops.evaluation.runner import run_eval
    from llm_gitops.evaluation.tasks import resolve_tasks

    if not 1 <= docs <= MAX_RECORDED_DOCS:
        raise ConfigError(f"--eval-docs {docs}: a release records 1 to {MAX_RECORDED_DOCS} documents per task",
                          hint=f"pick a number up to {MAX_RECORDED_DOCS} (the smoke eval uses at most this many)")
    suite = resolve_tasks(settings, base_dir=base_dir)
    # The same call as a sequential gate's first look (same settings, same slice): the same cache entry.
    results = run_eval(model, settings, base_dir=base_dir, cache_root=cache_root, progress=progress,
                       order_slice=(0, docs))
    by_name = {t.name: t.config_hash for t in suite.tasks}
    metrics = {key: m.to_json() for key, m in sorted(results.metrics.items())
               if m.scores and len(m.scores) == len(m.doc_ids)}  # corpus-level metrics have nothing to pair
    if not metrics:
        raise ConfigError(f"eval.tasks: no metric of {', '.join(suite.names)} has per-document scores to record",
                          hint="a smoke eval needs per-document metrics (acc, exact_match); or pass --no-eval")
    recorded_settings = {k: results.settings.get(k) for k in COMPARABLE_SETTINGS}
    recorded_settings["split_sizes"] = dict(results.settings.get("split_sizes") or {})
    return RecordedEval(
        model_digest=results.model_digest,
        harness_version=results.harness_version,
        settings=recorded_settings,
        task_configs={t: by_name.get(t, suite.config_hash) for t in sorted({m["task"] for m in metrics.values()})},
        metrics=metrics,
    )
