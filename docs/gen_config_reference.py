"""Generate docs/config.md, the ``.llm-gitops.yaml`` reference, from the config schema.

    python docs/gen_config_reference.py            # rewrite docs/config.md and docs/config.schema.json
    python docs/gen_config_reference.py --check    # exit 1 when either is stale

Every field's text comes from the schema itself: its ``Field(description=...)``, else
the ``#`` comment block right above it in the class body. A field with neither is an
error, so a new field cannot ship undocumented. Section text is the class docstring.
tests/docs/test_config_reference.py runs ``--check`` so the reference cannot rot.
"""

from __future__ import annotations

import inspect
import json
import re
import sys
import types
import typing
from pathlib import Path

import annotated_types
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from llm_gitops.config import schema
from llm_gitops.config.load import CONFIG_FILENAME

DOC = Path(__file__).resolve().parent / "config.md"
JSON_SCHEMA = Path(__file__).resolve().parent / "config.schema.json"
STARTER = Path(schema.__file__).resolve().parent / "starter.yaml"
REGENERATE = "python docs/gen_config_reference.py"

_FIELD_LINE = re.compile(r"^(?P<indent>\s+)(?P<name>[A-Za-z]\w*)\s*:")
_CONSTRAINTS = ((annotated_types.Gt, "gt", ">"), (annotated_types.Ge, "ge", ">="),
                (annotated_types.Lt, "lt", "<"), (annotated_types.Le, "le", "<="))
_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean"}


class UndocumentedField(Exception):
    """A schema field has neither a description nor a comment."""


# --------------------------------------------------------------------------- reading the schema
def _markdown(text: str) -> str:
    """Schema prose to Markdown: ``code`` becomes `code`, Python's None the YAML null,
    and a ``<word>`` outside code is escaped so that it is not read as an HTML tag."""
    parts = re.split(r"(``.+?``)", text)
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(f"`{part[2:-2]}`")
        else:
            out.append(re.sub(r"\bNone\b", "null", re.sub(r"<(?=[A-Za-z/])", "&lt;", part)))
    return "".join(out)


def field_comments(cls: type) -> dict[str, str]:
    """The ``#`` comment block directly above each field in ``cls``'s own body."""
    lines = inspect.getsource(cls).splitlines()[1:]
    body_indent = None
    pending: list[str] = []
    comments: dict[str, str] = {}
    for line in lines:
        stripped = line.strip()
        if not stripped:
            pending = []
            continue
        indent = len(line) - len(line.lstrip())
        if body_indent is None:
            body_indent = indent
        if indent != body_indent:
            continue  # inside a docstring, a call spread over lines, or a method body
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("#").strip())
            continue
        match = _FIELD_LINE.match(line)
        if match and pending:
            comments[match.group("name")] = " ".join(pending)
        pending = []
    return comments


def describe(cls: type[BaseModel], name: str) -> str:
    field = cls.model_fields[name]
    text = field.description or field_comments(cls).get(name)
    nested = section_model(field.annotation)
    if not text and nested is not None and nested.__doc__:
        # A field that holds a section is described by the section's first paragraph.
        text = inspect.cleandoc(nested.__doc__).split("\n\n")[0]
    if not text:
        raise UndocumentedField(
            f"{cls.__name__}.{name} has no description: add Field(description=...) in "
            f"src/llm_gitops/config/schema.py (or a '#' comment right above it)"
        )
    return _markdown(" ".join(text.split()))


def _unwrap(annotation) -> tuple[object, bool]:
    """(annotation without None, whether None is allowed)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        rest = args[0] if len(args) == 1 else typing.Union[tuple(args)]
        return rest, len(args) != len(typing.get_args(annotation))
    return annotation, False


def section_model(annotation) -> type[BaseModel] | None:
    """The schema section a field holds (directly, optionally or as list items), if any."""
    inner, _ = _unwrap(annotation)
    if typing.get_origin(inner) is list:
        inner = typing.get_args(inner)[0]
    elif typing.get_origin(inner) is dict:
        inner = typing.get_args(inner)[1]
    if isinstance(inner, type) and issubclass(inner, BaseModel) and inner is not schema.Drop:
        return inner
    return None


def type_name(annotation) -> str:
    inner, optional = _unwrap(annotation)
    origin = typing.get_origin(inner)
    if origin is typing.Literal:
        text = " \\| ".join(f"`{json.dumps(v)}`" for v in typing.get_args(inner))
    elif origin is list:
        text = f"list of {type_name(typing.get_args(inner)[0])}"
    elif origin is dict:
        text = f"mapping of name to {type_name(typing.get_args(inner)[1])}"
    elif inner is schema.Drop:
        text = "drop: number, `\"Npt\"` or `\"N%\"`"
    elif isinstance(inner, type) and issubclass(inner, BaseModel):
        text = "mapping"
    else:
        text = _SCALARS.get(inner, getattr(inner, "__name__", str(inner)))
    return f"{text} or `null`" if optional else text


def constraints(field) -> str:
    found = []
    for meta in field.metadata:
        for kind, attr, symbol in _CONSTRAINTS:
            if isinstance(meta, kind):
                found.append(f"{symbol} {getattr(meta, attr)}")
    return ", ".join(found)


def default_text(field) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "(section defaults)"
    return f"`{json.dumps(value)}`" if value is not PydanticUndefined else "required"


# --------------------------------------------------------------------------- rendering
def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(cls: type[BaseModel], prefix: str) -> list[str]:
    rows = ["| Field | Type | Default | Description |", "|---|---|---|---|"]
    for name, field in cls.model_fields.items():
        kind = type_name(field.annotation)
        if bound := constraints(field):
            kind = f"{kind}, {bound}"
        nested = section_model(field.annotation)
        text = describe(cls, name)
        if nested is not None:
            path = prefix + name + (".<name>" if typing.get_origin(_unwrap(field.annotation)[0]) is dict else "")
            text += f" See [`{path}`](#{_anchor(path)})."
        rows.append(f"| `{name}` | {kind} | {default_text(field)} | {_cell(text)} |")
    return rows


def _anchor(path: str) -> str:
    # GitHub's heading ids: lower case, punctuation dropped, spaces to dashes.
    return re.sub(r"[^a-z0-9_ -]", "", path.lower()).replace(" ", "-")


def _doc(cls: type) -> str:
    return _markdown(inspect.cleandoc(cls.__doc__)) if cls.__doc__ else ""


def _sections(cls: type[BaseModel], prefix: str, level: int, seen: dict[type, str]) -> list[str]:
    out: list[str] = []
    for name, field in cls.model_fields.items():
        nested = section_model(field.annotation)
        if nested is None:
            continue
        origin = typing.get_origin(_unwrap(field.annotation)[0])
        is_list, is_dict = origin is list, origin is dict
        path = f"{prefix}{name}" + (".<name>" if is_dict else "")
        out += ["", f"{'#' * level} {path}", ""]
        if nested in seen:
            # One table per shape (models.candidate and models.baseline share theirs).
            out.append(f"Same fields as [`{seen[nested]}`](#{_anchor(seen[nested])}).")
            continue
        seen[nested] = path
        if is_list:
            out += [f"A list. {describe(cls, name)} Each item is a mapping:", ""]
        elif is_dict:
            out += [f"A mapping of names to sections. {describe(cls, name)} Each value:", ""]
        text = _doc(nested)
        if text:
            out += [text, ""]
        child = f"{path}[]." if is_list else f"{path}."
        out += _table(nested, child)
        out += _sections(nested, child, level + 1, seen)
    return out


def render() -> str:
    """The whole of docs/config.md."""
    config = schema.Config
    future = ", ".join(f"`{s}`" for s in sorted(schema.FUTURE_SECTIONS))
    lines = [
        f"# `{CONFIG_FILENAME}` reference (version 1)",
        "",
        f"<!-- Generated by docs/gen_config_reference.py from src/llm_gitops/config/schema.py; "
        f"do not edit by hand. Regenerate: {REGENERATE} -->",
        "",
        f"llm-gitops reads `{CONFIG_FILENAME}` from the directory it runs in or the nearest parent "
        "(`--config PATH` names another). `llm-gitops init` writes a commented starter and "
        "`llm-gitops validate-config` checks a file.",
        "",
        "Rules that hold for every section:",
        "",
        "- Unknown keys are errors (with a \"did you mean\"), so a typo never silently turns a check off.",
        "- Errors are one line: `FILE:LINE: FIELD: what is wrong (got VALUE); the fix`, exit code 2.",
        "- Relative paths resolve against the directory of the config file, not the working directory.",
        "- State (result cache, default MLflow store, reports) lives in `.llm-gitops/` beside the "
        "config file; the `LLM_GITOPS_STATE_DIR` environment variable moves it.",
        f"- Reserved for later releases, and refused today with a \"not yet\" error: {future}.",
        "",
        "## Top level",
        "",
        _doc(config),
        "",
        *_table(config, ""),
        *_sections(config, "", 2, {}),
        "",
        "## Example",
        "",
        "What `llm-gitops init` writes:",
        "",
        "```yaml",
        STARTER.read_text(encoding="utf-8").rstrip("\n"),
        "```",
        "",
    ]
    return "\n".join(lines)


def render_json_schema() -> str:
    """docs/config.schema.json: the JSON Schema editors read (config/json_schema.py)."""
    from llm_gitops.config.json_schema import config_json_schema

    return json.dumps(config_json_schema(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        outputs = {DOC: render(), JSON_SCHEMA: render_json_schema()}
    except UndocumentedField as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if "--check" in argv:
        for path, text in outputs.items():
            current = path.read_text(encoding="utf-8") if path.is_file() else ""
            if current != text:
                print(f"{path} is out of date with the config schema; run: {REGENERATE}", file=sys.stderr)
                return 1
        return 0
    for path, text in outputs.items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
