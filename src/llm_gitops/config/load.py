"""Reading ``.llm-gitops.yaml``: YAML with line numbers, then the typed schema.

Every error is one line: ``FILE:LINE: FIELD: what is wrong (got VALUE); the fix``.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Hashable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from llm_gitops import input_files
from llm_gitops.config.safe_yaml import MERGE_TAG, BoundedLoader, describe, load_yaml_document, printable, shown
from llm_gitops.config.schema import FUTURE_SECTIONS, Config
from llm_gitops.errors import ConfigError, LlmGitopsError

M = TypeVar("M", bound=BaseModel)

CONFIG_FILENAME = ".llm-gitops.yaml"


def find_config(start: Path | None = None) -> Path | None:
    """The nearest ``.llm-gitops.yaml`` at or above ``start`` (default: cwd)."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / CONFIG_FILENAME
        # Anything by that name (even a broken link or a directory) is the config the user
        # meant: load_config says what is wrong with it rather than looking further up.
        if os.path.lexists(candidate):
            # Shown in error messages: keep it short when it is below the cwd.
            try:
                return candidate.relative_to(Path.cwd().resolve())
            except ValueError:
                return candidate
    return None


class _LineLoader(BoundedLoader):
    """A bounded safe loader that remembers the line of every mapping key and value."""


# YAML 1.1 reads ``1e-3`` (no dot) as text, and numbers are strict: read it as the number
# it is meant to be (YAML 1.2 does), so ``alpha: 1e-3`` works and ``'1e-3'`` stays text.
_LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789"))


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False):
    # Merge keys (``<<: *defaults``) are supported: merged pairs come first, and the
    # mapping's own keys override them; a key repeated among its own keys is an error.
    own_count = sum(1 for key_node, _ in node.value if key_node.tag != MERGE_TAG)
    loader.flatten_mapping(node)
    merged_count = len(node.value) - own_count
    mapping = {}
    lines = {}
    own_keys = set()
    for index, (key_node, value_node) in enumerate(node.value):
        key = loader.construct_object(key_node, deep=deep)
        where = f"{loader.name}:{key_node.start_mark.line + 1}"
        if not isinstance(key, Hashable) or isinstance(key, float) and key != key:
            raise ConfigError(f"{where}: a key must be a plain name, got {describe(key)}",
                              hint="write 'name: value'")
        if index < merged_count:
            if key in mapping:  # an earlier merged mapping wins, as YAML specifies
                continue
        elif key in own_keys:
            raise ConfigError(f"{where}: duplicate key {key!r}", hint="each key may appear once per section")
        else:
            own_keys.add(key)
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


def _allowed_keys(loc: tuple, root: type[BaseModel] = Config) -> list[str]:
    """The keys the schema accepts in the mapping that holds ``loc[-1]``."""
    model: Any = root
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


def _format_error(path: str, data: Any, err: dict, root: type[BaseModel] = Config) -> str:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith(("function-", "literal["))))
    # Pydantic puts union branch names in loc; keep only the path through the data.
    field = "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(loc)) or "(top level)"
    field = printable(field)
    if len(field) > 120:  # a pasted blob as a key must not flood the one error line
        field = field[:117] + "..."
    line = _line_of(data, loc)
    where = f"{path}:{line}" if line else path
    kind = err["type"]
    if kind == "extra_forbidden":
        key = loc[-1]
        allowed = _allowed_keys(loc, root)
        if root is Config and len(loc) == 1 and key in FUTURE_SECTIONS:
            return f"{where}: section {key!r} is not supported by this version of llm-gitops; remove it or upgrade"
        close = difflib.get_close_matches(str(key), allowed, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(allowed)}"
        return f"{where}: {field}: unknown key {shown(key)}; {hint}"
    if kind == "missing":
        return f"{where}: {field}: required field is missing"
    got = err.get("input")
    if kind in _TYPE_ERRORS:
        expected, fix = _TYPE_ERRORS[kind]
        if isinstance(got, bool) and kind in ("int_type", "float_type"):
            fix = "true/false is not a number"
        elif isinstance(got, str) and kind != "string_type" and _scalar_text(got):
            fix = "write it without quotes"
        return f"{where}: {field}: expected {expected}, got {describe(got)}" + (f"; {fix}" if fix else "")
    if kind == "invalid_key":
        return f"{where}: {field}: a key must be a name (text), got {describe(got)}"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    got_text = "" if isinstance(got, (dict, list)) or got is None else f" (got {shown(got)})"
    return f"{where}: {field}: {msg}{got_text}"


# Pydantic's type errors, in the file's words (its messages name internal classes).
_TYPE_ERRORS = {
    "model_type": ("a mapping (key: value)", ""),
    "dict_type": ("a mapping (key: value)", ""),
    "list_type": ("a list", "write [a, b] or one '- item' per line"),
    "int_type": ("a whole number", ""),
    "float_type": ("a number", ""),
    "bool_type": ("true or false", ""),
    "string_type": ("text", "put it in quotes if it is meant as text"),
    "finite_number": ("a finite number", ".nan and .inf are not allowed"),
}


def _scalar_text(text: str) -> bool:
    """Whether quoted ``text`` would be a number or a boolean without its quotes."""
    if len(text) > 40 or "\n" in text:
        return False
    try:
        return isinstance(yaml.load(text, Loader=_LineLoader), (bool, int, float))  # noqa: S506 - a safe loader
    except (yaml.YAMLError, ConfigError):  # text that is no YAML at all, or a mapping with odd keys
        return False


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


def parse_config(text: str, path: str | Path = CONFIG_FILENAME) -> Config:
    """Validate YAML text into a ``Config``; raise ``ConfigError`` with file and line."""
    path = printable(str(path))
    data = load_yaml_document(text, _LineLoader, where=path, what="YAML", error=ConfigError, name=path)
    if data is None:
        raise ConfigError(f"{path}: the file is empty", hint="run 'llm-gitops init' to write a starter config")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: the file must be a mapping (key: value) of sections (version:, models:, eval:, ...), "
                          f"got {describe(data)}", hint="start it with 'version: 1'")
    if "version" not in data:
        raise ConfigError(f"{path}:1: version: required field is missing", hint="add 'version: 1' at the top")
    version = data["version"]
    # ``type(...) is int``: YAML's ``true`` is a bool, and a bool is not the number 1.
    if type(version) is not int or version != 1:
        problem = f"unsupported config version {version}" if type(version) is int else \
            f"must be the number 1, got {describe(version)}"
        raise ConfigError(f"{path}:{data.lines.get('version', 1)}: version: {problem}",
                          hint="this llm-gitops reads 'version: 1'")
    try:
        config = Config.model_validate(_plain(data))
    except ValidationError as exc:
        errors = exc.errors()
        first = _format_error(path, data, errors[0])
        more = f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        raise ConfigError(first + more) from None
    config._lines = _collect_lines(data)
    return config


def parse_yaml_model(text: str, path: str, model: type[M], *, what: str, error: type[LlmGitopsError] = ConfigError) -> M:
    """Validate one YAML mapping into ``model`` with the config's one-line, located errors.

    For the repo's other YAML files (``deploy/<env>.yaml``): same bounds, same messages.
    """
    data = load_yaml_document(text, _LineLoader, where=path, what="YAML", error=error, name=path)
    if not isinstance(data, dict):
        raise error(f"{path}:1: {what} must be a mapping (key: value), got {describe(data)}",
                    hint="see the example in the docs")
    try:
        return model.model_validate(_plain(data))
    except ValidationError as exc:
        errors = exc.errors()
        more = f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        raise error(_format_error(path, data, errors[0], model) + more) from None


def _unusable_hint(reason: str, path: Path) -> str | None:
    if reason == "not found":
        return "pass --config PATH or run 'llm-gitops init'"
    if reason.startswith("is a directory"):
        return f"pass the file itself, e.g. --config {path / CONFIG_FILENAME}"
    if "symlink" in reason:
        return "fix or remove the link"
    if "limit" in reason:
        return "a config is a few KiB: is this the right file?"
    if "UTF-8" in reason:
        return None  # the reason says the fix
    return "pass --config PATH of a regular YAML file"


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
    try:
        text = input_files.read_text(path, limit=input_files.MAX_YAML_BYTES, what="a config file")
    except input_files.UnusableFile as exc:
        hint = _unusable_hint(exc.reason, path)
        raise ConfigError(f"{path}: config file {exc.reason}", hint=hint) from None
    config = parse_config(text, path)
    config._path = path
    return config
