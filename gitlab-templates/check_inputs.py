#!/usr/bin/env python3
"""Check the inputs a .gitlab-ci.yml passes to the llm-gitops CI/CD components.

GitLab rejects an unknown or mistyped component input when the pipeline is created;
local runners (gitlab-ci-local) do not, so a typo such as `candiate:` would silently
gate the config's model instead. This check does what GitLab does, offline:

    python gitlab-templates/check_inputs.py .gitlab-ci.yml
    python gitlab-templates/check_inputs.py .gitlab-ci.yml --templates path/to/llm-gitops/gitlab-templates/templates

Every `include: component: .../NAME@REF` whose NAME has a template (templates/NAME.yml
or templates/NAME/template.yml) is checked against that template's `spec: inputs:`:
unknown inputs (with a "did you mean"), missing required ones, types (string, boolean,
number, array), `options` and `regex`. Includes of other components are skipped.

Exit codes: 0 all inputs valid, 1 problems found (one line each), 2 unreadable file.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from pathlib import Path

import yaml

TEMPLATES = Path(__file__).resolve().parent / "templates"


class _GitLabLoader(yaml.SafeLoader):
    """Safe YAML that tolerates GitLab's own tags (!reference) by keeping their raw value."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node):
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    return loader.construct_scalar(node)


_GitLabLoader.add_multi_constructor("!", _any_tag)


def load_documents(path: Path) -> list:
    return [doc for doc in yaml.load_all(path.read_text(encoding="utf-8"), Loader=_GitLabLoader)]


def component_spec(templates: Path, name: str) -> dict | None:
    """The `spec: inputs:` of component NAME, or None when this directory has no such template."""
    for candidate in (templates / f"{name}.yml", templates / name / "template.yml"):
        if candidate.is_file():
            docs = load_documents(candidate)
            header = docs[0] if len(docs) > 1 and isinstance(docs[0], dict) else {}
            return (header.get("spec") or {}).get("inputs") or {}
    return None


def _type_of(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


def check_inputs(spec: dict, given: dict) -> list[str]:
    """Problems with `given` inputs against a component's `spec: inputs:`, one line each."""
    problems = []
    for key, value in given.items():
        if key not in spec:
            close = difflib.get_close_matches(key, list(spec), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append(f"unknown input '{key}'{hint}; known inputs: {', '.join(sorted(spec))}")
            continue
        item = spec[key] or {}
        want = item.get("type", "string")
        # GitLab interpolates variables such as $CI_COMMIT_SHA into strings at run time.
        if _type_of(value) != want:
            problems.append(f"input '{key}' must be a {want}, got {_type_of(value)} {value!r}")
            continue
        if "options" in item and value not in item["options"]:
            problems.append(f"input '{key}' is {value!r}; it must be one of {', '.join(map(str, item['options']))}")
        if "regex" in item and isinstance(value, str):
            pattern = item["regex"].strip("/")
            if not re.search(pattern, value):
                problems.append(f"input '{key}' is {value!r}; it must match /{pattern}/")
    for key, item in spec.items():
        if "default" not in (item or {}) and key not in given:
            problems.append(f"input '{key}' is required: {(item or {}).get('description', 'no default')}")
    return problems


def _includes(ci: dict) -> list:
    raw = (ci or {}).get("include") or []
    return raw if isinstance(raw, list) else [raw]


def check_file(ci_file: Path, templates: Path) -> list[str]:
    """Every problem with llm-gitops component inputs in `ci_file`, prefixed with where it is."""
    problems = []
    docs = load_documents(ci_file)
    for index, entry in enumerate(_includes(docs[-1] if docs else {})):
        if not isinstance(entry, dict) or "component" not in entry:
            continue
        name = str(entry["component"]).rsplit("@", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        spec = component_spec(templates, name)
        if spec is None:
            continue
        given = entry.get("inputs") or {}
        found = check_inputs(spec, given) + check_ref(str(entry["component"]), spec, given)
        problems += [f"{ci_file}: include[{index}] component '{name}': {p}" for p in found]
    return problems


def check_ref(component: str, spec: dict, given: dict) -> list[str]:
    """The job installs llm-gitops from the `ref` input: it must be the ref the component is included at."""
    if "ref" not in spec or "@" not in component or given.get("install") is False:
        return []
    if given.get("version") or given.get("spec"):
        return []
    at = component.rsplit("@", 1)[1]
    ref = given.get("ref")
    if ref is None or str(ref) == "":
        return [f"input 'ref' is required to install llm-gitops; set it to the ref after the @ ('{at}')"]
    if str(ref) != at and not at.startswith("$"):
        return [f"input 'ref' is '{ref}' but the component is included at '{at}'; set both to the same ref"]
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Exit codes: 0 valid, 1 problems found, 2 unreadable file.")
    parser.add_argument("ci_file", nargs="?", default=".gitlab-ci.yml", type=Path)
    parser.add_argument("--templates", type=Path, default=TEMPLATES,
                        help="directory of the component templates (default: the one beside this script)")
    args = parser.parse_args(argv)
    try:
        problems = check_file(args.ci_file, args.templates)
    except (OSError, yaml.YAMLError) as exc:
        print(f"error: cannot read {args.ci_file}: {exc}", file=sys.stderr)
        return 2
    for problem in problems:
        print(problem)
    if not problems:
        print(f"{args.ci_file}: llm-gitops component inputs are valid")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
