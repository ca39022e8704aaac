"""run_eval: metric extraction, sampling, cache keys, and the real lm-eval on a tiny model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from llm_gitops.config.schema import EvalSection
from llm_gitops.errors import EvalError
from llm_gitops.evaluation.results import EvalResults
from llm_gitops.evaluation.runner import (
    eval_cache_key,
    eval_settings,
    extract_metrics,
    harness_version,
    run_eval,
    sample_indices,
)
from llm_gitops.evaluation.tasks import resolve_tasks
from llm_gitops.models.digest import model_digest
from llm_gitops.models.resolved import ResolvedModel
from tests.evaluation.conftest import write_suite

TASKS = ["tasks/add_mc.yaml", "tasks/add_em.yaml"]


def resolved(path: Path) -> ResolvedModel:
    return ResolvedModel(path, model_digest(path), str(path), "local")


# ----------------------------------------------------------------- pure functions
def lm_eval_like_result() -> dict:
    """The shape lm-eval 0.4 returns (numpy scalars, 'N/A' stderr, two filters)."""
    return {
        "results": {
            "add_mc": {"alias": "add_mc", "acc,none": np.float64(0.5), "acc_stderr,none": np.float64(0.25)},
            "gsm": {
                "alias": "gsm",
                "exact_match,strict": 1.0,
                "exact_match_stderr,strict": "N/A",
                "exact_match,flex": np.float32(0.5),
                "exact_match_stderr,flex": np.float64(0.5),
            },
        },
        "higher_is_better": {"add_mc": {"acc": True}, "gsm": {"exact_match": True}},
        "n-samples": {"add_mc": {"original": 10, "effective": 4}, "gsm": {"original": 2, "effective": 2}},
        "samples": {
            "add_mc": [
                {"doc_id": 7, "filter": "none", "acc": np.float64(1.0)},
                {"doc_id": 2, "filter": "none", "acc": np.float64(0.0)},
                {"doc_id": 5, "filter": "none", "acc": 1.0},
                {"doc_id": 3, "filter": "none", "acc": 0.0},
            ],
            "gsm": [
                {"doc_id": 0, "filter": "strict", "exact_match": 1.0},
                {"doc_id": 1, "filter": "strict", "exact_match": 1.0},
                {"doc_id": 0, "filter": "flex", "exact_match": 0.0},
                {"doc_id": 1, "filter": "flex", "exact_match": 1.0},
            ],
        },
    }


def test_extract_metrics_values_stderr_and_samples():
    metrics = extract_metrics(lm_eval_like_result(), ["add_mc", "gsm"])
    assert set(metrics) == {"add_mc/acc", "gsm/exact_match,strict", "gsm/exact_match,flex"}
    mc = metrics["add_mc/acc"]
    assert (mc.value, mc.stderr, mc.n, mc.higher_is_better) == (0.5, 0.25, 4, True)
    assert mc.doc_ids == (2, 3, 5, 7) and mc.scores == (0.0, 0.0, 1.0, 1.0)  # sorted by doc id
    assert all(type(s) is float for s in mc.scores) and type(mc.value) is float
    assert metrics["gsm/exact_match,strict"].stderr is None  # 'N/A'
    assert metrics["gsm/exact_match,flex"].scores == (0.0, 1.0)
    # The whole thing serialises to plain JSON (no numpy left).
    json.dumps({k: m.to_json() for k, m in metrics.items()})


def test_extract_metrics_corpus_metric_has_no_samples():
    res = {
        "results": {"t": {"bleu,none": 12.5, "bleu_stderr,none": 1.0}},
        "higher_is_better": {"t": {"bleu": True}},
        "n-samples": {"t": {"effective": 2}},
        "samples": {"t": [{"doc_id": 0, "filter": "none", "bleu": (["a"], ["a"])}]},
    }
    metric = extract_metrics(res, ["t"])["t/bleu"]
    assert metric.value == 12.5 and metric.n == 2 and metric.scores == ()


def test_extract_metrics_missing_task_is_an_error():
    with pytest.raises(EvalError, match="no results for task 'other'"):
        extract_metrics(lm_eval_like_result(), ["other"])


def test_sample_indices_seeded_sorted_and_per_task():
    a = sample_indices("add_em", 500, 50, 1234)
    assert a == sample_indices("add_em", 500, 50, 1234)
    assert a == sorted(a) and len(set(a)) == 50 and max(a) < 500
    assert a != sample_indices("add_mc", 500, 50, 1234)
    assert a != sample_indices("add_em", 500, 50, 99)


def test_cache_key_changes_with_each_input(tmp_path: Path):
    root = write_suite(tmp_path / "r")
    s = EvalSection(tasks=TASKS, limit=10)
    suite = resolve_tasks(s, base_dir=root)
    base = eval_cache_key("sha256:aa", suite, eval_settings(s, suite), "0.4.13")
    assert base == eval_cache_key("sha256:aa", resolve_tasks(s, base_dir=root), eval_settings(s, suite), "0.4.13")
    assert base != eval_cache_key("sha256:bb", suite, eval_settings(s, suite), "0.4.13")
    assert base != eval_cache_key("sha256:aa", suite, eval_settings(s, suite), "0.4.14")
    other = EvalSection(tasks=TASKS, limit=11)
    assert base != eval_cache_key("sha256:aa", suite, eval_settings(other, suite), "0.4.13")
    (root / "tasks/data/add_mc.jsonl").write_text((root / "tasks/data/add_mc.jsonl").read_text().replace('"label": 0', '"label": 1', 1))
    changed = resolve_tasks(s, base_dir=root)
    assert base != eval_cache_key("sha256:aa", changed, eval_settings(s, changed), "0.4.13")


# ----------------------------------------------------------------- the real lm-eval
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, tiny_model_dir: Path):
    root = write_suite(tmp_path_factory.mktemp("suite"), count=30)
    cache = tmp_path_factory.mktemp("cache")
    settings = EvalSection(tasks=TASKS, limit=12, sampling="random", batch_size=8, seed=7)
    lines: list[str] = []
    results = run_eval(resolved(tiny_model_dir), settings, base_dir=root, cache_root=cache,
                       progress=lines.append)
    return root, cache, settings, results, lines


def test_real_eval_reports_both_tasks_with_paired_samples(tiny_run):
    root, _, settings, results, lines = tiny_run
    assert set(results.metrics) == {"add_mc/acc", "add_em/exact_match"}
    assert results.harness_version == harness_version() and not results.cached
    for key, metric in results.metrics.items():
        task = key.split("/")[0]
        assert metric.n == 12
        assert list(metric.doc_ids) == sample_indices(task, 30, 12, settings.seed)
        assert set(metric.scores) <= {0.0, 1.0}
        assert metric.value == pytest.approx(sum(metric.scores) / len(metric.scores))
    assert any("loading model" in line for line in lines) and any("done in" in line for line in lines)
    EvalResults.from_json(json.loads(json.dumps(results.to_json())))  # round-trips


def test_second_run_is_a_cache_hit(tiny_run, tiny_model_dir: Path):
    root, cache, settings, first, _ = tiny_run
    lines: list[str] = []
    again = run_eval(resolved(tiny_model_dir), settings, base_dir=root, cache_root=cache, progress=lines.append)
    assert again.cached and again == first
    assert not any("loading model" in line for line in lines)


def test_cache_hit_imports_neither_torch_nor_lm_eval(tiny_run, tiny_model_dir: Path):
    root, cache, settings, first, _ = tiny_run
    code = f"""
import json, sys, time
from pathlib import Path
from llm_gitops.config.schema import EvalSection
from llm_gitops.models.resolved import ResolvedModel
from llm_gitops.evaluation.runner import run_eval
t = time.perf_counter()
model = ResolvedModel(Path({str(tiny_model_dir)!r}), {first.model_digest!r}, "again", "local")
settings = EvalSection.model_validate(json.loads({json.dumps(settings.model_dump(mode="json"))!r}))
res = run_eval(model, settings, base_dir=Path({str(root)!r}), cache_root=Path({str(cache)!r}))
print(json.dumps({{"cached": res.cached, "source": res.model_source, "s": time.perf_counter() - t,
                  "lm_eval": "lm_eval" in sys.modules, "torch": "torch" in sys.modules}}))
"""
    out = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert out["cached"] and out["source"] == "again"
    assert not out["lm_eval"] and not out["torch"]
    assert out["s"] < 1.0


def test_first_sampling_and_no_cache(tmp_path: Path, tiny_model_dir: Path):
    root = write_suite(tmp_path / "r", count=30)
    settings = EvalSection(tasks=["tasks/add_mc.yaml"], limit=5, sampling="first", batch_size=8)
    results = run_eval(resolved(tiny_model_dir), settings, base_dir=root, cache_root=None)
    assert results.metrics["add_mc/acc"].doc_ids == (0, 1, 2, 3, 4)
    assert not list(tmp_path.rglob("*.json"))  # nothing cached anywhere


def test_no_environment_report_outside_a_checkout(tmp_path: Path, tiny_model_dir: Path, monkeypatch, capfd):
    """lm-eval's per-call environment report (pip list, git) is skipped, then put back."""
    import lm_eval.evaluator as evaluator

    before = evaluator.add_env_info, evaluator.get_git_commit_hash
    root = write_suite(tmp_path / "r", count=10)
    monkeypatch.chdir(tmp_path)  # not a git checkout: lm-eval's git call would print "fatal: ..."
    calls: list[object] = []
    real_popen = subprocess.Popen
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: calls.append(a[0] if a else k.get("args")) or real_popen(*a, **k))
    results = run_eval(resolved(tiny_model_dir), EvalSection(tasks=["tasks/add_mc.yaml"], limit=4, batch_size=4),
                       base_dir=root, cache_root=None)
    assert results.metrics["add_mc/acc"].n == 4
    assert calls == []  # no pip list, no git
    assert "not a git repository" not in capfd.readouterr().err
    assert (evaluator.add_env_info, evaluator.get_git_commit_hash) == before


def test_unreadable_dataset_is_an_eval_error(tmp_path: Path, tiny_model_dir: Path):
    root = write_suite(tmp_path / "r", count=5)
    (root / "tasks/data/add_mc.jsonl").write_text("this is not json\n")
    with pytest.raises(EvalError, match="lm-eval could not load add_mc"):
        run_eval(resolved(tiny_model_dir), EvalSection(tasks=["tasks/add_mc.yaml"]), base_dir=root, cache_root=None)


def test_no_retie_keeps_a_separate_head(tiny_model_dir: Path):
    """HFLM calls tie_weights(); a model whose head must stay separate survives it."""
    import torch
    from lm_eval.models.huggingface import HFLM

    from llm_gitops.evaluation.runner import _no_retie
    from llm_gitops.models.loader import load_model

    def untied():
        loaded = load_model(tiny_model_dir)
        head = loaded.model.get_output_embeddings()
        head.weight = torch.nn.Parameter(head.weight.detach().clone() + 1.0)
        return loaded

    def is_tied(model) -> bool:
        return model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()

    plain = untied()
    HFLM(pretrained=plain.model, tokenizer=plain.tokenizer, batch_size=1)
    assert is_tied(plain.model)  # what HFLM does on its own

    guarded = untied()
    with _no_retie(guarded.model, retie_safe=False):
        HFLM(pretrained=guarded.model, tokenizer=guarded.tokenizer, batch_size=1)
    assert not is_tied(guarded.model)
    assert "tie_weights" not in vars(guarded.model)  # the instance patch is removed again
