"""Real lm-eval output on disk, written the way ``lm_eval --output_path OUT --log_samples`` does.

The run goes through ``lm_eval.simple_evaluate`` with an ``EvaluationTracker`` and the
same ``save_results_aggregated`` / ``save_results_samples`` calls lm-eval's CLI makes
(``lm_eval/_cli/run.py``), so the files are the harness's own, not an imitation.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from llm_gitops.config.schema import EvalSection
from llm_gitops.evaluation.tasks import builtin_task_manager, resolve_tasks

# The example suite's two tasks (tests.evaluation.conftest.write_suite), and a gate config
# checking each with max_drop 2pt: what the results-file tests gate with.
SUITE_TASKS = ["tasks/add_mc.yaml", "tasks/add_em.yaml"]


def suite_gate_config(*, mlflow: str = "enabled: false", eval_extra: str = "", more: str = "") -> str:
    """``.llm-gitops.yaml`` text: the suite's tasks, max_drop 2pt on each, ``tracking.mlflow``
    set to ``{mlflow}``, no posting; ``eval_extra`` lines go under ``eval:``, ``more`` at the end."""
    return (f"version: 1\neval:\n  tasks: [{', '.join(SUITE_TASKS)}]\n{eval_extra}"
            "thresholds:\n  - {metric: add_em/exact_match, max_drop: 2pt}\n  - {metric: add_mc/acc, max_drop: 2pt}\n"
            f"{more}tracking: {{mlflow: {{{mlflow}}}}}\nreport: {{to: none}}\n")


def write_lm_eval_output(model_dir: Path, repo: Path, tasks: list[str], out: Path, *, limit: int | None = None,
                         log_samples: bool = True, max_gen_toks: int | None = None,
                         model: str = "hf", model_args: str | None = None) -> Path:
    """Evaluate ``model_dir`` on the task YAMLs ``tasks`` (relative to ``repo``); returns the results file."""
    import lm_eval
    from lm_eval.loggers import EvaluationTracker

    suite = resolve_tasks(EvalSection(tasks=tasks), base_dir=repo)
    with tempfile.TemporaryDirectory(prefix="lm-eval-tasks-") as tmp:
        manager = builtin_task_manager(suite.write_include_dir(Path(tmp)), include_defaults=False)
        tracker = EvaluationTracker(output_path=str(out))
        results = lm_eval.simple_evaluate(
            model=model,
            model_args=model_args or f"pretrained={model_dir},dtype=float32",
            tasks=suite.names,
            task_manager=manager,
            batch_size=8,
            device="cpu",
            limit=limit,
            log_samples=log_samples,
            evaluation_tracker=tracker,
            gen_kwargs={"max_gen_toks": max_gen_toks} if max_gen_toks else None,
            random_seed=1234,
            numpy_random_seed=1234,
            torch_random_seed=1234,
            fewshot_random_seed=1234,
        )
    assert results is not None
    samples = results.pop("samples") if log_samples else None
    tracker.save_results_aggregated(results=results, samples=samples)
    if log_samples:
        for task_name in results["configs"]:
            tracker.save_results_samples(task_name=task_name, samples=samples[task_name])
    found = sorted(out.rglob("results_*.json"))
    assert len(found) == 1, found
    return found[0]


def samples_files(results_file: Path) -> dict[str, Path]:
    """task -> its samples file, beside ``results_file``."""
    date_id = results_file.stem.rsplit("_", 1)[1]
    tasks = json.loads(results_file.read_text())["configs"]
    return {task: results_file.parent / f"samples_{task}_{date_id}.jsonl" for task in tasks}
