"""GitHub Actions glue under act (host mode): workflow -> ./actions/gate -> llm-gitops.

act runs the composite action with bash on this machine, exactly as a self-hosted runner
would: inputs rendered, GITHUB_OUTPUT/GITHUB_STEP_SUMMARY honoured, secrets masked.
Remote actions (actions/checkout, actions/cache) are replaced by local stubs via
--local-repository. The CLI is always the real one of this checkout, installed by the glue's
install script (tests/glue/real_cli.py); the fast tests run it parse-only (GLUE_PARSE_ONLY:
the real parser checks every option the glue passes, nothing runs), the others for real.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.glue.support import (CHECKOUT, GATE_CONFIG, REPO_ROOT, STUBS, clean_env, git_repo, pinned_actions,
                                require_real_gate, run, tool, write_gate_project)

pytestmark = pytest.mark.glue

WORKFLOWS = Path(__file__).parent / "workflows"
TOKEN = "ghs_glue_token_for_tests_0123456789"


def consumer_repo(root: Path, files: dict[str, str] | None = None, models: Path | None = None) -> Path:
    """A repository that uses the actions: actions/ (and the install script they run) from this
    checkout plus the test workflows (and, given `models`, a tiny real gate setup)."""
    repo = root / "consumer"
    (repo / ".github" / "workflows").mkdir(parents=True)
    if models is not None:
        write_gate_project(repo, models)
    shutil.copytree(REPO_ROOT / "actions", repo / "actions")
    shutil.copytree(REPO_ROOT / "jenkins" / "resources", repo / "jenkins" / "resources")
    for workflow in WORKFLOWS.glob("*.yml"):
        shutil.copy(workflow, repo / ".github" / "workflows" / workflow.name)
    for name, text in (files or {}).items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git_repo(repo, remote="https://github.com/acme/models.git")
    return repo


def run_act(root: Path, repo: Path, *, path_first: list[Path], env: dict[str, str], secrets: dict[str, str],
            event: dict, extra_env: dict[str, str] | None = None, event_name: str = "pull_request"):
    """Run the workflows of `repo` triggered by `event_name` under act; return (process, result dir)."""
    results = root / "results"
    results.mkdir(exist_ok=True)
    event_file = root / "event.json"
    event_file.write_text(json.dumps(event))
    cmd = [tool("act"), event_name, "-P", "ubuntu-latest=-self-hosted", "-e", str(event_file),
           "--local-repository", f"{CHECKOUT}={STUBS / 'checkout'}",
           "--env", f"GLUE_SOURCE_DIR={repo}", "--env", f"GLUE_RESULT_DIR={results}"]
    for action in sorted(pinned_actions()):
        cmd += ["--local-repository", f"{action}={STUBS / 'noop'}"]
    for key, value in env.items():
        cmd += ["--env", f"{key}={value}"]
    for key, value in secrets.items():
        cmd += ["-s", f"{key}={value}"]
    proc = run(cmd, env=clean_env(root / "home", *path_first, **(extra_env or {})), cwd=repo, check=False)
    return proc, results


def pr_event(number: int = 7, sha: str = "0" * 40, repo: str = "acme/models") -> dict:
    return {"action": "opened", "number": number,
            "pull_request": {"number": number, "head": {"sha": sha, "ref": "feature", "repo": {"full_name": repo}},
                             "base": {"ref": "main", "repo": {"full_name": repo}}},
            "repository": {"full_name": repo, "name": repo.split("/")[1], "owner": {"login": repo.split("/")[0]}}}


GATE_ENV = {"GLUE_CONFIG": "ci/llm-gitops.yaml", "GLUE_CANDIDATE": "", "GLUE_BASELINE": "models:/adder@production",
            "GLUE_CANDIDATE_RESULTS": "", "GLUE_BASELINE_RESULTS": "", "GLUE_REPORT_TO": "github",
            "GLUE_OUTPUT_DIR": "out/reports"}


PARSE_ONLY = {"GLUE_PARSE_ONLY": "1"}


def test_gate_action_passes_inputs_as_arguments_and_token_as_env(tmp_path, cli):
    repo = consumer_repo(tmp_path)
    hostile = '$(touch pwned); `touch pwned2` "quoted" \'single\''
    proc, results = run_act(tmp_path, repo, path_first=[cli.bin_dir], env={**GATE_ENV, "GLUE_CANDIDATE": hostile},
                            secrets={"GITHUB_TOKEN": TOKEN}, event=pr_event(), extra_env=PARSE_ONLY)
    assert proc.returncode == 0, proc.stdout + proc.stderr  # the real CLI accepted every option
    [call] = cli.calls("gate")
    # The candidate arrives as one argument, byte for byte; the shell ran none of it.
    assert call["argv"] == ["gate", "--config", "ci/llm-gitops.yaml", "--report-to", "github",
                            "--output-dir", "out/reports", "--candidate", hostile,
                            "--baseline", "models:/adder@production"]
    assert not list(tmp_path.rglob("pwned*"))
    # The action's own outputs (GitHub's multi-line form) read back as written.
    assert "::set-output:: results=ci/.llm-gitops/cache\n" in proc.stdout + proc.stderr
    # The token reaches the CLI through the environment only, and act masks it in the log.
    assert call["env"]["GITHUB_TOKEN"] == TOKEN
    assert TOKEN not in proc.stdout + proc.stderr
    assert call["env"]["GITHUB_EVENT_PATH"]


def test_gate_action_passes_lm_eval_results_as_arguments(tmp_path, cli):
    # Models evaluated elsewhere: lm-eval's output for the candidate, the production model's for the baseline.
    repo = consumer_repo(tmp_path)
    env = {**GATE_ENV, "GLUE_BASELINE": "", "GLUE_CANDIDATE_RESULTS": "out/cand dir",
           "GLUE_BASELINE_RESULTS": "results/production"}
    proc, _ = run_act(tmp_path, repo, path_first=[cli.bin_dir], env=env, secrets={"GITHUB_TOKEN": TOKEN},
                      event=pr_event(), extra_env=PARSE_ONLY)
    assert proc.returncode == 0, proc.stdout + proc.stderr  # the real CLI accepted every option
    [call] = cli.calls("gate")
    assert call["argv"] == ["gate", "--config", "ci/llm-gitops.yaml", "--report-to", "github",
                            "--output-dir", "out/reports", "--candidate-results", "out/cand dir",
                            "--baseline-results", "results/production"]


def test_a_failed_gate_fails_the_job_but_still_sets_outputs(tmp_path, cli, glue_tiny_models):
    # A real gate on a random tiny model: an exact-match floor of 0.5 fails.
    repo = consumer_repo(tmp_path, models=glue_tiny_models,
                         files={".llm-gitops.yaml": GATE_CONFIG.replace("min: 0.0", "min: 0.5")})
    env = {**GATE_ENV, "GLUE_CONFIG": ".llm-gitops.yaml", "GLUE_BASELINE": "", "GLUE_REPORT_TO": "none"}
    proc, results = run_act(tmp_path, repo, path_first=[cli.bin_dir], env=env, secrets={"GITHUB_TOKEN": TOKEN},
                            event=pr_event())
    assert proc.returncode != 0
    assert "Job failed" in proc.stdout + proc.stderr
    assert "verdict=fail\n" in (results / "outputs.txt").read_text()


def test_gate_runs_without_a_token_as_on_a_fork(tmp_path, cli, glue_tiny_models):
    # A fork's pull request gets no secrets: the real gate still runs and reports in the job summary.
    repo = consumer_repo(tmp_path, models=glue_tiny_models)
    env = {**GATE_ENV, "GLUE_CONFIG": ".llm-gitops.yaml", "GLUE_BASELINE": "", "GLUE_REPORT_TO": "auto"}
    proc, results = run_act(tmp_path, repo, path_first=[cli.bin_dir], env=env, secrets={}, event=pr_event())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [call] = cli.calls("gate")
    assert not call["env"]["GITHUB_TOKEN"]
    assert "verdict=pass\n" in (results / "outputs.txt").read_text()


def test_a_config_input_with_a_newline_forges_no_step_output(tmp_path, cli):
    # The action writes `results` (a directory derived from the config input) as a step
    # output: with a newline in the input, the old `echo "results=..."` added `verdict=pass`.
    # The one writer of the glue's outputs refuses it before anything is written or run.
    repo = consumer_repo(tmp_path)
    env = {**GATE_ENV, "GLUE_CONFIG": "ci\nverdict=pass/llm-gitops.yaml"}
    proc, results = run_act(tmp_path, repo, path_first=[cli.bin_dir], env=env, secrets={"GITHUB_TOKEN": TOKEN},
                            event=pr_event(), extra_env=PARSE_ONLY)
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0, log
    assert "error: llm-gitops step outputs: the value of output results holds a line break" in log, log[-4000:]
    assert cli.calls("gate") == []  # the gate never ran on the forged config
    # act logs each output it reads from $GITHUB_OUTPUT: none was forged (before: `verdict=pass/...`).
    assert "::set-output:: verdict=pass" not in log and "::set-output:: results=" not in log


@pytest.mark.parametrize("quantize", ["budget", "int8-dynamic", ""])
def test_build_action_quantizes_then_builds_with_options_the_cli_accepts(tmp_path, cli, quantize):
    repo = consumer_repo(tmp_path)
    proc, _ = run_act(tmp_path, repo, path_first=[cli.bin_dir], event_name="push",
                      env={"GLUE_MODEL": "./model dir", "GLUE_QUANTIZE": quantize,
                           "GLUE_REPOSITORY": "registry.invalid/acme/adder"},
                      secrets={}, event={"ref": "refs/heads/main", "after": "1" * 40}, extra_env=PARSE_ONLY)
    assert proc.returncode == 0, proc.stdout + proc.stderr  # the real CLI accepted every option
    model = "./model dir"
    if quantize:
        [q] = cli.calls("quantize")
        method = [] if quantize == "budget" else ["--method", quantize, "--no-budget"]
        assert q["argv"] == ["quantize", "--config", ".llm-gitops.yaml", "--model", model,
                             "--output", ".llm-gitops/quantized", *method]
        model = ".llm-gitops/quantized"
    else:
        assert cli.calls("quantize") == []
    [call] = cli.calls("build")
    argv = call["argv"]
    assert argv[:7] == ["build", "--config", ".llm-gitops.yaml", "--model", model, "--tag", argv[6]]
    assert len(argv[6]) == 40  # the default tag is the commit SHA
    assert argv[7:] == ["--repository", "registry.invalid/acme/adder", "--push"]


@pytest.mark.slow
def test_gate_posts_one_sticky_comment_and_a_status_to_the_github_standin(tmp_path, cli, glue_tiny_models,
                                                                          gate_state_dir):
    # act -> ./actions/gate -> the real CLI (real lm-eval) -> PyGithub -> the stand-in.
    require_real_gate()
    from tests.standins.forge import ForgeStandin

    forge = ForgeStandin.start(kind="github", token=TOKEN)
    try:
        forge.add_repo("acme/models")
        number = forge.add_pull("acme/models", head="retrain", title="Retrain the adder")
        sha = forge.pull("acme/models", number)["head_sha"]
        repo = consumer_repo(tmp_path, models=glue_tiny_models)
        env = {**GATE_ENV, "GLUE_CONFIG": ".llm-gitops.yaml", "GLUE_BASELINE": "", "GLUE_REPORT_TO": "auto",
               "GITHUB_API_URL": forge.url, "GITHUB_REPOSITORY": "acme/models"}
        for attempt in (1, 2):
            proc, results = run_act(tmp_path, repo, path_first=[cli.bin_dir], env=env, secrets={"GITHUB_TOKEN": TOKEN},
                                    event=pr_event(number, sha), extra_env={"LLM_GITOPS_STATE_DIR": str(gate_state_dir)})
            log = proc.stdout + proc.stderr
            assert proc.returncode == 0, log
            assert "verdict=pass" in (results / "outputs.txt").read_text()
            comments = forge.comments("acme/models", number)
            assert len(comments) == 1, (attempt, comments)  # updated in place, not one per run
            assert TOKEN not in log and TOKEN not in comments[0]["body"]
        statuses = forge.statuses("acme/models", sha)
        assert statuses and statuses[-1]["state"] == "success"
    finally:
        forge.stop()


def test_setup_action_pins_torch_first_and_puts_the_command_on_path(tmp_path, fake_python):
    repo = consumer_repo(tmp_path)
    index = "http://127.0.0.1:9/cpu-wheels"
    proc, results = run_act(tmp_path, repo, path_first=[], event_name="workflow_dispatch", event={},
                            env={"GLUE_PYTHON": str(fake_python.exe), "GLUE_TORCH_INDEX": index}, secrets={},
                            extra_env={"FAKE_PYTHON_LOG": str(fake_python.log)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    installs = fake_python.pip_installs()
    assert [args[-3:] if "--index-url" in args else args[-1:] for args in installs] == [
        ["torch==2.13.0", "--index-url", index], ["llm-gitops[eval,forge]==1.2.3"]]
    outputs = (results / "outputs.txt").read_text()
    assert "version=0.0.0+fake\n" in outputs
    # The venv's scripts directory is on PATH for the steps after setup.
    assert any(p.endswith(".llm-gitops/venv/bin") for p in outputs.split("path=")[1].split(":"))


@pytest.mark.slow
def test_build_action_quantizes_builds_and_pushes_to_the_local_registry(tmp_path, cli, glue_tiny_models, engine,
                                                                        wheelhouse):
    # act -> ./actions/build -> the real `llm-gitops quantize` then `llm-gitops build`
    # (installed from this checkout) -> Podman's Docker API -> the local registry.
    import httpx

    config = (f"version: 1\nimage:\n  repository: {engine.registry}/acme/adder\n  base_image: {engine.base_image}\n"
              f"  wheelhouse: {wheelhouse}\n  engine: {engine.docker_host}\n")
    repo = consumer_repo(tmp_path, models=glue_tiny_models, files={".llm-gitops.yaml": config})
    proc, results = run_act(tmp_path, repo, path_first=[cli.bin_dir], event_name="push",
                            env={"GLUE_MODEL": "./models/candidate", "GLUE_QUANTIZE": "int8-dynamic", "GLUE_REPOSITORY": ""},
                            secrets={}, event={"ref": "refs/heads/main", "after": "1" * 40}, extra_env=engine.env)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    [q] = cli.calls("quantize")
    [b] = cli.calls("build")
    assert b["argv"][b["argv"].index("--model") + 1] == ".llm-gitops/quantized"
    outputs = dict(line.split("=", 1) for line in (results / "outputs.txt").read_text().splitlines())
    image, digest = outputs["image"], outputs["digest"]
    assert image.startswith(f"{engine.registry}/acme/adder:") and digest.startswith("sha256:")
    # The registry serves exactly that digest for the tag the action pushed.
    tag = image.rsplit(":", 1)[1]
    head = httpx.head(f"http://{engine.registry}/v2/acme/adder/manifests/{tag}",
                      headers={"Accept": "application/vnd.oci.image.manifest.v1+json, "
                                         "application/vnd.docker.distribution.manifest.v2+json"})
    assert head.status_code == 200 and head.headers["Docker-Content-Digest"] == digest
