"""Built-in lm-eval task names: checked against lm-eval's own index (seconds to build)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_gitops.config.schema import EvalSection
from llm_gitops.errors import EvalError
from llm_gitops.evaluation.runner import run_eval
from llm_gitops.evaluation.tasks import expected_metrics
from llm_gitops.models.resolved import ResolvedModel
from tests.evaluation.conftest import write_suite

pytestmark = pytest.mark.slow  # the index of ~14k built-in tasks takes 7-20 s to build


def test_unknown_builtin_name_has_a_did_you_mean(tmp_path: Path):
    with pytest.raises(EvalError) as err:
        expected_metrics(EvalSection(tasks=[{"name": "arc_easyy"}]), base_dir=tmp_path)
    msg = str(err.value)
    assert "eval.tasks[0] (arc_easyy): unknown lm-eval task 'arc_easyy'" in msg
    assert "did you mean 'arc_easy'" in msg


def test_builtin_metrics_from_the_index_without_a_dataset(tmp_path: Path):
    root = write_suite(tmp_path / "repo")
    got = expected_metrics(EvalSection(tasks=["tasks/add_em.yaml", {"name": "arc_easy"}]), base_dir=root)
    assert got == {"add_em/exact_match", "arc_easy/acc", "arc_easy/acc_norm"}
    tag = expected_metrics(EvalSection(tasks=[{"name": "ai2_arc"}]), base_dir=root)
    assert {"arc_easy/acc", "arc_challenge/acc_norm"} <= tag


def test_a_threshold_on_what_a_metric_function_reports(tmp_path: Path):
    """humaneval's metric is ``!function utils.pass_at_k``, which reports pass@1: a threshold
    on it is valid, and one on a filter the task lacks is refused naming what is available."""
    from tests.corpus.harness import expect_clean_error, run_cli

    assert expected_metrics(EvalSection(tasks=[{"name": "humaneval"}]), base_dir=tmp_path) == {"humaneval/*,create_test"}
    config = tmp_path / ".llm-gitops.yaml"
    threshold = "version: 1\neval:\n  tasks: [humaneval]\nthresholds:\n  - {{metric: 'humaneval/pass@1,{}', max_drop: 2pt}}\n"
    config.write_text(threshold.format("create_test"))
    run = run_cli(["validate-config"], cwd=tmp_path)
    assert run.code == 0 and "threshold humaneval/pass@1,create_test: max_drop=2pt" in run.out, (run.out, run.err)
    config.write_text(threshold.format("strict"))
    expect_clean_error(["validate-config"], cwd=tmp_path, surface="config", case="function-metric-filter",
                       culprit=["thresholds[0].metric: no task produces 'humaneval/pass@1,strict'",
                                "available: humaneval/*,create_test", "*: any name the task's metric function reports"])


def test_run_eval_rejects_unknown_name_before_loading_a_model(tmp_path: Path):
    root = write_suite(tmp_path / "repo")
    bogus = ResolvedModel(tmp_path / "no-such-model", "sha256:00", "nowhere", "local")
    settings = EvalSection(tasks=["tasks/add_em.yaml", {"name": "hellaswagg"}])
    with pytest.raises(EvalError, match="did you mean 'hellaswag'"):
        run_eval(bogus, settings, base_dir=root, cache_root=tmp_path / "cache")


def test_a_threshold_on_a_groups_aggregate_says_the_gate_checks_its_tasks(tmp_path: Path):
    """mmlu/acc is the group's own figure, which lm-eval aggregates from its 57 tasks: the
    gate checks each task's acc, and says so rather than only 'no task produces it'."""
    from tests.corpus.harness import expect_clean_error

    (tmp_path / ".llm-gitops.yaml").write_text(
        "version: 1\neval:\n  tasks: [mmlu]\nthresholds:\n  - {metric: mmlu/acc, max_drop: 2pt}\n")
    expect_clean_error(["validate-config"], cwd=tmp_path, surface="config", case="group-aggregate",
                       culprit=[".llm-gitops.yaml:5: thresholds[0].metric: 'mmlu' is a group of 57 tasks, and the gate "
                                "checks each task's acc on its own, not the group's aggregate",
                                "name its tasks' metrics, one threshold each: mmlu_abstract_algebra/acc"])
