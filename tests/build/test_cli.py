"""``llm-gitops build`` on the command line, where no engine is needed to fail."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.tiny_model import make_tiny_model


def test_unreachable_engine_is_exit_2_one_line_and_writes_nothing(tmp_path):
    model = make_tiny_model(tmp_path / "model")
    (tmp_path / ".llm-gitops.yaml").write_text("version: 1\n")
    outputs = tmp_path / "github_output"
    proc = subprocess.run(
        [sys.executable, "-m", "llm_gitops", "build", "--config", str(tmp_path / ".llm-gitops.yaml"),
         "--model", str(model), "--repository", "127.0.0.1:5999/adder", "--engine", f"unix://{tmp_path}/none.sock",
         "--output-env", str(tmp_path / "build.env")],
        capture_output=True, text=True, env={**os.environ, "GITHUB_OUTPUT": str(outputs)}, timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "cannot reach the container engine" in errors[0]
    assert not outputs.exists() and not (tmp_path / "build.env").exists()
    assert not (tmp_path / ".llm-gitops" / "build.json").exists()
