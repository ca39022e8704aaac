"""The CLI corpus: bad flags, flag combinations, paths and environment settings across
every command, each a clean failure (exit 2, one ``error:`` line naming the culprit, no
traceback, nothing written) through :func:`tests.corpus.harness.expect_clean_error`.

Cases are generated per command from a few families (an unknown option, a value out of
range or of the wrong type, a choice that does not exist, an empty or missing model
source, an output path that is a file or lies under one, a config path that is missing
or a directory, CI variables that point at the wrong thing) rather than written one by
one; each names the text its error line must contain. Everything fails before a model
is loaded, so the corpus runs in seconds.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.corpus.harness import expect_clean_error
from tests.support.tiny_model import tiny_model_copy

REPO_TEMPLATE = Path(__file__).resolve().parents[2] / "examples" / "repo-template"

CONFIG = """\
version: 1
models:
  candidate: ./missing-model
eval:
  tasks: [tasks/add_em.yaml]
  limit: 20
thresholds:
  - metric: add_em/exact_match
    max_drop: 2pt
tracking:
  mlflow:
    enabled: true
report:
  to: none
"""


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A valid repo with things to point flags at: a file, a directory, an empty dir, a junk dir."""
    root = tmp_path_factory.mktemp("cli-corpus")
    shutil.copytree(REPO_TEMPLATE / "tasks", root / "tasks")
    shutil.copytree(REPO_TEMPLATE / "data" / "eval", root / "data" / "eval")
    (root / ".llm-gitops.yaml").write_text(CONFIG)
    (root / "a-file").write_text("not a directory\n")
    (root / "a-dir").mkdir()
    (root / "empty-model").mkdir()
    (root / "junk-model").mkdir()
    (root / "junk-model" / "notes.txt").write_text("no config.json here\n")
    (root / "event.json").write_text("{not json")
    tiny_model_copy(root / "good-model")  # a valid model, for cases where the other side is the bad one
    return root


# (command words, extra args, culprit text the error line must contain)
Case = tuple[list[str], list[str], str]

# Commands that read a config (and so take --config); serve takes one too.
CONFIG_COMMANDS = [["gate"], ["eval"], ["bench"], ["quantize", "--output", "out-q"], ["serve", "--model", "./x"],
                   ["register", "--model", "./x", "--name", "adder"], ["build"], ["validate-config"]]
ALL_COMMANDS = [["init"], ["validate-config"], ["eval"], ["bench"], ["gate"], ["quantize"], ["serve"], ["build"],
                ["register"], ["jenkins", "trigger"]]
MODEL_COMMANDS = {  # command -> (its model flag, args that make the rest of the command line valid)
    "gate": ("--candidate", ["--baseline", "./a-dir"]),
    "eval": ("--model", []),
    "bench": ("--model", []),
    "quantize": ("--model", ["--output", "out-q"]),
    "serve": ("--model", []),
    "register": ("--model", ["--name", "adder"]),
}


def _cases() -> list[tuple[str, list[str], str, dict[str, str] | None]]:
    cases: list[tuple[str, list[str], str, dict[str, str] | None]] = []

    def add(case_id: str, args: list[str], culprit: str, env: dict[str, str] | None = None) -> None:
        cases.append((case_id, args, culprit, env))

    # An unknown option, and a misspelt command.
    for words in ALL_COMMANDS:
        add(f"{'-'.join(words)}-unknown-option", [*words, "--bogus"], "--bogus")
        add(f"{'-'.join(words)}-unknown-short-option", [*words, "-Z"], "-Z")
    add("misspelt-command", ["gaet"], "gaet")
    add("misspelt-subcommand", ["jenkins", "trigerr"], "trigerr")

    # --config that is missing, a directory, or empty.
    for words in CONFIG_COMMANDS:
        name = words[0]
        add(f"{name}-config-missing", [*words, "--config", "nowhere.yaml"], "nowhere.yaml")
        add(f"{name}-config-is-a-directory", [*words, "--config", "a-dir"], "a-dir")

    # Model sources: empty, blank, missing, a file, an empty or junk directory, a bad registry or DVC form.
    for name, (flag, rest) in MODEL_COMMANDS.items():
        add(f"{name}-model-empty", [name, flag, "", *rest], flag)
        add(f"{name}-model-blank", [name, flag, "   ", *rest], flag)
        add(f"{name}-model-missing", [name, flag, "./no-such-model", *rest], "no-such-model")
        add(f"{name}-model-is-a-file", [name, flag, "./a-file", *rest], "a-file")
        add(f"{name}-model-empty-dir", [name, flag, "./empty-model", *rest], "empty-model")
        add(f"{name}-model-junk-dir", [name, flag, "./junk-model", *rest], "junk-model")
        add(f"{name}-model-bad-mlflow-uri", [name, flag, "models:/", *rest], "models:/")
        add(f"{name}-model-mlflow-no-store", [name, flag, "models:/adder@production", *rest], "models:/adder@production")
    add("gate-baseline-empty", ["gate", "--candidate", "./good-model", "--baseline", ""], "--baseline")
    add("gate-baseline-missing", ["gate", "--candidate", "./good-model", "--baseline", "./no-such-base"], "no-such-base")
    add("gate-baseline-junk", ["gate", "--candidate", "./good-model", "--baseline", "./junk-model"], "junk-model")
    add("gate-baseline-bad-dvc", ["gate", "--candidate", "./good-model", "--baseline", "dvc:"], "dvc:")
    add("register-model-required", ["register", "--name", "adder"], "--model")
    add("serve-model-required", ["serve"], "--model")

    # Numbers out of range or of the wrong type.
    for words, flag, values, culprit in [
        (["gate"], "--limit", ["0", "-3", "ten", "1.5", ""], "--limit"),
        (["eval"], "--limit", ["0", "-1", "many"], "--limit"),
        (["serve", "--model", "./x"], "--port", ["0", "70000", "http"], "--port"),
        (["serve", "--model", "./x"], "--workers", ["0", "65", "two"], "--workers"),
        (["serve", "--model", "./x"], "--max-tokens", ["0", "lots"], "--max-tokens"),
        (["serve", "--model", "./x"], "--max-prompt-chars", ["0"], "--max-prompt-chars"),
        (["serve", "--model", "./x"], "--drain-seconds", ["-1", "soon"], "--drain-seconds"),
        (["serve", "--model", "./x"], "--graceful-timeout", ["-0.5"], "--graceful-timeout"),
        (["quantize", "--output", "out-q"], "--sparsity", ["half", "1.5", "0", "-0.1"], "--sparsity"),
        (["jenkins", "trigger", "--url", "http://127.0.0.1:9", "--user", "u", "--token", "t", "job"],
         "--timeout", ["0", "never"], "--timeout"),
        (["jenkins", "trigger", "--url", "http://127.0.0.1:9", "--user", "u", "--token", "t", "job"],
         "--poll-interval", ["0", "often"], "--poll-interval"),
    ]:
        for value in values:
            add(f"{words[0]}{flag}={value or 'empty'}", [*words, flag, value], culprit)

    # Choices that do not exist.
    for words, flag, value in [
        (["gate"], "--report-to", "slack"),
        (["quantize", "--output", "out-q"], "--method", "int4-magic"),
        (["quantize", "--output", "out-q"], "--prefer", "cheapest"),
        (["serve", "--model", "./x"], "--color", "red"),
    ]:
        add(f"{words[0]}{flag}={value}", [*words, flag, value], flag)
    add("quantize-budget-garbage", ["quantize", "--output", "out-q", "--model", "./a-dir", "--budget", "lots"], "--budget")
    add("quantize-budget-negative", ["quantize", "--output", "out-q", "--model", "./a-dir", "--budget", "-2pt"], "--budget")
    add("quantize-budget-and-no-budget",
        ["quantize", "--output", "out-q", "--model", "./a-dir", "--budget", "1pt", "--no-budget"], "--no-budget")

    # Names and aliases MLflow would refuse (checked before anything is uploaded).
    for value in ["", "a/b", "team:adder", "adder@prod"]:
        add(f"register-name={value or 'empty'}", ["register", "--model", "./a-dir", "--name", value], "--name")
    for value in ["latest", "v1", "V12", "has space", "x" * 300]:
        add(f"register-alias={value[:12]}", ["register", "--model", "./a-dir", "--name", "adder", "--alias", value],
            "--alias")

    # Output paths that cannot be written: a file where a directory goes, a path under a file.
    add("gate-output-dir-is-a-file", ["gate", "--output-dir", "a-file"], "a-file")
    add("gate-output-dir-under-a-file", ["gate", "--output-dir", "a-file/reports"], "a-file")
    add("gate-output-env-missing-dir", ["gate", "--output-env", "no-such-dir/gate.env"], "--output-env")
    add("gate-output-env-is-a-dir", ["gate", "--output-env", "a-dir"], "a-dir")
    add("gate-output-env-under-a-file", ["gate", "--output-env", "a-file/gate.env"], "--output-env")
    for name in ("eval", "bench"):
        add(f"{name}-output-is-a-dir", [name, "--model", "./good-model", "--output", "a-dir"], "a-dir")
        add(f"{name}-output-under-a-file", [name, "--model", "./good-model", "--output", "a-file/results.json"], "a-file")
    add("quantize-output-is-a-file", ["quantize", "--model", "./a-dir", "--output", "a-file"], "a-file")
    add("quantize-output-under-a-file", ["quantize", "--model", "./a-dir", "--output", "a-file/q"], "a-file")
    add("quantize-keep-all-is-a-file",
        ["quantize", "--model", "./a-dir", "--output", "out-q", "--budget", "1pt", "--keep-all", "a-file"], "a-file")
    add("quantize-output-required", ["quantize", "--model", "./a-dir"], "--output")
    add("build-output-env-is-a-dir", ["build", "--output-env", "a-dir"], "a-dir")

    # Results flags: both sides given twice, or a path that is not lm-eval output.
    add("gate-candidate-and-candidate-results",
        ["gate", "--candidate", "./a-dir", "--candidate-results", "a-dir"], "--candidate-results")
    add("gate-baseline-and-baseline-results",
        ["gate", "--baseline", "./a-dir", "--baseline-results", "a-dir"], "--baseline-results")

    # init: refuses to overwrite without --force, and a path under a file.
    add("init-existing-config", ["init"], ".llm-gitops.yaml")
    add("init-path-under-a-file", ["init", "--path", "a-file/.llm-gitops.yaml"], "a-file")

    # Environment: CI variables and state settings that point at the wrong thing.
    add("gate-github-output-is-a-dir", ["gate"], "GITHUB_OUTPUT", {"GITHUB_OUTPUT": "a-dir"})
    add("gate-github-output-missing-dir", ["gate"], "GITHUB_OUTPUT", {"GITHUB_OUTPUT": "no-such-dir/out"})
    add("gate-step-summary-is-a-dir", ["gate"], "GITHUB_STEP_SUMMARY", {"GITHUB_STEP_SUMMARY": "a-dir"})
    add("gate-event-path-missing", ["gate"], "GITHUB_EVENT_PATH",
        {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/adder", "GITHUB_EVENT_PATH": "no-such-event.json"})
    add("gate-event-path-not-json", ["gate"], "GITHUB_EVENT_PATH",
        {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/adder", "GITHUB_EVENT_PATH": "event.json"})
    add("gate-state-dir-is-a-file", ["gate"], "cache directory", {"LLM_GITOPS_STATE_DIR": "a-file"})
    add("eval-state-dir-is-a-file", ["eval"], "a-file", {"LLM_GITOPS_STATE_DIR": "a-file"})
    add("bench-state-dir-is-a-file", ["bench"], "a-file", {"LLM_GITOPS_STATE_DIR": "a-file"})
    add("jenkins-trigger-no-url", ["jenkins", "trigger", "job"], "--url", {"JENKINS_USER": "u", "JENKINS_API_TOKEN": "t"})
    add("jenkins-trigger-no-job", ["jenkins", "trigger", "--url", "http://127.0.0.1:9", "--user", "u", "--token", "t"],
        "JOB")
    add("jenkins-trigger-bad-param", ["jenkins", "trigger", "--url", "http://127.0.0.1:9", "--user", "u", "--token", "t",
                                      "-p", "no-equals-sign", "job"], "no-equals-sign")
    return cases


CASES = _cases()


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 100, len(CASES)
    assert len({case_id for case_id, *_ in CASES}) == len(CASES)  # ids are unique


@pytest.mark.parametrize("case_id,args,culprit,env", CASES, ids=[c[0] for c in CASES])
def test_cli_bad_input_is_a_clean_error(repo, case_id, args, culprit, env):
    expect_clean_error(args, cwd=repo, culprit=culprit, surface="cli", case=case_id, env=env)
