"""Bad-input corpus, surface "config": broken ``.llm-gitops.yaml`` files through the real CLI.

Cases are generated, not hand-written: every field of the schema with a value of the
wrong type, a non-finite number, an out-of-range number or empty text; an unknown key
in every section; broken YAML syntax and encodings; the bounds (size, depth, alias
expansion); and config paths that are not a regular file (a directory, a symlink loop,
a dangling link, a FIFO, a device). Each runs ``llm-gitops validate-config`` and must
end in one ``error:`` line that names the file and line (and the field, when there is
one), exit 2, no traceback, nothing written. A sample also runs through ``eval`` and
``gate``, which must refuse the config before measuring anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.corpus.harness import expect_clean_error

SURFACE = "config"
CFG = ".llm-gitops.yaml"


@dataclass(frozen=True)
class Case:
    id: str
    text: str | bytes | None  # the config's content; None: the case sets up the path itself
    culprit: tuple[str, ...]
    setup: str | None = None  # a path problem (see _setup)
    args: tuple[str, ...] = field(default=("validate-config",))


def _nested(path: tuple[str, ...], value: str) -> tuple[str, int]:
    """YAML for ``version: 1`` plus ``value`` at the mapping ``path``; and the value's line."""
    lines = ["version: 1"]
    for depth, key in enumerate(path[:-1]):
        lines.append("  " * depth + f"{key}:")
    lines.append("  " * (len(path) - 1) + f"{path[-1]}: {value}")
    return "\n".join(lines) + "\n", len(lines)


def field_case(dotted: str, value: str, expect: str, name: str) -> Case:
    text, line = _nested(tuple(dotted.split(".")), value)
    # A prefix: the message may go deeper (models.candidate.source, perf.prompts[0]).
    return Case(f"{dotted}={name}", text, (f"{CFG}:{line}: {dotted}", expect))


def threshold_case(extra: str, expect: str, name: str, at: str = "thresholds[0]", line: int = 4) -> Case:
    text = "version: 1\nthresholds:\n  - metric: add_em/exact_match\n" + "".join(f"    {e}\n" for e in extra.split("; "))
    # No eval tasks here: without --no-check-tasks a valid threshold is refused as naming no task's metric.
    return Case(f"thresholds:{name}", text, (f"{CFG}:{line}: {at}", expect), args=("validate-config", "--no-check-tasks"))


# (dotted field, [(value, what the message must say, case name)])
WRONG = "expected "  # a value of the wrong type
ONE_OF = "Input should be "  # a value outside a fixed set
FIELDS: dict[str, list[tuple[str, str, str]]] = {
    "models.candidate": [("''", "must not be empty", "empty"), ("[a]", WRONG, "list"), ("5", WRONG, "number")],
    "models.baseline": [("'  '", "must not be empty", "blank"), ("{}", "required field is missing", "no-source")],
    "eval.tasks": [("5", WRONG, "number"), ("{a: 1}", WRONG, "mapping")],
    "eval.limit": [("0", "greater than 0", "zero"), ("-1", "greater than 0", "negative"),
                   ("true", "true/false is not a number", "bool"), ("1.5", WRONG, "float"),
                   ("'10'", WRONG, "text"), ("9999999999999", "less than or equal to", "huge"), (".nan", WRONG, "nan")],
    "eval.sampling": [("all", ONE_OF, "unknown"), ("1", ONE_OF, "number")],
    "eval.num_fewshot": [("-1", "greater than or equal to 0", "negative"), ("false", "true/false", "bool")],
    "eval.batch_size": [("0", "greater than 0", "zero"), (".inf", WRONG, "inf"), ("lots", WRONG, "text")],
    "eval.seed": [("-1", "greater than or equal to 0", "negative"), ("4294967296", "less than 4294967296", "too-big"),
                  ("true", "true/false", "bool"), ("1e3", WRONG, "float")],
    "eval.max_gen_toks": [("0", "greater than 0", "zero"), ("[]", WRONG, "list")],
    "perf.prompts": [("5", WRONG, "number"), ("['']", "items must not be empty", "empty-item"),
                     ("[1]", WRONG, "number-item"), ("hello", WRONG, "text")],
    "perf.max_new_tokens": [("0", "greater than 0", "zero"), ("true", "true/false", "bool")],
    "perf.warmup": [("-1", "greater than or equal to 0", "negative"), ("2.5", WRONG, "float")],
    "perf.repeats": [("0", "greater than 0", "zero"), ("-.inf", WRONG, "inf")],
    "perf.threads": [("0", "greater than 0", "zero"), ("100000", "less than or equal to 4096", "huge")],
    "gate.alpha": [("0", "greater than 0", "zero"), ("1", "less than 1", "one"), (".nan", "finite", "nan"),
                   (".inf", "finite", "inf"), ("true", "true/false", "bool"), ("'0.05'", WRONG, "text")],
    "gate.on_inconclusive": [("maybe", ONE_OF, "unknown"), ("true", ONE_OF, "bool")],
    "gate.bootstrap_samples": [("10", "greater than or equal to 100", "few"),
                               ("1000000000", "less than or equal to 1000000", "huge")],
    "gate.perf": [("1", "expected true or false", "number"), ("'yes'", "expected true or false", "text")],
    "tracking.mlflow.enabled": [("'no'", "expected true or false", "text"), ("0", "expected true or false", "number")],
    "tracking.mlflow.tracking_uri": [("''", "must not be empty", "empty"), ("5", "put it in quotes", "number")],
    "tracking.mlflow.experiment": [("''", "must not be empty", "empty"), ("[a]", WRONG, "list")],
    "tracking.mlflow.register_as": [("' '", "must not be empty", "blank")],
    "report.output_dir": [("''", "must not be empty", "empty"), ("5", "put it in quotes", "number"),
                          ('"out\\nverdict=pass\\nx"', "must be one line", "line-break"), ('"o\\0"', "one line", "nul"),
                          ("{a: b}", WRONG, "mapping")],
    "report.to": [("slack", ONE_OF, "unknown")],
    "quantize.methods": [("[gptq]", ONE_OF, "unknown"), ("int8-dynamic", WRONG, "text")],
    "quantize.budget": [(".nan", "finite", "nan"), ("-.inf", "finite", "inf"), ("lots", "is not a drop", "text"),
                        ("-1", "must be >= 0", "negative"), ("true", "expected a number", "bool")],
    "quantize.prefer": [("biggest", ONE_OF, "unknown")],
    "quantize.sparsity": [("0", "greater than 0", "zero"), ("1", "less than 1", "one"), (".nan", "finite", "nan")],
    "quantize.distill_dataset": [("''", "must not be empty", "empty")],
    "quantize.distill_steps": [("0", "greater than 0", "zero"), ("true", "true/false", "bool")],
    "quantize.distill_hidden_size": [("-5", "greater than 0", "negative")],
    "quantize.distill_layers": [("1.0", WRONG, "float")],
    "image.repository": [("''", "must not be empty", "empty"), ('"r\\te"', "must be one line", "tab")],
    "image.base_image": [("3.11", "put it in quotes", "number")],
    "image.wheelhouse": [("' '", "must not be empty", "blank")],
    "image.ca_bundle": [("[a]", WRONG, "list")],
    "image.pip_extra_args": [("--index-url", WRONG, "text"), ("['']", "items must not be empty", "empty-item")],
    "image.port": [("0", "greater than 0", "zero"), ("70000", "less than 65536", "huge"), ("true", "true/false", "bool"),
                   ("'8000'", WRONG, "text")],
    "image.engine": [("''", "must not be empty", "empty")],
}

THRESHOLDS = [
    threshold_case("min: .nan", "finite", "min-nan"),
    threshold_case("min: -.inf", "finite", "min-inf"),
    threshold_case("max: .inf", "finite", "max-inf"),
    threshold_case("max: .NaN", "finite", "max-nan"),
    threshold_case("max_drop: .nan", "finite", "max_drop-nan"),
    threshold_case("max_drop: .inf", "finite", "max_drop-inf"),
    threshold_case("max_drop: 1.0e+999", "finite", "max_drop-overflow"),
    threshold_case("max_drop: '" + "9" * 400 + "pt'", "too large", "max_drop-overflow-text"),
    threshold_case("hard_max_drop: -.inf", "finite", "hard_max_drop-inf"),
    threshold_case("max_drop: -0.1", "must be >= 0", "max_drop-negative"),
    threshold_case("max_drop: lots", "is not a drop", "max_drop-text"),
    threshold_case("max_drop: '-2pt'", "is not a drop", "max_drop-negative-text"),
    threshold_case("max_drop: true", "expected a number", "max_drop-bool"),
    threshold_case("min: true", "true/false", "min-bool"),
    threshold_case("min: '0.5'", WRONG, "min-text"),
    threshold_case("min: [0.5]", WRONG, "min-list"),
    threshold_case("min: 0.9; max: 0.1", "min (0.9) is above max (0.1)", "min-above-max", line=3),
    threshold_case("max_drop: 5pt; hard_max_drop: 1pt", "hard_max_drop (1pt) is below max_drop (5pt)",
                   "hard-below-soft", line=3),
    threshold_case("minn: 0.5", "did you mean 'min'", "typo", at="thresholds[0].minn"),
    # On a share between 0 and 1 (exact_match): 2 meant as two points tolerates any drop.
    threshold_case("max_drop: 2", "tolerates any drop; write '2pt'", "share-bare-drop", at="thresholds[0].max_drop"),
    threshold_case("hard_max_drop: 100%", "tolerates any drop", "share-whole-drop", at="thresholds[0].hard_max_drop"),
    threshold_case("min: 80", "no value could pass; write a min at most 1, e.g. 0.8", "share-min-percent",
                   at="thresholds[0].min"),
    threshold_case("max: -0.5", "no value could pass", "share-max-negative", at="thresholds[0].max"),
    Case("thresholds:none", "version: 1\nthresholds: []\n", (f"{CFG}:2: thresholds", "none configured")),
    Case("thresholds:no-tasks", "version: 1\neval:\n  tasks: []\nthresholds:\n  - {metric: add_em/exact_match, min: 0.5}\n",
         (f"{CFG}:5: thresholds[0].metric", "no task produces 'add_em/exact_match'")),
    Case("thresholds:no-bound", "version: 1\nthresholds:\n  - metric: a/b\n",
         (f"{CFG}:3: thresholds[0]", "needs at least one of")),
    Case("thresholds:bad-metric", "version: 1\nthresholds:\n  - metric: ab\n    min: 1\n",
         (f"{CFG}:3: thresholds[0].metric", "is not TASK/METRIC")),
    Case("thresholds:metric-number", "version: 1\nthresholds:\n  - metric: 5\n    min: 1\n",
         (f"{CFG}:3: thresholds[0].metric", WRONG)),
    Case("thresholds:no-metric", "version: 1\nthresholds:\n  - min: 1\n", (f"{CFG}:3: thresholds[0].metric", "missing")),
    Case("thresholds:not-a-list", "version: 1\nthresholds: 5\n", (f"{CFG}:2: thresholds", WRONG)),
    Case("thresholds:item-number", "version: 1\nthresholds: [5]\n", (f"{CFG}:2: thresholds[0]", WRONG)),
    Case("thresholds:second-item", "version: 1\nthresholds:\n  - {metric: a/b, min: 0}\n  - {metric: a/c, max: .nan}\n",
         (f"{CFG}:4: thresholds[1].max", "finite")),
]

SECTIONS = ["models", "eval", "perf", "gate", "report", "quantize", "image", "tracking", "tracking.mlflow"]
UNKNOWN = [field_case(f"{section}.colour", "1", "unknown key 'colour'", "unknown-key") for section in SECTIONS] + [
    Case("unknown-section", "version: 1\nevals: {}\n", (f"{CFG}:2: evals: unknown key", "did you mean 'eval'")),
    Case("future-section", "version: 1\nchatops: {}\n", (f"{CFG}:2:", "section 'chatops' is not supported")),
    Case("section-is-list", "version: 1\neval: [a]\n", (f"{CFG}:2: eval:", WRONG)),
    Case("section-is-text", "version: 1\ngate: strict\n", (f"{CFG}:2: gate:", WRONG)),
    Case("task-both", "version: 1\neval:\n  tasks:\n    - {name: a, path: b.yaml}\n",
         (f"{CFG}:4: eval.tasks[0]", "give exactly one of")),
    Case("task-neither", "version: 1\neval:\n  tasks:\n    - {}\n", (f"{CFG}:4: eval.tasks[0]", "give exactly one of")),
    Case("task-name-number", "version: 1\neval:\n  tasks:\n    - {name: 5}\n", (f"{CFG}:4: eval.tasks[0].name", WRONG)),
    Case("long-key", "version: 1\n? " + "k" * 5000 + "\n: 1\n", (f"{CFG}:3:", "unknown key 'kkkk")),
    Case("list-key", "version: 1\n? [a, b]\n: 1\n", (f"{CFG}:2:", "a key must be a plain name, got a list")),
    Case("mapping-key", "version: 1\n? {a: 1}\n: 1\n", (f"{CFG}:2:", "a key must be a plain name, got a mapping")),
    Case("number-key", "version: 1\n5: x\n", (f"{CFG}:2:", "a key must be a name (text), got the number 5")),
    Case("rev-number", "version: 1\nmodels:\n  candidate: {source: ./m, rev: 1234}\n",
         (f"{CFG}:3: models.candidate.rev", "put it in quotes")),
    Case("rev-empty", "version: 1\nmodels:\n  candidate: {source: ./m, rev: ''}\n",
         (f"{CFG}:3: models.candidate.rev", "must not be empty")),
    Case("duplicate-key", "version: 1\ngate: {}\ngate: {}\n", (f"{CFG}:3: duplicate key 'gate'",)),
    Case("duplicate-nested", "version: 1\ngate:\n  alpha: 0.1\n  alpha: 0.2\n", (f"{CFG}:4: duplicate key 'alpha'",)),
]

VERSION = [
    Case("version:true", "version: true\n", (f"{CFG}:1: version: must be the number 1, got true",)),
    Case("version:2", "version: 2\n", (f"{CFG}:1: version: unsupported config version 2",)),
    Case("version:float", "version: 1.0\n", (f"{CFG}:1: version:", "the number 1.0")),
    Case("version:text", "version: '1'\n", (f"{CFG}:1: version:", "the text '1'")),
    Case("version:null", "version:\n", (f"{CFG}:1: version:", "got nothing (null)")),
    Case("version:missing", "eval: {}\n", (f"{CFG}:1: version: required field is missing",)),
    Case("version:list", "version: [1]\n", (f"{CFG}:1: version:", "got a list")),
]

ALIAS_BOMB = "version: 1\na: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(7))
SYNTAX = [
    Case("yaml:unclosed-bracket", "version: 1\neval: [\n", (f"{CFG}:3: malformed YAML",)),
    Case("yaml:unclosed-quote", "version: 1\nreport: {output_dir: 'out}\n", (f"{CFG}:", "malformed YAML")),
    Case("yaml:bad-indent", "version: 1\neval:\n  limit: 3\n batch_size: 2\n", (f"{CFG}:4: malformed YAML",)),
    Case("yaml:tab", "version: 1\neval:\n\tlimit: 3\n", (f"{CFG}:3: malformed YAML",)),
    Case("yaml:two-documents", "version: 1\n---\nversion: 1\n", (f"{CFG}:2: malformed YAML", "single document")),
    Case("yaml:undefined-alias", "version: 1\ngate: *nope\n", (f"{CFG}:2: malformed YAML", "undefined alias")),
    Case("yaml:duplicate-anchor", "version: 1\na: &x 1\nb: &x 2\n", (f"{CFG}:3: malformed YAML",)),
    Case("yaml:python-tag", "version: 1\ngate: !!python/object/apply:os.system [true]\n",
         (f"{CFG}:2: malformed YAML", "could not determine a constructor")),
    Case("yaml:unknown-tag", "version: 1\ngate: !secret x\n", (f"{CFG}:2: malformed YAML",)),
    Case("yaml:merge-scalar", "version: 1\ngate:\n  <<: 5\n", (f"{CFG}:3: malformed YAML", "for merging")),
    Case("yaml:merge-list-of-scalars", "version: 1\ngate:\n  <<: [1, 2]\n", (f"{CFG}:3: malformed YAML", "for merging")),
    Case("yaml:merged-bad-value", "version: 1\nquantize: &q {sparsity: .nan}\n",
         (f"{CFG}:2: quantize.sparsity", "finite")),
    Case("yaml:alias-bomb", ALIAS_BOMB, (f"{CFG}:", "expands to more than 100000 values")),
    Case("yaml:recursive-alias", "version: 1\ngate: &g {x: *g}\n", (f"{CFG}:2: malformed YAML", "recursive alias")),
    Case("yaml:deep-list", "version: 1\nx: " + "[" * 3000 + "]" * 3000 + "\n", (f"{CFG}:2: malformed YAML", "nested deeper")),
    Case("yaml:deep-mapping", "version: 1\nx: " + "{a: " * 200 + "1" + "}" * 200 + "\n",
         (f"{CFG}:2: malformed YAML", "nested deeper")),
    Case("yaml:deep-block", "version: 1\n" + "".join("  " * i + f"k{i}:\n" for i in range(100)) + "  " * 100 + "v: 1\n",
         (f"{CFG}:", "nested deeper")),
    Case("empty", "", (f"{CFG}: the file is empty",)),
    Case("only-comments", "# nothing here\n", (f"{CFG}: the file is empty",)),
    Case("root-list", "- version: 1\n", (f"{CFG}:1: the file must be a mapping (key: value)", "got a list")),
    Case("root-text", "hello\n", (f"{CFG}:1: the file must be a mapping", "got the text 'hello'")),
    Case("root-number", "42\n", (f"{CFG}:1: the file must be a mapping", "got the number 42")),
    Case("encoding:latin-1", "version: 1\nimage:\n  repository: caf\xe9\n".encode("latin-1"),
         (f"{CFG}: config file is not UTF-8 text (byte 0xe9 on line 3)",)),
    Case("encoding:utf-16", "version: 1\n".encode("utf-16"), (f"{CFG}: config file is not UTF-8 text",)),
    Case("encoding:nul-byte", b"version: 1\x00\n", (f"{CFG}:1: malformed YAML", "#x0000")),
    Case("encoding:control-char", b"version: 1\ngate: {}\x07\n", (f"{CFG}:2: malformed YAML", "#x0007")),
    Case("encoding:bom-then-error", b"\xef\xbb\xbfversion: 1\ngate: maybe\n", (f"{CFG}:2: gate:", WRONG)),
    Case("huge", "version: 1\n" + "#" * (2 << 20) + "\n", (f"{CFG}: config file is 2.0 MiB, over the 1.0 MiB limit",)),
    Case("huge-value", "version: 1\nimage:\n  repository: " + "x" * (1 << 20) + "\n", (f"{CFG}:", "over the 1.0 MiB")),
]

PATHS = [
    Case("path:missing", None, ("nope.yaml: config file not found",), setup="missing"),
    Case("path:directory", None, ("conf: config file is a directory", "conf/.llm-gitops.yaml"), setup="directory"),
    Case("path:symlink-loop", None, ("loop.yaml: config file is a symlink loop",), setup="loop"),
    Case("path:dangling-link", None, ("dangling.yaml: config file is a dangling symlink",), setup="dangling"),
    Case("path:fifo", None, ("pipe.yaml: config file is a FIFO",), setup="fifo"),
    Case("path:device", None, ("/dev/zero: config file is a character device",), setup="device"),
    Case("path:parent-is-file", None, ("plain/x.yaml: config file not found",), setup="parent-file"),
    Case("path:found-directory", None, (f"{CFG}: config file is a directory",), setup="found-directory"),
    Case("path:found-loop", None, (f"{CFG}: config file is a symlink loop",), setup="found-loop"),
]


def _setup(kind: str, root: Path) -> tuple[str, ...]:
    """Make the path problem ``kind`` under ``root``; the ``--config`` args that point at it."""
    if kind == "missing":
        return ("--config", "nope.yaml")
    if kind == "directory":
        (root / "conf").mkdir()
        return ("--config", "conf")
    if kind == "loop":
        os.symlink("loop2.yaml", root / "loop.yaml")
        os.symlink("loop.yaml", root / "loop2.yaml")
        return ("--config", "loop.yaml")
    if kind == "dangling":
        os.symlink("gone.yaml", root / "dangling.yaml")
        return ("--config", "dangling.yaml")
    if kind == "fifo":
        os.mkfifo(root / "pipe.yaml")
        return ("--config", "pipe.yaml")
    if kind == "device":
        return ("--config", "/dev/zero")
    if kind == "parent-file":
        (root / "plain").write_text("x")
        return ("--config", "plain/x.yaml")
    if kind == "found-directory":
        (root / CFG).mkdir()
        return ()
    if kind == "found-loop":
        os.symlink(CFG, root / CFG)
        return ()
    raise AssertionError(kind)


CASES = [field_case(dotted, value, expect, name) for dotted, values in FIELDS.items() for value, expect, name in values]
CASES += THRESHOLDS + UNKNOWN + VERSION + SYNTAX + PATHS

# The config is refused before anything is measured or written, whatever the command.
COMMANDS = [("eval", "--model", "./model"), ("gate", "--candidate", "./model", "--baseline", "./model"),
            ("bench", "--model", "./model")]
BEFORE_MEASURING = ["thresholds:min-nan", "thresholds:min-above-max", "version:true", "yaml:alias-bomb",
                    "yaml:deep-list", "eval.limit=bool", "huge", "encoding:nul-byte"]
BY_ID = {case.id: case for case in CASES}


def _run(case: Case, tmp_path: Path, args: tuple[str, ...]) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    config_args: tuple[str, ...] = ()
    if case.setup is not None:
        config_args = _setup(case.setup, root)
    elif isinstance(case.text, bytes):
        (root / CFG).write_bytes(case.text)
    else:
        (root / CFG).write_text(case.text or "", encoding="utf-8")
    expect_clean_error([*args, *config_args], cwd=root, culprit=list(case.culprit), surface=SURFACE, case=case.id)


def test_the_corpus_is_big_enough():
    assert len(CASES) >= 100
    assert len(BY_ID) == len(CASES), "case ids must be unique"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_validate_config_refuses_cleanly(case: Case, tmp_path: Path):
    _run(case, tmp_path, case.args)


@pytest.mark.parametrize("command", COMMANDS, ids=[c[0] for c in COMMANDS])
@pytest.mark.parametrize("case_id", BEFORE_MEASURING)
def test_commands_refuse_before_measuring(case_id: str, command: tuple[str, ...], tmp_path: Path):
    _run(BY_ID[case_id], tmp_path, command)
