"""The example repo's deploy files and its commented environments block are valid as shipped."""

from __future__ import annotations

from pathlib import Path

from llm_gitops.config.load import parse_config
from llm_gitops.deploy.desired import load_desired

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "repo-template"


def test_deploy_files_parse_and_name_no_release_yet():
    for env in ("staging", "prod"):
        desired = load_desired(EXAMPLE, env)
        assert desired.state.release is None and desired.state.hold is False


def test_the_commented_environments_block_validates_once_uncommented():
    text = (EXAMPLE / ".llm-gitops.yaml").read_text()
    start = text.index("# image:")
    block = "\n".join(line[2:] if line.startswith("# ") else line for line in text[start:].splitlines())
    config = parse_config(text[:start] + block)
    assert config.environments["prod"].requires == "staging"
    assert config.environments["staging"].analysis.metrics[0].metric == "error_rate"
    assert config.environments["staging"].analysis.smoke_eval.limit == 100
