"""A tiny gate repository and the CI environments of GitHub Actions and GitLab CI, for
driving ``llm-gitops gate --report-to github|gitlab`` through the real CLI against the
forge stand-ins (and for the event/environment corpora, whose errors come before any
measurement).

The repository holds the example's real task files and a config with one absolute
threshold, so a gate needs no baseline. :func:`fake_measurements` replaces model
resolution and the evaluation (as ``tests/gate/test_cli_gate.py`` does), so a full gate
run takes milliseconds and passes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

REPO_TEMPLATE = Path(__file__).resolve().parents[2] / "examples" / "repo-template"

CONFIG = """\
version: 1
models:
  candidate: ./model
eval:
  tasks: [tasks/add_em.yaml]
  limit: 50
thresholds:
  - metric: add_em/exact_match
    min: 0.5
tracking:
  mlflow:
    enabled: false
report:
  to: none
"""


def gate_repo(root: Path) -> Path:
    """A model repository under ``root/repo`` with the example's task and its data."""
    repo = root / "repo"
    shutil.copytree(REPO_TEMPLATE / "tasks", repo / "tasks")
    shutil.copytree(REPO_TEMPLATE / "data" / "eval", repo / "data" / "eval")
    (repo / ".llm-gitops.yaml").write_text(CONFIG)
    return repo


def pull_request_event(number: int, head_sha: str, repo: str, *, fork: bool = False) -> dict:
    """A GitHub ``pull_request`` event payload, with the fields llm-gitops reads."""
    head_repo = "mallory/" + repo.split("/")[1] if fork else repo
    return {
        "action": "synchronize", "number": number,
        "pull_request": {
            "number": number,
            "head": {"sha": head_sha, "ref": "feature", "repo": {"full_name": head_repo, "fork": fork}},
            "base": {"ref": "main", "repo": {"full_name": repo}},
        },
    }


def github_env(api_url: str, repo: str, event_path: Path, *, token: str | None, event: dict | None = None,
               event_name: str = "pull_request") -> dict[str, str]:
    """GitHub Actions' variables; ``event`` (when given) is written to ``event_path``."""
    if event is not None:
        event_path.write_text(json.dumps(event))
    env = {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": repo, "GITHUB_EVENT_NAME": event_name,
           "GITHUB_EVENT_PATH": str(event_path), "GITHUB_API_URL": api_url, "GITHUB_SERVER_URL": api_url,
           "GITHUB_RUN_ID": "77", "GITHUB_ACTOR": "contributor", "GITHUB_SHA": "f" * 40}
    if token:
        env["GITHUB_TOKEN"] = token
    return env


def gitlab_env(api_url: str, repo: str, iid: int, head_sha: str, project_id: int, *,
               token: str | None) -> dict[str, str]:
    """GitLab CI's variables for a merge request pipeline."""
    env = {"GITLAB_CI": "true", "CI_PROJECT_PATH": repo, "CI_MERGE_REQUEST_IID": str(iid),
           "CI_MERGE_REQUEST_PROJECT_ID": str(project_id), "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": str(project_id),
           "CI_COMMIT_SHA": head_sha, "CI_API_V4_URL": f"{api_url}/api/v4",
           "CI_PIPELINE_URL": f"{api_url}/{repo}/-/pipelines/5"}
    if token:
        env["GITLAB_TOKEN"] = token
    return env


def fake_measurements(monkeypatch, accuracy: float = 0.8) -> list[str]:
    """Replace model resolution and the evaluation; returns the list of models evaluated."""
    from llm_gitops.models.resolved import ResolvedModel
    from tests.gate.factories import eval_results, metric

    evaluated: list[str] = []

    def resolve(config, spec, **kwargs):
        name = Path(spec if isinstance(spec, str) else spec.source).name
        return ResolvedModel(path=Path("/models") / name, digest="sha256:" + name.ljust(64, "0"), source=name,
                             kind="local")

    def run_eval(model, settings, **kwargs):
        evaluated.append(model.source)
        n = int(settings.limit or 50)
        scores = [1.0] * round(accuracy * n) + [0.0] * (n - round(accuracy * n))
        return eval_results(metric("add_em/exact_match", scores), digest=model.digest, source=model.source)

    import llm_gitops.commands.gate as gate_command

    # The gate command resolves its models through command_model (the pre-flight's).
    name = "command_model" if hasattr(gate_command, "command_model") else "resolve_command_model"
    monkeypatch.setattr(gate_command, name, resolve)
    monkeypatch.setattr("llm_gitops.evaluation.runner.run_eval", run_eval)
    return evaluated
