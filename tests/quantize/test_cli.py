"""``llm-gitops quantize`` end to end, in-process through the real entry point."""

from __future__ import annotations

import json

import pytest

from llm_gitops.cli import main
from llm_gitops.models.loader import ARTIFACT_MANIFEST


def _run(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(["quantize", *args])
    out, err = capsys.readouterr()
    return info.value.code, out, err


def test_help_lists_methods_and_examples(capsys):
    code, out, _ = _run(["--help"], capsys)
    assert code == 0
    for method in ("int8-dynamic", "int8-weight-only", "prune", "distill"):
        assert method in out
    assert "Examples:" in out and "--budget 1pt" in out


def test_quantize_without_config_writes_an_artifact(tiny_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no .llm-gitops.yaml here or above: defaults apply
    code, out, err = _run(["--model", str(tiny_dir), "--output", "art", "--method", "prune", "--sparsity", "0.25"], capsys)
    assert code == 0, err
    manifest = json.loads((tmp_path / "art" / ARTIFACT_MANIFEST).read_text())
    assert manifest["method"] == "prune" and manifest["parameters"]["sparsity"] == 0.25
    assert "prune: zeroing 25%" in err  # progress on stderr
    assert out.startswith("prune: ") and manifest["artifact"]["digest"] in out


def test_conv1d_model_exits_2_naming_the_methods_that_apply(gpt2_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(["--model", str(gpt2_dir), "--output", "art"], capsys)
    assert code == 2
    assert "nothing to quantize with int8-dynamic" in err and "prune, distill" in err
    assert len(err.strip().splitlines()) == 1  # one line, no traceback
    assert not (tmp_path / "art").exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--sparsity", "1.5"], "--sparsity 1.5"),
        (["--budget", "lots"], "--budget 'lots'"),
        (["--budget", "1pt"], "eval.tasks is empty"),
        (["--method", "int4"], "Invalid value for '--method'"),
    ],
)
def test_bad_flags_exit_2(tiny_dir, tmp_path, capsys, monkeypatch, flags, message):
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(["--model", str(tiny_dir), "--output", "art", *flags], capsys)
    assert code == 2
    assert message in err
    assert not (tmp_path / "art").exists()


def test_missing_model_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(["--model", "nowhere", "--output", "art"], capsys)
    assert code == 2 and "nowhere" in err


def test_config_budget_applies_unless_no_budget(tiny_dir, tmp_path, capsys, monkeypatch):
    (tmp_path / ".llm-gitops.yaml").write_text("version: 1\nquantize:\n  budget: 1pt\n  methods: [prune]\n")
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(["--model", str(tiny_dir), "--output", "art"], capsys)
    assert code == 2 and "eval.tasks is empty" in err  # the config's budget needs the eval suite
    code, out, err = _run(["--model", str(tiny_dir), "--output", "art", "--no-budget"], capsys)
    assert code == 0, err
    assert out.startswith("prune: ")  # the first of quantize.methods
    assert (tmp_path / "art" / ARTIFACT_MANIFEST).is_file()
