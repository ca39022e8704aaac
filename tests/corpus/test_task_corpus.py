"""Bad-input corpus, surface "task": broken eval task YAMLs and data through the real CLI.

Cases are generated: every path a task names (the task YAML itself, its data files, a
local ``dataset_path`` file or directory, an ``include:``, a ``!function`` module) is
made each kind of thing that is not a usable regular file (missing, a directory, a
symlink loop, a dangling link, a FIFO, a device, a file under a file, one over the size
cap); every field the loader reads gets values of the wrong type; and the YAML itself
gets broken syntax, encodings and bounds (alias bombs, deep nesting, unsafe tags).
Each case runs ``llm-gitops validate-config`` (which resolves every task) and must end
in one ``error:`` line naming ``eval.tasks[i]``, the file and the culprit, exit 2, no
traceback, nothing written; a sample also runs ``eval``, which must refuse the task
before any model is loaded.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.corpus.harness import expect_clean_error
from tests.evaluation.conftest import write_suite

SURFACE = "task"
CONFIG = """\
version: 1
eval:
  tasks: [tasks/t.yaml]
thresholds:
  - {metric: perf/latency_p95_ms, max: 1000}
"""
BASE_TASK = {
    "task": "t",
    "dataset_path": "json",
    "dataset_kwargs": {"data_files": {"test": "data/add_em.jsonl"}},
    "test_split": "test",
    "output_type": "generate_until",
    "doc_to_text": "{{question}}",
    "doc_to_target": "{{answer}}",
    "metric_list": [{"metric": "exact_match", "aggregation": "mean", "higher_is_better": True}],
}

Setup = Callable[[Path], None]  # gets the repo's tasks/ directory


@dataclass(frozen=True)
class Case:
    id: str
    setup: Setup
    culprit: tuple[str, ...]


# --------------------------------------------------------------------------- writers
def task(**changes) -> Setup:
    """tasks/t.yaml: the base task with ``changes`` (None removes a key)."""
    def apply(tasks: Path) -> None:
        data = {**BASE_TASK, **changes}
        data = {k: v for k, v in data.items() if v is not None}
        (tasks / "t.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return apply


def raw(text: str | bytes, name: str = "t.yaml") -> Setup:
    def apply(tasks: Path) -> None:
        if isinstance(text, bytes):
            (tasks / name).write_bytes(text)
        else:
            (tasks / name).write_text(text)
    return apply


def both(*setups: Setup) -> Setup:
    def apply(tasks: Path) -> None:
        for setup in setups:
            setup(tasks)
    return apply


# Each kind of path that is not a usable regular file, and what the error must say.
def make_bad(kind: str, path: Path, *, huge: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "missing":
        return
    if kind == "directory":
        path.mkdir()
    elif kind == "loop":
        os.symlink(path.name + ".other", path)
        os.symlink(path.name, path.with_name(path.name + ".other"))
    elif kind == "dangling":
        os.symlink("gone", path)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        os.symlink("/dev/zero", path)
    elif kind == "huge":
        # Sparse (no disk used; minutes if it were read), and outside the repo, behind a
        # link, so that the harness's before/after snapshot does not read it either.
        repo = next(parent for parent in path.parents if parent.name == "repo")
        big = repo.parent / f"big-{path.name}"
        with big.open("wb") as fh:
            fh.truncate(huge)
        os.symlink(big, path)
    else:
        raise AssertionError(kind)


KINDS = {
    "missing": "not found",
    "directory": "is a",  # a directory: "is a directory" where a file is expected, "is an empty directory" for data
    "loop": "is a symlink loop",
    "dangling": "is a dangling symlink",
    "fifo": "is a FIFO (named pipe), not a regular file",
    "device": "is a character device, not a regular file",
    "huge": "over the",
}
YAML_HUGE = 2 << 20
DATA_HUGE = 3 << 30


def bad_path(rel: str, kind: str, *, huge: int, then: Setup | None = None) -> Setup:
    def apply(tasks: Path) -> None:
        make_bad(kind, tasks / rel, huge=huge)
        if then is not None:
            then(tasks)
    return apply


CASES: list[Case] = []


def case(id: str, setup: Setup, *culprit: str) -> None:
    CASES.append(Case(id, setup, ("eval.tasks[0] (tasks/t.yaml)", *culprit)))


# --------------------------------------------------------------------------- path kinds
for kind, says in KINDS.items():
    # The task YAML itself.
    case(f"yaml-path:{kind}", bad_path("t.yaml", kind, huge=YAML_HUGE), "t.yaml", "task YAML", says)
    # A data file: as a split, as a list item, as a plain string.
    for form, value, field in (("split", {"test": "data/x.jsonl"}, "data_files.test"),
                               ("list", {"test": ["data/add_em.jsonl", "data/x.jsonl"]}, "data_files.test[1]"),
                               ("plain", "data/x.jsonl", "dataset_kwargs.data_files")):
        case(f"data-file:{form}:{kind}",
             bad_path("data/x.jsonl", kind, huge=DATA_HUGE, then=task(dataset_kwargs={"data_files": value})),
             "t.yaml", field, says)
    # A local dataset_path (file or directory), and a bad entry inside a dataset directory.
    case(f"dataset-path:{kind}", bad_path("ds", kind, huge=DATA_HUGE, then=task(dataset_path="./ds", dataset_kwargs=None)),
         "t.yaml:2: dataset_path: dataset", says)
    if kind not in ("missing", "directory"):
        case(f"dataset-dir-entry:{kind}",
             bad_path("ds/sub/entry", kind, huge=DATA_HUGE, then=task(dataset_path="./ds", dataset_kwargs=None)),
             "t.yaml:2: dataset_path: dataset", "entry", says)
    # An include: and a !function module.
    case(f"include:{kind}", bad_path("inc.yaml", kind, huge=YAML_HUGE, then=task(include="inc.yaml")),
         "t.yaml:14: include: included file", "inc.yaml", says)
    if kind not in ("missing", "directory"):  # a missing module is an importable one; lm-eval decides
        case(f"function-module:{kind}",
             bad_path("helpers.py", kind, huge=YAML_HUGE,
                      then=raw(yaml.safe_dump(BASE_TASK, sort_keys=False) + "process_results: !function helpers.process\n")),
             "helpers", says)

# Absolute special files, as the probes gave them.
for special in ("/dev/zero", "/dev/null", "/dev/urandom"):
    case(f"dataset-path-absolute:{special}", task(dataset_path=special, dataset_kwargs=None),
         "dataset_path", f"{special} is a character device")
    case(f"data-file-absolute:{special}", task(dataset_kwargs={"data_files": {"test": special}}),
         "data_files.test", f"{special} is a character device")
case("data-file:parent-is-a-file", task(dataset_kwargs={"data_files": {"test": "data/add_em.jsonl/x.jsonl"}}),
     "data_files.test", "not found")
case("dataset-path:dir-loop-to-self", both(bad_path("ds/self", "missing", huge=0), lambda t: os.symlink(".", t / "ds/self"),
                                            task(dataset_path="./ds", dataset_kwargs=None)),
     "dataset_path", "symlink loop")
case("data-file:recursive-glob-over-a-loop",
     both(lambda t: (t / "deep").mkdir(), lambda t: os.symlink("..", t / "deep/up"),
          task(dataset_kwargs={"data_files": {"test": "deep/**/*.jsonl"}})),
     "data_files.test", "symlink loop")
case("data-file:glob-matches-nothing", task(dataset_kwargs={"data_files": {"test": "data/*.csv"}}),
     "data_files.test", "no file matches")
case("data-file:glob-matches-a-fifo", both(bad_path("data/p.jsonl", "fifo", huge=0),
                                           task(dataset_kwargs={"data_files": {"test": "data/*.jsonl"}})),
     "data_files.test", "is a FIFO")

# --------------------------------------------------------------------------- field types
FIELD_CASES = [
    ("task-missing", {"task": None}, "missing 'task:'"),
    ("task-number", {"task": 5}, "missing 'task:'"),
    ("task-empty", {"task": " "}, "missing 'task:'"),
    ("task-list", {"task": ["a", "b"]}, "defines a group"),
    ("group", {"task": None, "group": "g"}, "defines a group"),
    ("output_type-list", {"output_type": ["generate_until"]}, "output_type: expected one of"),
    ("output_type-unknown", {"output_type": "generate"}, "output_type: expected one of"),
    ("output_type-number", {"output_type": 1}, "output_type: expected one of"),
    ("metric_list-number", {"metric_list": 5}, "metric_list: expected a list"),
    ("metric_list-text", {"metric_list": "acc"}, "metric_list: expected a list"),
    ("metric_list-item-number", {"metric_list": [5]}, "metric_list[0]: expected a mapping with a 'metric:'"),
    ("metric_list-item-empty", {"metric_list": [{}]}, "metric_list[0]"),
    ("metric_list-metric-number", {"metric_list": [{"metric": 5}]}, "metric_list[0]"),
    ("filter_list-mapping", {"filter_list": {"name": "x"}}, "filter_list: expected a list"),
    ("filter_list-item-text", {"filter_list": ["x"]}, "filter_list[0]: expected a mapping with a 'name:'"),
    ("filter_list-no-name", {"filter_list": [{"filter": []}]}, "filter_list[0]"),
    ("dataset_kwargs-text", {"dataset_kwargs": "x"}, "dataset_kwargs: expected a mapping"),
    ("dataset_kwargs-list", {"dataset_kwargs": [1]}, "dataset_kwargs: expected a mapping"),
    ("dataset_path-number", {"dataset_path": 5}, "dataset_path: expected a dataset name or a local path"),
    ("dataset_path-list", {"dataset_path": ["./a"]}, "dataset_path: expected a dataset name or a local path"),
    ("dataset_path-empty", {"dataset_path": ""}, "dataset_path: expected"),
    ("dataset_path-home-of-nobody", {"dataset_path": "~nosuchuser_corpus/ds"}, "cannot expand the home directory"),
    ("dataset_path-nul", {"dataset_path": "./d\0s"}, "contains a NUL character"),
    ("data_files-number", {"dataset_kwargs": {"data_files": 5}}, "data_files: expected a file path, got the number 5"),
    ("data_files-empty", {"dataset_kwargs": {"data_files": ""}}, "data_files: expected a file path"),
    ("data_files-split-number", {"dataset_kwargs": {"data_files": {"test": 5}}}, "data_files.test: expected a file path"),
    ("data_files-split-null", {"dataset_kwargs": {"data_files": {"test": None}}}, "data_files.test: expected a file path"),
    ("data_files-split-mapping", {"dataset_kwargs": {"data_files": {"test": {"a": 1}}}}, "data_files.test: expected"),
    ("data_files-item-number", {"dataset_kwargs": {"data_files": {"test": ["data/add_em.jsonl", 3]}}},
     "data_files.test[1]: expected a file path"),
    ("data_files-split-key-number", {"dataset_kwargs": {"data_files": {1: "data/add_em.jsonl"}}},
     "a split name must be text"),
    ("data_files-split-key-line-break", {"dataset_kwargs": {"data_files": {"te\nst": "data/nope.jsonl"}}},
     "dataset_kwargs.data_files.te\\nst: data file 'data/nope.jsonl' not found"),
    ("data_files-url", {"dataset_kwargs": {"data_files": {"test": "https://example.org/x.jsonl"}}}, "is a URL"),
    ("data_files-nul", {"dataset_kwargs": {"data_files": {"test": "data/x\0.jsonl"}}}, "contains a NUL character"),
    ("data_files-home-of-nobody", {"dataset_kwargs": {"data_files": {"test": "~nosuchuser_corpus/x"}}},
     "cannot expand the home directory"),
    ("include-number", {"include": 5}, "include: expected a YAML file path, got the number 5"),
    ("include-mapping", {"include": {"a": 1}}, "include: expected a YAML file path, got a mapping"),
    ("include-list-item-number", {"include": [5]}, "include[0]: expected a YAML file path"),
    ("include-empty", {"include": ""}, "include: expected a YAML file path"),
    ("include-null-item", {"include": [None]}, "include[0]: expected a YAML file path, got nothing"),
]
for name, changes, says in FIELD_CASES:
    case(f"field:{name}", task(**changes), "t.yaml", says)

# --------------------------------------------------------------------------- includes
# Ten values, each level ten aliases of the one before: 10**8 once expanded, in ~300 bytes.
BOMB = "task: t\na: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(7))
case("include:cycle", both(task(include="inc.yaml"), raw("include: t.yaml\n", "inc.yaml")), "include cycle")
case("include:self", task(include="t.yaml"), "include cycle")
case("include:chain-too-long",
     both(task(include="c0.yaml"), *[raw(f"include: c{i + 1}.yaml\n", f"c{i}.yaml") for i in range(20)],
          raw("output_type: generate_until\n", "c20.yaml")),
     "more than 16 files included in a chain")
case("include:root-is-list", both(task(include="inc.yaml"), raw("- a\n", "inc.yaml")), "inc.yaml", "got a list")
case("include:bad-syntax", both(task(include="inc.yaml"), raw("a: [\n", "inc.yaml")), "inc.yaml:2", "malformed task YAML")
case("include:alias-bomb", both(task(include="inc.yaml"), raw(BOMB, "inc.yaml")),
     "inc.yaml", "expands to more than 100000 values")
case("function-module:outside-the-task-dir",
     both(raw("def process(doc, results):\n    return {}\n", "../helpers_out.py"),
          lambda t: (t / "sub").mkdir(), lambda t: os.symlink("../../helpers_out.py", t / "sub/helpers.py"),
          raw(yaml.safe_dump(BASE_TASK, sort_keys=False) + "process_results: !function sub.helpers.process\n")),
     "outside the task's directory")

# --------------------------------------------------------------------------- the YAML itself
YAML_CASES = [
    ("unclosed-bracket", "task: t\nmetric_list: [\n", "t.yaml:3"),
    ("unclosed-quote", "task: 't\n", "malformed task YAML"),
    ("bad-indent", "task: t\ndataset_kwargs:\n  a: 1\n b: 2\n", "t.yaml:4"),
    ("tab-indent", "task: t\ndataset_kwargs:\n\ta: 1\n", "t.yaml:3"),
    ("two-documents", "task: t\n---\ntask: u\n", "expected a single document"),
    ("undefined-alias", "task: *t\n", "undefined alias"),
    ("duplicate-anchor", "a: &x 1\nb: &x 2\n", "t.yaml:2"),
    ("python-tag", "task: !!python/object/apply:os.system [true]\n", "could not determine a constructor"),
    ("unknown-tag", "task: !secret t\n", "could not determine a constructor"),
    ("function-not-scalar", "task: t\nprocess_results: !function [a, b]\n", "expected a scalar node"),
    ("merge-of-scalar", "task: t\nx:\n  <<: 5\n", "for merging"),
    ("unhashable-key", "task: t\n? [a]\n: 1\n", "unhashable key"),
    ("alias-bomb", BOMB, "expands to more than 100000 values"),
    ("recursive-alias", "task: t\nx: &r [*r]\n", "recursive alias"),
    ("deep-list", "task: t\nx: " + "[" * 3000 + "]" * 3000 + "\n", "nested deeper than 64 levels"),
    ("deep-mapping", "task: t\nx: " + "{a: " * 100 + "1" + "}" * 100 + "\n", "nested deeper than 64 levels"),
    ("nul-byte", b"task: t\x00\n", "#x0000"),
    ("control-char", b"task: t\x1b\n", "#x001b"),
    ("latin-1", "task: caf\xe9\n".encode("latin-1"), "is not UTF-8 text (byte 0xe9 on line 1)"),
    ("utf-16", "task: t\n".encode("utf-16"), "is not UTF-8 text"),
    ("empty", "", "must be a mapping"),
    ("root-list", "- task: t\n", "must be a mapping (task:, dataset_path:, ...), got a list"),
    ("root-text", "just text\n", "got the text 'just text'"),
    ("root-number", "3\n", "got the number 3"),
]
for name, text, says in YAML_CASES:
    case(f"yaml:{name}", raw(text), "t.yaml", says)


def test_the_corpus_is_big_enough():
    assert len(CASES) >= 100
    assert len({c.id for c in CASES}) == len(CASES), "case ids must be unique"


def _repo(tmp_path: Path, setup: Setup) -> Path:
    root = write_suite(tmp_path / "repo", count=5)
    (root / ".llm-gitops.yaml").write_text(CONFIG)
    setup(root / "tasks")
    return root


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_validate_config_refuses_cleanly(case: Case, tmp_path: Path):
    root = _repo(tmp_path, case.setup)
    expect_clean_error(["validate-config"], cwd=root, culprit=list(case.culprit), surface=SURFACE, case=case.id)


# eval resolves the tasks before it looks at the model: a missing model is never reached.
BEFORE_LOADING = ["dataset-path-absolute:/dev/zero", "data-file:split:fifo", "yaml-path:loop", "include:cycle",
                  "yaml:alias-bomb", "field:include-number", "data-file:split:huge", "dataset-dir-entry:loop"]


@pytest.mark.parametrize("case_id", BEFORE_LOADING)
def test_eval_refuses_before_loading_a_model(case_id: str, tmp_path: Path):
    case = {c.id: c for c in CASES}[case_id]
    root = _repo(tmp_path, case.setup)
    expect_clean_error(["eval", "--model", "./no-model"], cwd=root, culprit=list(case.culprit), surface=SURFACE,
                       case=f"eval:{case_id}")
