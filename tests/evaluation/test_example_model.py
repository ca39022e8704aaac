"""The real lm-eval on the trained example models and the example repo's own tasks."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llm_gitops.config.schema import EvalSection
from llm_gitops.evaluation.runner import run_eval
from llm_gitops.models.digest import model_digest
from llm_gitops.models.resolved import ResolvedModel

pytestmark = pytest.mark.slow

TASKS = ["tasks/add_mc.yaml", "tasks/add_em.yaml"]
SETTINGS = EvalSection(tasks=TASKS, limit=50, sampling="random", batch_size=16, seed=1234)


def resolved(path: Path) -> ResolvedModel:
    return ResolvedModel(path, model_digest(path), str(path), "local")


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("eval-cache")


@pytest.fixture(scope="module")
def good_run(example_models, cache):
    started = time.perf_counter()
    results = run_eval(resolved(example_models.good), SETTINGS, base_dir=example_models.repo, cache_root=cache)
    return results, time.perf_counter() - started


def test_good_model_scores_well_on_both_tasks(good_run):
    results, _ = good_run
    assert set(results.metrics) == {"add_mc/acc", "add_em/exact_match"}
    for metric in results.metrics.values():
        assert metric.n == 50 and len(metric.scores) == 50
        assert metric.value > 0.6, metric  # random guessing: 0.25 (MC), ~0 (EM)


def test_eval_tells_the_regressed_model_apart(good_run, example_models, cache):
    good, _ = good_run
    regressed = run_eval(resolved(example_models.regressed), SETTINGS, base_dir=example_models.repo, cache_root=cache)
    assert regressed.metrics["add_em/exact_match"].value < good.metrics["add_em/exact_match"].value
    # Same seeded subset, so the gate can pair the samples.
    for key, metric in regressed.metrics.items():
        assert metric.doc_ids == good.metrics[key].doc_ids


def test_random_subset_doc_ids_point_at_the_right_docs(good_run, example_models):
    """Per-sample scores of the random subset equal the full run's at the same doc ids."""
    good, _ = good_run
    full = run_eval(
        resolved(example_models.good),
        EvalSection(tasks=["tasks/add_mc.yaml"], batch_size=32),
        base_dir=example_models.repo,
        cache_root=None,
    )
    by_id = dict(zip(full.metrics["add_mc/acc"].doc_ids, full.metrics["add_mc/acc"].scores))
    assert len(by_id) == 500
    subset = good.metrics["add_mc/acc"]
    assert [by_id[i] for i in subset.doc_ids] == list(subset.scores)


def test_cached_rerun_is_fast_and_light(good_run, example_models, cache):
    _, cold_s = good_run
    code = f"""
import json, sys, time
from pathlib import Path
t = time.perf_counter()
from llm_gitops.config.schema import EvalSection
from llm_gitops.models.digest import model_digest
from llm_gitops.models.resolved import ResolvedModel
from llm_gitops.evaluation.runner import run_eval
path = Path({str(example_models.good)!r})
settings = EvalSection.model_validate(json.loads({json.dumps(SETTINGS.model_dump(mode="json"))!r}))
res = run_eval(ResolvedModel(path, model_digest(path), str(path), "local"), settings,
               base_dir=Path({str(example_models.repo)!r}), cache_root=Path({str(cache)!r}))
print(json.dumps({{"cached": res.cached, "s": time.perf_counter() - t,
                  "lm_eval": "lm_eval" in sys.modules, "torch": "torch" in sys.modules}}))
"""
    out = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    # How fast a hit is, is benchmarks/gate_overhead.py's business (timings don't belong in
    # tests); what a hit must never do is import the heavy stack or load the model.
    assert out["cached"] and not out["lm_eval"] and not out["torch"], (out, cold_s)
