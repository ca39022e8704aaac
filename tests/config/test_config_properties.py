"""Property tests of the config loader: any input gives a valid Config or one ConfigError line.

Never another exception (a TypeError, a RecursionError, a pydantic error leaking out),
never a multi-line message, and a Config that is returned holds only finite numbers
and consistent bounds.
"""

from __future__ import annotations

import math
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from llm_gitops.config import parse_config
from llm_gitops.config.schema import Config
from llm_gitops.errors import ConfigError

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NAME = "cfg.yaml"

VALID = {
    "version": 1,
    "models": {"candidate": "./model", "baseline": {"source": "models:/adder@production"}},
    "eval": {"tasks": ["tasks/add_em.yaml", {"name": "hellaswag"}], "limit": 100, "seed": 7},
    "perf": {"prompts": ["12+34="], "repeats": 3},
    "thresholds": [
        {"metric": "add_em/exact_match", "min": 0.5, "max_drop": "2pt"},
        {"metric": "perf/latency_p95_ms", "max": 100.0, "max_drop": "25%", "hard_max_drop": "50%"},
    ],
    "gate": {"alpha": 0.05, "on_inconclusive": "fail"},
    "tracking": {"mlflow": {"enabled": False, "experiment": "x"}},
    "report": {"output_dir": "out"},
    "quantize": {"budget": "1pt", "sparsity": 0.5},
    "image": {"port": 8080, "pip_extra_args": ["-q"]},
}


def _keys(model: type[BaseModel], out: set[str]) -> set[str]:
    """Every field name in the schema, so generated documents reach past the first unknown key."""
    for name, field in model.model_fields.items():
        out.add(name)
        for arg in [field.annotation, *getattr(field.annotation, "__args__", ())]:
            for inner in [arg, *getattr(arg, "__args__", ())]:
                if isinstance(inner, type) and issubclass(inner, BaseModel) and inner is not model:
                    _keys(inner, out)
    return out


SCHEMA_KEYS = sorted(_keys(Config, set()))
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    st.sampled_from(["2pt", "5%", "nan%", "1e999", "-1", "a/b", "./m", "", " ", "models:/x@y", "int8-dynamic"]),
)
keys = st.one_of(st.sampled_from(SCHEMA_KEYS), st.text(max_size=8), st.integers(-3, 3), st.booleans(),
                 st.sampled_from(["a\nb", "x\ry", "\x1b[31m", "\u2028"]))
documents = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=5)),
    max_leaves=30,
)


def check(text: str) -> Config | None:
    """parse_config's contract on one input."""
    try:
        config = parse_config(text, NAME)
    except ConfigError as exc:
        message = str(exc)
        assert "\n" not in message and message.startswith(NAME), message
        assert "_Sequence" not in message and "_Mapping" not in message, message
        return None
    _assert_sane(config)
    return config


def _assert_sane(config: Config) -> None:
    def walk(value: Any) -> None:
        if isinstance(value, float):
            assert math.isfinite(value), config
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(config.model_dump())
    assert config.version == 1 and type(config.version) is int
    for threshold in config.thresholds:
        if threshold.min is not None and threshold.max is not None:
            assert threshold.min <= threshold.max


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def test_the_valid_config_is_valid():
    assert check(_dump(VALID)) is not None


@SETTINGS
@given(documents)
def test_any_document(doc):
    check(_dump(doc))


@SETTINGS
@given(st.dictionaries(st.sampled_from(SCHEMA_KEYS), documents, max_size=6))
def test_any_sections_under_version_1(sections):
    check(_dump({"version": 1, **sections}))


@SETTINGS
@given(st.text(max_size=200))
def test_any_text(text):
    check(text)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


PATHS = _paths(VALID)


def _mutate(data: Any, path: tuple, action: str, new: Any) -> Any:
    """A copy of ``data`` with the value at ``path`` replaced, removed, or given a sibling key."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(data, dict):
        copy = dict(data)
        if not rest and action == "remove":
            copy.pop(head)
        elif not rest and action == "extra":
            copy[f"{head}_extra"] = new
        else:
            copy[head] = _mutate(data[head], rest, action, new)
        return copy
    copy = list(data)
    if not rest and action == "remove":
        copy.pop(head)
    elif not rest and action == "extra":
        copy.append(new)
    else:
        copy[head] = _mutate(data[head], rest, action, new)
    return copy


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(PATHS), st.sampled_from(["replace", "remove", "extra"]), documents),
                min_size=1, max_size=3))
def test_any_mutation_of_a_valid_config(mutations):
    data: Any = VALID
    for path, action, new in mutations:
        try:
            data = _mutate(data, path, action, new)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced the path
    check(_dump(data))


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 5), st.text(max_size=5)), min_size=1, max_size=4))
def test_any_edit_of_the_valid_text(edits):
    text = _dump(VALID)
    for position, deleted, inserted in edits:
        at = position % (len(text) + 1)
        text = text[:at] + inserted + text[at + deleted:]
    check(text)


@SETTINGS
@given(st.lists(st.sampled_from(["&a ", "*a", "<<: *a\n", "[", "]", "{", "}", "- ", ": ", "\n  ", "!!str ", "? "]),
                min_size=1, max_size=12), st.integers(0, 10_000))
def test_yaml_punctuation_anywhere(pieces, seed):
    text = _dump(VALID)
    for index, piece in enumerate(pieces):
        at = (seed * (index + 7)) % (len(text) + 1)
        text = text[:at] + piece + text[at:]
    check(text)
