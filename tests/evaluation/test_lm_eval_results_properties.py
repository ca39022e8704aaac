"""Properties of the lm-eval output reader: any edit of a real run's files is read, or
refused with one ResultsFileError line; never another exception."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_gitops.config.schema import EvalSection
from llm_gitops.evaluation.lm_eval_results import ResultsFileError, check_against_config, check_pair, read_lm_eval_output
from llm_gitops.evaluation.tasks import resolve_tasks
from tests.evaluation.conftest import write_suite
from tests.evaluation.lm_eval_output import samples_files, write_lm_eval_output

pytestmark = pytest.mark.slow

TASKS = ["tasks/add_mc.yaml", "tasks/add_em.yaml"]
SETTINGS = EvalSection(tasks=TASKS)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 50) | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def run_dir(example_models, tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("props")
    repo = write_suite(root / "repo", count=12)
    return repo, write_lm_eval_output(example_models.good, repo, TASKS, root / "out").parent


def _paths(value, prefix=()):
    """Every (path, value) inside a JSON document."""
    yield prefix, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def _set(doc, path, value):
    if not path:
        return value
    target = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return doc


def _read_and_check(directory: Path, repo: Path, reference) -> None:
    try:
        run = read_lm_eval_output(directory, label="--candidate-results")
        check_against_config(run, resolve_tasks(SETTINGS, base_dir=repo), SETTINGS, {"add_em/exact_match"})
        check_pair(run, reference)
    except ResultsFileError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("--candidate-results ") or "--baseline" in str(exc)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(choice=st.integers(0, 10_000), value=json_values, drop=st.booleans())
def test_any_value_anywhere_in_the_results_file(run_dir, choice, value, drop):
    repo, source = run_dir
    reference = read_lm_eval_output(source, label="--baseline-results")
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "run"
        shutil.copytree(source, copy)
        results = next(copy.glob("results_*.json"))
        doc = json.loads(results.read_text())
        paths = [p for p, _ in _paths(doc)]
        path = paths[choice % len(paths)]
        if drop and path:
            parent = doc
            for step in path[:-1]:
                parent = parent[step]
            del parent[path[-1]]
        else:
            doc = _set(doc, path, value)
        results.write_text(json.dumps(doc))
        _read_and_check(copy, repo, reference)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(task=st.sampled_from(["add_em", "add_mc"]), line=st.integers(0, 100), choice=st.integers(0, 10_000),
       value=json_values, cut=st.none() | st.integers(0, 5000))
def test_any_value_anywhere_in_a_samples_file(run_dir, task, line, choice, value, cut):
    repo, source = run_dir
    reference = read_lm_eval_output(source, label="--baseline-results")
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "run"
        shutil.copytree(source, copy)
        path = samples_files(next(copy.glob("results_*.json")))[task]
        lines = path.read_text().splitlines(keepends=True)
        index = line % len(lines)
        record = json.loads(lines[index])
        paths = [p for p, _ in _paths(record)]
        lines[index] = json.dumps(_set(record, paths[choice % len(paths)], value)) + "\n"
        data = "".join(lines).encode()
        path.write_bytes(data if cut is None else data[: cut % (len(data) + 1)])
        _read_and_check(copy, repo, reference)
