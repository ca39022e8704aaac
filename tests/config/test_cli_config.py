"""``init`` and ``validate-config`` through the real CLI entry point."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from llm_gitops.cli import cli, main


def run_main(args, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as excinfo:
        main(args)
    return excinfo.value.code


def test_init_writes_a_valid_starter_and_refuses_to_overwrite(tmp_path, monkeypatch, capsys):
    assert run_main(["init"], monkeypatch, tmp_path) == 0
    text = (tmp_path / ".llm-gitops.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=") and "# llm-gitops configuration" in text
    assert run_main(["validate-config", "--no-check-tasks"], monkeypatch, tmp_path) == 0
    assert "valid (version 1)" in capsys.readouterr().out
    assert run_main(["init"], monkeypatch, tmp_path) == 2
    assert "already exists; pass --force" in capsys.readouterr().err
    assert (tmp_path / ".llm-gitops.yaml").read_text() == text


def test_validate_config_exit_2_with_located_error(tmp_path, monkeypatch, capsys):
    (tmp_path / ".llm-gitops.yaml").write_text("version: 1\nthreshold: []\n")
    assert run_main(["validate-config"], monkeypatch, tmp_path) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: .llm-gitops.yaml:2: threshold: unknown key 'threshold'; did you mean 'thresholds'?"


def test_validate_config_without_any_config(tmp_path, monkeypatch, capsys):
    assert run_main(["validate-config"], monkeypatch, tmp_path) == 2
    assert "no .llm-gitops.yaml found" in capsys.readouterr().err


def test_unknown_command_suggests_the_right_one():
    result = CliRunner().invoke(cli, ["gatee"])
    assert result.exit_code == 2
    assert "Did you mean 'gate'?" in result.output


def test_every_command_has_help_with_examples():
    from llm_gitops.cli import COMMANDS

    runner = CliRunner()
    for name in COMMANDS:
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert "Example" in result.output, name


def test_help_and_version_do_not_import_torch():
    code = "import sys; from llm_gitops.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit: pass\nprint('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("False")


def test_validate_config_checks_tasks_even_without_thresholds(tmp_path, monkeypatch, capsys):
    (tmp_path / ".llm-gitops.yaml").write_text("version: 1\neval:\n  tasks: [tasks/missing.yaml]\n")
    assert run_main(["validate-config"], monkeypatch, tmp_path) == 2
    assert "eval.tasks[0] (tasks/missing.yaml): task YAML not found" in capsys.readouterr().err
    # Without the task check, what the gate refuses still is: a config with nothing to decide.
    assert run_main(["validate-config", "--no-check-tasks"], monkeypatch, tmp_path) == 2
    assert "thresholds: none configured, so the gate has nothing to decide" in capsys.readouterr().err
    (tmp_path / ".llm-gitops.yaml").write_text("version: 1\neval:\n  tasks: [tasks/missing.yaml]\n"
                                                "thresholds:\n  - {metric: perf/latency_p95_ms, max: 500}\n")
    assert run_main(["validate-config", "--no-check-tasks"], monkeypatch, tmp_path) == 0


def test_validate_config_names_a_directory_and_a_symlink_loop(tmp_path, monkeypatch, capsys):
    (tmp_path / "conf").mkdir()
    assert run_main(["validate-config", "--config", "conf"], monkeypatch, tmp_path) == 2
    assert capsys.readouterr().err.strip() == (
        "error: conf: config file is a directory, not a regular file; pass the file itself, e.g. --config "
        "conf/.llm-gitops.yaml")
    (tmp_path / "a.yaml").symlink_to("b.yaml")
    (tmp_path / "b.yaml").symlink_to("a.yaml")
    assert run_main(["validate-config", "--config", "a.yaml"], monkeypatch, tmp_path) == 2
    assert "a.yaml: config file is a symlink loop" in capsys.readouterr().err


SMOKE_CONFIG = """\
version: 1
eval:
  tasks: [tasks/add_mc.yaml, tasks/add_em.yaml]
image:
  repository: registry.example.com/team/adder
environments:
  staging:
    target: docker
    docker: {{listen: "127.0.0.1:8080"}}
    analysis:
      smoke_eval: {{tasks: [{tasks}]}}
thresholds:
  - {{metric: add_em/exact_match, min: 0.5}}
"""


def test_validate_config_checks_the_smoke_eval_tasks(tmp_path, monkeypatch, capsys):
    import shutil
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "repo-template"
    shutil.copytree(example / "tasks", tmp_path / "tasks")
    shutil.copytree(example / "data" / "eval", tmp_path / "data" / "eval")
    (tmp_path / ".llm-gitops.yaml").write_text(SMOKE_CONFIG.format(tasks="add_em, add_mcc"))
    assert run_main(["validate-config"], monkeypatch, tmp_path) == 2
    err = capsys.readouterr().err
    assert ".llm-gitops.yaml:11: environments.staging.analysis.smoke_eval.tasks[1]: 'add_mcc' is not a task of " \
           "eval.tasks" in err and "did you mean 'add_mc'?" in err
    (tmp_path / ".llm-gitops.yaml").write_text(SMOKE_CONFIG.format(tasks="add_em, add_mc"))
    assert run_main(["validate-config"], monkeypatch, tmp_path) == 0
