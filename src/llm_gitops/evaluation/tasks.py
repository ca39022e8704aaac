"""Resolving ``eval.tasks`` into lm-eval tasks, validated before any model is loaded.

A task is a built-in lm-eval task ``name`` or a local task YAML ``path`` (relative to the
config file). Local YAMLs are read here, without importing lm-eval, so that a typo in a
data path fails in a second instead of after a model load, and so that the gate's cached
path stays light:

* ``include:`` files are merged the way lm-eval merges them (included keys first, the
  file's own keys win);
* ``dataset_kwargs.data_files`` (and a local ``dataset_path``) are made absolute against
  the YAML's directory - lm-eval would resolve them against the current directory;
* ``!function module.name`` references are kept, and their module file travels with the
  resolved copy.

Every task gets a content hash over its resolved config, the content of its data files
and of the Python modules it names; the suite hash keys the eval cache, so editing a
data file re-runs the eval while moving the checkout does not.

Built-in names need lm-eval's task index (seconds to build): it is built only when a
built-in name is used, and only by the functions that need it.
"""

from __future__ import annotations

import copy
import difflib
import functools
import glob
import hashlib
import itertools
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from llm_gitops import input_files
from llm_gitops.cache import content_key
from llm_gitops.config.safe_yaml import BoundedLoader, describe, load_yaml_document, printable, shown
from llm_gitops.config.schema import EvalSection, TaskSpec
from llm_gitops.errors import EvalError
from llm_gitops.input_files import UnusableFile

# lm-eval's default metrics per output type, used when a task YAML has no metric_list
# (lm_eval.api.registry.DEFAULT_METRIC_REGISTRY; copied so that no lm-eval import is needed).
DEFAULT_METRICS: dict[str, tuple[str, ...]] = {
    "loglikelihood": ("perplexity", "acc"),
    "loglikelihood_rolling": ("word_perplexity", "byte_perplexity", "bits_per_byte"),
    "multiple_choice": ("acc", "acc_norm"),
    "generate_until": ("exact_match",),
}
DEFAULT_FILTER = "none"
# Stands, in the metric keys a task is expected to report, for any name: what a metric
# function reports is known only once it runs.
ANY_METRIC = "*"
RESOLVED_YAML_NAME = "task.yaml"
# Chained ``include:`` files (lm-eval's own tasks use one or two levels).
MAX_INCLUDE_DEPTH = 16
# Files one data_files glob may match.
MAX_GLOB_MATCHES = input_files.MAX_DATA_FILES


@dataclass(frozen=True)
class FunctionRef:
    """A ``!function module.name`` reference in a task YAML."""

    spec: str
    module_file: Path | None  # the module next to the YAML, None for an importable module


@dataclass(frozen=True)
class ResolvedTask:
    """One entry of ``eval.tasks``, resolved and checked."""

    index: int  # position in eval.tasks (for messages: eval.tasks[index])
    label: str  # what the config says
    name: str  # the lm-eval task name results are reported under
    kind: Literal["builtin", "local"]
    config_hash: str
    yaml_path: Path | None = None
    # The YAML with includes merged and paths made absolute (local tasks only).
    config: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    modules: tuple[Path, ...] = ()


@dataclass(frozen=True)
class TaskSuite:
    tasks: tuple[ResolvedTask, ...]
    config_hash: str

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.tasks]

    @property
    def has_builtin(self) -> bool:
        return any(t.kind == "builtin" for t in self.tasks)

    def write_include_dir(self, directory: Path) -> Path:
        """Write each local task's resolved YAML (and its modules) under ``directory``.

        One sub-directory per task, so two tasks may each have a ``utils.py``.
        """
        directory = Path(directory)
        for task in self.tasks:
            if task.kind != "local":
                continue
            sub = directory / f"{task.index:02d}-{re.sub(r'[^A-Za-z0-9_.-]', '_', task.name)}"
            sub.mkdir(parents=True, exist_ok=True)
            assert task.yaml_path is not None
            for module in task.modules:
                target = sub / module.relative_to(task.yaml_path.parent)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(module, target)
            (sub / RESOLVED_YAML_NAME).write_text(_dump_yaml(task.config or {}), encoding="utf-8")
        return directory


# --------------------------------------------------------------------------- YAML
class _TaskYamlLoader(BoundedLoader):
    """Bounded safe loader that keeps ``!function`` tags as FunctionRef (lm-eval imports them)."""

    base_dir: Path = Path(".")


def _function_ctor(loader: _TaskYamlLoader, node: yaml.Node) -> FunctionRef:
    spec = str(loader.construct_scalar(node))  # type: ignore[arg-type]
    module, _, _ = spec.rpartition(".")
    if not module:
        return FunctionRef(spec, None)
    try:
        candidate = input_files.resolve(loader.base_dir / f"{module.replace('.', '/')}.py")
        is_file = input_files.kind_of(candidate) == "file"
    except UnusableFile as exc:
        if exc.reason == "not found":  # an importable module, not one next to the YAML
            return FunctionRef(spec, None)
        raise yaml.constructor.ConstructorError(None, None, f"!function {spec}: {exc.path} {exc.reason}",
                                                node.start_mark) from None
    return FunctionRef(spec, candidate if is_file else None)


_TaskYamlLoader.add_constructor("!function", _function_ctor)


class _TaskYamlDumper(yaml.SafeDumper):
    pass


def _function_representer(dumper: yaml.SafeDumper, ref: FunctionRef) -> yaml.Node:
    return dumper.represent_scalar("!function", ref.spec)


_TaskYamlDumper.add_representer(FunctionRef, _function_representer)


def _dump_yaml(config: dict[str, Any]) -> str:
    return yaml.dump(config, Dumper=_TaskYamlDumper, sort_keys=False, allow_unicode=True)


def _where(task_index: int, label: str) -> str:
    return f"eval.tasks[{task_index}] ({label})"


def _unusable(where: str, what: str, exc: UnusableFile, hint: str | None = None) -> EvalError:
    """One located line for a path the task config names that cannot be used."""
    if hint is None:
        if "symlink" in exc.reason:
            hint = "fix or remove the link"
        elif exc.reason == "not found" or exc.reason.startswith("not found"):
            hint = "paths are relative to the file that names them"
        elif "limit" in exc.reason:
            hint = "keep task files small; put big datasets on a dataset hub"
        elif "UTF-8" not in exc.reason:
            hint = "give the path of a regular file"
    return EvalError(f"{where}: {what} {printable(str(exc.path))} {exc.reason}", hint=hint)


def _read_yaml(path: Path, where: str, seen: tuple[Path, ...] = (), via: str = "") -> dict[str, Any]:
    """Read a task YAML, merging ``include:`` files as lm-eval does (``via``: the include that names it)."""
    if path in seen:
        raise EvalError(f"{where}: include cycle at {path}", hint="remove the circular 'include:'")
    if len(seen) >= MAX_INCLUDE_DEPTH:
        raise EvalError(f"{where}: {seen[-1]}: include: more than {MAX_INCLUDE_DEPTH} files included in a chain",
                        hint="include fewer levels")
    try:
        text = input_files.read_text(path, limit=input_files.MAX_YAML_BYTES, what="a task YAML")
    except UnusableFile as exc:
        raise _unusable(f"{where}{via}", "included file" if via else "task YAML", exc) from None
    data = load_yaml_document(text, _TaskYamlLoader, where=f"{where}: {path}", what="task YAML", error=EvalError,
                              base_dir=path.parent)
    if not isinstance(data, dict):
        raise EvalError(
            f"{where}: {path}: a task YAML must be a mapping (task:, dataset_path:, ...), got {describe(data)}",
            hint="see lm-eval's task guide for the format",
        )
    includes = data.pop("include", None)
    if includes is None:
        return data
    merged: dict[str, Any] = {}
    for index, inc in enumerate(includes if isinstance(includes, list) else [includes]):
        field_name = f"include[{index}]" if isinstance(includes, list) else "include"
        if not isinstance(inc, str) or not inc.strip():
            raise EvalError(f"{where}: {_at(path, ('include',))}: {field_name}: expected a YAML file path, got "
                            f"{describe(inc)}",
                            hint="write 'include: other.yaml' (relative to this file)")
        try:
            inc_path = input_files.resolve(Path(inc) if Path(inc).is_absolute() else path.parent / inc)
        except UnusableFile as exc:
            raise _unusable(f"{where}: {_at(path, ('include',))}: {field_name}", "included file", exc) from None
        inc_cfg = _read_yaml(inc_path, where, (*seen, path), via=f": {_at(path, ('include',))}: {field_name}")
        inc_cfg.pop("task_list", None)
        merged.update(inc_cfg)
    merged.update(data)
    return merged


# --------------------------------------------------------------------------- hashing
def file_sha256(path: Path, *, limit: int = input_files.MAX_DATA_BYTES) -> str:
    """``sha256:HEX`` of a regular file (raises UnusableFile for anything else, or one over ``limit``)."""
    return input_files.sha256_file(path, limit=limit)


def _dir_sha256(path: Path) -> str:
    files = input_files.files_under(path)
    if not files:
        raise UnusableFile(path, "is an empty directory (no data files)")
    outer = hashlib.sha256()
    for file in files:
        outer.update(f"{file.relative_to(path).as_posix()}\0{file_sha256(file)}\n".encode())
    return f"sha256:{outer.hexdigest()}"


def _hashable(value: Any) -> Any:
    """The config as JSON, with function refs replaced by their module's content hash."""
    if isinstance(value, FunctionRef):
        module = file_sha256(value.module_file, limit=input_files.MAX_YAML_BYTES) if value.module_file else None
        return {"!function": value.spec, "module": module}
    if isinstance(value, dict):
        return {str(k): _hashable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_hashable(v) for v in value]
    return value


def _function_modules(value: Any) -> list[Path]:
    if isinstance(value, FunctionRef):
        return [value.module_file] if value.module_file else []
    if isinstance(value, dict):
        return [m for v in value.values() for m in _function_modules(v)]
    if isinstance(value, (list, tuple)):
        return [m for v in value for m in _function_modules(v)]
    return []


# --------------------------------------------------------------------------- data files
_GLOB_CHARS = set("*?[")


def _local_path(raw: str, base: Path, where: str) -> Path:
    """``raw`` (``~`` expanded) made absolute against ``base``; a bad path is a located error."""
    if "\0" in raw:
        raise EvalError(f"{where}: {shown(raw)} contains a NUL character", hint="give a plain file path")
    try:
        path = Path(raw).expanduser()
    except RuntimeError:  # "~user/..." for a user that does not exist
        raise EvalError(f"{where}: cannot expand the home directory in {shown(raw)}",
                        hint="give a path relative to the task YAML") from None
    return path if path.is_absolute() else base / path


def _hash_file(path: Path, where: str) -> str:
    try:
        return file_sha256(path)
    except UnusableFile as exc:
        raise _unusable(where, "data file", exc) from None


def _field(keys: tuple) -> str:
    """``("dataset_kwargs", "data_files", "test", 1)`` -> ``dataset_kwargs.data_files.test[1]``."""
    return printable("".join(f"[{k}]" if isinstance(k, int) else (f".{k}" if i else str(k)) for i, k in enumerate(keys)))


def _at(path: Path, keys: tuple) -> str:
    """``FILE:LINE`` of the value at ``keys`` in a task YAML; ``FILE`` alone when the file does
    not hold it (a key from an include). Only errors call this, so the file is read again."""
    try:
        node = yaml.compose(input_files.read_text(path), Loader=BoundedLoader)
    except (UnusableFile, yaml.YAMLError):
        return str(path)
    line = None
    for key in keys:
        found = None
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == str(key)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            found = node.value[key]
        if found is None:
            break
        node, line = found, found.start_mark.line + 1
    return f"{path}:{line}" if line else str(path)


def _located(where: str, yaml_path: Path, keys: tuple) -> str:
    return f"{where}: {_at(yaml_path, keys)}: {_field(keys)}"


def _resolve_data_path(raw: Any, yaml_dir: Path, where: str, yaml_path: Path, keys: tuple) -> tuple[str, str]:
    """(absolute path or pattern, content hash) of one data_files entry (at ``keys`` in the YAML)."""
    located = _located(where, yaml_path, keys)
    if not isinstance(raw, str) or not raw.strip():
        raise EvalError(f"{located}: expected a file path, got {describe(raw)}")
    if "://" in raw:
        # A remote URL cannot be read offline and has no content to hash here.
        raise EvalError(
            f"{located}: {shown(raw)} is a URL",
            hint="download the file next to the task YAML and give its relative path",
        )
    absolute = _local_path(raw, yaml_dir, located)
    if _GLOB_CHARS & set(raw):
        if "**" in raw:
            # A recursive glob follows links: refuse a loop (or a huge tree) before globbing.
            fixed = Path(*itertools.takewhile(lambda part: not (_GLOB_CHARS & set(part)), absolute.parts))
            try:
                if input_files.kind_of(fixed) == "directory":
                    input_files.files_under(fixed)
            except UnusableFile as exc:
                raise _unusable(located, "data directory", exc) from None
        matches = sorted(Path(p) for p in itertools.islice(glob.iglob(str(absolute), recursive=True),
                                                             MAX_GLOB_MATCHES + 1))
        if len(matches) > MAX_GLOB_MATCHES:
            raise EvalError(f"{located}: {shown(raw)} matches more than {MAX_GLOB_MATCHES} paths",
                            hint="narrow the pattern")
        matches = [m for m in matches if not m.is_dir()]  # a pattern may match directories; their files are listed too
        if not matches:
            raise EvalError(
                f"{located}: no file matches {shown(raw)} (looked for {absolute})",
                hint="data paths are relative to the task YAML's directory",
            )
        combined = hashlib.sha256("".join(_hash_file(m, located) for m in matches).encode()).hexdigest()
        return str(absolute), f"sha256:{combined}"
    try:
        absolute = input_files.resolve(absolute)
        input_files.kind_of(absolute)
    except UnusableFile as exc:
        if exc.reason == "not found":
            raise EvalError(
                f"{located}: data file {shown(raw)} not found (looked for {absolute})",
                hint="data paths are relative to the task YAML's directory; fix the path or add the file",
            ) from None
        raise _unusable(located, "data file", exc) from None
    return str(absolute), _hash_file(absolute, located)


def _resolve_data_files(data_files: Any, yaml_dir: Path, where: str, yaml_path: Path) -> tuple[Any, Any]:
    """data_files (str | list | {split: str | list}) -> (absolute form, hashed form)."""
    field_keys = ("dataset_kwargs", "data_files")

    def one(raw: Any, keys: tuple) -> tuple[str, str]:
        return _resolve_data_path(raw, yaml_dir, where, yaml_path, keys)

    def many(raw: Any, keys: tuple) -> tuple[Any, Any]:
        if isinstance(raw, list):
            pairs = [one(r, (*keys, i)) for i, r in enumerate(raw)]
            return [p for p, _ in pairs], [h for _, h in pairs]
        return one(raw, keys)

    if isinstance(data_files, dict):
        resolved, hashed = {}, {}
        for split, raw in data_files.items():
            if not isinstance(split, str):
                raise EvalError(f"{_located(where, yaml_path, field_keys)}: a split name must be text, got "
                                f"{describe(split)}", hint="write e.g. 'test: data/test.jsonl'")
            resolved[split], hashed[split] = many(raw, (*field_keys, split))
        return resolved, hashed
    return many(data_files, field_keys)


# --------------------------------------------------------------------------- resolution
def _check_shape(config: dict[str, Any], where: str, yaml_path: Path) -> None:
    """The keys this module reads have the types lm-eval expects (else a located error, not a crash later)."""
    output_type = config.get("output_type", "generate_until")
    if not isinstance(output_type, str) or output_type not in DEFAULT_METRICS:
        raise EvalError(f"{_located(where, yaml_path, ('output_type',))}: expected one of "
                        f"{', '.join(DEFAULT_METRICS)}, got {describe(output_type)}")
    for key, what in (("dataset_kwargs", "a mapping"), ("metric_list", "a list"), ("filter_list", "a list")):
        value = config.get(key)
        if value is not None and not isinstance(value, dict if what == "a mapping" else list):
            raise EvalError(f"{_located(where, yaml_path, (key,))}: expected {what}, got {describe(value)}",
                            hint="see lm-eval's task guide for the format")
    for key, item_key in (("metric_list", "metric"), ("filter_list", "name")):
        for index, item in enumerate(config.get(key) or []):
            named = item.get(item_key) if isinstance(item, dict) else None
            # A metric may be a function (``metric: !function utils.pass_at_k``, as lm-eval's humaneval).
            if not isinstance(named, str) and not (key == "metric_list" and isinstance(named, FunctionRef)):
                got = f"{item_key}: {describe(named)}" if isinstance(item, dict) else describe(item)
                raise EvalError(f"{_located(where, yaml_path, (key, index))}: expected a mapping with a "
                                f"'{item_key}:' name" + (" or !function" if key == "metric_list" else "") +
                                f", got {got}", hint="see lm-eval's task guide for the format")
    dataset_path = config.get("dataset_path")
    if dataset_path is not None and (not isinstance(dataset_path, str) or not dataset_path.strip()):
        raise EvalError(f"{_located(where, yaml_path, ('dataset_path',))}: expected a dataset name or a local path, "
                        f"got {describe(dataset_path)}")


def _resolve_local(spec: TaskSpec, task_index: int, base_dir: Path) -> ResolvedTask:
    assert spec.path is not None
    where = _where(task_index, spec.label)
    try:
        yaml_path = input_files.resolve(_local_path(spec.path, Path(base_dir), f"{where}: path"))
        input_files.kind_of(yaml_path)
    except UnusableFile as exc:
        if exc.reason == "not found":
            raise EvalError(
                f"{where}: task YAML not found: {exc.path}",
                hint="paths in eval.tasks are relative to the config file's directory; fix the path or use 'name:' "
                     "for a built-in task",
            ) from None
        raise _unusable(where, "task YAML", exc) from None
    config = copy.deepcopy(_read_yaml(yaml_path, where))
    if ("group" in config and "task" not in config) or isinstance(config.get("task"), list):
        raise EvalError(
            f"{where}: {yaml_path} defines a group; llm-gitops takes one task per YAML",
            hint="list each task's YAML in eval.tasks instead",
        )
    name = config.get("task")
    if not isinstance(name, str) or not name.strip():
        raise EvalError(f"{where}: {_at(yaml_path, ('task',))}: missing 'task:' (the task's name)",
                        hint="add e.g. 'task: my_task'")
    _check_shape(config, where, yaml_path)
    try:
        hashed = _hashable(config)
    except UnusableFile as exc:
        raise _unusable(f"{where}: {yaml_path}", "!function module", exc) from None
    yaml_dir = yaml_path.parent

    dataset_path = config.get("dataset_path")
    if isinstance(dataset_path, str) and dataset_path.startswith((".", "/", "~")):
        # A local dataset directory or file (a Hugging Face hub id never starts like this).
        located = _located(where, yaml_path, ("dataset_path",))
        local = None
        try:
            local = input_files.resolve(_local_path(dataset_path, yaml_dir, located))
            kind = input_files.kind_of(local)
            digest = _dir_sha256(local) if kind == "directory" else file_sha256(local)
        except UnusableFile as exc:
            if exc.reason == "not found" and exc.path == local:
                raise EvalError(
                    f"{located}: {shown(dataset_path)} not found (looked for {local})",
                    hint="paths are relative to the task YAML's directory",
                ) from None
            raise _unusable(located, "dataset", exc) from None
        config["dataset_path"] = str(local)
        hashed["dataset_path"] = digest

    kwargs = config.get("dataset_kwargs")
    if isinstance(kwargs, dict) and kwargs.get("data_files") is not None:
        resolved, data_hashes = _resolve_data_files(kwargs["data_files"], yaml_dir, where, yaml_path)
        config["dataset_kwargs"] = {**kwargs, "data_files": resolved}
        hashed["dataset_kwargs"] = {**hashed["dataset_kwargs"], "data_files": data_hashes}

    modules = tuple(sorted(set(_function_modules(config))))
    for module in modules:
        if yaml_dir not in module.parents:
            raise EvalError(
                f"{where}: {yaml_path}: function module {module} is outside the task's directory",
                hint="keep the task's Python helpers next to its YAML",
            )
    return ResolvedTask(
        index=task_index,
        label=spec.label,
        name=name,
        kind="local",
        config_hash=content_key({"kind": "local", "name": name, "config": hashed}),
        yaml_path=yaml_path,
        config=config,
        modules=modules,
    )


def resolve_tasks(settings: EvalSection, *, base_dir: Path) -> TaskSuite:
    """Resolve and check every task of ``settings`` (local files fully; built-in names
    are only checked by ``check_builtin_names``, which needs lm-eval's index)."""
    if not settings.tasks:
        raise EvalError("eval.tasks is empty", hint="list at least one task, e.g. 'tasks: [tasks/add_em.yaml]'")
    tasks: list[ResolvedTask] = []
    for i, spec in enumerate(settings.tasks):
        if spec.path is not None:
            tasks.append(_resolve_local(spec, i, base_dir))
        else:
            assert spec.name is not None
            # The harness version is part of the cache key, and that pins the built-in config.
            tasks.append(
                ResolvedTask(
                    index=i,
                    label=spec.label,
                    name=spec.name,
                    kind="builtin",
                    config_hash=content_key({"kind": "builtin", "name": spec.name}),
                )
            )
    seen: dict[str, ResolvedTask] = {}
    for task in tasks:
        if task.name in seen:
            first = seen[task.name]
            raise EvalError(
                f"{_where(task.index, task.label)}: task name {task.name!r} is also used by "
                f"{_where(first.index, first.label)}",
                hint="each task needs its own 'task:' name, since results are keyed by it",
            )
        seen[task.name] = task
    suite_hash = content_key([t.config_hash for t in sorted(tasks, key=lambda t: t.name)])
    return TaskSuite(tasks=tuple(tasks), config_hash=f"sha256:{suite_hash}")


# --------------------------------------------------------------------------- built-ins
def builtin_task_manager(include_path: Path | None = None, *, include_defaults: bool = True):
    """An lm-eval TaskManager (imports lm-eval; builds the built-in index when asked)."""
    if include_path is None and include_defaults:
        return _default_task_manager()
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=str(include_path) if include_path else None, include_defaults=include_defaults)


@functools.lru_cache(maxsize=1)
def _default_task_manager():
    # The built-in index takes seconds to build and never changes within a process.
    from lm_eval.tasks import TaskManager

    return TaskManager()


def check_builtin_names(suite: TaskSuite, task_manager: Any) -> None:
    """Raise EvalError for a built-in name lm-eval does not know, with a did-you-mean."""
    known = task_manager.task_index
    for task in suite.tasks:
        if task.kind != "builtin" or task.name in known:
            continue
        close = difflib.get_close_matches(task.name, list(known), n=3, cutoff=0.75)
        hint = f"did you mean {', '.join(repr(c) for c in close)}?" if close else "run 'lm-eval ls tasks' for the list"
        if not task.name.endswith((".yaml", ".yml")):
            hint += " For a local task give 'path: FILE.yaml'."
        raise EvalError(f"{_where(task.index, task.label)}: unknown lm-eval task {task.name!r}", hint=hint)


def _is_function_metric(metric: Any) -> bool:
    """A ``metric: !function ...`` entry: a FunctionRef from this module's loader, or the
    ``DIR/module.name`` text lm-eval's loader makes of it unresolved (no metric it
    registers has a ``/`` in its name)."""
    return isinstance(metric, FunctionRef) or (isinstance(metric, str) and "/" in metric)


def _entry_metrics(name: str, config: dict[str, Any]) -> set[str]:
    metric_list = config.get("metric_list")
    if metric_list:
        named = [m.get("metric") for m in metric_list if isinstance(m, dict)]
        # A function reports under its own name or under the keys of the dict it returns
        # (humaneval's pass_at_k: pass@1), known only once it runs.
        metrics = [ANY_METRIC if _is_function_metric(m) else m for m in named if isinstance(m, (str, FunctionRef))]
    else:
        metrics = list(DEFAULT_METRICS.get(config.get("output_type", "generate_until"), ()))
    filters = [f["name"] for f in config.get("filter_list") or [] if isinstance(f, dict) and f.get("name")]
    return {metric_key(name, m, f) for m in metrics for f in (filters or [DEFAULT_FILTER])}


def metric_key(task: str, metric: str, filter_name: str = DEFAULT_FILTER) -> str:
    """``task/metric``, or ``task/metric,filter`` for a filter other than lm-eval's 'none'."""
    return f"{task}/{metric}" if filter_name == DEFAULT_FILTER else f"{task}/{metric},{filter_name}"


def builtin_task_yaml(entry: Any) -> dict[str, Any]:
    """The YAML of an entry of lm-eval's task index (no dataset load): its file, else the
    config it was registered with."""
    from lm_eval.tasks._yaml_loader import load_yaml

    config = load_yaml(entry.yaml_path, resolve_func=False, recursive=True) if entry.yaml_path else dict(entry.cfg or {})
    return config if isinstance(config, dict) else {}


def _builtin_metrics(name: str, task_manager: Any, seen: set[str] | None = None) -> set[str]:
    """Metrics of a built-in task, group or tag, from the index's YAML (no dataset load)."""
    seen = set() if seen is None else seen
    if name in seen:
        return set()
    seen.add(name)
    index = task_manager.task_index
    entry = index.get(name)
    if entry is None:
        return set()
    kind = getattr(entry.kind, "name", str(entry.kind))
    if kind == "TAG":
        members = [n for n, e in index.items() if name in (getattr(e, "tags", None) or ())]
        return set().union(*(_builtin_metrics(m, task_manager, seen) for m in members)) if members else set()
    config = builtin_task_yaml(entry)
    if kind == "GROUP":
        children = config.get("task") or []
        out: set[str] = set()
        for child in children if isinstance(children, list) else [children]:
            if isinstance(child, str):
                out |= _builtin_metrics(child, task_manager, seen)
            elif isinstance(child, dict) and isinstance(child.get("task"), str):
                out |= _entry_metrics(child["task"], {**config, **child})
        return out
    return _entry_metrics(config.get("task", name), config)


def expected_metrics(settings: EvalSection, *, base_dir: Path, suite: TaskSuite | None = None) -> set[str]:
    """Every ``task/metric`` key ``run_eval`` will report, without loading a model.

    Local tasks are read from their YAML; built-in names need lm-eval's index (built
    only when one is used). Raises EvalError on an unknown task or a missing data file.
    ``suite``: ``settings``' tasks resolved already.
    """
    suite = suite if suite is not None else resolve_tasks(settings, base_dir=base_dir)
    out: set[str] = set()
    for task in suite.tasks:
        if task.kind == "local":
            out |= _entry_metrics(task.name, task.config or {})
    if suite.has_builtin:
        manager = builtin_task_manager()
        check_builtin_names(suite, manager)
        for task in suite.tasks:
            if task.kind == "builtin":
                out |= _builtin_metrics(task.name, manager)
    return out

