"""Bad lm-eval results and samples files through the real ``llm-gitops gate`` CLI.

Every case starts from lm-eval's own output of the example model (written by lm-eval's
EvaluationTracker), breaks one thing, and must end in exit 2 with one ``error:`` line
naming the file (or flag) and the fix, no traceback, and nothing written in the repo.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from llm_gitops.evaluation.runner import harness_version
from tests.corpus.harness import expect_clean_error
from tests.evaluation.conftest import write_suite
from tests.evaluation.lm_eval_output import SUITE_TASKS as TASKS
from tests.evaluation.lm_eval_output import samples_files, suite_gate_config, write_lm_eval_output

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(example_models, tmp_path_factory):
    root = tmp_path_factory.mktemp("results-corpus")
    repo = write_suite(root / "repo", count=40)
    (repo / ".llm-gitops.yaml").write_text(suite_gate_config())
    good = write_lm_eval_output(example_models.good, repo, TASKS, root / "good").parent
    return {"repo": repo, "good": good, "model": example_models.good}


@dataclass
class Run:
    """A copy of the good run to break: its results file and samples files."""

    dir: Path
    results: Path
    samples: dict[str, Path]

    def data(self) -> dict:
        return json.loads(self.results.read_text())

    def save(self, data: dict) -> None:
        self.results.write_text(json.dumps(data, indent=2))

    def edit(self, change: Callable[[dict], None]) -> None:
        data = self.data()
        change(data)
        self.save(data)

    def lines(self, task: str) -> list[str]:
        return self.samples[task].read_text().splitlines(keepends=True)

    def edit_record(self, task: str, index: int, change: Callable[[dict], None]) -> None:
        lines = self.lines(task)
        record = json.loads(lines[index])
        change(record)
        lines[index] = json.dumps(record) + "\n"
        self.samples[task].write_text("".join(lines))

    def replace_text(self, path: Path, old: str, new: str, count: int = 1) -> None:
        text = path.read_text()
        assert old in text, old
        path.write_text(text.replace(old, new, count))


def copy_run(src: Path, dest: Path) -> Run:
    shutil.copytree(src, dest)
    results = next(dest.glob("results_*.json"))
    return Run(dest, results, samples_files(results))


# --------------------------------------------------------------------------- the cases
# Each case breaks the candidate's copy ``r`` (the baseline is the intact run) and returns
# the texts the error line must contain, or (texts, extra CLI args / baseline override).
CASES: dict[str, Callable[[Run, Path], object]] = {}


def case(name: str):
    def register(fn):
        assert name not in CASES
        CASES[name] = fn
        return fn
    return register


def _truncate(path: Path, keep: float | int) -> None:
    raw = path.read_bytes()
    n = int(len(raw) * keep) if isinstance(keep, float) else len(raw) + keep
    path.write_bytes(raw[:n])


# Results file: damaged bytes.
for frac in (0.1, 0.5, 0.9):
    case(f"results-truncated-{int(frac * 100)}pct")(
        lambda r, t, frac=frac: (_truncate(r.results, frac), [r.results.name, "not valid JSON"])[1])
case("results-truncated-last-byte")(lambda r, t: (_truncate(r.results, -1), [r.results.name, "not valid JSON"])[1])
case("results-empty")(lambda r, t: (r.results.write_bytes(b""), [r.results.name, "not valid JSON"])[1])
case("results-binary")(lambda r, t: (r.results.write_bytes(bytes(range(256)) * 8), [r.results.name, "not UTF-8"])[1])
case("results-nul-bytes")(lambda r, t: (r.results.write_bytes(b"\0" * 100), [r.results.name, "not valid JSON"])[1])
case("results-utf16")(lambda r, t: (r.results.write_bytes(r.results.read_text().encode("utf-16")),
                                    [r.results.name, "not UTF-8"])[1])
for label, value in {"array": [], "string": "x", "number": 3, "null": None}.items():
    case(f"results-top-level-{label}")(
        lambda r, t, value=value: (r.results.write_text(json.dumps(value)), [r.results.name, "not lm-eval's results"])[1])
case("results-duplicate-key")(lambda r, t: (r.replace_text(r.results, '{\n  "results"', '{\n  "results": 1,\n  "results"'),
                                            [r.results.name, "duplicate key 'results'"])[1])
case("results-nan-literal")(lambda r, t: (r.replace_text(r.results, '"exact_match,none": 1.0', '"exact_match,none": NaN'),
                                          [r.results.name, "NaN"])[1])
case("results-infinity-literal")(lambda r, t: (r.replace_text(r.results, '"acc,none": 1.0', '"acc,none": Infinity'),
                                               [r.results.name, "Infinity"])[1])

# Results file: missing or mistyped keys.
for key in ("results", "configs"):
    case(f"results-missing-{key}")(lambda r, t, key=key: (r.edit(lambda d: d.pop(key)), [r.results.name, f"no '{key}'"])[1])
case("results-missing-version")(lambda r, t: (r.edit(lambda d: d.pop("lm_eval_version")),
                                              [r.results.name, "no lm_eval_version"])[1])
case("results-version-number")(lambda r, t: (r.edit(lambda d: d.update(lm_eval_version=0.4)),
                                             [r.results.name, "no lm_eval_version"])[1])
case("results-version-blank")(lambda r, t: (r.edit(lambda d: d.update(lm_eval_version=" ")),
                                            [r.results.name, "no lm_eval_version"])[1])
case("results-results-list")(lambda r, t: (r.edit(lambda d: d.update(results=[])), [r.results.name, "results is a list"])[1])
case("results-configs-list")(lambda r, t: (r.edit(lambda d: d.update(configs=[])), [r.results.name, "configs is a list"])[1])
case("results-configs-empty")(lambda r, t: (r.edit(lambda d: d.update(configs={})), [r.results.name, "names no task"])[1])
case("results-config-string")(lambda r, t: (r.edit(lambda d: d["configs"].update(add_em="x")),
                                            [r.results.name, "configs.add_em is a str"])[1])
case("results-task-results-list")(lambda r, t: (r.edit(lambda d: d["results"].update(add_em=[])),
                                                [r.results.name, "results.add_em is a list"])[1])
case("results-task-results-missing")(lambda r, t: (r.edit(lambda d: d["results"].pop("add_em")),
                                                   [r.results.name, "no results for task 'add_em'"])[1])
case("results-n-samples-missing")(lambda r, t: (r.edit(lambda d: d.pop("n-samples")),
                                                [r.results.name, "n-samples.add_em is missing"])[1])
case("results-n-samples-list")(lambda r, t: (r.edit(lambda d: d.update({"n-samples": []})),
                                             [r.results.name, "n-samples is a list"])[1])
case("results-n-samples-task-missing")(lambda r, t: (r.edit(lambda d: d["n-samples"].pop("add_mc")),
                                                     [r.results.name, "n-samples.add_mc is missing"])[1])
case("results-effective-string")(lambda r, t: (r.edit(lambda d: d["n-samples"]["add_em"].update(effective="40")),
                                               [r.results.name, "n-samples.add_em.effective is a str"])[1])
case("results-effective-bool")(lambda r, t: (r.edit(lambda d: d["n-samples"]["add_em"].update(effective=True)),
                                             [r.results.name, "n-samples.add_em.effective is a bool"])[1])
case("results-effective-missing")(lambda r, t: (r.edit(lambda d: d["n-samples"]["add_em"].pop("effective")),
                                                [r.results.name, "effective is missing"])[1])
case("results-effective-wrong")(lambda r, t: (r.edit(lambda d: d["n-samples"]["add_em"].update(effective=41)),
                                              [r.samples["add_em"].name, "reports 41"])[1])
case("results-n-shot-string")(lambda r, t: (r.edit(lambda d: d["n-shot"].update(add_em="0")),
                                            [r.results.name, "n-shot.add_em is a str"])[1])
case("results-n-shot-five")(lambda r, t: (r.edit(lambda d: d["n-shot"].update(add_em=5)),
                                          [r.results.name, "5-shot prompts", "eval.num_fewshot is 0"])[1])
case("results-higher-is-better-list")(lambda r, t: (r.edit(lambda d: d.update(higher_is_better=[])),
                                                    [r.results.name, "higher_is_better is a list"])[1])
case("results-versions-list")(lambda r, t: (r.edit(lambda d: d.update(versions=[])), [r.results.name, "versions is a list"])[1])
for label, value in {"string": "0.9", "null": None, "bool": True, "list": [1.0]}.items():
    case(f"results-metric-{label}")(
        lambda r, t, value=value: (r.edit(lambda d: d["results"]["add_em"].update({"exact_match,none": value})),
                                   [r.results.name, "results.add_em.exact_match,none is"])[1])
case("results-stderr-word")(lambda r, t: (r.edit(lambda d: d["results"]["add_mc"].update({"acc_stderr,none": "big"})),
                                          [r.results.name, "acc_stderr,none is 'big'"])[1])
case("results-metric-missing")(lambda r, t: (r.edit(lambda d: [d["results"]["add_em"].pop(k) for k in
                                                               ("exact_match,none", "exact_match_stderr,none")]),
                                             [r.results.name, "no metric 'add_em/exact_match'"])[1])
case("results-value-not-the-samples-mean")(lambda r, t: (r.edit(lambda d: d["results"]["add_em"].update(
    {"exact_match,none": 0.5})), [r.samples["add_em"].name, "from different runs"])[1])
case("results-renamed")(lambda r, t: (r.results.rename(r.dir / "results.json"),
                                      [str(r.dir / "results.json"), "not named like lm-eval's results"],
                                      {"candidate": r.dir / "results.json"})[1:])


def _extra_task(r: Run, _t: Path):
    data = r.data()
    data["configs"]["add_x"] = {**data["configs"]["add_em"], "task": "add_x"}
    data["results"]["add_x"] = dict(data["results"]["add_em"])
    data["n-samples"]["add_x"] = dict(data["n-samples"]["add_em"])
    r.save(data)
    shutil.copy(r.samples["add_em"], r.samples["add_em"].with_name(r.samples["add_em"].name.replace("add_em", "add_x")))
    return [r.results.name, "'add_x', which eval.tasks does not name"]


case("results-task-the-config-does-not-name")(_extra_task)


def _missing_task(r: Run, _t: Path):
    r.edit(lambda d: [d[k].pop("add_mc") for k in ("configs", "results", "n-samples")])
    r.samples["add_mc"].unlink()
    return [r.results.name, "no results for task 'add_mc'"]


case("results-config-task-missing")(_missing_task)

# Task config recorded by lm-eval vs the config's YAML.
for key, value in {"doc_to_text": "Q: {{question}}", "output_type": "loglikelihood", "target_delimiter": " ",
                   "test_split": "validation", "dataset_path": "csv",
                   "metric_list": [{"metric": "exact_match", "aggregation": "median", "higher_is_better": True}],
                   "generation_kwargs": {"until": ["\n\n"], "max_gen_toks": 4, "do_sample": False},
                   "doc_to_target": "{{answer}} "}.items():
    case(f"config-differs-{key}")(
        lambda r, t, key=key, value=value: (r.edit(lambda d: d["configs"]["add_em"].update({key: value})),
                                            [r.results.name, f"with {key} =", "YAML in eval.tasks"])[1])
case("config-direction-in-metric-list")(lambda r, t: (r.edit(lambda d: d["configs"]["add_em"]["metric_list"][0].update(
    higher_is_better=False)), [r.results.name, "configs.add_em.metric_list's higher_is_better of exact_match is false"])[1])
case("config-direction-top-level")(lambda r, t: (r.edit(lambda d: d["higher_is_better"]["add_mc"].update(acc=False)),
                                                 [r.results.name, "higher_is_better.add_mc.acc is false"])[1])
case("config-dataset-kwargs-differ")(lambda r, t: (r.edit(lambda d: d["configs"]["add_mc"]["dataset_kwargs"].update(
    field="rows")), [r.results.name, "dataset_kwargs"])[1])

# Results file: not a regular file, or too big.
case("results-symlink-loop")(lambda r, t: (r.results.unlink(), os.symlink(r.results.name, r.results),
                                           [r.results.name, "symlink loop"])[2])
case("results-dangling-symlink")(lambda r, t: (r.results.unlink(), os.symlink(t / "nowhere.json", r.results),
                                               [r.results.name, "cannot be read"])[2])
case("results-is-a-directory")(lambda r, t: (r.results.unlink(), r.results.mkdir(),
                                             [r.results.name, "not a regular file"])[2])
case("results-is-a-fifo")(lambda r, t: (r.results.unlink(), os.mkfifo(r.results), [r.results.name, "not a regular file"])[2])


def _huge_results(r: Run, _t: Path):
    with r.results.open("r+b") as fh:
        fh.truncate(65 << 20)  # sparse: costs no disk
    return [r.results.name, "over the 64 MiB limit"]


case("results-huge")(_huge_results)

# Samples files: missing.
for task in ("add_em", "add_mc"):
    case(f"samples-missing-{task}")(lambda r, t, task=task: (r.samples[task].unlink(),
                                                            [r.results.name, f"no samples file for task '{task}'",
                                                             "--log_samples"])[1])
case("samples-all-missing")(lambda r, t: ([p.unlink() for p in r.samples.values()],
                                          [r.results.name, "without --log_samples"])[1])

# Samples files: truncated or damaged.
for task in ("add_em", "add_mc"):
    for frac in (0.3, 0.77):
        case(f"samples-{task}-cut-mid-line-{int(frac * 100)}pct")(
            lambda r, t, task=task, frac=frac: (_truncate(r.samples[task], frac),
                                                [r.samples[task].name, "truncated mid-line", "interrupted"])[1])
    case(f"samples-{task}-cut-last-newline")(lambda r, t, task=task: (_truncate(r.samples[task], -1),
                                                                      [r.samples[task].name, "truncated mid-line at line 40"])[1])
    case(f"samples-{task}-lines-dropped")(
        lambda r, t, task=task: (r.samples[task].write_text("".join(r.lines(task)[:35])),
                                 [r.samples[task].name, "has 35 samples", "reports 40"])[1])
    case(f"samples-{task}-empty")(lambda r, t, task=task: (r.samples[task].write_text(""),
                                                           [r.samples[task].name, "holds no samples"])[1])
    case(f"samples-{task}-binary")(lambda r, t, task=task: (r.samples[task].write_bytes(b"\xff\xfe\x00garbage\n"),
                                                            [r.samples[task].name, "not UTF-8"])[1])
    case(f"samples-{task}-duplicated-line")(
        lambda r, t, task=task: (r.samples[task].write_text("".join(r.lines(task) + r.lines(task)[:1])),
                                 [r.samples[task].name, "appears twice"])[1])
case("samples-blank-line")(lambda r, t: (r.samples["add_em"].write_text("".join(r.lines("add_em")[:3] + ["\n"] +
                                                                               r.lines("add_em")[3:])),
                                         [r.samples["add_em"].name, "line 4 is empty"])[1])
case("samples-not-json-line")(lambda r, t: (r.samples["add_em"].write_text("garbage\n" + "".join(r.lines("add_em"))),
                                            [r.samples["add_em"].name, "line 1 is not valid JSON"])[1])
case("samples-nul-bytes")(lambda r, t: (r.samples["add_mc"].write_bytes(b"\0" * 64 + b"\n"),
                                        [r.samples["add_mc"].name, "line 1 holds NUL bytes"])[1])
# Binary without a final newline: a binary file, not an interrupted run.
case("samples-binary-no-newline")(lambda r, t: (r.samples["add_em"].write_bytes(b"\x00\xff\xfe" * 100),
                                                [r.samples["add_em"].name, "not UTF-8 text (a binary file?)"])[1])
case("samples-nul-bytes-no-newline")(lambda r, t: (r.samples["add_em"].write_bytes(b"\0" * 64),
                                                   [r.samples["add_em"].name, "holds NUL bytes"])[1])
case("samples-utf16")(lambda r, t: (r.samples["add_mc"].write_bytes(r.samples["add_mc"].read_text().encode("utf-16")),
                                    [r.samples["add_mc"].name, "not UTF-8"])[1])
for label, value in {"array": "[1, 2]", "number": "7", "string": '"x"', "null": "null"}.items():
    case(f"samples-record-{label}")(
        lambda r, t, value=value: (r.samples["add_em"].write_text(value + "\n" + "".join(r.lines("add_em")[1:])),
                                   [r.samples["add_em"].name, "line 1 is a JSON"])[1])
case("samples-duplicate-key")(lambda r, t: (r.samples["add_em"].write_text(
    r.lines("add_em")[0].replace('{"doc_id": 0', '{"doc_id": 0, "doc_id": 0') + "".join(r.lines("add_em")[1:])),
    [r.samples["add_em"].name, "duplicate key 'doc_id'"])[1])
for label, change in {
    "doc-id-missing": (lambda rec: rec.pop("doc_id"), "missing,"),
    "doc-id-string": (lambda rec: rec.update(doc_id="3"), "'3'"),
    "doc-id-negative": (lambda rec: rec.update(doc_id=-1), "-1"),
    "doc-id-float": (lambda rec: rec.update(doc_id=1.5), "1.5"),
    "doc-id-bool": (lambda rec: rec.update(doc_id=True), "True"),
}.items():
    case(f"samples-{label}")(lambda r, t, change=change: (r.edit_record("add_em", 2, change[0]),
                                                         [r.samples["add_em"].name, f"line 3: doc_id is {change[1]}"])[1])
case("samples-doc-id-repeated")(lambda r, t: (r.edit_record("add_mc", 5, lambda rec: rec.update(doc_id=4)),
                                              [r.samples["add_mc"].name, "doc_id 4 appears twice"])[1])
# Documents other than the split's first N (what lm-eval --samples picks) are refused: a
# side must not choose what it is judged on.
case("samples-doc-id-beyond-the-data")(lambda r, t: (r.edit_record("add_mc", 5, lambda rec: rec.update(doc_id=4000)),
                                                     [r.samples["add_mc"].name, "40 chosen documents",
                                                      "doc_id 4000 without doc_id 5", "without --samples"])[1])
for field, change, said in (
    ("filter", lambda rec: rec.pop("filter"), "filter is missing"),
    ("filter", lambda rec: rec.update(filter=1), "filter is a int"),
    ("metrics", lambda rec: rec.pop("metrics"), "metrics is missing"),
    ("metrics", lambda rec: rec.update(metrics="exact_match"), "metrics is a str"),
    ("metrics", lambda rec: rec.update(metrics=[1]), "metrics holds 1"),
    ("doc_hash", lambda rec: rec.pop("doc_hash"), "doc_hash is missing"),
    ("prompt_hash", lambda rec: rec.update(prompt_hash=5), "prompt_hash is a int"),
    ("target_hash", lambda rec: rec.update(target_hash=None), "target_hash is missing"),
    ("score", lambda rec: rec.pop("exact_match"), "no value for metric 'exact_match'"),
    ("score", lambda rec: rec.update(exact_match="1.0"), "exact_match is '1.0'"),
    ("score", lambda rec: rec.update(exact_match=None), "exact_match is None"),
):
    case(f"samples-{field}-{said.split()[-1].strip(chr(39))}-{len(CASES)}")(
        lambda r, t, change=change, said=said: (r.edit_record("add_em", 0, change),
                                                [r.samples["add_em"].name, f"line 1: {said}"])[1])
case("samples-score-nan")(lambda r, t: (r.replace_text(r.samples["add_em"], '"exact_match": 1.0}', '"exact_match": NaN}'),
                                        [r.samples["add_em"].name, "NaN"])[1])
case("samples-score-infinity")(lambda r, t: (r.replace_text(r.samples["add_mc"], '"acc": 1.0}', '"acc": -Infinity}'),
                                             [r.samples["add_mc"].name, "Infinity"])[1])
case("samples-score-flipped")(lambda r, t: (r.edit_record("add_em", 7, lambda rec: rec.update(exact_match=1.0 - rec["exact_match"])),
                                            [r.samples["add_em"].name, "from different runs"])[1])
case("samples-other-metric")(lambda r, t: (r.samples["add_em"].write_text("".join(
    line.replace('"exact_match"', '"f1"') for line in r.lines("add_em"))),
    [r.samples["add_em"].name, "no per-sample 'exact_match'"])[1])
case("samples-other-filter")(lambda r, t: (r.samples["add_em"].write_text("".join(
    line.replace('"filter": "none"', '"filter": "strict"') for line in r.lines("add_em"))),
    [r.samples["add_em"].name, "no per-sample 'exact_match' for filter 'none'"])[1])
case("samples-doc-from-other-data")(lambda r, t: (r.edit_record("add_em", 3, lambda rec: rec["doc"].update(answer="999")),
                                                  [r.samples["add_em"].name, "doc_id 3", "other data"])[1])
case("samples-symlink-loop")(lambda r, t: (r.samples["add_em"].unlink(), os.symlink(r.samples["add_em"].name, r.samples["add_em"]),
                                           [r.samples["add_em"].name, "symlink loop"])[2])
case("samples-dangling-symlink")(lambda r, t: (r.samples["add_em"].unlink(), os.symlink(t / "gone", r.samples["add_em"]),
                                               [r.samples["add_em"].name, "cannot be read"])[2])
case("samples-is-a-directory")(lambda r, t: (r.samples["add_mc"].unlink(), r.samples["add_mc"].mkdir(),
                                             [r.samples["add_mc"].name, "not a regular file"])[2])
case("samples-is-a-fifo")(lambda r, t: (r.samples["add_mc"].unlink(), os.mkfifo(r.samples["add_mc"]),
                                        [r.samples["add_mc"].name, "not a regular file"])[2])


def _huge_samples(r: Run, _t: Path):
    with r.samples["add_em"].open("r+b") as fh:
        fh.truncate(5 << 30)  # sparse
    return [r.samples["add_em"].name, "over the 4096 MiB limit"]


def _huge_line(r: Run, _t: Path):
    with r.samples["add_em"].open("wb") as fh:
        fh.truncate(70 << 20)  # 70 MiB of NULs, no newline (sparse)
    return [r.samples["add_em"].name, "longer than 64 MiB"]


case("samples-huge")(_huge_samples)
case("samples-huge-line")(_huge_line)


# Where the run is looked for.
def _nowhere(r: Run, t: Path):
    return [str(t / "nowhere"), "does not exist"], {"candidate": t / "nowhere"}


def _empty_dir(r: Run, t: Path):
    (t / "empty").mkdir()
    return [str(t / "empty"), "holds no results_*.json"], {"candidate": t / "empty"}


def _only_samples(r: Run, _t: Path):
    r.results.unlink()
    return [str(r.dir), "holds no results_*.json"], {"candidate": r.dir}


def _two_runs(r: Run, _t: Path):
    shutil.copy(r.results, r.results.with_name("results_2020-01-01T00-00-00.000001.json"))
    return [str(r.dir), "holds 2 lm-eval runs", "pass the results_*.json"], {"candidate": r.dir}


def _two_runs_one_level_down(r: Run, t: Path):
    out = t / "out"
    shutil.copytree(r.dir, out / "model-a")
    shutil.copytree(r.dir, out / "model-b")
    return [str(out), "holds 2 lm-eval runs"], {"candidate": out}


def _samples_file_given(r: Run, _t: Path):
    return [r.samples["add_em"].name, "is a samples file", "pass the results_*.json beside it"], \
        {"candidate": r.samples["add_em"]}


def _unrelated_json(r: Run, t: Path):
    (t / "other_2026-01-01T00-00-00.json").write_text('{"a": 1}')
    return ["other_2026-01-01T00-00-00.json", "no 'results'"], {"candidate": t / "other_2026-01-01T00-00-00.json"}


def _dev_null(r: Run, _t: Path):
    return ["/dev/null", "not a regular file"], {"candidate": Path("/dev/null")}


def _path_loop(r: Run, t: Path):
    os.symlink(t / "loop", t / "loop")
    return [str(t / "loop"), "symlink loop"], {"candidate": t / "loop"}


for name, fn in {"path-missing": _nowhere, "path-empty-dir": _empty_dir, "path-only-samples": _only_samples,
                 "path-two-runs": _two_runs, "path-two-runs-below": _two_runs_one_level_down,
                 "path-is-a-samples-file": _samples_file_given, "path-unrelated-json": _unrelated_json,
                 "path-dev-null": _dev_null, "path-symlink-loop": _path_loop}.items():
    case(name)(fn)


# Candidate vs baseline.
def _other_harness(r: Run, _t: Path):
    """The odd side (not the lm-eval installed here) is named, and told to use the installed one."""
    r.edit(lambda d: d.update(lm_eval_version="0.4.2"))
    return [f"--candidate-results {r.results}", "lm-eval 0.4.2", f"re-run this side with lm-eval {harness_version()}"]


def _other_harness_baseline(r: Run, _t: Path):
    r.edit(lambda d: d.update(lm_eval_version="0.4.2"))
    return ([f"--baseline-results {r.results}", "lm-eval 0.4.2", f"re-run this side with lm-eval {harness_version()}"],
            {"swap": True})


def _other_harness_than_here(r: Run, _t: Path, model: Path):
    r.edit(lambda d: d.update(lm_eval_version="0.3.0"))
    return [r.results.name, "lm-eval 0.3.0", "(evaluated here)"], {"baseline_model": model}


def _baseline_other_harness_than_here(r: Run, _t: Path, model: Path):
    r.edit(lambda d: d.update(lm_eval_version="9.9.9"))
    return ([r.results.name, "lm-eval 9.9.9", "candidate (evaluated here)"],
            {"swap": True, "candidate_model": model})


def _pair_config(key, value):
    """The odd side is named, by its departure from the config's YAML (not "differs from the candidate's")."""
    def change(r: Run, _t: Path):
        r.edit(lambda d: d["configs"]["add_mc"].update({key: value}))
        return [f"--baseline-results {r.results}", f"was run with {key} = ", "YAML in eval.tasks"], {"swap": True}
    return change


def _config_vs_model(edit, said):
    """A results side is checked against the config's task whatever the other side is: here a model."""
    def change(r: Run, _t: Path, model: Path):
        r.edit(edit)
        return [f"--candidate-results {r.results}", *said], {"baseline_model": model}
    return change


def _pair_version(r: Run, _t: Path):
    r.edit(lambda d: d["versions"].update(add_em=2.0))
    return [r.results.name, "version 2.0"], {"swap": True}


def _pair_hash(field: str, problem: str):
    def change(r: Run, _t: Path):
        r.edit_record("add_em", 6, lambda rec: rec.update({field: "0" * 64}))
        return [r.samples["add_em"].name, f"doc_id 6 {problem} than in the candidate's results"], {"swap": True}
    return change


def _disjoint(r: Run, t: Path):
    """Candidate on documents 0-19 (lm-eval --limit 20), baseline on 20-39 (lm-eval --samples):
    the baseline chose its documents, which no side may."""
    other = copy_run(r.dir, t / "other")
    for run, keep in ((r, slice(0, 20)), (other, slice(20, 40))):
        data = run.data()
        for task, path in run.samples.items():
            kept = run.lines(task)[keep]
            path.write_text("".join(kept))
            metric = data["configs"][task]["metric_list"][0]["metric"]
            scores = [json.loads(line)[metric] for line in kept]
            data["results"][task][f"{metric},none"] = sum(scores) / len(scores)
            data["n-samples"][task]["effective"] = len(kept)
        run.save(data)
    return [f"--baseline-results {other.samples['add_em']}", "20 chosen documents", "without --samples"], \
        {"baseline": other.dir}


def _pair_prompt_options(option: str, value, text: str):
    def change(r: Run, _t: Path):
        r.edit(lambda d: d.update({option: value}))
        return [r.results.name, f"was evaluated with {text}", "the candidate with no prompt options",
                "different prompts", "same lm-eval prompt options\n"], {"swap": True}
    return change


def _pair_chat_templates(r: Run, t: Path):
    """Both sides with a chat template, but not the same one."""
    other = copy_run(r.dir, t / "other")
    r.edit(lambda d: d.update(chat_template="{{ messages }}", chat_template_sha="a1" * 32))
    other.edit(lambda d: d.update(chat_template="<s>{{ messages }}", chat_template_sha="b2" * 32))
    return ([other.results.name, "another chat template than the candidate (sha b2b2b2b2b2b2 vs a1a1a1a1a1a1)",
             "different prompts"], {"baseline": other.dir})


def _prompt_options_vs_model(r: Run, _t: Path, model: Path):
    r.edit(lambda d: d.update(chat_template="{{ messages }}", chat_template_sha="c3" * 32))
    return ([r.results.name, "a chat template (--apply_chat_template)", "baseline (evaluated here) with no prompt "
             "options", "give that side as lm-eval results too"], {"baseline_model": model})


case("pair-other-harness")(_other_harness)
case("pair-other-harness-baseline")(_other_harness_baseline)
for option, value, text in (("chat_template_sha", "d4" * 32, "a chat template (--apply_chat_template)"),
                            ("system_instruction_sha", "e5" * 32, "a system instruction (--system_instruction)")):
    case(f"pair-prompt-{option}")(_pair_prompt_options(option, value, text))
case("pair-prompt-two-chat-templates")(_pair_chat_templates)
case("pair-prompt-options-vs-model")(lambda r, t: None)  # replaced below (needs the model)
case("pair-harness-vs-installed")(lambda r, t: None)  # replaced below (needs the model)
case("pair-baseline-harness-vs-installed")(lambda r, t: None)
for key, value in {"description": "Answer: ", "fewshot_delimiter": "\n", "repeats": 2, "should_decontaminate": True}.items():
    case(f"pair-config-{key}")(_pair_config(key, value))
case("pair-task-version")(_pair_version)
case("pair-other-document")(_pair_hash("doc_hash", "is another document"))
case("pair-other-target")(_pair_hash("target_hash", "is another document"))
case("pair-other-prompt")(_pair_hash("prompt_hash", "was asked with another prompt"))
case("pair-disjoint-documents")(_disjoint)
CONFIG_VS_MODEL = {
    "config-vs-model-metadata-version": (lambda d: (d["versions"].update(add_mc=2.0),
                                                    d["configs"]["add_mc"]["metadata"].update(version=2.0)),
                                         ["is version 2.0", "sets no metadata.version"]),
    "config-vs-model-config-metadata-version": (lambda d: d["configs"]["add_mc"]["metadata"].update(version=2.0),
                                                ['metadata = {"version": 2.0}', "does not set it"]),
    "config-vs-model-repeats": (lambda d: d["configs"]["add_mc"].update(repeats=2), ["repeats = 2", "says 1"]),
    "config-vs-model-description": (lambda d: d["configs"]["add_mc"].update(description="Add: "),
                                    ['description = "Add: "', 'says ""']),
    "config-vs-model-gen-prefix": (lambda d: d["configs"]["add_mc"].update(gen_prefix="The answer is"),
                                   ["gen_prefix = ", "does not set it"]),
    "config-vs-model-fewshot-delimiter": (lambda d: d["configs"]["add_em"].update(fewshot_delimiter="\n"),
                                          ["fewshot_delimiter = ", 'says "\\n\\n"']),
    "config-vs-model-unknown-key": (lambda d: d["configs"]["add_mc"].update(doc_to_decontamination_query="{{q}}"),
                                    ["doc_to_decontamination_query = ", "does not set it"]),
    "config-vs-model-num-fewshot": (lambda d: d["configs"]["add_mc"].update(num_fewshot=3),
                                    ["3-shot prompts", "eval.num_fewshot is 0"]),
    "config-vs-model-direction": (lambda d: d["higher_is_better"]["add_em"].update(exact_match=False),
                                  ["higher_is_better.add_em.exact_match is false", "higher is better",
                                   "not the results file"]),
}
for name in CONFIG_VS_MODEL:
    case(name)(lambda r, t: None)  # replaced below (needs the model)


# Flags.
def _both_candidate_flags(r: Run, _t: Path, model: Path):
    return ["--candidate-results and --candidate", "pass one"], {"extra": ["--candidate", str(model)]}


def _both_baseline_flags(r: Run, _t: Path, model: Path):
    return ["--baseline-results and --baseline", "pass one"], {"extra": ["--baseline", str(model)]}


def _register_results(r: Run, _t: Path):
    return ["register_as", "no model to register"], {"config": suite_gate_config(mlflow="enabled: true, register_as: adder")}


NEEDS_MODEL = {"pair-harness-vs-installed": _other_harness_than_here,
               "pair-prompt-options-vs-model": _prompt_options_vs_model,
               "pair-baseline-harness-vs-installed": _baseline_other_harness_than_here,
               "flags-both-candidate": _both_candidate_flags, "flags-both-baseline": _both_baseline_flags,
               **{name: _config_vs_model(*spec) for name, spec in CONFIG_VS_MODEL.items()}}
case("flags-both-candidate")(lambda r, t: None)
case("flags-both-baseline")(lambda r, t: None)
case("flags-register-results-candidate")(_register_results)


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 100, len(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_results_are_refused_cleanly(name, world, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(world["repo"], repo)
    run = copy_run(world["good"], tmp_path / "cand")
    fn = NEEDS_MODEL.get(name)
    got = fn(run, tmp_path, world["model"]) if fn else CASES[name](run, tmp_path)
    culprit, opts = (got if isinstance(got, tuple) else (got, {}))
    if "config" in opts:
        (repo / ".llm-gitops.yaml").write_text(opts["config"])
    candidate = ["--candidate-results", str(opts.get("candidate", run.dir))]
    baseline = ["--baseline-results", str(opts.get("baseline", world["good"]))]
    if opts.get("swap"):  # the broken copy is the baseline
        candidate, baseline = ["--candidate-results", str(world["good"])], ["--baseline-results", str(run.dir)]
    if "baseline_model" in opts:
        baseline = ["--baseline", str(opts["baseline_model"])]
    if "candidate_model" in opts:
        candidate = ["--candidate", str(opts["candidate_model"])]
    args = ["gate", *candidate, *baseline, *opts.get("extra", [])]
    expect_clean_error(args, cwd=repo, culprit=culprit, surface="results", case=name)
