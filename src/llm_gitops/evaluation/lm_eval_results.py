"""lm-eval's own output as gate input: ``results_*.json`` + ``samples_<task>_*.jsonl``.

``lm_eval --output_path OUT --log_samples`` (or any runner that writes the same format,
e.g. lm-eval with vLLM on a GPU cluster) leaves, through lm-eval's ``EvaluationTracker``::

    OUT/<sanitized model name>/results_<date_id>.json
    OUT/<sanitized model name>/samples_<task>_<date_id>.jsonl     one per task, one line per (doc, filter)

(``--output_path FILE.json`` writes ``FILE_<date_id>.json`` with the samples beside it.)
:func:`read_lm_eval_output` turns one such run into the same :class:`EvalResults` the
gate computes itself, per-sample scores keyed by doc id, so the verdict, report,
comment, status and tracking are made the same way without loading a model.

Reading is strict and bounded: sizes are checked before reading, lines are read with a
length cap, JSON is checked field by field, and the samples must agree with the
results file (counts and means). Anything else is an :class:`EvalError` (exit 2) whose
one line names the file and the fix. The checks against the gate config and between
the two sides of a gate are :func:`check_against_config` and :func:`check_pair`; two
sides whose documents only partly overlap are restricted to the common documents by
:func:`restrict_to_common_docs`, which says so in a note.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import stat
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping, NamedTuple

from llm_gitops.config.schema import EvalSection
from llm_gitops.errors import EvalError
from llm_gitops.evaluation.results import EvalResults, MetricResult, agrees, sample_hash
from llm_gitops.evaluation.tasks import FunctionRef, ResolvedTask, TaskSuite, metric_key, resolve_tasks
from llm_gitops.models.resolved import ResolvedModel

RESULTS_KIND = "lm-eval-results"
# A results file holds aggregates and task configs: a few MB even for large suites.
MAX_RESULTS_BYTES = 64 << 20
# A samples file holds every prompt and response: large, but not unbounded.
MAX_SAMPLES_BYTES = 4 << 30
MAX_LINE_BYTES = 64 << 20
_DATE_ID = re.compile(r"_(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:\.\d+)?)$")
# Keys of lm-eval's task config that describe the machine that ran it (metadata also
# holds the model's arguments and the YAML's path), not the task: only metadata.version is kept.
_MACHINE_KEYS = ("metadata",)
# Task config keys not compared with the config's YAML: the name (matched already),
# lm-eval's bookkeeping, and what the gate sets (num_fewshot is compared with eval.num_fewshot).
_UNCOMPARED_YAML_KEYS = {"task", "include", "num_fewshot", "tag", "group"}
# Stands for a ``!function`` reference when a task YAML goes through lm-eval's TaskConfig.
_FUNCTION = "\0!function "
_FIX_RERUN = "re-run lm-eval with --output_path DIR --log_samples and pass DIR or its results_*.json"


class ResultsFileError(EvalError):
    """An lm-eval results or samples file cannot be used for the gate."""


@dataclass(frozen=True)
class LmEvalRun:
    """One lm-eval run read from disk, checked, and turned into EvalResults."""

    label: str  # the flag it came from, e.g. --candidate-results
    results_path: Path
    samples_paths: Mapping[str, Path]  # leaf task -> its samples file
    harness_version: str
    model_name: str
    tasks: tuple[str, ...]  # leaf tasks (lm-eval's ``configs``)
    n_shot: Mapping[str, int]
    versions: Mapping[str, Any]
    results: EvalResults
    # task -> comparable config (machine paths dropped); the sample hashes are the results'
    task_configs: Mapping[str, Any] = field(compare=False, repr=False)
    docs: Mapping[str, Mapping[int, Any]] = field(compare=False, repr=False)
    group_subtasks: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # How lm-eval wrapped every prompt beyond the task config (see ``prompt_format``).
    prompt_format: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # task -> metric -> the file's top-level higher_is_better (a claim, checked against the config)
    directions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, compare=False, repr=False)
    # lm-eval's seed for drawing few-shot examples (``config.fewshot_seed``; --seed's fourth value)
    fewshot_seed: Any = field(default=None, compare=False, repr=False)

    def where(self, task: str | None = None) -> str:
        path = self.samples_paths.get(task) if task else None
        return f"{self.label} {path or self.results_path}"


# --------------------------------------------------------------------------- locating
def _fail(label: str, path: Path | str, problem: str, fix: str) -> ResultsFileError:
    return ResultsFileError(f"{label} {path}: {problem}", hint=fix)


def _stat_regular(path: Path, label: str, what: str, limit: int) -> os.stat_result:
    """stat ``path`` (following links) and require a regular file within ``limit`` bytes."""
    try:
        info = path.stat()
    except OSError as exc:
        problem = "is a symlink loop" if exc.errno == 40 else f"cannot be read ({exc.strerror or exc})"
        raise _fail(label, path, problem, f"pass an existing {what}") from None
    if not stat.S_ISREG(info.st_mode):
        raise _fail(label, path, "is not a regular file", f"pass lm-eval's {what}")
    if info.st_size > limit:
        raise _fail(label, path, f"is {info.st_size / 2**20:.0f} MiB, over the {limit / 2**20:.0f} MiB limit for a {what}",
                    "pass the file lm-eval wrote, not another one")
    return info


def _dated_results(directory: Path, stem: str | None = None) -> list[Path]:
    """What ``lm_eval --output_path DIR/STEM.json`` writes: ``DIR/STEM_<date>.json`` (any
    STEM when None; never a samples file)."""
    found = []
    for p in directory.glob("*_*.json"):
        match = _DATE_ID.search(p.stem)
        if match and not p.name.startswith("samples_") and (stem is None or p.stem[:match.start()] == stem):
            found.append(p)
    return sorted(found)


def _results_files(directory: Path) -> list[Path]:
    found = sorted(p for p in directory.glob("results_*.json"))
    if not found:  # OUT/<model name>/results_*.json: one level down
        found = sorted(p for p in directory.glob("*/results_*.json"))
    if not found:  # --output_path DIR/FILE.json wrote DIR/FILE_<date>.json (no model directory)
        found = _dated_results(directory)
    if not found:  # glob skips a directory it cannot read: say so rather than "no results"
        for sub in directory.iterdir():
            if sub.is_dir():
                os.listdir(sub)
    return found


_FIX_GUNZIP = "decompress it (gunzip): the gate reads the files as lm-eval wrote them"


def locate_results_file(path: Path | str, label: str) -> Path:
    """The results file of ``path``: the file itself, or the one results_*.json in the directory."""
    if not str(path).strip():  # Path("") is the current directory: an unset CI variable must not mean "search here"
        raise _fail(label, '""', "is an empty path (an unset CI variable?)",
                    "pass lm-eval's --output_path directory or a results_*.json in it")
    path = Path(path)
    try:
        is_dir = path.is_dir()
        exists = is_dir or path.exists() or path.is_symlink()
    except OSError as exc:
        raise _fail(label, path, f"cannot be read ({exc.strerror or exc})", "pass lm-eval's output directory") from None
    if not exists and path.suffix == ".json":
        # lm_eval --output_path FILE.json writes FILE_<date>.json: the same PATH names that run.
        try:
            written = _dated_results(path.parent, path.stem) if path.parent.is_dir() else []
        except OSError:
            written = []
        if len(written) == 1:
            return written[0]
        if written:
            names = ", ".join(p.name for p in written[:4]) + (", ..." if len(written) > 4 else "")
            raise _fail(label, path, f"names {len(written)} lm-eval runs (lm-eval --output_path {path.name} wrote "
                        f"{names})", "pass the one to gate on")
    if not exists:
        raise _fail(label, path, "does not exist", "pass lm-eval's --output_path directory or a results_*.json in it")
    if not is_dir:
        if path.name.startswith("samples_") and path.name.endswith(".jsonl"):
            raise _fail(label, path, "is a samples file, not lm-eval's results",
                        "pass the results_*.json beside it, or the directory that holds both")
        return path
    try:
        found = _results_files(path)
    except OSError as exc:
        raise _fail(label, exc.filename or path, f"cannot be listed ({exc.strerror or exc})",
                    "make it readable, or pass the results_*.json of the run") from None
    if not found:
        packed = sorted(path.glob("results_*.json.gz")) or sorted(path.glob("*/results_*.json.gz"))
        if packed:
            raise _fail(label, path, f"holds lm-eval's results gzip-compressed ({packed[0].relative_to(path)})",
                        "decompress its files (gunzip): the gate reads them as lm-eval wrote them")
        raise _fail(label, path, "holds no results_*.json (nor does any directory in it)",
                    "pass the --output_path directory lm-eval wrote, or a results file")
    if len(found) > 1:
        names = ", ".join(str(p.relative_to(path)) for p in found[:4]) + (", ..." if len(found) > 4 else "")
        raise _fail(label, path, f"holds {len(found)} lm-eval runs ({names})", "pass the results_*.json of the run to gate on")
    return found[0]


# --------------------------------------------------------------------------- strict JSON
def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _loads(text: str) -> Any:
    # NaN/Infinity would slip into scores; duplicate keys would silently drop one value.
    return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _expect(value: Any, kind: type | tuple[type, ...], label: str, path: Path, where: str) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        shown = "missing" if value is None else f"a {type(value).__name__}"
        raise _fail(label, path, f"{where} is {shown}, expected {'an' if names[0] in 'aeiou' else 'a'} {names}",
                    "pass a file lm-eval wrote, unedited")
    return value


# --------------------------------------------------------------------------- reading
def _read_results_json(path: Path, label: str) -> tuple[bytes, dict[str, Any]]:
    _stat_regular(path, label, "results_*.json", MAX_RESULTS_BYTES)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_RESULTS_BYTES + 1)
    except OSError as exc:
        raise _fail(label, path, f"cannot be read ({exc.strerror or exc})", "pass a readable file") from None
    if len(raw) > MAX_RESULTS_BYTES:
        raise _fail(label, path, "grew past the size limit while being read", "pass a finished results file")
    if raw.startswith(b"\x1f\x8b"):
        raise _fail(label, path, "is gzip-compressed", _FIX_GUNZIP)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _fail(label, path, "is not UTF-8 text (a binary file?)", "pass the results_*.json lm-eval wrote") from None
    try:
        data = _loads(text)
    except ValueError as exc:
        problem = f"is not valid JSON ({exc})" if not isinstance(exc, json.JSONDecodeError) else \
            f"is not valid JSON (line {exc.lineno}: {exc.msg})"
        raise _fail(label, path, problem, "pass the results_*.json lm-eval wrote (a truncated copy?)") from None
    if not isinstance(data, dict):
        raise _fail(label, path, f"holds a JSON {type(data).__name__}, not lm-eval's results object",
                    "pass the results_*.json lm-eval wrote")
    return raw, data


def _samples_lines(path: Path, label: str) -> Iterator[tuple[int, str, bytes]]:
    """(line number, text, raw bytes) of each line, each at most MAX_LINE_BYTES."""
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise _fail(label, path, f"cannot be read ({exc.strerror or exc})", "pass a readable file") from None
    with fh:
        number = 0
        while True:
            raw = fh.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            number += 1
            if number == 1 and raw.startswith(b"\x1f\x8b"):
                raise _fail(label, path, "is gzip-compressed", _FIX_GUNZIP)
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                raise _fail(label, path, f"line {number} is longer than {MAX_LINE_BYTES >> 20} MiB",
                            "pass the samples file lm-eval wrote")
            # A binary file is said to be one, not "truncated" for lacking a final newline.
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise _fail(label, path, f"line {number} is not UTF-8 text (a binary file?)",
                            "pass the samples file lm-eval wrote") from None
            if "\0" in text:
                raise _fail(label, path, f"line {number} holds NUL bytes (a binary file?)",
                            "pass the samples file lm-eval wrote")
            if not raw.endswith(b"\n"):
                raise _fail(label, path, f"is truncated mid-line at line {number} (no newline at the end)",
                            "the run that wrote it was interrupted; " + _FIX_RERUN)
            yield number, text, raw


@dataclass
class _TaskSamples:
    # (filter, metric) -> {doc_id: score}; a metric without per-sample scores maps to None
    scores: dict[tuple[str, str], dict[int, float] | None] = field(default_factory=dict)
    per_filter: dict[str, set[int]] = field(default_factory=dict)
    hashes: dict[int, str] = field(default_factory=dict)
    docs: dict[int, Any] = field(default_factory=dict)


def _read_samples(path: Path, label: str, task: str, digest: "hashlib._Hash") -> _TaskSamples:
    _stat_regular(path, label, f"samples file of task {task!r}", MAX_SAMPLES_BYTES)
    out = _TaskSamples()
    for number, text, raw in _samples_lines(path, label):
        digest.update(raw)
        if not text.strip():
            raise _fail(label, path, f"line {number} is empty", "pass the samples file lm-eval wrote, unedited")
        try:
            rec = _loads(text)
        except ValueError as exc:
            raise _fail(label, path, f"line {number} is not valid JSON ({exc})",
                        "pass the samples file lm-eval wrote (a truncated or edited copy?)") from None
        where = f"line {number}"
        if not isinstance(rec, dict):
            raise _fail(label, path, f"{where} is a JSON {type(rec).__name__}, not a sample record",
                        "pass the samples file lm-eval wrote")
        doc_id = rec.get("doc_id")
        if not isinstance(doc_id, int) or isinstance(doc_id, bool) or doc_id < 0:
            shown = "missing" if "doc_id" not in rec else repr(doc_id)
            raise _fail(label, path, f"{where}: doc_id is {shown}, expected a document index (an integer >= 0)",
                        "pass the samples file lm-eval wrote, unedited")
        filter_name = _expect(rec.get("filter"), str, label, path, f"{where}: filter")
        metrics = _expect(rec.get("metrics"), list, label, path, f"{where}: metrics")
        hashes = [_expect(rec.get(k), str, label, path, f"{where}: {k}") for k in ("doc_hash", "prompt_hash", "target_hash")]
        seen = out.per_filter.setdefault(filter_name, set())
        if doc_id in seen:
            raise _fail(label, path, f"{where}: doc_id {doc_id} appears twice for filter {filter_name!r}",
                        "the file holds more than one run's samples; " + _FIX_RERUN)
        seen.add(doc_id)
        previous = out.hashes.setdefault(doc_id, sample_hash(*hashes))
        if previous != sample_hash(*hashes):
            raise _fail(label, path, f"{where}: doc_id {doc_id} has two different documents",
                        "the file mixes runs; " + _FIX_RERUN)
        out.docs.setdefault(doc_id, rec.get("doc"))
        for metric in metrics:
            if not isinstance(metric, str):
                raise _fail(label, path, f"{where}: metrics holds {metric!r}, expected metric names",
                            "pass the samples file lm-eval wrote")
            if metric not in rec:
                raise _fail(label, path, f"{where}: no value for metric {metric!r} that the record lists",
                            "pass the samples file lm-eval wrote, unedited")
            value = rec[metric]
            bucket = out.scores.setdefault((filter_name, metric), {})
            if isinstance(value, (list, dict)):
                out.scores[(filter_name, metric)] = None  # corpus-level metric (bleu, f1): no per-sample score
                continue
            if isinstance(value, bool):
                value = float(value)
            if not _is_number(value):
                raise _fail(label, path, f"{where}: {metric} is {value!r}, expected a finite number",
                            "pass the samples file lm-eval wrote, unedited")
            if bucket is not None:
                bucket[doc_id] = float(value)
    return out


def _samples_path(results_path: Path, task: str, date_id: str) -> Path:
    return results_path.parent / f"samples_{task}_{date_id}.jsonl"


def _comparable(value: Any) -> Any:
    """A task config with what only describes the machine that ran it dropped, and a
    temperature of 0 beside ``do_sample: false`` (greedy decoding either way)."""
    if not isinstance(value, dict):
        return value
    out = {k: v for k, v in value.items() if k not in _MACHINE_KEYS}
    generation = out.get("generation_kwargs")
    if (isinstance(generation, dict) and generation.get("do_sample") is False
            and _is_number(generation.get("temperature")) and float(generation["temperature"]) == 0):
        # lm-eval's --gen_kwargs temperature=0, the usual way to ask a vLLM or API run for
        # greedy decoding, changes nothing where the task already says do_sample: false.
        out["generation_kwargs"] = {k: v for k, v in generation.items() if k != "temperature"}
    if isinstance(value.get("metadata"), dict) and "version" in value["metadata"]:
        out["metadata"] = {"version": value["metadata"]["version"]}
    kwargs = out.get("dataset_kwargs")
    if isinstance(kwargs, dict) and "data_files" in kwargs:
        out["dataset_kwargs"] = {k: v for k, v in kwargs.items() if k != "data_files"}
    path = out.get("dataset_path")
    if isinstance(path, str) and path.startswith(("/", ".", "~")):
        out.pop("dataset_path")
    return out


def _timestamp(value: Any) -> str:
    if _is_number(value):
        return datetime.fromtimestamp(float(value), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return ""


def _aggregations(config: dict[str, Any]) -> dict[str, Any]:
    """metric -> its aggregation name per the task config (None when not a plain string)."""
    out = {}
    for item in config.get("metric_list") or []:
        if isinstance(item, dict) and isinstance(item.get("metric"), str):
            agg = item.get("aggregation", "mean")
            out[item["metric"]] = agg if isinstance(agg, str) else None
    return out


def _missing_samples(label: str, results_path: Path, task: str, sample_file: Path) -> None:
    """Refuse a run whose samples file of ``task`` is not beside its results, saying why."""
    packed = sample_file.with_name(sample_file.name + ".gz")
    if packed.exists():
        raise _fail(label, packed, "is gzip-compressed", _FIX_GUNZIP)
    date_id = _DATE_ID.search(results_path.stem).group(1)
    others = sorted(p.name for p in results_path.parent.glob(f"samples_*_{date_id}.jsonl") if p != sample_file)
    if others:  # the run logged samples: this task's file was cut short of being written, or not copied
        raise _fail(label, results_path, f"has no samples file for task {task!r} ({sample_file.name}), though its "
                    f"run logged samples ({others[0]} is there): the run was interrupted while writing them, or the "
                    "file was not copied with the results",
                    "pass the whole --output_path directory of a finished lm-eval --log_samples run")
    raise _fail(label, results_path, f"has no samples file for task {task!r} ({sample_file.name}): lm-eval was "
                "run without --log_samples, or its samples files were not copied with the results, and the gate "
                "needs per-sample scores to pair the models",
                "re-run lm-eval with --log_samples and pass its whole --output_path directory")


def _refuse_predict_only(label: str, results_path: Path, results: Mapping[str, Any],
                         higher_is_better: Mapping[str, Any]) -> None:
    """``lm_eval --predict_only`` saves the answers and scores nothing: every metric is 'bypass'."""
    for task in sorted(results):
        values = results[task] if isinstance(results[task], dict) else {}
        stated = higher_is_better.get(task)
        if any(k.startswith("bypass,") for k in values) or isinstance(stated, dict) and "bypass" in stated:
            raise _fail(label, results_path, f"was made with --predict_only: lm-eval saved the answers of task "
                        f"{task!r} but scored none (its metric is 'bypass'), so there is nothing to gate on",
                        "re-run lm-eval without --predict_only")


def read_lm_eval_output(path: Path | str, *, label: str) -> LmEvalRun:
    """Read one lm-eval run (a directory or its results file) into EvalResults; raise ResultsFileError."""
    results_path = locate_results_file(path, label)
    raw, data = _read_results_json(results_path, label)
    for key in ("results", "configs"):
        if key not in data:
            raise _fail(label, results_path, f"has no {key!r}: not an lm-eval results file",
                        "pass the results_*.json lm-eval wrote")
        _expect(data[key], dict, label, results_path, key)
    version = data.get("lm_eval_version")
    if not isinstance(version, str) or not version.strip():
        raise _fail(label, results_path, "has no lm_eval_version, so the harness that made it is unknown",
                    "pass a results file written by lm-eval 0.4.3 or newer")
    configs: dict[str, Any] = data["configs"]
    if not configs:
        raise _fail(label, results_path, "names no task (its 'configs' is empty)", "pass a run that evaluated tasks")
    sections = {}
    for key in ("versions", "n-shot", "higher_is_better", "n-samples"):
        sections[key] = _expect(data.get(key, {}), dict, label, results_path, key)
    date_match = _DATE_ID.search(results_path.stem)
    if date_match is None:
        raise _fail(label, results_path, "is not named like lm-eval's results (results_<date>.json), so its samples "
                    "files cannot be found", "keep the names lm-eval gave its files")
    date_id = date_match.group(1)
    _refuse_predict_only(label, results_path, data["results"], sections["higher_is_better"])

    digest = hashlib.sha256(raw)
    metrics: dict[str, MetricResult] = {}
    samples_paths: dict[str, Path] = {}
    hashes: dict[str, dict[int, str]] = {}
    docs: dict[str, dict[int, Any]] = {}
    n_shot: dict[str, int] = {}
    for task in sorted(configs):
        config = _expect(configs[task], dict, label, results_path, f"configs.{task}")
        values = data["results"].get(task)
        if values is None:
            raise _fail(label, results_path, f"has a config but no results for task {task!r}",
                        "pass the results_*.json lm-eval wrote, unedited")
        _expect(values, dict, label, results_path, f"results.{task}")
        shots = sections["n-shot"].get(task, 0)
        n_shot[task] = _expect(shots, int, label, results_path, f"n-shot.{task}")
        n_info = _expect(sections["n-samples"].get(task), dict, label, results_path, f"n-samples.{task}")
        effective = _expect(n_info.get("effective"), int, label, results_path, f"n-samples.{task}.effective")
        higher = _expect(sections["higher_is_better"].get(task, {}), dict, label, results_path, f"higher_is_better.{task}")
        for metric, stated in higher.items():
            if stated is not None:  # lm-eval writes null for a metric it knows no direction of
                _expect(stated, bool, label, results_path, f"higher_is_better.{task}.{metric}")

        sample_file = _samples_path(results_path, task, date_id)
        if not sample_file.exists() and not sample_file.is_symlink():
            _missing_samples(label, results_path, task, sample_file)
        samples = _read_samples(sample_file, label, task, digest)
        samples_paths[task] = sample_file
        hashes[task] = samples.hashes
        docs[task] = samples.docs
        if not samples.per_filter and effective:
            raise _fail(label, sample_file, f"holds no samples, but the results file reports {effective}",
                        "the run that wrote it was interrupted; " + _FIX_RERUN)
        for filter_name, ids in samples.per_filter.items():
            if len(ids) != effective:
                raise _fail(label, sample_file, f"has {len(ids)} samples for filter {filter_name!r}, but the results "
                            f"file reports {effective}: the file is incomplete or from another run", _FIX_RERUN)
            if max(ids, default=-1) != len(ids) - 1:
                # Not the split's first N documents (lm-eval --limit N) nor all of them: chosen ones
                # (--samples), which would let a side pick the documents it is judged on.
                gap = min(set(range(len(ids))) - ids)
                raise _fail(label, sample_file, f"task {task!r} was scored on {len(ids)} chosen documents (doc_id "
                            f"{max(ids)} without doc_id {gap}), not the split's first {len(ids)}: a side must not "
                            "choose the documents it is judged on",
                            "re-run lm-eval without --samples (--limit N scores the split's first N documents)")
        aggregations = _aggregations(config)
        for key, raw in values.items():
            if "," not in key:
                continue  # alias, name, sample_len
            metric, filter_name = key.split(",", 1)
            if metric.endswith("_stderr"):
                if raw != "N/A" and raw is not None and not _is_number(raw):
                    raise _fail(label, results_path, f"results.{task}.{key} is {raw!r}, expected a number or \"N/A\"",
                                "pass the results_*.json lm-eval wrote, unedited")
                continue
            if not _is_number(raw):
                raise _fail(label, results_path, f"results.{task}.{key} is {raw!r}, expected a finite number",
                            "pass the results_*.json lm-eval wrote, unedited")
            stderr = values.get(f"{metric}_stderr,{filter_name}")
            if effective and (filter_name, metric) not in samples.scores:
                raise _fail(label, sample_file, f"has no per-sample {metric!r} for filter {filter_name!r}",
                            "the samples file is from another run; " + _FIX_RERUN)
            per_doc = samples.scores.get((filter_name, metric))
            pairs = sorted(per_doc.items()) if per_doc else []
            # A name its metric_list does not hold is one a metric function reported, whose
            # aggregation the file does not say: only a known mean is checked.
            aggregation = aggregations.get(metric, None if config.get("metric_list") else "mean")
            if pairs and aggregation == "mean":
                mean = math.fsum(s for _, s in pairs) / len(pairs)
                if not agrees(mean, float(raw)):
                    raise _fail(label, sample_file, f"averages {metric} = {mean:.6g}, but the results file reports "
                                f"{float(raw):.6g}: the files are from different runs", _FIX_RERUN)
            # What the file states; check_against_config replaces it by the config's task's direction.
            hib = higher.get(metric)
            metrics[metric_key(task, metric, filter_name)] = MetricResult(
                task=task,
                metric=metric,
                value=float(raw),
                stderr=float(stderr) if _is_number(stderr) else None,
                n=len(pairs) or effective,
                higher_is_better=hib is not False,
                doc_ids=tuple(d for d, _ in pairs),
                scores=tuple(s for _, s in pairs),
            )

    task_configs = {t: _comparable(c) for t, c in configs.items()}
    content = f"sha256:{digest.hexdigest()}"
    config_hash = "sha256:" + hashlib.sha256(
        json.dumps({"configs": task_configs, "versions": sections["versions"], "n-shot": n_shot},
                   sort_keys=True, default=str).encode()).hexdigest()
    run_config = data.get("config") if isinstance(data.get("config"), dict) else {}
    model_name = data.get("model_name") if isinstance(data.get("model_name"), str) else ""
    elapsed = data.get("total_evaluation_time_seconds")
    try:
        duration = float(elapsed) if elapsed is not None else 0.0
    except (TypeError, ValueError):
        duration = 0.0
    results = EvalResults(
        model_digest=content,
        model_source=str(results_path),
        harness_version=version.strip(),
        task_config_hash=config_hash,
        settings={
            "source": RESULTS_KIND,
            "tasks": sorted(configs),
            "model": model_name,
            "backend": run_config.get("model") if isinstance(run_config.get("model"), str) else None,
            **_recorded_placement(run_config),
            "limit": run_config.get("limit"),
            "num_fewshot": n_shot,
        },
        metrics=metrics,
        created_at=_timestamp(data.get("date")),
        duration_s=duration if math.isfinite(duration) else 0.0,
        # The content decides everything, so it keys the gate's decision cache too.
        cache_key=f"{RESULTS_KIND}:{digest.hexdigest()}",
        sample_hashes=hashes,
    )
    return LmEvalRun(
        label=label, results_path=results_path, samples_paths=samples_paths, harness_version=version.strip(),
        model_name=model_name, tasks=tuple(sorted(configs)), n_shot=n_shot, versions=dict(sections["versions"]),
        results=results,
        task_configs=task_configs, docs=docs,
        group_subtasks=data["group_subtasks"] if isinstance(data.get("group_subtasks"), dict) else {},
        prompt_format=prompt_format(data),
        directions={t: dict(sections["higher_is_better"].get(t) or {}) for t in configs},
        fewshot_seed=run_config.get("fewshot_seed"),
    )


class _PromptOption(NamedTuple):
    flag: str  # the lm-eval flag that sets it
    noun: str  # what it is, e.g. "chat template"
    article: str = "a "


# lm-eval run options that change every prompt without being part of a task's config,
# recorded at the results file's top level.
_PROMPT_OPTIONS = {
    "chat_template_sha": _PromptOption("--apply_chat_template", "chat template"),
    "system_instruction_sha": _PromptOption("--system_instruction", "system instruction"),
    "fewshot_as_multiturn": _PromptOption("--fewshot_as_multiturn", "few-shot examples as chat turns", ""),
}


def prompt_format(data: Mapping[str, Any]) -> dict[str, Any]:
    """The prompt options a run used (``_PROMPT_OPTIONS`` keys that are set), e.g. {"chat_template_sha": "ab12.."}."""
    options = {key: data[key] for key in ("chat_template_sha", "system_instruction_sha") if data.get(key)}
    # simple_evaluate records fewshot_as_multiturn true by default; it only acts with a chat template.
    if options.get("chat_template_sha") and data.get("fewshot_as_multiturn"):
        options["fewshot_as_multiturn"] = True
    return options


def _described(options: Mapping[str, Any]) -> str:
    named = [_PROMPT_OPTIONS[k] for k in options]
    return " and ".join(f"{o.article}{o.noun} ({o.flag})" for o in named) or "no prompt options"


# --------------------------------------------------------------------------- checks
def _json_form(value: Any) -> Any:
    """YAML values as lm-eval records them in JSON (tuples become lists, ...)."""
    return json.loads(json.dumps(value, default=str))


def _marked(value: Any) -> Any:
    """``value`` with each FunctionRef replaced by a ``_FUNCTION`` marker string."""
    if isinstance(value, FunctionRef):
        return _FUNCTION + value.spec
    if isinstance(value, dict):
        return {k: _marked(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_marked(v) for v in value]
    return value


def _has_function(value: Any) -> bool:
    if isinstance(value, str):
        return value.startswith(_FUNCTION)
    if isinstance(value, dict):
        return any(_has_function(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_function(v) for v in value)
    return False


def _leaf_names(name: str, group_subtasks: Mapping[str, Any], seen: frozenset[str] = frozenset()) -> set[str]:
    children = group_subtasks.get(name)
    if not isinstance(children, list) or name in seen:
        return {name}
    out: set[str] = set()
    for child in children:
        if isinstance(child, str):
            out |= _leaf_names(child, group_subtasks, seen | {name})
    return out


def _recorded_placement(run_config: Mapping[str, Any]) -> dict[str, str | None]:
    """Where lm-eval ran and in which dtype, as its ``config`` records them: ``device``, and
    hf's ``model_dtype`` ('torch.bfloat16') or else the ``dtype`` of ``model_args`` (a dict
    or 'k=v,...'); None where it says nothing."""
    dtype = run_config.get("model_dtype")
    if not isinstance(dtype, str):
        args = run_config.get("model_args")
        if isinstance(args, str):
            args = dict(part.split("=", 1) for part in args.split(",") if "=" in part)
        dtype = args.get("dtype") if isinstance(args, dict) else None
    device = run_config.get("device")
    return {"device": device if isinstance(device, str) and device else None,
            "dtype": dtype.strip().removeprefix("torch.") if isinstance(dtype, str) and dtype.strip() else None}


def check_against_config(run: LmEvalRun, suite: TaskSuite, settings: EvalSection,
                         required_metrics: set[str]) -> LmEvalRun:
    """The run must be of the config's tasks, as the config defines them, with the metrics
    thresholds name; returns it with each metric's direction taken from the config's task.

    A built-in group the config names matches its subtasks (lm-eval's ``group_subtasks``).
    Local tasks are compared key by key with the config lm-eval makes of their YAML (data
    paths aside: the documents of a JSON-lines task are compared with the config's data
    file instead), and their version with its ``metadata.version``; built-in tasks are
    pinned by the harness version. Whether higher is better comes from the task's
    definition (its metric_list, else lm-eval's default for the metric), never from the
    file, which must not say otherwise; only for a name neither gives (one a metric function
    reports, e.g. humaneval's pass@1) is the file's ``higher_is_better`` taken.
    """
    groups = run.group_subtasks
    named: dict[str, ResolvedTask] = {}
    for task in suite.tasks:
        leaves = _leaf_names(task.name, groups) & set(run.tasks) if task.name in groups else {task.name} & set(run.tasks)
        if not leaves:
            raise _fail(run.label, run.results_path, f"has no results for task {task.name!r} that "
                        f"eval.tasks[{task.index}] names (it has {', '.join(run.tasks)})",
                        "evaluate the tasks of the gate config, or gate with the config they were run for")
        for leaf in leaves:
            named[leaf] = task
    extra = [t for t in run.tasks if t not in named]
    if extra:
        raise _fail(run.label, run.results_path, f"has results of task {extra[0]!r}, which eval.tasks does not name",
                    "add the task to eval.tasks, or pass a run of the config's tasks only")
    run = _with_config_directions(run, named)
    for task in suite.tasks:
        if task.name not in run.tasks:
            continue
        for shots in (run.n_shot.get(task.name, 0), (run.task_configs.get(task.name) or {}).get("num_fewshot", 0)):
            if shots != settings.num_fewshot:
                raise _fail(run.label, run.results_path, f"task {task.name!r} ran with {shots}-shot prompts, but "
                            f"eval.num_fewshot is {settings.num_fewshot}",
                            f"re-run lm-eval with --num_fewshot {settings.num_fewshot}, or set eval.num_fewshot: {shots}")
        if task.kind == "local" and task.config is not None:
            _compare_local_config(run, task, settings)
    for key in sorted(required_metrics):
        task, _, _ = key.partition("/")
        if task in run.tasks and key not in run.results.metrics:
            have = ", ".join(sorted(k for k in run.results.metrics if k.startswith(f"{task}/"))) or "none"
            raise _fail(run.label, run.results_path, f"has no metric {key!r} that a threshold checks (it has {have})",
                        "check the task's metric_list, or the threshold's metric name")
    return run


def _definition(task: ResolvedTask, leaf: str) -> dict[str, Any]:
    """The YAML that defines ``leaf``: the config's local task, or lm-eval's own for a
    built-in task or a subtask of a built-in group ({} when lm-eval's index has no file)."""
    if task.kind == "local":
        return task.config or {}
    from llm_gitops.evaluation.tasks import builtin_task_manager, builtin_task_yaml

    entry = builtin_task_manager().task_index.get(leaf)
    return builtin_task_yaml(entry) if entry is not None else {}


def _direction(definition: Mapping[str, Any], metric: str) -> tuple[bool | None, str]:
    """(higher is better, where that is said) for ``metric`` of the task ``definition``
    defines, as lm-eval decides it: the metric_list entry, else its default for the metric;
    None when neither says (a name a metric function reports, e.g. pass@1 of pass_at_k)."""
    for item in definition.get("metric_list") or []:
        if isinstance(item, dict) and item.get("metric") == metric and isinstance(item.get("higher_is_better"), bool):
            return item["higher_is_better"], "the config task's metric_list says"
    from lm_eval.api.registry import is_higher_better

    return is_higher_better(metric), f"lm-eval's default for {metric} is that"


def _with_config_directions(run: LmEvalRun, named: Mapping[str, ResolvedTask]) -> LmEvalRun:
    """``run`` with each metric's direction from the config's task; the file's own
    statements (top-level ``higher_is_better``, its config's metric_list) must agree."""
    definitions = {leaf: _definition(task, leaf) for leaf, task in named.items()}
    metrics = {}
    for key, result in run.results.metrics.items():
        want, source = _direction(definitions[result.task], result.metric)
        if want is None:
            # lm-eval gives a function's direction to the names it reports (task.py,
            # process_results): only the run knows which function reported this one. Higher
            # is lm-eval's and the gate's default where the run says nothing either.
            stated = run.directions.get(result.task, {}).get(result.metric)
            want, source = (stated, "lm-eval's run says") if isinstance(stated, bool) else (True, "the default is")
        listed = [item.get("higher_is_better") for item in (run.task_configs.get(result.task) or {}).get("metric_list") or []
                  if isinstance(item, dict) and item.get("metric") == result.metric]
        for where, stated in ((f"higher_is_better.{result.task}.{result.metric}",
                               run.directions.get(result.task, {}).get(result.metric)),
                              (f"configs.{result.task}.metric_list's higher_is_better of {result.metric}",
                               listed[0] if listed else None)):
            if stated is not None and stated != want:
                raise _fail(run.label, run.results_path, f"{where} is {json.dumps(stated)}, but {source} "
                            f"{'higher' if want else 'lower'} is better: the gate would read a drop as a gain",
                            "pass the results_*.json lm-eval wrote, unedited (a metric's direction comes from the "
                            "task config, not the results file)")
        metrics[key] = replace(result, higher_is_better=want)
    return replace(run, results=replace(run.results, metrics=metrics))


def _expected_config(task: ResolvedTask, settings: EvalSection) -> dict[str, Any]:
    """The task config lm-eval records (results_*.json ``configs``) when the gate runs the
    local ``task``: lm-eval's TaskConfig of the YAML, defaults included, comparable form."""
    # Where it is defined: lm_eval.api.task re-exports it but imports datasets too (0.5 s more).
    from lm_eval.config.task import TaskConfig

    yaml_config = task.config or {}
    given = {k: _marked(v) for k, v in yaml_config.items() if k not in _UNCOMPARED_YAML_KEYS}
    try:
        expected = _comparable(_json_form(TaskConfig(task=task.name, **given).to_dict()))
    except (TypeError, ValueError) as exc:
        raise EvalError(f"eval.tasks[{task.index}]: {task.yaml_path}: lm-eval cannot read this task YAML ({exc})",
                        hint="fix the task YAML") from None
    if settings.max_gen_toks and isinstance(expected.get("generation_kwargs"), dict):
        expected["generation_kwargs"] = {**expected["generation_kwargs"], "max_gen_toks": settings.max_gen_toks}
    return expected


def _compare_local_config(run: LmEvalRun, task: ResolvedTask, settings: EvalSection) -> None:
    recorded = run.task_configs.get(task.name) or {}
    expected = _expected_config(task, settings)
    fix = "gate with the task config the results were made with, or re-run lm-eval with the config's task"
    metadata = (task.config or {}).get("metadata")
    version = _json_form(metadata["version"]) if isinstance(metadata, dict) and "version" in metadata else None
    if run.versions.get(task.name) != (version if version is not None else "Yaml"):  # lm-eval's version of a YAML task
        says = f"says metadata.version {json.dumps(version)}" if version is not None else "sets no metadata.version"
        raise _fail(run.label, run.results_path, f"task {task.name!r} is version "
                    f"{json.dumps(run.versions.get(task.name))}, but its YAML in eval.tasks {says}", fix)
    for key in sorted(set(expected) | set(recorded)):
        want, have = expected.get(key), recorded.get(key)
        if key in _UNCOMPARED_YAML_KEYS or _has_function(want) or want == have:
            continue
        if key == "dataset_kwargs" and not want and have in (None, {}):
            continue
        says = f"says {json.dumps(want)}" if key in expected else "does not set it"
        raise _fail(run.label, run.results_path, f"task {task.name!r} was run with {key} = {json.dumps(have)}, but "
                    f"its YAML in eval.tasks {says}", _generation_fix(want, have) if key == "generation_kwargs" else fix)
    _compare_docs_with_data(run, task.name, task.config or {})


def _generation_fix(want: Any, have: Any) -> str:
    """The fix for generation_kwargs other than the YAML's: lm-eval's --gen_kwargs sets them
    for every generation task of its run (or eval.max_gen_toks sets max_gen_toks here)."""
    fix = ("re-run lm-eval without --gen_kwargs (it overrides the task's generation_kwargs), or with the config's "
           "task YAML")
    if isinstance(want, dict) and isinstance(have, dict):
        changed = sorted(k for k in set(want) | set(have) if want.get(k) != have.get(k))
        if changed == ["max_gen_toks"] and _is_number(have.get("max_gen_toks")):
            fix += f"; or set eval.max_gen_toks: {have['max_gen_toks']}"
    return fix


def _compare_docs_with_data(run: LmEvalRun, task: str, yaml_config: dict[str, Any]) -> None:
    """Documents of a local JSON-lines task must be the rows of the config's data file."""
    kwargs = yaml_config.get("dataset_kwargs")
    split = yaml_config.get("test_split")
    if yaml_config.get("dataset_path") != "json" or "process_docs" in yaml_config or not isinstance(kwargs, dict):
        return
    files = kwargs.get("data_files")
    data_file = files.get(split) if isinstance(files, dict) else files
    if not isinstance(data_file, str) or not data_file.endswith(".jsonl") or not Path(data_file).is_file():
        return
    wanted = run.docs.get(task) or {}
    if not wanted:
        return
    last = max(wanted)
    rows: dict[int, Any] = {}
    with Path(data_file).open("rb") as fh:
        index = 0
        while index <= last:
            line = fh.readline(MAX_LINE_BYTES + 1)
            if not line:
                break
            if not line.strip():
                continue
            if index in wanted:
                try:
                    rows[index] = json.loads(line)
                except ValueError:
                    return  # the task check reports a broken data file; this is not the place
            index += 1
    for doc_id, doc in sorted(wanted.items()):
        row = rows.get(doc_id)
        if row is None:
            raise _fail(run.label, run.samples_paths[task], f"has doc_id {doc_id}, but {data_file} has only {index} "
                        "documents: the results were made from other data",
                        "gate with the data the results were made with, or re-run lm-eval on the config's data")
        if isinstance(doc, dict) and isinstance(row, dict) and any(row.get(k) != v for k, v in doc.items()):
            raise _fail(run.label, run.samples_paths[task], f"doc_id {doc_id} is {json.dumps(doc)[:80]}, but row "
                        f"{doc_id} of {data_file} differs: the results were made from other data",
                        "gate with the data the results were made with, or re-run lm-eval on the config's data")


def check_harness(run: LmEvalRun, other_label: str, other_version: str, installed: str | None) -> None:
    """``run`` was made by the other side's lm-eval version (``installed``: the one here, if known)."""
    if run.harness_version != other_version:
        fix = (f"re-run this side with lm-eval {installed}, the version installed here and the {other_label.split()[0]}'s"
               if other_version == installed else "evaluate both sides with one lm-eval version" + (
                   f" (lm-eval {installed} is installed here)" if installed else ""))
        raise _fail(run.label, run.results_path, f"was made by lm-eval {run.harness_version}, the {other_label} by "
                    f"lm-eval {other_version}: scores from different harness versions are not comparable", fix)


def _role(run: LmEvalRun) -> str:
    return "candidate" if run.label.startswith("--candidate") else "baseline"


def check_prompt_format(run: LmEvalRun, other_label: str, other: Mapping[str, Any] | None) -> None:
    """``run`` wrapped its prompts as the other side did (``other``: its prompt options;
    None for a model evaluated here, which the gate's lm-eval call runs without any)."""
    evaluated_here = other is None
    other = other or {}
    if run.prompt_format == dict(other):
        return
    if set(run.prompt_format) == set(other):  # the same options, other values: e.g. two chat templates
        problem = "; ".join(
            f"was evaluated with another {_PROMPT_OPTIONS[k].noun} than the {other_label} "
            f"(sha {str(run.prompt_format[k])[:12]} vs {str(other[k])[:12]})"
            for k in other if other[k] != run.prompt_format[k])
    else:
        problem = f"was evaluated with {_described(run.prompt_format)}, the {other_label} with {_described(other)}"
    raise _fail(run.label, run.results_path, f"{problem}: the models saw different prompts, so their scores do not pair",
                "evaluate both sides with the same lm-eval prompt options" + (
                    "; the gate evaluates a model without any: give that side as lm-eval results too"
                    if evaluated_here else ""))


def check_pair(candidate: LmEvalRun, baseline: LmEvalRun, *, installed_harness: str | None = None) -> None:
    """Two runs the gate may compare: one harness, one task config, the same documents under each doc id.

    A difference is blamed on the side that departs from ``installed_harness`` (the
    lm-eval here, whose task definitions the config's built-in tasks are), else on the baseline.
    """
    odd, other = ((candidate, baseline) if baseline.harness_version == installed_harness
                  and candidate.harness_version != installed_harness else (baseline, candidate))
    check_harness(odd, f"{_role(other)} ({other.results_path})", other.harness_version, installed_harness)
    # The side with prompt options departs from plain prompts (what the gate itself asks with).
    if candidate.prompt_format and not baseline.prompt_format:
        check_prompt_format(candidate, "baseline", baseline.prompt_format)
    else:
        check_prompt_format(baseline, "candidate", candidate.prompt_format)
    for task in sorted(set(candidate.tasks) | set(baseline.tasks)):
        if task not in candidate.tasks or task not in baseline.tasks:
            side = baseline if task not in candidate.tasks else candidate
            raise _fail(side.label, side.results_path, f"has task {task!r}, which the other side lacks",
                        "evaluate both models on the same tasks")
        # A local task's config and version were compared with its YAML already (check_against_config),
        # so a difference left here is of a built-in task: neither side can be told the odd one.
        if candidate.versions.get(task) != baseline.versions.get(task):
            raise _fail(baseline.label, baseline.results_path, f"task {task!r} is version "
                        f"{baseline.versions.get(task)!r}, the candidate's ({candidate.results_path}) "
                        f"{candidate.versions.get(task)!r}: the models were evaluated on different versions of the task",
                        "evaluate both models with the same task")
        a, b = candidate.task_configs.get(task), baseline.task_configs.get(task)
        if a != b:
            keys = sorted(k for k in set(a or {}) | set(b or {}) if (a or {}).get(k) != (b or {}).get(k))
            raise _fail(baseline.label, baseline.results_path, f"task {task!r} differs from the candidate's "
                        f"({candidate.results_path}) in {', '.join(keys[:3])}: the models were evaluated on different "
                        "task configs", "evaluate both models with the same task YAML")
        ha, hb = candidate.results.sample_hashes.get(task, {}), baseline.results.sample_hashes.get(task, {})
        if ha and hb and not set(ha) & set(hb):
            raise _fail(baseline.label, baseline.results_path, f"task {task!r} was evaluated on other documents than "
                        f"the candidate's (disjoint doc ids: {len(hb)} here, {len(ha)} there)",
                        "evaluate both models on the same documents (same --limit/--samples)")
        _check_fewshot_seeds(candidate, baseline, task)
        _check_documents(baseline.label, baseline.samples_paths[task], hb, ha, "the candidate's results", prompts=True)


def _check_fewshot_seeds(candidate: LmEvalRun, baseline: LmEvalRun, task: str) -> None:
    """Few-shot prompts that differ because the runs drew their examples with other seeds
    (lm-eval --seed) are said to be that, not "another task config"."""
    if not candidate.n_shot.get(task) or candidate.fewshot_seed == baseline.fewshot_seed:
        return
    ha, hb = candidate.results.sample_hashes.get(task, {}), baseline.results.sample_hashes.get(task, {})
    if all(ha[d].split(":")[1] == hb[d].split(":")[1] for d in set(ha) & set(hb)):
        return  # the same prompts all the same
    raise _fail(baseline.label, baseline.results_path, f"task {task!r} drew its {candidate.n_shot[task]}-shot "
                f"examples with seed {json.dumps(baseline.fewshot_seed)}, the candidate's ({candidate.results_path}) "
                f"with seed {json.dumps(candidate.fewshot_seed)}: the models saw other examples, so their scores do "
                "not pair", "evaluate both models with the same lm-eval --seed (its fourth value is the few-shot seed)")


def _check_documents(label: str, where: Path | str, mine: Mapping[int, str], theirs: Mapping[int, str], other: str, *,
                     prompts: bool) -> None:
    """The documents both sides evaluated are the same (lm-eval's doc and target hashes)
    and, with ``prompts``, were asked with the same prompts (its prompt hash)."""
    for doc_id in sorted(set(mine) & set(theirs)):
        (doc_a, prompt_a, target_a), (doc_b, prompt_b, target_b) = mine[doc_id].split(":"), theirs[doc_id].split(":")
        if (doc_a, target_a) != (doc_b, target_b):
            raise _fail(label, where, f"doc_id {doc_id} is another document than in {other} (lm-eval's doc or "
                        "target hash differs): the models were evaluated on different data",
                        "evaluate both models on the same dataset version")
        if prompts and prompt_a != prompt_b:
            raise _fail(label, where, f"doc_id {doc_id} was asked with another prompt than in {other} (lm-eval's "
                        "prompt hash differs): another task config, prompt options or few-shot examples",
                        "evaluate both models with the same task YAML and lm-eval options")


def check_same_documents(given: EvalResults, evaluated: EvalResults, *, given_role: str, prompts: bool) -> None:
    """After a model was ``evaluated`` on the documents of lm-eval results ``given`` (the
    ``given_role``'s, read from ``given.model_source``), check that they were the same
    documents and, with ``prompts``, the same prompts. Results cached before hashes were
    recorded are not checked."""
    model_role = "baseline" if given_role == "candidate" else "candidate"
    for task in sorted(set(given.sample_hashes) & set(evaluated.sample_hashes)):
        _check_documents(f"--{given_role}-results", given.model_source, given.sample_hashes[task],
                         evaluated.sample_hashes[task], f"the {model_role}'s eval here", prompts=prompts)


def restrict_to_common_docs(candidate: EvalResults, baseline: EvalResults, *, candidate_label: str,
                            baseline_label: str) -> tuple[EvalResults, EvalResults, tuple[str, ...]]:
    """Both sides on the documents they share, per metric; a note says what was dropped.

    Disjoint documents are an error: nothing could be paired. A metric whose value is
    not the mean of its per-sample scores cannot be recomputed on a subset: an error too.
    """
    notes: list[str] = []
    new_c, new_b = dict(candidate.metrics), dict(baseline.metrics)
    for key in sorted(set(candidate.metrics) & set(baseline.metrics)):
        c, b = candidate.metrics[key], baseline.metrics[key]
        if not c.doc_ids or not b.doc_ids or set(c.doc_ids) == set(b.doc_ids):
            continue
        common = sorted(set(c.doc_ids) & set(b.doc_ids))
        if not common:
            raise ResultsFileError(
                f"{candidate_label} and {baseline_label}: {key} was evaluated on disjoint documents "
                f"(candidate {len(c.doc_ids)}, baseline {len(b.doc_ids)}, none in common)",
                hint="evaluate both models on the same documents (same limit/samples)")
        restricted = []
        for side, label in ((c, candidate_label), (b, baseline_label)):
            if not side.is_mean_of_scores():
                raise ResultsFileError(
                    f"{label}: {key} covers other documents than the other side, and its value is not a per-sample "
                    "mean that could be recomputed on the common ones", hint="evaluate both models on the same documents")
            restricted.append(side.on_documents(common))
        new_c[key], new_b[key] = restricted
        notes.append(f"{key}: decided on the {len(common)} documents both sides evaluated (candidate had "
                     f"{len(c.doc_ids)}, baseline {len(b.doc_ids)})")
    if not notes:
        return candidate, baseline, ()
    return replace(candidate, metrics=new_c), replace(baseline, metrics=new_b), tuple(notes)


# --------------------------------------------------------------------------- the gate's use
def results_side(path: Path | str, *, label: str, settings: EvalSection, base_dir: Path,
                 required_metrics: set[str]) -> tuple[ResolvedModel, LmEvalRun]:
    """One side of a gate given as lm-eval output: read, checked against the config.

    The returned ResolvedModel stands for the results (kind ``lm-eval-results``, digest
    over the files' content), so reports, the decision cache and tracking name it like a model.
    """
    run = read_lm_eval_output(path, label=label)
    run = check_against_config(run, resolve_tasks(settings, base_dir=base_dir), settings, required_metrics)
    model = ResolvedModel(path=run.results_path, digest=run.results.model_digest, source=str(run.results_path),
                          kind=RESULTS_KIND)
    return model, run


def check_sides(candidate: LmEvalRun | None, baseline: LmEvalRun | None, *, installed_harness: str,
                baseline_is_model: bool) -> None:
    """Before anything is measured: results on both sides must pair; results against a
    model evaluated here must come from the lm-eval installed here."""
    if candidate is not None and baseline is not None:
        check_pair(candidate, baseline, installed_harness=installed_harness)
        return
    if candidate is not None and baseline_is_model:
        check_harness(candidate, "baseline (evaluated here)", installed_harness, installed_harness)
        check_prompt_format(candidate, "baseline (evaluated here)", None)
    if baseline is not None:
        check_harness(baseline, "candidate (evaluated here)", installed_harness, installed_harness)
        check_prompt_format(baseline, "candidate (evaluated here)", None)


__all__ = [
    "LmEvalRun",
    "MAX_LINE_BYTES",
    "MAX_RESULTS_BYTES",
    "MAX_SAMPLES_BYTES",
    "RESULTS_KIND",
    "ResultsFileError",
    "check_against_config",
    "check_harness",
    "check_pair",
    "check_prompt_format",
    "check_same_documents",
    "check_sides",
    "locate_results_file",
    "read_lm_eval_output",
    "restrict_to_common_docs",
    "results_side",
]
