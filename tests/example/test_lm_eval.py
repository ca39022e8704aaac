"""The repo's local lm-eval tasks load and score with the real harness: good beats regressed."""

from __future__ import annotations

import pytest

from tests.example.conftest import absolute_tasks

pytestmark = pytest.mark.slow


def _scores(model_dir, task_dir) -> dict[str, float]:
    import lm_eval
    from lm_eval.tasks import TaskManager

    res = lm_eval.simple_evaluate(
        model="hf",
        model_args=f"pretrained={model_dir},dtype=float32",
        tasks=["add_mc", "add_em"],
        task_manager=TaskManager(include_path=str(task_dir), include_defaults=False),
        batch_size=64,
        device="cpu",
        limit=150,
    )
    return {
        "add_mc/acc": float(res["results"]["add_mc"]["acc,none"]),
        "add_em/exact_match": float(res["results"]["add_em"]["exact_match,none"]),
    }


def test_good_beats_regressed_on_both_tasks(example_models, tmp_path):
    task_dir = absolute_tasks(example_models.repo, tmp_path / "tasks")
    good = _scores(example_models.good, task_dir)
    bad = _scores(example_models.regressed, task_dir)
    assert good["add_mc/acc"] >= 0.9 and good["add_em/exact_match"] >= 0.9, good
    for metric in good:
        assert bad[metric] <= good[metric] - 0.1, (metric, good, bad)
    # Regressed, not random: random guessing gives ~0.25 MC and ~0 EM.
    assert bad["add_em/exact_match"] >= 0.05 and bad["add_mc/acc"] >= 0.3, bad
