"""The example repo's .llm-gitops.yaml and task YAMLs are valid and consistent."""

from __future__ import annotations

import yaml

from llm_gitops.config import load_config
from tests.support.example_models import EXAMPLE_REPO


def test_config_validates_and_names_real_tasks():
    config = load_config(EXAMPLE_REPO / ".llm-gitops.yaml")
    assert config.models.candidate is not None and config.models.candidate.source == "./model"
    task_names = set()
    for spec in config.eval.tasks:
        task_file = config.resolve_path(spec.path)
        assert task_file.is_file(), task_file
        doc = yaml.safe_load(task_file.read_text())
        task_names.add(doc["task"])
        for rel in doc["dataset_kwargs"]["data_files"].values():
            # Relative to the YAML file, as llm-gitops resolves them.
            assert (task_file.parent / rel).resolve().is_file(), rel
    assert task_names == {"add_em", "add_mc"}
    metrics = {t.metric for t in config.thresholds}
    assert {"add_em/exact_match", "add_mc/acc"} <= metrics
    for t in config.thresholds:
        task = t.metric.split("/")[0]
        assert task in task_names | {"perf"}, t.metric


def test_task_yamls_keep_the_settings_the_scores_depend_on():
    em = yaml.safe_load((EXAMPLE_REPO / "tasks" / "add_em.yaml").read_text())
    mc = yaml.safe_load((EXAMPLE_REPO / "tasks" / "add_mc.yaml").read_text())
    # Without these, lm-eval silently scores near zero (see the YAMLs' comments).
    assert em["generation_kwargs"]["until"] == ["\n"] and em["generation_kwargs"]["max_gen_toks"] <= 8
    assert mc["target_delimiter"] == ""


def test_thresholds_name_metrics_the_tasks_produce():
    from llm_gitops.evaluation.tasks import expected_metrics

    config = load_config(EXAMPLE_REPO / ".llm-gitops.yaml")
    produced = expected_metrics(config.eval, base_dir=config.base_dir)
    assert produced == {"add_em/exact_match", "add_mc/acc"}
    assert {t.metric for t in config.thresholds if not t.metric.startswith("perf/")} <= produced
