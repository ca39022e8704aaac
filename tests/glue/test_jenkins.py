"""Jenkins shared library: groovy compiles vars/ and src/, and a harness runs the steps
with pipeline steps stubbed (tests/glue/jenkins/run_scenarios.groovy).

The harness's `sh` really runs the script with bash, with the environment withEnv and
withCredentials would give it, so these tests see what reaches the CLI - and that PR
text and tokens never become part of a shell string. The CLI is the real one of this
checkout (tests/glue/real_cli.py): parse-only where a test checks what the step passes,
for real where it checks what the step does with the result.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.glue.support import GATE_CONFIG, REPO_ROOT, clean_env, java_home, run, tool, write_gate_project

pytestmark = pytest.mark.glue

LIBRARY = REPO_ROOT / "jenkins"
HARNESS = Path(__file__).parent / "jenkins" / "run_scenarios.groovy"
SECRET = "ghp_jenkins_secret_for_tests_0123456789"
HOSTILE = "$(touch pwned) `touch pwned2` \"q\" 'x'; echo"


def groovy_env(tmp_path: Path, *path_first: Path, **extra: str) -> dict[str, str]:
    return clean_env(tmp_path / "home", *path_first, JAVA_HOME=java_home(), **extra)


def run_scenarios(tmp_path: Path, scenarios: list[dict], *path_first: Path, **extra: str) -> dict[str, dict]:
    for sc in scenarios:
        sc.setdefault("workspace", str(tmp_path / "ws" / sc["name"]))
        Path(sc["workspace"]).mkdir(parents=True, exist_ok=True)
    spec, out = tmp_path / "scenarios.json", tmp_path / "results.json"
    spec.write_text(json.dumps(scenarios))
    run([tool("groovy"), "-cp", str(LIBRARY / "src"), str(HARNESS), str(LIBRARY), str(spec), str(out)],
        env=groovy_env(tmp_path, *path_first, **extra), cwd=tmp_path, timeout=120)
    return {r["name"]: r for r in json.loads(out.read_text())}


def steps(result: dict, name: str) -> list[dict]:
    return [c for c in result["calls"] if c["step"] == name]


def test_library_compiles(tmp_path):
    sources = sorted(map(str, [*LIBRARY.glob("src/**/*.groovy"), *LIBRARY.glob("vars/*.groovy")]))
    assert len(sources) >= 5
    run([tool("groovyc"), "-d", str(tmp_path / "classes"), *sources], env=groovy_env(tmp_path), cwd=tmp_path)
    assert (tmp_path / "classes" / "org" / "llmgitops" / "CliArgs.class").exists()
    assert (tmp_path / "classes" / "llmGitopsGate.class").exists()


def test_every_step_has_a_help_page():
    for step in LIBRARY.glob("vars/*.groovy"):
        help_page = step.with_suffix(".txt")
        assert help_page.exists() and help_page.read_text().strip(), f"{help_page.name} missing"


@pytest.fixture(scope="module")
def gate_results(tmp_path_factory, glue_tiny_models):
    from tests.glue.real_cli import recording_cli

    tmp = tmp_path_factory.mktemp("jenkins-gate")
    cli = recording_cli(tmp / "cli")
    failing = GATE_CONFIG.replace("min: 0.0", "min: 0.5")
    scenarios = [
        {"name": "pass", "step": "llmGitopsGate", "env": {"CHANGE_ID": "12", "GLUE_PARSE_ONLY": "1"},
         "args": {"install": False, "candidate": HOSTILE, "baseline": "models:/adder@production",
                  "reportTo": "github", "credentialsId": "forge-token"},
         "credentials": {"forge-token": SECRET}},
        {"name": "real-pass", "step": "llmGitopsGate", "args": {"install": False, "reportTo": "none"}},
        {"name": "results", "step": "llmGitopsGate", "env": {"GLUE_PARSE_ONLY": "1"},
         "args": {"install": False, "reportTo": "none", "candidateResults": "out/cand dir",
                  "baselineResults": "results/production"}},
        {"name": "fail", "step": "llmGitopsGate", "env": {}, "config": failing,
         "args": {"install": False, "reportTo": "none", "credentialsId": "forge-token", "tokenVariable": "GITLAB_TOKEN"},
         "credentials": {"forge-token": SECRET}},
        {"name": "fail-soft", "step": "llmGitopsGate", "config": failing,
         "args": {"install": False, "reportTo": "none", "failBuild": False, "archive": False}},
        {"name": "config-error", "step": "llmGitopsGate",
         "args": {"install": False, "reportTo": "none", "candidate": "./no-such-model", "failBuild": False}},
        # A kept workspace (Jenkins' default) holding an earlier build's passing report.
        {"name": "stale-report", "step": "llmGitopsGate", "stale_report": True,
         "args": {"install": False, "reportTo": "none", "candidate": "./no-such-model", "failBuild": False}},
        # Generation settings HF refuses at generate time: the real evaluation fails as it runs (exit 4).
        {"name": "crash", "step": "llmGitopsGate", "env": {"TMPDIR": str(tmp)},
         "task_edit": ["do_sample: false", "do_sample: true\n  temperature: -1.0"],
         "args": {"install": False, "reportTo": "none", "failBuild": False, "archive": False}},
        {"name": "typo", "step": "llmGitopsGate", "args": {"candiate": "./model"}},
        {"name": "bad-token-variable", "step": "llmGitopsGate", "args": {"tokenVariable": "PATH"}},
    ]
    # One JVM for all scenarios (groovy starts in ~1 s); each has a real gate project.
    for sc in scenarios:
        workspace = tmp / "ws" / sc["name"]
        write_gate_project(workspace, glue_tiny_models)
        if "config" in sc:
            (workspace / ".llm-gitops.yaml").write_text(sc.pop("config"))
        if sc.pop("stale_report", False):
            reports = workspace / ".llm-gitops" / "reports"
            reports.mkdir(parents=True)
            (reports / "report.json").write_text(json.dumps({"schema": "llm-gitops/gate-report/v1", "verdict": "pass"}))
            (reports / "report.md").write_text("✅ **pass** (an earlier build)\n")
        if "task_edit" in sc:
            task = workspace / "tasks" / "add_em.yaml"
            task.write_text(task.read_text().replace(*sc.pop("task_edit")))
        sc["workspace"] = str(workspace)
    results = run_scenarios(tmp, scenarios, cli.bin_dir)
    return results, cli, tmp


def test_gate_passes_values_through_the_environment_only(gate_results):
    results, cli, tmp = gate_results
    result = results["pass"]
    assert "error" not in result, result  # the real CLI accepted every option
    [sh] = steps(result, "sh")
    # The shell string is the library's own literals: no value, no PR text, no token.
    assert sh["script"] == ('llm-gitops gate --config "$LLM_GITOPS_ARG_CONFIG" --candidate "$LLM_GITOPS_ARG_CANDIDATE"'
                            ' --baseline "$LLM_GITOPS_ARG_BASELINE" --report-to "$LLM_GITOPS_ARG_REPORT_TO"'
                            ' --output-dir "$LLM_GITOPS_ARG_OUTPUT_DIR"')
    assert SECRET not in json.dumps(result["calls"])
    # ... and yet the CLI got every value intact, and the token as an environment variable.
    call = next(c for c in cli.calls("gate") if c["cwd"].endswith("/pass"))
    assert call["argv"] == ["gate", "--config", ".llm-gitops.yaml", "--candidate", HOSTILE,
                            "--baseline", "models:/adder@production", "--report-to", "github",
                            "--output-dir", ".llm-gitops/reports"]
    assert call["env"]["GITHUB_TOKEN"] == SECRET
    assert not list(tmp.rglob("pwned*"))
    # The token exists only inside withCredentials, around the CLI call.
    [creds] = steps(result, "withCredentials")
    assert creds["bindings"] == [{"kind": "string", "credentialsId": "forge-token", "variable": "GITHUB_TOKEN"}]
    assert "GITHUB_TOKEN" in sh["scoped"]


def test_gate_passes_lm_eval_results_the_cli_accepts(gate_results):
    # Models evaluated elsewhere: lm-eval's output for the candidate, the production model's for the baseline.
    results, cli, _ = gate_results
    assert "error" not in results["results"], results["results"]  # the real CLI accepted every option
    call = next(c for c in cli.calls("gate") if c["cwd"].endswith("/results"))
    assert call["argv"] == ["gate", "--config", ".llm-gitops.yaml", "--candidate-results", "out/cand dir",
                            "--baseline-results", "results/production", "--report-to", "none",
                            "--output-dir", ".llm-gitops/reports"]


def test_a_real_gate_returns_its_verdict_and_archives_the_report(gate_results):
    results, _, _ = gate_results
    result = results["real-pass"]
    assert "error" not in result, result
    assert steps(result, "readJSON") == [{"step": "readJSON", "file": ".llm-gitops/reports/report.json"}]
    assert steps(result, "archiveArtifacts")[0]["artifacts"] == ".llm-gitops/reports/**"
    assert result["returned"] == {"verdict": "pass", "reportPath": ".llm-gitops/reports/report.md", "exitCode": 0}


def test_a_failed_gate_fails_the_build_unless_told_not_to(gate_results):
    results, cli, _ = gate_results
    assert results["fail"]["error"] == ("llm-gitops gate: the candidate did not pass (verdict: fail); "
                                        "see .llm-gitops/reports/report.md")
    call = next(c for c in cli.calls("gate") if c["cwd"].endswith("/fail"))
    assert call["env"]["GITLAB_TOKEN"] == SECRET and call["env"]["GITHUB_TOKEN"] is None
    soft = results["fail-soft"]
    assert "error" not in soft and soft["returned"]["verdict"] == "fail" and soft["returned"]["exitCode"] == 1
    assert steps(soft, "withCredentials") == [] and steps(soft, "archiveArtifacts") == []


def test_an_error_exit_fails_the_build_saying_what_the_code_means(gate_results):
    # Exit codes above 1 fail the build even with failBuild: false; the message says which
    # of the CLI's codes it is (llm-gitops gate --help): 2 a configuration error, 4 the
    # evaluation failed while it ran (verdict error), each run for real here.
    results, _, _ = gate_results
    assert results["config-error"]["error"] == (
        "llm-gitops gate exited with 2 (a configuration or usage error: a bad config, option, model source or CI "
        "variable, or a forge that refused or could not be reached when reportTo named it explicitly (on a pass)); "
        "see the log above")
    # Exit 2 wrote no report: an earlier build's, left in a kept workspace, is neither read
    # as this build's verdict nor archived as its artifact.
    stale = results["stale-report"]
    assert stale["error"] == results["config-error"]["error"]
    assert steps(stale, "readJSON") == [] and steps(stale, "archiveArtifacts") == []
    assert steps(results["config-error"], "archiveArtifacts") == []
    crash = results["crash"]
    assert crash["error"] == ("llm-gitops gate exited with 4 (the evaluation failed while it ran: verdict error, "
                              "written to .llm-gitops/reports/report.json); see the log above")
    [sh] = steps(crash, "sh")
    assert sh["rc"] == 4
    assert steps(crash, "readJSON") == [{"step": "readJSON", "file": ".llm-gitops/reports/report.json"}]


def test_unknown_options_and_token_variables_are_rejected_before_anything_runs(gate_results):
    results, _, _ = gate_results
    assert results["typo"]["error"].startswith("llmGitopsGate: unknown option(s) candiate; known options: archive, ")
    assert results["bad-token-variable"]["error"] == (
        "llmGitopsGate: tokenVariable must be one of GITHUB_TOKEN, GITLAB_TOKEN, not 'PATH'")
    for name in ("typo", "bad-token-variable"):
        assert steps(results[name], "sh") == []


def test_install_writes_the_library_script_and_pins_torch(tmp_path, cli, fake_python):
    results = run_scenarios(tmp_path, [
        {"name": "install", "step": "llmGitopsGate",
         "args": {"python": str(fake_python.exe), "version": "1.2.3", "extras": "eval,forge", "reportTo": "none"}},
    ], cli.bin_dir, FAKE_PYTHON_LOG=str(fake_python.log), GLUE_PARSE_ONLY="1")
    result = results["install"]
    assert "error" not in result, result
    assert steps(result, "libraryResource") == [{"step": "libraryResource", "resource": "org/llmgitops/install.sh"}]
    install_sh, gate_sh = steps(result, "sh")
    assert install_sh["script"] == "bash .llm-gitops/install.sh"
    venv = str(tmp_path / "ws" / "install" / ".llm-gitops" / "venv")
    assert [c["argv"] for c in fake_python.calls() if c["argv"][:2] == ["-m", "venv"]] == [["-m", "venv", venv]]
    assert [args[-1] for args in fake_python.pip_installs()] == ["torch==2.13.0", "llm-gitops[eval,forge]==1.2.3"]
    # The gate then runs with the venv's bin first on PATH.
    assert "PATH+LLMGITOPS" in gate_sh["scoped"]


@pytest.mark.parametrize("quantize", ["budget", "int8-weight-only"])
def test_build_quantizes_then_builds_with_options_the_cli_accepts(tmp_path, cli, quantize):
    tag = "c0ffee" * 6 + "abcd"
    results = run_scenarios(tmp_path, [
        {"name": "build", "step": "llmGitopsBuild", "env": {"GIT_COMMIT": tag, "GLUE_PARSE_ONLY": "1"},
         "args": {"install": False, "model": "model dir", "quantize": quantize, "push": False,
                  "repository": "registry.invalid/acme/adder"}},
        {"name": "no-model", "step": "llmGitopsBuild", "args": {"install": False}},
        {"name": "no-source", "step": "llmGitopsBuild", "args": {"model": "model", "tag": "t"}},
    ], cli.bin_dir)
    assert "error" not in results["build"], results["build"]  # the real CLI accepted every option
    [q] = cli.calls("quantize")
    method = [] if quantize == "budget" else ["--method", quantize, "--no-budget"]
    assert q["argv"] == ["quantize", "--config", ".llm-gitops.yaml", "--model", "model dir",
                         "--output", ".llm-gitops/quantized", *method]
    [call] = cli.calls("build")
    assert call["argv"] == ["build", "--config", ".llm-gitops.yaml", "--model", ".llm-gitops/quantized",
                            "--repository", "registry.invalid/acme/adder", "--tag", tag,
                            "--output-env", "llm-gitops-build.env", "--no-push"]
    assert results["no-model"]["error"].startswith("llmGitopsBuild: set model")
    # Installing needs to know what: this library's repository and ref, or a release.
    assert results["no-source"]["error"].startswith("llmGitopsSetup: set source and ref")


@pytest.mark.slow
def test_setup_installs_llm_gitops_from_the_library_repository_at_its_ref(tmp_path):
    # source + ref: pip installs the package of that commit of the repository the library
    # comes from (here a local clone of this checkout's package), into the workspace venv.
    from tests.glue.real_cli import OFFLINE_PIP, seeding_python
    from tests.glue.test_gitlab import component_project

    source, sha = component_project(tmp_path)
    python = seeding_python(tmp_path) / "python3"
    results = run_scenarios(tmp_path, [
        {"name": "setup", "step": "llmGitopsSetup",
         "args": {"source": f"file://{source}", "ref": sha, "extras": "eval", "python": str(python)}},
    ], **OFFLINE_PIP)
    result = results["setup"]
    assert "error" not in result, result
    bin_dir = Path(result["returned"])
    assert bin_dir == tmp_path / "ws" / "setup" / ".llm-gitops" / "venv" / "bin"
    proc = run([str(bin_dir / "llm-gitops"), "--version"], env=clean_env(tmp_path / "home"), cwd=tmp_path)
    assert proc.stdout.startswith("llm-gitops, version")
    direct_url = next((bin_dir.parent / "lib").glob("python3*/site-packages/llm_gitops-*.dist-info/direct_url.json"))
    assert sha in direct_url.read_text()  # installed from that commit


@pytest.mark.slow
def test_dvc_pull_fetches_the_model_before_the_gate(tmp_path, cli):
    # The example repo with its model in a DVC remote: dvcPull restores it, each target one
    # argument through the environment; the gate then gets the model (parse-only here).
    from tests.glue.example_repo import dvc_example_repo

    repo = dvc_example_repo(tmp_path)
    results = run_scenarios(tmp_path, [
        {"name": "pull", "step": "llmGitopsGate", "workspace": str(repo), "env": {"GLUE_PARSE_ONLY": "1"},
         "args": {"install": False, "dvcPull": "model", "reportTo": "none", "archive": False}},
    ], cli.bin_dir)
    result = results["pull"]
    assert "error" not in result, result
    pull, gate = steps(result, "sh")
    assert pull["script"] == 'dvc pull "$LLM_GITOPS_DVC_TARGET_0"' and pull["rc"] == 0
    assert (repo / "model" / "model.safetensors").is_file()
    assert gate["script"].startswith("llm-gitops gate ")


@pytest.mark.slow
def test_build_quantizes_builds_and_pushes_to_the_local_registry(tmp_path, cli, glue_tiny_models, engine, wheelhouse):
    from tests.glue.test_gitlab import registry_digest

    workspace = tmp_path / "ws" / "build"
    write_gate_project(workspace, glue_tiny_models)
    (workspace / ".llm-gitops.yaml").write_text(
        f"version: 1\nimage:\n  repository: {engine.registry}/acme/adder\n  base_image: {engine.base_image}\n"
        f"  wheelhouse: {wheelhouse}\n  engine: {engine.docker_host}\n")
    results = run_scenarios(tmp_path, [
        {"name": "build", "step": "llmGitopsBuild", "workspace": str(workspace), "env": {"GIT_COMMIT": "c0ffee" * 6 + "abcd"},
         "args": {"install": False, "model": "models/candidate", "quantize": "int8-dynamic"}},
    ], cli.bin_dir, **engine.env)
    result = results["build"]
    assert "error" not in result, result
    image, digest = result["returned"]["image"], result["returned"]["digest"]
    assert image == f"{engine.registry}/acme/adder:" + "c0ffee" * 6 + "abcd"
    assert registry_digest(engine.registry, "acme/adder", "c0ffee" * 6 + "abcd") == digest
