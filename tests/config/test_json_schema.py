"""The JSON Schema editors use agrees with the loader on the files we ship and on typical mistakes."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from llm_gitops.config.json_schema import config_json_schema
from llm_gitops.config.load import parse_config
from tests.corpus.harness import run_cli

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = [ROOT / "examples" / "repo-template" / ".llm-gitops.yaml", ROOT / "src" / "llm_gitops" / "config" / "starter.yaml"]


@pytest.fixture(scope="module")
def validator():
    schema = config_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_configs_validate_and_name_the_schema(validator, path):
    text = path.read_text()
    assert text.startswith("# yaml-language-server: $schema=") and "docs/config.schema.json" in text.splitlines()[0]
    assert list(validator.iter_errors(yaml.safe_load(text))) == []


GOOD = [
    {"version": 1, "models": {"candidate": "./model", "baseline": {"source": "dvc:model", "rev": "main"}}},
    {"version": 1, "eval": {"tasks": ["tasks/a.yaml", {"name": "hellaswag"}]}, "thresholds": [
        {"metric": "a/acc", "min": 0.5, "max_drop": "2pt", "hard_max_drop": 0.1}]},
    {"version": 1, "environments": {"staging": {"target": "docker", "scale_down_delay": "5m",
                                                "analysis": {"interval": "10s", "iterations": 3}}}},
]
BAD = [
    {"version": 1, "gate": {"alphaa": 0.1}},  # a typo
    {"version": 1, "thresholds": [{"metric": "a/acc", "max_drop": "2 points!"}]},
    {"version": 1, "gate": {"on_inconclusive": "maybe"}},
    {"version": 1, "eval": {"limit": "ten"}},
    {"version": 1, "environments": {"staging": {"target": "docker", "scale_down_delay": "soon"}}},
]


@pytest.mark.parametrize("doc", GOOD)
def test_what_the_loader_accepts_the_schema_accepts(validator, doc):
    parse_config(yaml.safe_dump(doc))
    assert list(validator.iter_errors(doc)) == []


@pytest.mark.parametrize("doc", BAD)
def test_what_the_loader_refuses_the_schema_flags(validator, doc):
    from llm_gitops.errors import ConfigError

    with pytest.raises(ConfigError):
        parse_config(yaml.safe_dump(doc))
    assert list(validator.iter_errors(doc)) != []


def test_the_schema_command_prints_the_published_copy(tmp_path):
    run = run_cli(["schema"], cwd=tmp_path)
    assert run.code == 0
    assert json.loads(run.out) == json.loads((ROOT / "docs" / "config.schema.json").read_text())
    written = run_cli(["schema", "--output", str(tmp_path / "s.json")], cwd=tmp_path)
    assert written.code == 0 and json.loads((tmp_path / "s.json").read_text()) == json.loads(run.out)
