"""GitLab glue under gitlab-ci-local: .gitlab-ci.yml -> component or classic include -> llm-gitops.

Jobs run with the shell executor in a throwaway git repository whose templates/ holds
this checkout's components, so `include: component: $CI_SERVER_FQDN/$CI_PROJECT_PATH/
gate@$CI_COMMIT_SHA` resolves to gitlab-templates/templates/gate.yml. Every include is
also run through the input checker, as GitLab itself would reject bad inputs. The CLI is
the real one of this checkout (tests/glue/real_cli.py): parse-only where a test checks what
the glue passes, for real where it checks what the job does.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.glue.support import (GATE_CONFIG, REPO_ROOT, capture_server, clean_env, git_repo, gitlab_ci_local,
                                require_real_gate, run, write_gate_project)

pytestmark = pytest.mark.glue

TOKEN = "glpat-glue-token-for-tests-0123"
JOB_TOKEN = "glcbt-job-token-for-tests-4567"
CHECKER = REPO_ROOT / "gitlab-templates" / "check_inputs.py"
MR_PIPELINE = {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_IID": "4"}
PARSE_ONLY = {"GLUE_PARSE_ONLY": "1"}


def project(root: Path, ci_text: str, files: dict[str, str] | None = None, models: Path | None = None) -> Path:
    repo = root / "project"
    if models is not None:
        write_gate_project(repo, models)
    shutil.copytree(REPO_ROOT / "gitlab-templates" / "templates", repo / "templates")
    shutil.copytree(REPO_ROOT / "gitlab-templates" / "classic", repo / "ci")
    (repo / ".gitlab-ci.yml").write_text(textwrap.dedent(ci_text))
    for name, text in (files or {}).items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git_repo(repo)
    checked = subprocess.run([sys.executable, str(CHECKER), str(repo / ".gitlab-ci.yml"),
                              "--templates", str(repo / "templates")], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    return repo


def run_pipeline(root: Path, repo: Path, *, variables: dict[str, str], path_first: list[Path],
                 extra_env: dict[str, str] | None = None, check: bool = True):
    cmd = [gitlab_ci_local(), "--force-shell-executor", "--shell-isolation", "--no-color"]
    for key, value in variables.items():
        cmd += ["--variable", f"{key}={value}"]
    return run(cmd, env=clean_env(root / "home", *path_first, **(extra_env or {})), cwd=repo, check=check)


def downstream_job(result_file: Path, *names: str) -> str:
    # A later job that reads the dotenv reports, as a deploy job would.
    values = " ".join(f"{n}=${n}" for n in names)
    return f"""
        read-results:
          stage: .post
          script:
            - echo "{values}" > "{result_file}"
    """


def test_gate_component_passes_inputs_the_cli_accepts(tmp_path, cli):
    hostile = "$(touch pwned) `touch pwned2` 'x'"
    repo = project(tmp_path, f"""
        include:
          - component: $CI_SERVER_FQDN/$CI_PROJECT_PATH/gate@$CI_COMMIT_SHA
            inputs:
              stage: test
              job-name: model-gate
              install: false
              config: ci/llm-gitops.yaml
              candidate: "{hostile}"
              report-to: gitlab
    """)
    proc = run_pipeline(tmp_path, repo, path_first=[cli.bin_dir],
                        variables={**MR_PIPELINE, "CI_API_V4_URL": "http://127.0.0.1:9/api/v4", "GITLAB_TOKEN": TOKEN},
                        extra_env=PARSE_ONLY)
    assert "PASS  model-gate" in proc.stdout  # the real CLI accepted every option
    [call] = cli.calls("gate")
    assert call["argv"] == ["gate", "--config", "ci/llm-gitops.yaml", "--report-to", "gitlab",
                            "--output-dir", ".llm-gitops/reports",
                            "--output-env", ".llm-gitops/reports/llm-gitops.env", "--candidate", hostile]
    assert not list(tmp_path.rglob("pwned*"))
    assert call["env"]["GITLAB_TOKEN"] == TOKEN
    assert call["env"]["CI_API_V4_URL"] == "http://127.0.0.1:9/api/v4"
    assert call["env"]["CI_MERGE_REQUEST_IID"] == "4"


@pytest.mark.parametrize("include", [
    """
    include:
      - component: $CI_SERVER_FQDN/$CI_PROJECT_PATH/gate@$CI_COMMIT_SHA
        inputs:
          install: false
          candidate-results: out/cand dir
          baseline-results: results/production
    """,
    """
    include:
      - local: ci/llm-gitops.gitlab-ci.yml
    variables:
      LLM_GITOPS_INSTALL: "false"
      LLM_GITOPS_CANDIDATE_RESULTS: out/cand dir
      LLM_GITOPS_BASELINE_RESULTS: results/production
    """], ids=["component", "classic"])
def test_gate_passes_lm_eval_results_the_cli_accepts(tmp_path, cli, include):
    # Models evaluated elsewhere: lm-eval's output for the candidate, the production model's for the baseline.
    repo = project(tmp_path, include)
    proc = run_pipeline(tmp_path, repo, path_first=[cli.bin_dir], variables=MR_PIPELINE, extra_env=PARSE_ONLY)
    assert "PASS  llm-gitops-gate" in proc.stdout, proc.stdout  # the real CLI accepted every option
    [call] = cli.calls("gate")
    assert call["argv"][-4:] == ["--candidate-results", "out/cand dir", "--baseline-results", "results/production"]


def test_gate_component_runs_only_in_merge_request_pipelines(tmp_path, cli):
    repo = project(tmp_path, """
        include:
          - component: $CI_SERVER_FQDN/$CI_PROJECT_PATH/gate@$CI_COMMIT_SHA
            inputs: {install: false}
        other:
          script: [echo other]
    """)
    proc = run_pipeline(tmp_path, repo, variables={}, path_first=[cli.bin_dir], extra_env=PARSE_ONLY)
    assert "PASS  other" in proc.stdout
    assert "llm-gitops-gate" not in proc.stdout
    assert cli.records() == []


def test_a_failed_gate_fails_the_job_and_keeps_the_report(tmp_path, cli, glue_tiny_models):
    # A real gate on a random tiny model: an exact-match floor of 0.5 fails.
    repo = project(tmp_path, """
        include:
          - component: $CI_SERVER_FQDN/$CI_PROJECT_PATH/gate@$CI_COMMIT_SHA
            inputs: {install: false, report-to: none}
    """, models=glue_tiny_models, files={".llm-gitops.yaml": GATE_CONFIG.replace("min: 0.0", "min: 0.5")})
    proc = run_pipeline(tmp_path, repo, variables=MR_PIPELINE, path_first=[cli.bin_dir], check=False)
    assert proc.returncode != 0
    assert "FAIL  llm-gitops-gate" in proc.stdout
    # artifacts: when: always keeps the report of a failed gate.
    assert list((repo / ".gitlab-ci-local").rglob("report.md"))


@pytest.mark.parametrize("quantize", ["budget", "prune"])
def test_build_component_quantizes_then_builds_with_options_the_cli_accepts(tmp_path, cli, quantize):
    repo = project(tmp_path, f"""
        include:
          - component: $CI_SERVER_FQDN/$CI_PROJECT_PATH/build@$CI_COMMIT_SHA
            inputs:
              install: false
              model: ./model
              quantize: {quantize}
              repository: registry.invalid/acme/adder
              push: false
              before-script: ["echo logging in"]
    """)
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    proc = run_pipeline(tmp_path, repo, variables={}, path_first=[cli.bin_dir], extra_env=PARSE_ONLY)
    assert "PASS  llm-gitops-build" in proc.stdout and "logging in" in proc.stdout
    [q] = cli.calls("quantize")
    method = [] if quantize == "budget" else ["--method", quantize, "--no-budget"]
    assert q["argv"] == ["quantize", "--config", ".llm-gitops.yaml", "--model", "./model",
                         "--output", ".llm-gitops/quantized", *method]
    [call] = cli.calls("build")
    assert call["argv"] == ["build", "--config", ".llm-gitops.yaml", "--model", ".llm-gitops/quantized", "--tag", sha,
                            "--output-env", "llm-gitops-build.env", "--repository", "registry.invalid/acme/adder",
                            "--no-push"]


def test_classic_include_runs_the_real_gate_and_hands_the_verdict_on(tmp_path, cli, glue_tiny_models):
    result = tmp_path / "downstream.txt"
    repo = project(tmp_path, """
        include:
          - local: ci/llm-gitops.gitlab-ci.yml
        variables:
          LLM_GITOPS_INSTALL: "false"
          LLM_GITOPS_REPORT_TO: none
    """ + downstream_job(result, "LLM_GITOPS_VERDICT"), models=glue_tiny_models)
    proc = run_pipeline(tmp_path, repo, variables={**MR_PIPELINE, "GITLAB_TOKEN": TOKEN}, path_first=[cli.bin_dir])
    assert "PASS  llm-gitops-gate" in proc.stdout
    assert "llm-gitops-build" not in proc.stdout  # no LLM_GITOPS_BUILD_MODEL, no build job
    [call] = cli.calls("gate")
    assert call["argv"] == ["gate", "--config", ".llm-gitops.yaml", "--report-to", "none",
                            "--output-dir", ".llm-gitops/reports", "--output-env", ".llm-gitops/reports/llm-gitops.env"]
    assert call["env"]["GITLAB_TOKEN"] == TOKEN
    assert result.read_text().split() == ["LLM_GITOPS_VERDICT=pass"]


def adopt_commit(forge, path: str, iid: int, sha: str) -> None:
    """Make the stand-in's MR head the throwaway repository's commit.

    gitlab-ci-local sets CI_COMMIT_SHA from git (and resolves local components by it, so
    it cannot be overridden); the stand-in only accepts statuses on commits it knows.
    """
    with forge.lock:
        project_state = next(p for p in forge.state["projects"].values() if p["path"] == path)
        mr = project_state["mrs"][str(iid)]
        project_state["commits"][sha] = dict(project_state["commits"][mr["sha"]])
        mr["sha"] = sha


GATE_COMPONENT = """
    include:
      - component: $CI_SERVER_FQDN/$CI_PROJECT_PATH/gate@$CI_COMMIT_SHA
        inputs:
          install: false
"""
GATE_CLASSIC = """
    include:
      - local: ci/llm-gitops.gitlab-ci.yml
    variables:
      LLM_GITOPS_INSTALL: "false"
"""


@pytest.mark.slow
def test_gate_posts_one_note_and_a_status_to_the_gitlab_standin(tmp_path, cli, glue_tiny_models, gate_state_dir):
    # gitlab-ci-local -> the template -> the real CLI (real lm-eval) -> python-gitlab -> the stand-in,
    # first as a component, then as the classic include: the second run updates the same note.
    require_real_gate()
    from tests.standins.forge import ForgeStandin

    forge = ForgeStandin.start(kind="gitlab", token=TOKEN)
    try:
        forge.add_project("acme/models")
        iid = forge.add_merge_request("acme/models", source="retrain", title="Retrain the adder")
        variables = {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_IID": str(iid),
                     "CI_API_V4_URL": f"{forge.url}/api/v4", "GITLAB_TOKEN": TOKEN,
                     "LLM_GITOPS_STATE_DIR": str(gate_state_dir)}
        for run_dir, ci_text in (("component", GATE_COMPONENT), ("classic", GATE_CLASSIC)):
            repo = project(tmp_path / run_dir, ci_text, models=glue_tiny_models)
            sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
            adopt_commit(forge, "acme/models", iid, sha)
            proc = run_pipeline(tmp_path / run_dir, repo, variables=variables, path_first=[cli.bin_dir])
            assert "PASS  llm-gitops-gate" in proc.stdout
            notes = forge.notes("acme/models", iid)
            assert len(notes) == 1, (run_dir, notes)  # updated in place, not one per run
            assert TOKEN not in proc.stdout + proc.stderr and TOKEN not in notes[0]["body"]
            statuses = forge.statuses("acme/models", sha)
            assert statuses and statuses[-1]["state"] == "success", (run_dir, statuses)
    finally:
        forge.stop()


def component_project(root: Path) -> tuple[Path, str]:
    """A git repository of this checkout's package and install script, as the component
    project holds them at a release tag; returns (path, commit SHA)."""
    source = root / "llm-gitops"
    shutil.copytree(REPO_ROOT / "src" / "llm_gitops", source / "src" / "llm_gitops",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO_ROOT / name, source / name)
    shutil.copytree(REPO_ROOT / "jenkins" / "resources", source / "jenkins" / "resources")
    shutil.copytree(REPO_ROOT / "gitlab-templates" / "templates", source / "templates")
    return source, git_repo(source)


@pytest.mark.slow
def test_gate_component_installs_llm_gitops_from_the_component_project_at_ref(tmp_path, glue_tiny_models):
    # No llm-gitops on PATH: the job fetches the component project at `ref` with git, runs its
    # install script on that checkout (a venv, dependencies seen from the test venv), and gates.
    from tests.glue.real_cli import OFFLINE_PIP, seeding_python

    source, sha = component_project(tmp_path)
    python = seeding_python(tmp_path) / "python3"
    repo = project(tmp_path, f"""
        include:
          - component: $CI_SERVER_FQDN/$CI_PROJECT_PATH/gate@$CI_COMMIT_SHA
            inputs:
              source: {source}
              ref: {sha}
              python: {python}
              extras: eval
              report-to: none
    """, models=glue_tiny_models)
    proc = run_pipeline(tmp_path, repo, variables={**MR_PIPELINE, **OFFLINE_PIP}, path_first=[])
    assert "PASS  llm-gitops-gate" in proc.stdout, proc.stdout[-4000:]
    assert "llm-gitops 0.1.0 installed; its command is in " in proc.stdout
    assert "/.llm-gitops/venv/bin" in proc.stdout


def test_the_job_token_goes_to_the_gitlab_instance_only(tmp_path):
    # The install lines fetch the component project from `source` with git: the job token
    # goes with it to URLs under CI_SERVER_URL, and to no other host (a mirror named as the
    # source). Both fetches fail (the servers answer 404); what they were sent is the point.
    # Every template has the same install lines (test_static checks), so the gate's stand for all.
    with capture_server() as instance, capture_server() as mirror:
        repo = project(tmp_path, f"""
            include:
              - component: $CI_SERVER_FQDN/$CI_PROJECT_PATH/gate@$CI_COMMIT_SHA
                inputs:
                  job-name: from-the-instance
                  source: "{instance.url}/gitlab/llm-gitops/llm-gitops.git"
                  ref: v0.1.0
              - component: $CI_SERVER_FQDN/$CI_PROJECT_PATH/gate@$CI_COMMIT_SHA
                inputs:
                  job-name: from-a-mirror
                  source: "{mirror.url}/gitlab/llm-gitops/llm-gitops.git"
                  ref: v0.1.0
              - component: $CI_SERVER_FQDN/$CI_PROJECT_PATH/gate@$CI_COMMIT_SHA
                inputs:
                  job-name: beside-the-instance
                  source: "{instance.url}/gitlab-mirror/llm-gitops.git"
                  ref: v0.1.0
        """)
        proc = run_pipeline(tmp_path, repo, path_first=[], check=False,
                            variables={**MR_PIPELINE, "CI_SERVER_URL": f"{instance.url}/gitlab",
                                       "CI_JOB_TOKEN": JOB_TOKEN})
    log = proc.stdout + proc.stderr
    for job in ("from-the-instance", "from-a-mirror", "beside-the-instance"):
        assert f"FAIL  {job}" in proc.stdout, log[-4000:]  # each job reached its fetch
    basic = "Basic " + base64.b64encode(f"gitlab-ci-token:{JOB_TOKEN}".encode()).decode()
    under = [auth for path, auth in instance.requests if path.startswith("/gitlab/")]
    beside = [auth for path, auth in instance.requests if not path.startswith("/gitlab/")]
    assert under and set(under) == {basic}, instance.requests
    # Another host, and another path of the same host: no Authorization header at all.
    assert mirror.requests and {auth for _, auth in mirror.requests} == {None}, mirror.requests
    assert beside and set(beside) == {None}, instance.requests
    assert JOB_TOKEN not in log and basic.split()[1] not in log


def registry_digest(registry: str, repository: str, tag: str) -> str:
    """The digest the local registry serves for REPOSITORY:TAG."""
    import httpx

    head = httpx.head(f"http://{registry}/v2/{repository}/manifests/{tag}",
                      headers={"Accept": "application/vnd.oci.image.manifest.v1+json, "
                                         "application/vnd.docker.distribution.manifest.v2+json"})
    assert head.status_code == 200, head
    return head.headers["Docker-Content-Digest"]


@pytest.mark.slow
def test_build_component_quantizes_builds_and_pushes_to_the_local_registry(tmp_path, cli, glue_tiny_models, engine,
                                                                           wheelhouse):
    result = tmp_path / "downstream.txt"
    config = (f"version: 1\nimage:\n  repository: {engine.registry}/acme/adder\n  base_image: {engine.base_image}\n"
              f"  wheelhouse: {wheelhouse}\n  engine: {engine.docker_host}\n")
    repo = project(tmp_path, """
        include:
          - component: $CI_SERVER_FQDN/$CI_PROJECT_PATH/build@$CI_COMMIT_SHA
            inputs:
              install: false
              model: ./models/candidate
              quantize: int8-dynamic
    """ + downstream_job(result, "LLM_GITOPS_IMAGE", "LLM_GITOPS_IMAGE_DIGEST"), models=glue_tiny_models,
                   files={".llm-gitops.yaml": config})
    proc = run_pipeline(tmp_path, repo, variables={}, path_first=[cli.bin_dir], extra_env=engine.env)
    assert "PASS  llm-gitops-build" in proc.stdout, proc.stdout[-4000:]
    image, digest = (line.split("=", 1)[1] for line in result.read_text().split())
    assert image.startswith(f"{engine.registry}/acme/adder:")
    assert registry_digest(engine.registry, "acme/adder", image.rsplit(":", 1)[1]) == digest
