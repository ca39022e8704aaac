"""Task resolution and validation: local YAMLs, data paths, errors, content hashes.

No lm-eval import and no model: these checks run before anything heavy.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from llm_gitops.config.schema import EvalSection
from llm_gitops.errors import EvalError
from llm_gitops.evaluation.tasks import expected_metrics, resolve_tasks
from tests.evaluation.conftest import write_suite


def settings(*tasks: str, **kw) -> EvalSection:
    return EvalSection(tasks=list(tasks), **kw)


def test_local_tasks_resolve_with_absolute_data_paths(suite_dir: Path):
    suite = resolve_tasks(settings("tasks/add_mc.yaml", "tasks/add_em.yaml"), base_dir=suite_dir)
    assert suite.names == ["add_mc", "add_em"]
    mc = suite.tasks[0]
    assert mc.kind == "local" and mc.yaml_path == (suite_dir / "tasks/add_mc.yaml").resolve()
    # Relative to the YAML file, not to base_dir or the cwd.
    assert mc.config["dataset_kwargs"]["data_files"]["test"] == str((suite_dir / "tasks/data/add_mc.jsonl").resolve())
    assert suite.config_hash.startswith("sha256:")


def test_resolved_copies_are_loadable_from_another_directory(suite_dir: Path, tmp_path: Path):
    suite = resolve_tasks(settings("tasks/add_mc.yaml", "tasks/add_em.yaml"), base_dir=suite_dir)
    out = suite.write_include_dir(tmp_path / "include")
    written = sorted(out.rglob("task.yaml"))
    assert len(written) == 2
    data = yaml.safe_load(written[0].read_text())
    path = Path(data["dataset_kwargs"]["data_files"]["test"])
    assert path.is_absolute() and path.is_file()


def test_data_paths_relative_to_yaml_not_config(tmp_path: Path):
    # The config lives two levels above the task YAML; data sits next to the YAML.
    root = tmp_path / "repo"
    write_suite(root / "eval" / "suite")
    suite = resolve_tasks(settings("eval/suite/tasks/add_em.yaml"), base_dir=root)
    data = Path(suite.tasks[0].config["dataset_kwargs"]["data_files"]["test"])
    assert data == (root / "eval/suite/tasks/data/add_em.jsonl").resolve()


def test_missing_yaml_names_field_path_and_fix(suite_dir: Path):
    with pytest.raises(EvalError) as err:
        resolve_tasks(settings("tasks/add_mc.yaml", "tasks/nope.yaml"), base_dir=suite_dir)
    msg = str(err.value)
    assert "eval.tasks[1]" in msg and "tasks/nope.yaml" in msg and str(suite_dir / "tasks" / "nope.yaml") in msg
    assert "relative to the config file" in msg


def test_missing_data_file_names_yaml_and_looked_up_path(suite_dir: Path):
    (suite_dir / "tasks/data/add_em.jsonl").unlink()
    with pytest.raises(EvalError) as err:
        resolve_tasks(settings("tasks/add_em.yaml"), base_dir=suite_dir)
    msg = str(err.value)
    assert "eval.tasks[0]" in msg and "add_em.yaml" in msg
    assert "dataset_kwargs.data_files.test" in msg
    assert str((suite_dir / "tasks/data/add_em.jsonl").resolve()) in msg
    assert "relative to the task YAML" in msg


def test_malformed_yaml_reports_line(suite_dir: Path):
    (suite_dir / "tasks/bad.yaml").write_text("task: bad\ndataset_path: json\n  oops: [1, 2\n")
    with pytest.raises(EvalError) as err:
        resolve_tasks(settings("tasks/bad.yaml"), base_dir=suite_dir)
    msg = str(err.value)
    assert "malformed task YAML" in msg and "bad.yaml:" in msg and "eval.tasks[0]" in msg


def test_yaml_without_task_name(suite_dir: Path):
    (suite_dir / "tasks/anon.yaml").write_text("dataset_path: json\noutput_type: generate_until\n")
    with pytest.raises(EvalError, match="missing 'task:'"):
        resolve_tasks(settings("tasks/anon.yaml"), base_dir=suite_dir)


def test_duplicate_task_names_rejected(suite_dir: Path):
    (suite_dir / "tasks/copy.yaml").write_text((suite_dir / "tasks/add_em.yaml").read_text())
    with pytest.raises(EvalError, match=r"'add_em' is also used by eval.tasks\[0\]"):
        resolve_tasks(settings("tasks/add_em.yaml", "tasks/copy.yaml"), base_dir=suite_dir)


def test_empty_task_list(tmp_path: Path):
    with pytest.raises(EvalError, match="eval.tasks is empty"):
        resolve_tasks(settings(), base_dir=tmp_path)


def test_include_and_function_modules(tmp_path: Path):
    root = write_suite(tmp_path / "repo")
    tasks = root / "tasks"
    (tasks / "_base.yaml").write_text(
        textwrap.dedent(
            """\
            dataset_path: json
            output_type: generate_until
            doc_to_text: "{{question}}"
            doc_to_target: "{{answer}}"
            metric_list:
              - metric: exact_match
            """
        )
    )
    (tasks / "helpers.py").write_text("def process(doc, results):\n    return {'exact_match': 1.0}\n")
    (tasks / "derived.yaml").write_text(
        textwrap.dedent(
            """\
            include: _base.yaml
            task: derived
            dataset_kwargs:
              data_files: {test: data/add_em.jsonl}
            process_results: !function helpers.process
            """
        )
    )
    suite = resolve_tasks(settings("tasks/derived.yaml"), base_dir=root)
    task = suite.tasks[0]
    assert task.config["output_type"] == "generate_until"  # from the include
    assert task.modules == ((tasks / "helpers.py").resolve(),)
    out = suite.write_include_dir(tmp_path / "inc")
    (written,) = out.rglob("task.yaml")
    assert (written.parent / "helpers.py").read_text() == (tasks / "helpers.py").read_text()
    # lm-eval's own loader resolves the function from the copy.
    from lm_eval.tasks._yaml_loader import load_yaml

    assert load_yaml(written)["process_results"](None, None) == {"exact_match": 1.0}
    # The module's content is part of the hash.
    before = suite.config_hash
    (tasks / "helpers.py").write_text("def process(doc, results):\n    return {'exact_match': 0.0}\n")
    assert resolve_tasks(settings("tasks/derived.yaml"), base_dir=root).config_hash != before


def test_hash_is_stable_and_follows_data_content(tmp_path: Path):
    a = write_suite(tmp_path / "a")
    s = settings("tasks/add_mc.yaml", "tasks/add_em.yaml")
    first = resolve_tasks(s, base_dir=a).config_hash
    assert resolve_tasks(s, base_dir=a).config_hash == first
    # Same content elsewhere (another checkout): same hash, so CI caches carry over.
    b = write_suite(tmp_path / "b")
    assert resolve_tasks(s, base_dir=b).config_hash == first
    # One changed data row: a different hash.
    data = a / "tasks/data/add_em.jsonl"
    rows = data.read_text().splitlines()
    rows[0] = json.dumps({"question": "00+00=", "answer": "001"})
    data.write_text("\n".join(rows) + "\n")
    assert resolve_tasks(s, base_dir=a).config_hash != first


def test_hash_follows_config_edits(suite_dir: Path):
    s = settings("tasks/add_em.yaml")
    before = resolve_tasks(s, base_dir=suite_dir).config_hash
    path = suite_dir / "tasks/add_em.yaml"
    path.write_text(path.read_text().replace("max_gen_toks: 4", "max_gen_toks: 5"))
    assert resolve_tasks(s, base_dir=suite_dir).config_hash != before


def test_expected_metrics_from_metric_list_and_defaults(suite_dir: Path):
    (suite_dir / "tasks/plain_mc.yaml").write_text(
        "task: plain_mc\ndataset_path: json\noutput_type: multiple_choice\n"
        "dataset_kwargs: {data_files: {test: data/add_mc.jsonl}}\n"
    )
    (suite_dir / "tasks/filtered.yaml").write_text(
        "task: filtered\ndataset_path: json\noutput_type: generate_until\n"
        "dataset_kwargs: {data_files: {test: data/add_em.jsonl}}\n"
        "filter_list: [{name: strict, filter: [{function: take_first}]}]\n"
    )
    got = expected_metrics(
        settings("tasks/add_mc.yaml", "tasks/add_em.yaml", "tasks/plain_mc.yaml", "tasks/filtered.yaml"),
        base_dir=suite_dir,
    )
    assert got == {
        "add_mc/acc",
        "add_em/exact_match",
        "plain_mc/acc",
        "plain_mc/acc_norm",
        "filtered/exact_match,strict",
    }


def test_expected_metrics_raises_on_missing_data(suite_dir: Path):
    (suite_dir / "tasks/data/add_mc.jsonl").unlink()
    with pytest.raises(EvalError, match="data file"):
        expected_metrics(settings("tasks/add_mc.yaml"), base_dir=suite_dir)


def test_local_resolution_does_not_import_lm_eval_or_torch(suite_dir: Path):
    code = (
        "import sys; from pathlib import Path\n"
        "from llm_gitops.config.schema import EvalSection\n"
        "from llm_gitops.evaluation.tasks import expected_metrics\n"
        f"print(sorted(expected_metrics(EvalSection(tasks=['tasks/add_mc.yaml']), base_dir=Path({str(suite_dir)!r}))))\n"
        "print('lm_eval' in sys.modules, 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "['add_mc/acc']"
    assert out[1] == "False False"
