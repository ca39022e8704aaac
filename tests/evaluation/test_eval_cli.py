"""``llm-gitops eval`` end to end through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm_gitops.cli import main
from tests.evaluation.conftest import write_suite


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def write_config(root: Path, body: str) -> Path:
    path = root / ".llm-gitops.yaml"
    path.write_text("version: 1\n" + body)
    return path


@pytest.fixture(autouse=True)
def _own_state_dir(monkeypatch):
    monkeypatch.delenv("LLM_GITOPS_STATE_DIR", raising=False)


def test_help_documents_schema_and_examples(capsys):
    code, out, _ = run_cli(["eval", "--help"], capsys)
    assert code == 0
    assert "llm-gitops/eval-results/v1" in out and "docs/results-schema.md" in out
    assert "llm-gitops eval --model ./model" in out and "--no-cache" in out


def test_bad_task_fails_before_the_model_is_touched(tmp_path: Path, capsys):
    root = write_suite(tmp_path / "repo")
    (root / "tasks/data/add_em.jsonl").unlink()
    # The model does not exist either: the task error must come first (no model fetch).
    cfg = write_config(root, "models: {candidate: ./no-model}\neval: {tasks: [tasks/add_em.yaml]}\n")
    code, out, err = run_cli(["eval", "--config", str(cfg), "--output", str(tmp_path / "out.json")], capsys)
    assert code == 2
    assert err.startswith("error: eval.tasks[0] (tasks/add_em.yaml)") and "data file" in err
    assert not (tmp_path / "out.json").exists()


def test_missing_model_is_a_usage_error(tmp_path: Path, capsys):
    root = write_suite(tmp_path / "repo")
    cfg = write_config(root, "eval: {tasks: [tasks/add_em.yaml]}\n")
    code, _, err = run_cli(["eval", "--config", str(cfg), "--model", str(tmp_path / "missing")], capsys)
    assert code == 2 and "error:" in err and "missing" in err


def test_no_candidate_and_no_flag(tmp_path: Path, capsys):
    root = write_suite(tmp_path / "repo")
    cfg = write_config(root, "eval: {tasks: [tasks/add_em.yaml]}\n")
    code, _, err = run_cli(["eval", "--config", str(cfg)], capsys)
    assert code == 2 and "models.candidate is not set" in err and "--model" in err


def test_limit_flag_is_validated(tmp_path: Path, capsys):
    cfg = write_config(write_suite(tmp_path / "repo"), "eval: {tasks: [tasks/add_em.yaml]}\n")
    code, _, err = run_cli(["eval", "--config", str(cfg), "--limit", "0"], capsys)
    assert code == 2 and "--limit" in err


def test_eval_writes_results_and_answers_from_cache(tmp_path: Path, tiny_model_dir: Path, capsys):
    root = write_suite(tmp_path / "repo", count=20)
    cfg = write_config(root, f"models: {{candidate: {tiny_model_dir}}}\neval: {{tasks: [tasks/add_mc.yaml], batch_size: 8}}\n")
    out_file = tmp_path / "results" / "eval.json"
    code, out, err = run_cli(["eval", "--config", str(cfg), "--limit", "6", "--output", str(out_file)], capsys)
    assert code == 0, err
    data = json.loads(out_file.read_text())
    assert data["schema"] == "llm-gitops/eval-results/v1"
    assert data["settings"]["limit"] == 6 and data["metrics"]["add_mc/acc"]["n"] == 6
    assert len(data["metrics"]["add_mc/acc"]["samples"]["doc_ids"]) == 6
    assert "add_mc/acc" in out and "[cached]" not in out and "loading model" in err
    assert list((root / ".llm-gitops" / "cache" / "eval").glob("*.json"))

    code, out, err = run_cli(["eval", "--config", str(cfg), "--limit", "6"], capsys)
    assert code == 0 and "[cached]" in out and "loading model" not in err
    default_out = next((root / ".llm-gitops" / "results").glob("eval-*.json"))
    assert json.loads(default_out.read_text())["metrics"] == data["metrics"]

    # --no-cache runs again (and writes no new entry).
    entries = sorted((root / ".llm-gitops" / "cache" / "eval").glob("*.json"))
    code, out, err = run_cli(["eval", "--config", str(cfg), "--limit", "6", "--no-cache", "--output", str(out_file)], capsys)
    assert code == 0 and "[cached]" not in out and "loading model" in err
    assert sorted((root / ".llm-gitops" / "cache" / "eval").glob("*.json")) == entries
