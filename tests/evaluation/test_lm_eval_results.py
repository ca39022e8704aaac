"""Reading lm-eval's own output (written by lm-eval's EvaluationTracker) into EvalResults.

Bad files of every kind go through the real CLI in tests/corpus/test_results_corpus.py;
here: the good path, and the checks between two runs and against the config.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from llm_gitops.config.schema import EvalSection
from llm_gitops.evaluation.lm_eval_results import (
    ResultsFileError,
    check_against_config,
    check_pair,
    read_lm_eval_output,
    restrict_to_common_docs,
)
from llm_gitops.evaluation.results import MetricResult
from llm_gitops.evaluation.runner import run_eval
from llm_gitops.evaluation.tasks import resolve_tasks
from llm_gitops.models.digest import model_digest
from llm_gitops.models.resolved import ResolvedModel
from tests.evaluation.conftest import write_suite
from tests.evaluation.lm_eval_output import samples_files, write_lm_eval_output

pytestmark = pytest.mark.slow

TASKS = ["tasks/add_mc.yaml", "tasks/add_em.yaml"]
SETTINGS = EvalSection(tasks=TASKS, batch_size=8)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    return write_suite(tmp_path_factory.mktemp("lm-eval-results") / "repo", count=40)


@pytest.fixture(scope="module")
def outputs(example_models, repo, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("lm-eval-out")
    return {name: write_lm_eval_output(getattr(example_models, name), repo, TASKS, root / name)
            for name in ("good", "regressed")}


def test_reads_a_directory_the_model_subdirectory_or_the_file(outputs):
    results_file = outputs["good"]
    by_dir = read_lm_eval_output(results_file.parents[1], label="--candidate-results")
    by_subdir = read_lm_eval_output(results_file.parent, label="--candidate-results")
    by_file = read_lm_eval_output(results_file, label="--candidate-results")
    assert by_dir.results == by_subdir.results == by_file.results
    assert by_file.harness_version == by_file.results.harness_version
    assert set(by_file.results.metrics) == {"add_mc/acc", "add_em/exact_match"}
    assert by_file.samples_paths == samples_files(results_file)
    assert by_file.results.settings["backend"] == "hf"  # lm-eval's model type, from the run's config
    assert (by_file.results.settings["device"], by_file.results.settings["dtype"]) == ("cpu", "float32")


@pytest.mark.parametrize("run_config,expected", [
    ({"model": "hf", "device": "cuda:0", "model_dtype": "torch.bfloat16", "model_args": {"dtype": "auto"}},
     ("cuda:0", "bfloat16")),  # hf records the dtype it loaded in, which says more than model_args
    ({"model": "vllm", "device": None, "model_args": "pretrained=/m,dtype=float16,tensor_parallel_size=2"},
     (None, "float16")),
    ({"model": "vllm", "model_args": {"pretrained": "/m", "dtype": "bfloat16"}}, (None, "bfloat16")),
    ({"model": "local-completions", "model_args": "model=x,base_url=http://127.0.0.1:1/v1/completions"},
     (None, None)),
    ({}, (None, None)),
], ids=["hf", "args-string", "args-dict", "none-said", "empty"])
def test_where_lm_eval_ran_is_read_from_its_config(run_config, expected):
    from llm_gitops.evaluation.lm_eval_results import _recorded_placement

    placed = _recorded_placement(run_config)
    assert (placed["device"], placed["dtype"]) == expected


def test_same_per_sample_scores_as_the_gate_own_eval(outputs, example_models, repo):
    """The file route and the in-process route agree doc by doc."""
    run = read_lm_eval_output(outputs["regressed"], label="--candidate-results")
    model = ResolvedModel(example_models.regressed, model_digest(example_models.regressed), "regressed", "local")
    own = run_eval(model, SETTINGS, base_dir=repo, cache_root=None)
    for key, metric in own.metrics.items():
        theirs = run.results.metrics[key]
        assert (theirs.doc_ids, theirs.scores) == (metric.doc_ids, metric.scores), key
        assert theirs.value == pytest.approx(metric.value) and theirs.n == metric.n == 40
    assert 0 < run.results.metrics["add_em/exact_match"].value < 1  # the test can tell models apart


def test_content_digest_keys_the_results(outputs, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(outputs["good"].parent, copy)
    a = read_lm_eval_output(outputs["good"], label="x").results
    b = read_lm_eval_output(copy, label="x").results
    assert a.model_digest == b.model_digest and a.cache_key == b.cache_key  # moving files changes nothing
    em = samples_files(copy / outputs["good"].name)["add_em"]
    lines = em.read_text().splitlines(keepends=True)
    em.write_text("".join(lines[1:] + lines[:1]))  # same records, other order: other bytes
    assert read_lm_eval_output(copy, label="x").results.model_digest != a.model_digest


def test_good_and_regressed_pair_and_match_the_config(outputs, repo):
    good = read_lm_eval_output(outputs["good"], label="--baseline-results")
    regressed = read_lm_eval_output(outputs["regressed"], label="--candidate-results")
    check_pair(regressed, good)
    suite = resolve_tasks(SETTINGS, base_dir=repo)
    check_against_config(regressed, suite, SETTINGS, {"add_em/exact_match", "add_mc/acc"})


def test_config_mismatches_are_named(outputs, repo):
    run = read_lm_eval_output(outputs["good"], label="--candidate-results")
    suite = resolve_tasks(SETTINGS, base_dir=repo)
    with pytest.raises(ResultsFileError, match="3-shot prompts, but eval.num_fewshot is 0"):
        check_against_config(replace(run, n_shot={"add_em": 3, "add_mc": 0}), suite, SETTINGS, set())
    with pytest.raises(ResultsFileError, match="no metric 'add_em/acc_norm'"):
        check_against_config(run, suite, SETTINGS, {"add_em/acc_norm"})
    only_em = EvalSection(tasks=["tasks/add_em.yaml"])
    with pytest.raises(ResultsFileError, match="task 'add_mc', which eval.tasks does not name"):
        check_against_config(run, resolve_tasks(only_em, base_dir=repo), only_em, set())
    longer = EvalSection(tasks=TASKS, max_gen_toks=9)
    with pytest.raises(ResultsFileError, match="generation_kwargs"):
        check_against_config(run, suite, longer, set())


def test_other_data_under_the_same_doc_ids_is_refused(outputs, repo, tmp_path):
    data = repo / "tasks" / "data" / "add_em.jsonl"
    edited = tmp_path / "repo"
    shutil.copytree(repo, edited)
    rows = (edited / "tasks/data/add_em.jsonl").read_text().splitlines()
    row = json.loads(rows[5])
    row["answer"] = "999"
    rows[5] = json.dumps(row)
    (edited / "tasks/data/add_em.jsonl").write_text("\n".join(rows) + "\n")
    run = read_lm_eval_output(outputs["good"], label="--candidate-results")
    with pytest.raises(ResultsFileError, match=r"doc_id 5 .* differs: the results were made from other data"):
        check_against_config(run, resolve_tasks(SETTINGS, base_dir=edited), SETTINGS, set())
    assert data.read_text() != (edited / "tasks/data/add_em.jsonl").read_text()


def _metric(ids, scores, value=None):
    return MetricResult("t", "acc", sum(scores) / len(scores) if value is None else value, None, len(ids), True,
                        tuple(ids), tuple(scores))


def test_partly_overlapping_documents_are_decided_on_the_common_ones(outputs):
    base = read_lm_eval_output(outputs["good"], label="b").results
    cand = replace(base, metrics={"t/acc": _metric([1, 2, 3, 4], [1.0, 0.0, 1.0, 1.0])})
    basel = replace(base, metrics={"t/acc": _metric([3, 4, 5], [0.0, 1.0, 1.0])})
    c, b, notes = restrict_to_common_docs(cand, basel, candidate_label="C", baseline_label="B")
    assert c.metrics["t/acc"].doc_ids == b.metrics["t/acc"].doc_ids == (3, 4)
    assert c.metrics["t/acc"].value == 1.0 and b.metrics["t/acc"].value == 0.5 and c.metrics["t/acc"].n == 2
    assert notes == ("t/acc: decided on the 2 documents both sides evaluated (candidate had 4, baseline 3)",)
    disjoint = replace(base, metrics={"t/acc": _metric([8, 9], [1.0, 1.0])})
    with pytest.raises(ResultsFileError, match="disjoint documents"):
        restrict_to_common_docs(cand, disjoint, candidate_label="C", baseline_label="B")
    not_a_mean = replace(base, metrics={"t/acc": _metric([3, 4, 5], [0.0, 1.0, 1.0], value=0.1)})
    with pytest.raises(ResultsFileError, match="not a per-sample mean"):
        restrict_to_common_docs(cand, not_a_mean, candidate_label="C", baseline_label="B")
    same = restrict_to_common_docs(cand, cand, candidate_label="C", baseline_label="B")
    assert same == (cand, cand, ())


def test_a_metric_function_s_names_are_read_without_assuming_their_aggregation(example_models, tmp_path):
    """miss@1 is reported by ``!function miss.miss_rate`` aggregated by median: the file does
    not say which aggregation a reported name has, so its value is not checked as a mean."""
    from tests.evaluation.conftest import MISS_TASK, write_miss_task

    repo = write_suite(tmp_path / "repo", count=20)
    write_miss_task(repo, aggregation="median")
    results_file = write_lm_eval_output(example_models.regressed, repo, [MISS_TASK], tmp_path / "out")
    run = read_lm_eval_output(results_file, label="--candidate-results")
    miss = run.results.metrics["add_miss/miss@1"]
    import statistics

    assert len(miss.scores) == 20 and miss.value == statistics.median(miss.scores), miss
    assert miss.value != statistics.mean(miss.scores)  # what the old check held the file to
    assert run.directions["add_miss"]["miss@1"] is False
