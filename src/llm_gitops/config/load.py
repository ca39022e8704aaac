"""Reading ``.llm-gitops.yaml``: YAML with line numbers, then the typed schema.

Every error is one line: ``FILE:LINE: FIELD: what is wrong (got VALUE); the fix``.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from llm_gitops.config.schema import FUTURE_SECTIONS, Config
from llm_gitops.errors import ConfigError, LlmGitopsError

CONFIG_FILENAME = ".llm-gitops.yaml"


def find_config(start: Path | None = None) -> Path | None:
    """The nearest ``.llm-gitops.yaml`` at or above ``start`` (default: cwd)."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / CONFIG_FILENAME
        if candidate.is_file():
            # Shown in error messages: keep it short when it is below the cwd.
            try:
                return candidate.relative_to(Path.cwd().resolve())
            except ValueError:
                return candidate
    return None


class _LineLoader(yaml.SafeLoader):
    """A safe loader that remembers the line of every mapping key and value."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False):
    mapping = {}
    lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in mapping:
            raise ConfigError(
                f"{loader.name}:{key_node.start_mark.line + 1}: duplicate key {key!r}",
                hint="each key may appear once per section",
            )
        mapping[key] = loader.construct_object(value_node, deep=deep)
        lines[key] = value_node.start_mark.line + 1
    return _Mapping(mapping, lines, node.start_mark.line + 1)


class _Mapping(dict):
    """A dict that knows the line of each value (and of itself)."""

    def __init__(self, data: dict, lines: dict, line: int):
        super().__init__(data)
        self.lines = lines
        self.line = line


class _Sequence(list):
    def __init__(self, data: list, lines: list[int], line: int):
        super().__init__(data)
        self.lines = lines
        self.line = line


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode, deep: bool = False):
    items = [loader.construct_object(child, deep=deep) for child in node.value]
    return _Sequence(items, [child.start_mark.line + 1 for child in node.value], node.start_mark.line + 1)


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _line_of(data: Any, loc: tuple) -> int | None:
    """The line of the deepest node on ``loc`` that the YAML has."""
    line = getattr(data, "line", None)
    node = data
    for part in loc:
        if isinstance(node, _Mapping) and part in node:
            line = node.lines.get(part, line)
            node = node[part]
        elif isinstance(node, _Sequence) and isinstance(part, int) and part < len(node):
            line = node.lines[part]
            node = node[part]
        else:
            break
    return line


def _allowed_keys(loc: tuple) -> list[str]:
    """The keys the schema accepts in the mapping that holds ``loc[-1]``."""
    model: Any = Config
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return []
        annotation = model.model_fields[part].annotation
        model = _model_in(annotation)
        if model is None:
            return []
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _model_in(annotation: Any):
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _format_error(path: str, data: Any, err: dict) -> str:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith(("function-", "literal["))))
    # Pydantic puts union branch names in loc; keep only the path through the data.
    field = "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(loc)) or "(top level)"
    line = _line_of(data, loc)
    where = f"{path}:{line}" if line else path
    kind = err["type"]
    if kind == "extra_forbidden":
        key = loc[-1]
        allowed = _allowed_keys(loc)
        if len(loc) == 1 and key in FUTURE_SECTIONS:
            return f"{where}: section {key!r} is not supported by this version of llm-gitops; remove it or upgrade"
        close = difflib.get_close_matches(str(key), allowed, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(allowed)}"
        return f"{where}: {field}: unknown key {key!r}; {hint}"
    if kind == "missing":
        return f"{where}: {field}: required field is missing"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    got = err.get("input")
    got_text = "" if isinstance(got, (dict, list)) or got is None else f" (got {got!r})"
    return f"{where}: {field}: {msg}{got_text}"


def _collect_lines(data: Any, prefix: tuple = ()) -> dict[tuple, int]:
    lines: dict[tuple, int] = {}
    if isinstance(data, _Mapping):
        for key, value in data.items():
            lines[prefix + (key,)] = data.lines[key]
            lines.update(_collect_lines(value, prefix + (key,)))
    elif isinstance(data, _Sequence):
        for index, value in enumerate(data):
            lines[prefix + (index,)] = data.lines[index]
            lines.update(_collect_lines(value, prefix + (index,)))
    return lines


def load_yaml_document(text: str, loader_class: type[yaml.SafeLoader], *, where: str, what: str,
                       error: type[LlmGitopsError], **attributes: Any) -> Any:
    """The one document in ``text``, read by a ``loader_class`` given ``attributes`` (a file name, a base dir).

    A syntax error becomes ``error("<where>:<line>: malformed <what>: <problem>")``, one
    line (the config and the eval task files report theirs alike).
    """
    try:
        loader = loader_class(text)  # the reader already rejects non-printable characters
        for name, value in attributes.items():
            setattr(loader, name, value)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
        raise error(f"{where}{line}: malformed {what}: {problem}", hint="fix the syntax at that line") from None


def parse_config(text: str, path: str | Path = CONFIG_FILENAME) -> Config:
    """Validate YAML text into a ``Config``; raise ``ConfigError`` with file and line."""
    path = str(path)
    data = load_yaml_document(text, _LineLoader, where=path, what="YAML", error=ConfigError, name=path)
    if data is None:
        raise ConfigError(f"{path}: the file is empty", hint="run 'llm-gitops init' to write a starter config")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: expected a mapping of sections (version:, models:, eval:, ...), got {type(data).__name__}")
    if "version" not in data:
        raise ConfigError(f"{path}:1: version: required field is missing", hint="add 'version: 1' at the top")
    if data.get("version") != 1:
        raise ConfigError(
            f"{path}:{data.lines.get('version', 1)}: version: unsupported config version {data.get('version')!r}",
            hint="this llm-gitops reads 'version: 1'",
        )
    try:
        config = Config.model_validate(_plain(data))
    except ValidationError as exc:
        errors = exc.errors()
        first = _format_error(path, data, errors[0])
        more = f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        raise ConfigError(first + more) from None
    config._lines = _collect_lines(data)
    return config


def load_config(path: str | Path | None = None) -> Config:
    """Read and validate a config file (default: the nearest ``.llm-gitops.yaml``)."""
    if path is None:
        found = find_config()
        if found is None:
            raise ConfigError(
                f"no {CONFIG_FILENAME} found in this directory or its parents",
                hint="run 'llm-gitops init' or pass --config PATH",
            )
        path = found
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found", hint="pass --config PATH or run 'llm-gitops init'")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc}") from None
    config = parse_config(text, path)
    config._path = path
    return config
