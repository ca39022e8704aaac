"""Config parsing: typed objects from good files, one-line located errors from bad ones."""

from __future__ import annotations

import pytest

from llm_gitops.config import load_config, parse_config
from llm_gitops.config.schema import Drop
from llm_gitops.errors import ConfigError

GOOD = """\
version: 1
models:
  candidate: ./model
  baseline: models:/adder@production
eval:
  tasks:
    - tasks/add_em.yaml
    - name: hellaswag
  limit: 100
thresholds:
  - metric: add_em/exact_match
    min: 0.5
    max_drop: 2pt
  - metric: perf/latency_p95_ms
    max_drop: 25%
    hard_max_drop: 0.5
"""


def test_good_config_becomes_typed_objects():
    config = parse_config(GOOD, "cfg.yaml")
    assert config.models.candidate.source == "./model"
    assert config.models.baseline.source == "models:/adder@production"
    assert [t.path for t in config.eval.tasks] == ["tasks/add_em.yaml", None]
    assert config.eval.tasks[1].name == "hellaswag"
    assert config.eval.limit == 100
    em, lat = config.thresholds
    assert em.max_drop == Drop(value=2.0, unit="pt")
    assert em.max_drop.allowed(0.9) == pytest.approx(0.02)
    assert lat.max_drop.allowed(40.0) == pytest.approx(10.0)
    assert lat.hard_max_drop == Drop(value=0.5, unit="abs")
    # Defaults are documented choices, not accidents.
    assert config.gate.on_inconclusive == "fail"
    assert config.gate.alpha == 0.05
    assert config.tracking.mlflow.enabled is True


def test_config_objects_are_immutable():
    config = parse_config(GOOD, "cfg.yaml")
    with pytest.raises(Exception):
        config.eval.limit = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version: 1\nevl: {}\n", "cfg.yaml:2: evl: unknown key 'evl'; did you mean 'eval'?"),
        ("version: 1\neval:\n  tasks: [a]\n  limt: 3\n", "cfg.yaml:4: eval.limt: unknown key 'limt'; did you mean 'limit'?"),
        ("version: 1\neval:\n  batch_size: -1\n", "cfg.yaml:3: eval.batch_size: Input should be greater than 0 (got -1)"),
        ("version: 1\neval:\n  batch_size: lots\n", "cfg.yaml:3: eval.batch_size:"),
        ("version: 1\nthresholds:\n  - metric: ab\n    min: 1\n", "cfg.yaml:3: thresholds[0].metric: 'ab' is not TASK/METRIC"),
        ("version: 1\nthresholds:\n  - metric: a/b\n    max_drop: lots\n", "cfg.yaml:4: thresholds[0].max_drop: 'lots' is not a drop"),
        ("version: 1\nthresholds:\n  - metric: a/b\n", "cfg.yaml:3: thresholds[0]: a threshold needs at least one of"),
        ("version: 1\n x: [", "cfg.yaml:2: malformed YAML"),
        ("version: 1\nalerts: {}\n", "cfg.yaml:2: section 'alerts' is not supported by this version"),
        ("version: 2\n", "cfg.yaml:1: version: unsupported config version 2"),
        ("models: {}\n", "cfg.yaml:1: version: required field is missing"),
        ("", "cfg.yaml: the file is empty"),
        ("- a\n- b\n", "cfg.yaml:1: the file must be a mapping (key: value) of sections (version:, models:, eval:, ...), got a list"),
        ("version: 1\nversion: 1\n", "cfg.yaml:2: duplicate key 'version'"),
        ("version: 1\nmodels:\n  candidate: '  '\n", "cfg.yaml:3: models.candidate.source: must not be empty"),
        ("version: 1\neval:\n  tasks:\n    - {name: a, path: b.yaml}\n", "cfg.yaml:4: eval.tasks[0]: give exactly one of"),
        ("version: 1\ngate:\n  on_inconclusive: maybe\n", "cfg.yaml:3: gate.on_inconclusive:"),
        # Non-finite numbers would switch a check off (every comparison with NaN is false).
        ("version: 1\nthresholds:\n  - metric: a/b\n    min: .nan\n", "cfg.yaml:4: thresholds[0].min: expected a finite number, got the number nan; .nan and .inf are not allowed"),
        ("version: 1\nthresholds:\n  - metric: a/b\n    max: .inf\n", "cfg.yaml:4: thresholds[0].max: expected a finite number"),
        ("version: 1\nthresholds:\n  - metric: a/b\n    max_drop: -.inf\n", "cfg.yaml:4: thresholds[0].max_drop: must be a finite number"),
        ("version: 1\nthresholds:\n  - metric: a/b\n    hard_max_drop: .NaN\n", "cfg.yaml:4: thresholds[0].hard_max_drop: must be a finite number"),
        ("version: 1\nthresholds:\n  - metric: a/b\n    max_drop: 1.0e+999\n", "cfg.yaml:4: thresholds[0].max_drop: must be a finite number"),
        ("version: 1\nthresholds:\n  - metric: a/b\n    max_drop: '" + "9" * 400 + "%'\n", "cfg.yaml:4: thresholds[0].max_drop:"),
        ("version: 1\ngate:\n  alpha: .nan\n", "cfg.yaml:3: gate.alpha: expected a finite number"),
        ("version: 1\nquantize:\n  budget: .inf\n", "cfg.yaml:3: quantize.budget: must be a finite number"),
        ("version: 1\nquantize:\n  sparsity: .nan\n", "cfg.yaml:3: quantize.sparsity: expected a finite number"),
        ("version: 1\nthresholds:\n  - metric: a/b\n    min: 0.9\n    max: 0.1\n", "cfg.yaml:3: thresholds[0]: min (0.9) is above max (0.1)"),
        ("version: 1\nthresholds:\n  - metric: a/b\n    max_drop: 5pt\n    hard_max_drop: 2pt\n", "cfg.yaml:3: thresholds[0]: hard_max_drop (2pt) is below max_drop (5pt)"),
        # A bool is not a number, a number is not text: strict types.
        ("version: true\n", "cfg.yaml:1: version: must be the number 1, got true (a boolean)"),
        ("version: 1.0\n", "cfg.yaml:1: version: must be the number 1, got the number 1.0"),
        ("version: '1'\n", "cfg.yaml:1: version: must be the number 1, got the text '1'"),
        ("version: 1\neval:\n  limit: true\n", "cfg.yaml:3: eval.limit: expected a whole number, got true (a boolean); true/false is not a number"),
        ("version: 1\neval:\n  batch_size: '8'\n", "cfg.yaml:3: eval.batch_size: expected a whole number, got the text '8'; write it without quotes"),
        ("version: 1\neval:\n  seed: 99999999999999999999999\n", "cfg.yaml:3: eval.seed: Input should be less than 4294967296"),
        ("version: 1\ngate:\n  perf: 1\n", "cfg.yaml:3: gate.perf: expected true or false, got the number 1"),
        ("version: 1\nmodels:\n  candidate: {source: x, rev: 1234}\n", "cfg.yaml:3: models.candidate.rev: expected text, got the number 1234; put it in quotes"),
        # Empty text where a path or name is expected.
        ("version: 1\nmodels:\n  candidate: ''\n", "cfg.yaml:3: models.candidate.source: must not be empty"),
        ("version: 1\nreport:\n  output_dir: ''\n", "cfg.yaml:3: report.output_dir: must not be empty"),
        ("version: 1\neval:\n  tasks: [{path: ' '}]\n", "cfg.yaml:3: eval.tasks[0].path: must not be empty"),
        ("version: 1\nperf:\n  prompts: ['']\n", "cfg.yaml:3: perf.prompts: items must not be empty"),
        ("version: 1\nreport:\n  output_dir: \"out\\0x\"\n", "cfg.yaml:3: report.output_dir: must be one line without control characters (found '\\x00')"),
        # The probe: a line break in config text would forge a step output.
        ("version: 1\nreport:\n  output_dir: \"out\\nverdict=pass\\nx\"\n", "cfg.yaml:3: report.output_dir: must be one line without control characters (found '\\n')"),
        ("version: 1\nthresholds:\n  - metric: \"a/b\\rX\"\n    min: 0\n", "cfg.yaml:3: thresholds[0].metric: must be one line"),
        # Text that is no YAML scalar in a number field (the quotes hint must not trip on it).
        ("version: 1\neval:\n  batch_size: '{[a]: 1}'\n", "cfg.yaml:3: eval.batch_size: expected a whole number, got the text"),
        ("version: 1\neval:\n  batch_size: \"\\x1f'\"\n", "cfg.yaml:3: eval.batch_size: expected a whole number, got the text"),
        # A key with a line break is echoed escaped, on one line.
        ("version: 1\ngate:\n  \"x\\ny\": 1\n", "cfg.yaml:3: gate.x\\ny: unknown key 'x\\ny'"),
        # Keys and merge keys.
        ("version: 1\n[a]: 1\n", "cfg.yaml:2: a key must be a plain name, got a list"),
        ("version: 1\neval: [a]\n", "cfg.yaml:2: eval: expected a mapping (key: value), got a list"),
        ("version: 1\nthresholds: {metric: a/b}\n", "cfg.yaml:2: thresholds: expected a list, got a mapping; write [a, b]"),
        ("version: 1\nmodels:\n  <<: 5\n", "cfg.yaml:3: malformed YAML: expected a mapping or list of mappings for merging"),
    ],
)
def test_bad_config_names_file_line_and_field(text, expected):
    with pytest.raises(ConfigError) as excinfo:
        parse_config(text, "cfg.yaml")
    message = str(excinfo.value)
    assert message.startswith(expected), message
    assert "\n" not in message


def test_merge_keys_are_supported_and_own_keys_win():
    text = """\
version: 1
thresholds:
  - &base
    metric: add_em/exact_match
    min: 0.5
  - <<: *base
    metric: add_mc/acc
"""
    config = parse_config(text, "cfg.yaml")
    assert [(t.metric, t.min) for t in config.thresholds] == [("add_em/exact_match", 0.5), ("add_mc/acc", 0.5)]
    assert config.where("thresholds", 1, "metric").endswith(":7")


def test_aliases_of_small_values_still_work():
    config = parse_config("version: 1\nthresholds:\n  - {metric: a/b, min: &m 0.5}\n  - {metric: a/c, min: *m}\n")
    assert [t.min for t in config.thresholds] == [0.5, 0.5]


def test_load_config_reports_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_relative_paths_resolve_against_the_config_file(tmp_path):
    sub = tmp_path / "repo"
    sub.mkdir()
    (sub / ".llm-gitops.yaml").write_text(GOOD)
    config = load_config(sub / ".llm-gitops.yaml")
    assert config.base_dir == sub.resolve()
    assert config.resolve_path("./model") == (sub / "model").resolve()
    assert config.where("thresholds", 1, "max_drop") == f"{sub / '.llm-gitops.yaml'}:15"


def test_an_unknown_home_directory_is_left_as_written(tmp_path):
    (tmp_path / ".llm-gitops.yaml").write_text("version: 1\n")
    config = load_config(tmp_path / ".llm-gitops.yaml")
    # Path.expanduser would raise RuntimeError (exit 3); a shell leaves ~nobody_here as it is.
    assert config.resolve_path("~nobody_here_h1/out") == (tmp_path / "~nobody_here_h1/out").resolve()


def test_exponent_numbers_without_a_dot_are_numbers():
    config = parse_config("version: 1\ngate:\n  alpha: 1e-3\nthresholds:\n  - {metric: a/b, max: 2E+3}\n", "cfg.yaml")
    assert config.gate.alpha == 0.001 and config.thresholds[0].max == 2000.0
    with pytest.raises(ConfigError, match="gate.alpha: expected a number, got the text '1e-3'; write it without quotes"):
        parse_config("version: 1\ngate:\n  alpha: '1e-3'\n", "cfg.yaml")
