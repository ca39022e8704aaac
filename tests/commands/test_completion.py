"""Shell completion, as docs/adoption.md tells users to enable it."""

from __future__ import annotations

import os
import subprocess
import sys

EXE = os.path.join(os.path.dirname(sys.executable), "llm-gitops")


def test_bash_source_prints_a_completion_script():
    proc = subprocess.run([EXE], env={**os.environ, "_LLM_GITOPS_COMPLETE": "bash_source"},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "_llm_gitops_completion()" in proc.stdout and "complete -o nosort -F _llm_gitops_completion llm-gitops" in proc.stdout


def test_the_script_completes_commands_and_options():
    env = {**os.environ, "_LLM_GITOPS_COMPLETE": "bash_complete", "COMP_WORDS": "llm-gitops ga", "COMP_CWORD": "1"}
    proc = subprocess.run([EXE], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "plain,gate" in proc.stdout.splitlines()
    env.update(COMP_WORDS="llm-gitops gate --cand", COMP_CWORD="2")
    proc = subprocess.run([EXE], env=env, capture_output=True, text=True, timeout=60)
    assert "plain,--candidate" in proc.stdout.splitlines()
