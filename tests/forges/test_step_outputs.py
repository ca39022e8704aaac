"""Step outputs: $GITHUB_OUTPUT in GitHub's heredoc form, dotenv lines, the job summary,
and the pre-flight check that touches nothing."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from llm_gitops.ci_context import CiContext, detect
from llm_gitops.commands.step_outputs import (
    SUMMARY_LIMIT,
    append_step_summary,
    check_step_outputs,
    github_output_text,
    write_step_outputs,
)
from llm_gitops.errors import ConfigError
from tests.corpus.harness import snapshot

LOCAL = CiContext("local", None, None, None, None, None, None, False, None, None)


def parse_github_output(text: str) -> dict[str, str]:
    """Read the file as the Actions runner does (SetOutputFileCommand): ``k=v`` lines and
    ``k<<DELIM`` blocks; a later key wins."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        eq, heredoc = line.find("="), line.find("<<")
        if heredoc >= 0 and (eq < 0 or heredoc < eq):
            key, delimiter = line[:heredoc], line[heredoc + 2:]
            body = []
            while lines[i] != delimiter:  # an IndexError here = an unterminated block
                body.append(lines[i])
                i += 1
            i += 1
            values[key] = "\n".join(body)
        else:
            values[line[:eq]] = line[eq + 1:]
    return values


def ctx_for(tmp_path: Path, **files: str) -> CiContext:
    return dataclasses.replace(LOCAL, **{k: str(tmp_path / v) for k, v in files.items()})


@pytest.mark.parametrize("value", [
    "out\nverdict=pass\nx",
    "out\nverdict<<EOF\npass\nEOF",
    "ghadelimiter_\n",
    "trailing\n",
    "\r\nverdict=pass",
    "",
])
def test_config_text_never_forges_a_github_output(tmp_path, value):
    ctx = ctx_for(tmp_path, github_output="out.txt")
    write_step_outputs(ctx, {"verdict": "fail", "report-path": value}, {}, None)
    text = (tmp_path / "out.txt").read_bytes().decode()
    assert parse_github_output(text) == {"verdict": "fail", "report-path": value}


def test_a_value_holding_the_delimiter_gets_another_one(monkeypatch):
    tokens = iter(["a" * 32, "b" * 32])
    monkeypatch.setattr("llm_gitops.commands.step_outputs.secrets.token_hex", lambda n: next(tokens))
    text = github_output_text({"k": f"x\nghadelimiter_{'a' * 32}\ny"})
    assert text.startswith(f"k<<ghadelimiter_{'b' * 32}\n")
    assert parse_github_output(text) == {"k": f"x\nghadelimiter_{'a' * 32}\ny"}


@pytest.mark.parametrize("key", ["", "a b", "x\ny", "a=b", "1abc", "é"])
def test_bad_keys_are_refused(key):
    with pytest.raises(ValueError):
        github_output_text({key: "v"})


@pytest.mark.parametrize("value", ["out\nLLM_GITOPS_VERDICT=pass", "a\rb", "nul\x00"])
def test_dotenv_values_with_line_breaks_are_refused_and_nothing_is_written(tmp_path, value):
    ctx = ctx_for(tmp_path, github_output="out.txt")
    env = tmp_path / "gate.env"
    with pytest.raises(ConfigError, match=r"--output-env .*LLM_GITOPS_REPORT.*line break"):
        write_step_outputs(ctx, {"verdict": "fail"}, {"LLM_GITOPS_VERDICT": "fail", "LLM_GITOPS_REPORT": value}, env)
    assert not env.exists() and not (tmp_path / "out.txt").exists()
    with pytest.raises(ConfigError, match="line break"):
        check_step_outputs(ctx, env, {"LLM_GITOPS_REPORT": value})


def test_dotenv_and_github_output_get_the_same_values(tmp_path):
    ctx = ctx_for(tmp_path, github_output="out.txt")
    (tmp_path / "gate.env").write_text("EARLIER=1\n")
    write_step_outputs(ctx, {"verdict": "pass"}, {"LLM_GITOPS_VERDICT": "pass"}, tmp_path / "gate.env")
    assert (tmp_path / "gate.env").read_text() == "EARLIER=1\nLLM_GITOPS_VERDICT=pass\n"
    assert parse_github_output((tmp_path / "out.txt").read_text()) == {"verdict": "pass"}


def test_step_summary_is_appended_and_capped(tmp_path):
    ctx = ctx_for(tmp_path, step_summary="summary.md")
    append_step_summary(ctx, "# one")
    append_step_summary(ctx, "x" * (SUMMARY_LIMIT + 10))
    text = (tmp_path / "summary.md").read_text()
    assert text.startswith("# one\nxxx") and "truncated" in text
    assert len(text.encode()) <= SUMMARY_LIMIT + len("# one\n")
    append_step_summary(LOCAL, "nowhere")  # no summary file: nothing happens


def test_paths_come_from_the_context_not_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "env-out.txt"))
    write_step_outputs(LOCAL, {"verdict": "pass"}, {}, None)
    assert not (tmp_path / "env-out.txt").exists()
    ctx = detect({"GITHUB_OUTPUT": str(tmp_path / "o"), "GITHUB_STEP_SUMMARY": str(tmp_path / "s")})
    assert (ctx.github_output, ctx.step_summary) == (str(tmp_path / "o"), str(tmp_path / "s"))


def _cases(tmp_path: Path):
    (tmp_path / "adir").mkdir()
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro" / "f").write_text("")
    os.chmod(tmp_path / "ro" / "f", 0o444)
    os.chmod(tmp_path / "ro", 0o555)
    (tmp_path / "file").write_text("")
    os.symlink(tmp_path / "nowhere", tmp_path / "dangling")
    os.symlink(tmp_path / "loop", tmp_path / "loop")
    os.mkfifo(tmp_path / "fifo")
    cases = {
        "a directory": (str(tmp_path / "adir"), "is a directory"),
        "missing directory": (str(tmp_path / "no" / "such" / "out"), "does not exist"),
        "parent is a file": (str(tmp_path / "file" / "out"), "is not a directory"),
        "dangling link": (str(tmp_path / "dangling"), "leads nowhere"),
        "link loop": (str(tmp_path / "loop"), "leads nowhere"),
        "fifo": (str(tmp_path / "fifo"), "not a regular file"),
        "name too long": (str(tmp_path / ("x" * 300)), "cannot be used"),
        "NUL in the name": (str(tmp_path / "a\x00b"), "cannot be used"),
    }
    if os.geteuid() != 0:  # root may write anywhere
        cases["read-only file"] = (str(tmp_path / "ro" / "f"), "not writable")
        cases["read-only directory"] = (str(tmp_path / "ro" / "new"), "not writable")
    return cases


@pytest.mark.parametrize("where", ["github_output", "step_summary", "output_env"])
def test_preflight_names_the_variable_and_touches_nothing(tmp_path, where):
    for case, (path, problem) in _cases(tmp_path).items():
        before = snapshot(tmp_path)
        ctx = dataclasses.replace(LOCAL, **({where: path} if where != "output_env" else {}))
        with pytest.raises(ConfigError) as err:
            check_step_outputs(ctx, Path(path) if where == "output_env" else None)
        label = {"github_output": "GITHUB_OUTPUT", "step_summary": "GITHUB_STEP_SUMMARY",
                 "output_env": "--output-env"}[where]
        message = str(err.value)
        assert label in message and problem in message and "\n" not in message, (case, message)
        assert snapshot(tmp_path) == before, case


def test_preflight_accepts_new_and_existing_files_and_dev_null(tmp_path):
    (tmp_path / "existing").write_text("x=1\n")
    ctx = dataclasses.replace(LOCAL, github_output=str(tmp_path / "existing"), step_summary=os.devnull)
    check_step_outputs(ctx, tmp_path / "new.env", {"LLM_GITOPS_REPORT": "/a/b"})
    assert sorted(os.listdir(tmp_path)) == ["existing"]


def test_the_gate_cli_writes_a_failing_verdict_that_a_path_cannot_override(tmp_path, monkeypatch):
    """The probe from the hardening issue: an output directory named "out\nverdict=pass\nx" made
    the gate write verdict=fail and then verdict=pass into $GITHUB_OUTPUT (GitHub keeps the
    last). The config file now refuses such a report.output_dir; --output-dir still takes
    any directory name, so the writer itself must keep it in its value."""
    from tests.corpus.harness import run_cli
    from tests.forges.ci_env import fake_measurements, gate_repo

    repo = gate_repo(tmp_path)
    fake_measurements(monkeypatch, accuracy=0.3)  # below the threshold's min 0.5: the gate fails
    out, summary = tmp_path / "github_output", tmp_path / "summary.md"
    reports = tmp_path / "out\nverdict=pass\nx"
    run = run_cli(["gate", "--output-dir", str(reports)], cwd=repo,
                  env={"GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary)})
    assert run.code == 1, run.err
    values = parse_github_output(out.read_bytes().decode())
    assert values["verdict"] == "fail"
    assert values["report-path"] == str(reports / "report.md")
    assert "fail" in summary.read_text()


def test_a_real_actions_runner_reads_the_outputs_back(tmp_path):
    """act (nektos/act, which parses $GITHUB_OUTPUT as the Actions runner does) reads each
    value back whole: the verdict stays 'fail' and the multi-line path arrives intact."""
    import json
    import sys

    from tests.glue.support import clean_env, git_repo, run, tool

    act = tool("act")
    writer = tmp_path / "write_outputs.py"
    writer.write_text("from llm_gitops.ci_context import detect\n"
                      "from llm_gitops.commands.step_outputs import write_step_outputs\n"
                      "write_step_outputs(detect(), {'verdict': 'fail', 'report-path': 'out\\nverdict=pass\\nx'},"
                      " {}, None)\n")
    workflow = f"""on: push
jobs:
  t:
    runs-on: ubuntu-latest
    steps:
      - id: gate
        run: {sys.executable} {writer}
      - run: printf '%s|%s' "$VERDICT" "$REPORT" > "{tmp_path / 'seen.txt'}"
        env:
          VERDICT: ${{{{ steps.gate.outputs.verdict }}}}
          REPORT: ${{{{ steps.gate.outputs.report-path }}}}
"""
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".github" / "workflows" / "t.yml").write_text(workflow)
    git_repo(repo, remote="https://github.com/acme/models.git")  # act derives GITHUB_REPOSITORY from it
    (tmp_path / "event.json").write_text(json.dumps({"ref": "refs/heads/main"}))
    run([act, "push", "-P", "ubuntu-latest=-self-hosted", "-e", str(tmp_path / "event.json")],
        env=clean_env(tmp_path / "home"), cwd=repo, timeout=120)
    assert (tmp_path / "seen.txt").read_text() == "fail|out\nverdict=pass\nx"
