"""Task resolution and validation: local YAMLs, data paths, errors, content hashes.

No lm-eval import and no model: these checks run before anything heavy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

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


# --------------------------------------------------------------------------- hostile paths and files (issue 8)
def _em_with(suite_dir: Path, **replace: str) -> None:
    """Rewrite tasks/add_em.yaml with some top-level keys set to (YAML) values."""
    path = suite_dir / "tasks/add_em.yaml"
    data = yaml.safe_load(path.read_text())
    data.update({key: yaml.safe_load(value) for key, value in replace.items()})
    path.write_text(yaml.safe_dump(data))


def _error(suite_dir: Path, task: str = "tasks/add_em.yaml") -> str:
    with pytest.raises(EvalError) as err:
        resolve_tasks(settings(task), base_dir=suite_dir)
    message = str(err.value)
    assert "\n" not in message
    return message


def test_dataset_path_that_is_a_device_is_refused_not_read(suite_dir: Path):
    _em_with(suite_dir, dataset_path="/dev/zero")
    msg = _error(suite_dir)
    assert "eval.tasks[0]" in msg and "add_em.yaml" in msg and "dataset_path" in msg
    assert "/dev/zero is a character device, not a regular file" in msg


def test_data_file_that_is_a_fifo_is_refused_not_opened_for_ever(suite_dir: Path):
    os.mkfifo(suite_dir / "tasks/data/pipe.jsonl")
    (suite_dir / "tasks/add_em.yaml").write_text(
        (suite_dir / "tasks/add_em.yaml").read_text().replace("data/add_em.jsonl", "data/pipe.jsonl"))
    msg = _error(suite_dir)
    assert "dataset_kwargs.data_files.test" in msg and "is a FIFO (named pipe), not a regular file" in msg


def test_data_file_that_is_a_directory(suite_dir: Path):
    (suite_dir / "tasks/data/dir.jsonl").mkdir()
    (suite_dir / "tasks/add_em.yaml").write_text(
        (suite_dir / "tasks/add_em.yaml").read_text().replace("data/add_em.jsonl", "data/dir.jsonl"))
    assert "is a directory, not a regular file" in _error(suite_dir)


def test_data_file_over_the_size_cap_is_refused_without_reading(suite_dir: Path):
    big = suite_dir / "tasks/data/add_em.jsonl"
    with big.open("r+b") as fh:  # sparse: costs no disk and, if read, minutes
        fh.truncate(3 << 30)
    msg = _error(suite_dir)
    assert "3072.0 MiB, over the 2048.0 MiB limit for task data" in msg and "data_files.test" in msg


@pytest.mark.parametrize("where", ["task", "data", "dataset_dir"])
def test_symlink_loops_are_named_as_such(suite_dir: Path, where: str):
    tasks = suite_dir / "tasks"
    if where == "task":
        os.symlink("loop_b.yaml", tasks / "loop_a.yaml")
        os.symlink("loop_a.yaml", tasks / "loop_b.yaml")
        msg = _error(suite_dir, "tasks/loop_a.yaml")
    elif where == "data":
        os.symlink("x.jsonl", tasks / "data/x.jsonl")
        (tasks / "add_em.yaml").write_text((tasks / "add_em.yaml").read_text().replace("data/add_em.jsonl", "data/x.jsonl"))
        msg = _error(suite_dir)
    else:
        (tasks / "ds").mkdir()
        (tasks / "ds/rows.jsonl").write_text("{}\n")
        os.symlink("..", tasks / "ds/up")
        _em_with(suite_dir, dataset_path="./ds")
        msg = _error(suite_dir)
    assert "symlink loop" in msg and "eval.tasks[0]" in msg


def test_local_dataset_directory_hash_follows_its_files(suite_dir: Path):
    (suite_dir / "tasks/ds").mkdir()
    (suite_dir / "tasks/ds/rows.jsonl").write_text("{}\n")
    _em_with(suite_dir, dataset_path="./ds")
    before = resolve_tasks(settings("tasks/add_em.yaml"), base_dir=suite_dir).config_hash
    (suite_dir / "tasks/ds/rows.jsonl").write_text("{}\n{}\n")
    assert resolve_tasks(settings("tasks/add_em.yaml"), base_dir=suite_dir).config_hash != before
    os.mkfifo(suite_dir / "tasks/ds/pipe")
    assert "pipe is a FIFO (named pipe)" in _error(suite_dir)


@pytest.mark.parametrize(("include", "expected"), [
    ("5", "include: expected a YAML file path, got the number 5"),
    ("[base.yaml, {a: 1}]", "include[1]: expected a YAML file path, got a mapping"),
    ("''", "include: expected a YAML file path"),
    ("/dev/null", "include: included file /dev/null is a character device"),
    ("missing.yaml", "missing.yaml not found"),
])
def test_include_of_the_wrong_kind(suite_dir: Path, include: str, expected: str):
    (suite_dir / "tasks/base.yaml").write_text("output_type: generate_until\n")
    path = suite_dir / "tasks/add_em.yaml"
    path.write_text(f"include: {include}\n" + path.read_text())
    msg = _error(suite_dir)
    assert expected in msg and "eval.tasks[0]" in msg


def test_long_include_chain_is_bounded(suite_dir: Path):
    tasks = suite_dir / "tasks"
    for i in range(30):
        (tasks / f"chain{i}.yaml").write_text(f"include: chain{i + 1}.yaml\n")
    (tasks / "chain30.yaml").write_text("output_type: generate_until\n")
    path = tasks / "add_em.yaml"
    path.write_text("include: chain0.yaml\n" + path.read_text())
    assert "more than 16 files included in a chain" in _error(suite_dir)


@pytest.mark.parametrize(("text", "expected"), [
    ("a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(6)),
     "expands to more than 100000 values"),
    ("task: x\nk: " + "[" * 3000 + "]" * 3000 + "\n", "nested deeper than 64 levels"),
    ("task: x\nk: &r [*r]\n", "recursive alias"),
    ("task: x\nk: \"\\0\"\n", None),  # a NUL inside quotes is text, not a problem for the reader
    ("task: x\nk: !!python/object:os.system {}\n", "could not determine a constructor"),
    ("task: x\nprocess_results: !function [a, b]\n", "expected a scalar node"),
])
def test_task_yaml_bounds_and_tags(suite_dir: Path, text: str, expected: str | None):
    (suite_dir / "tasks/odd.yaml").write_text(text)
    if expected is None:
        resolve_tasks(settings("tasks/odd.yaml"), base_dir=suite_dir)
        return
    msg = _error(suite_dir, "tasks/odd.yaml")
    assert "malformed task YAML" in msg and expected in msg and "odd.yaml:" in msg


def test_task_yaml_over_the_size_cap(suite_dir: Path):
    (suite_dir / "tasks/big.yaml").write_text("task: big\n" + "#" * (2 << 20))
    assert "over the 1.0 MiB limit for a task YAML" in _error(suite_dir, "tasks/big.yaml")


@pytest.mark.parametrize(("replace", "expected"), [
    ({"output_type": "[a]"}, "output_type: expected one of loglikelihood"),
    ({"output_type": "generate"}, "output_type: expected one of"),
    ({"metric_list": "5"}, "metric_list: expected a list, got the number 5"),
    ({"dataset_kwargs": "x"}, "dataset_kwargs: expected a mapping"),
    ({"dataset_path": "[a]"}, "dataset_path: expected a dataset name or a local path, got a list"),
    ({"dataset_path": "'~nosuchuser_h1/x'"}, "cannot expand the home directory"),
])
def test_task_fields_of_the_wrong_type(suite_dir: Path, replace: dict, expected: str):
    _em_with(suite_dir, **replace)
    assert expected in _error(suite_dir)


def test_root_that_is_a_list_is_said_in_words(suite_dir: Path):
    (suite_dir / "tasks/list.yaml").write_text("- a\n- b\n")
    msg = _error(suite_dir, "tasks/list.yaml")
    assert "must be a mapping (task:, dataset_path:, ...), got a list" in msg and "_Sequence" not in msg


def test_a_file_name_with_a_line_break_stays_on_one_line(suite_dir: Path):
    (suite_dir / "tasks/ds").mkdir()
    os.mkfifo(suite_dir / "tasks/ds/bad\nname")
    _em_with(suite_dir, dataset_path="./ds")
    assert "bad\\nname is a FIFO" in _error(suite_dir)


# --------------------------------------------------------------------------- properties
_TASK_KEYS = ["task", "include", "dataset_path", "dataset_kwargs", "data_files", "test", "output_type", "metric_list",
              "metric", "filter_list", "name", "group", "process_results"]
_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(), st.text(max_size=10),
              st.sampled_from(["data/add_em.jsonl", "data/*.jsonl", "../", "/dev/null", "~", "a\nb", "generate_until",
                               "exact_match", "x.yaml", "t"])),
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(st.one_of(st.sampled_from(_TASK_KEYS), st.text(max_size=5)), children,
                                               max_size=4)),
    max_leaves=15,
)


@hypothesis_settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(_TASK_KEYS), _values, max_size=6))
def test_any_task_yaml_resolves_or_is_one_clean_error(suite_dir: Path, changes):
    base = yaml.safe_load((suite_dir / "tasks/add_em.yaml").read_text())
    (suite_dir / "tasks/prop.yaml").write_text(yaml.safe_dump({**base, **changes}))
    try:
        expected_metrics(settings("tasks/prop.yaml"), base_dir=suite_dir)  # resolves, then reads the metrics
    except EvalError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("eval.tasks[0]"), str(exc)
