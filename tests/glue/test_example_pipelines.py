"""The example repository's own pipelines, run as a team that copied it would run them.

A fresh git repository made from examples/repo-template/ (its model in a DVC remote, see
example_repo.py) runs its real pipeline file - the GitHub workflow under act - with the
glue pinned to this checkout: the action installs llm-gitops from its own checkout (this
repository) by the one install script, pulls the model with DVC, gates it with real
lm-eval, and posts its comment and status to the forge stand-in.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
from pathlib import Path

import pytest

from tests.glue.real_cli import OFFLINE_PIP, seeding_python
from tests.glue.support import CHECKOUT, REPO_ROOT, STUBS, clean_env, require_real_gate, run, tool

pytestmark = [pytest.mark.glue, pytest.mark.slow]

TOKEN = "ghs_example_token_for_tests_0123456789"
WORKFLOW = REPO_ROOT / "examples" / "repo-template" / ".github" / "workflows" / "llm-gitops.yml"


def example_act_command(repo: Path, event_file: Path, glue_root: Path = REPO_ROOT) -> list[str]:
    """act running the example workflow with every remote action mapped to something local:
    llm-gitops' own actions to this checkout (or `glue_root`), the third-party ones to stubs."""
    cmd = [tool("act"), "pull_request", "-W", str(repo / ".github" / "workflows" / "llm-gitops.yml"),
           "-P", "ubuntu-24.04=-self-hosted", "-e", str(event_file),
           "--env", f"GLUE_SOURCE_DIR={repo}"]
    for uses in sorted(set(re.findall(r"uses:\s*([\w.-]+/[\w.-]+)(?:/[\w./-]+)?@([0-9a-f]{40})", WORKFLOW.read_text()))
                       | set(re.findall(r"uses:\s*([\w.-]+/[\w.-]+)@([0-9a-f]{40})",
                                        "\n".join(p.read_text() for p in (REPO_ROOT / "actions").glob("*/action.yml"))))):
        repo_name, sha = uses
        key = f"{repo_name}@{sha}"
        if repo_name == "llm-gitops/llm-gitops":
            target = glue_root
        elif key == CHECKOUT:
            target = STUBS / "checkout"
        else:
            target = STUBS / "noop"
        cmd += ["--local-repository", f"{key}={target}"]
    return cmd


def example_job_command(root: Path, repo: Path, forge_url: str, number: int, sha: str,
                        glue_root: Path = REPO_ROOT) -> list[str]:
    """act running the example's gate job on a pull_request event of acme/adder, posting to
    the stand-in at `forge_url`, pip offline (dependencies come from the test venv)."""
    event = {"action": "opened", "number": number,
             "pull_request": {"number": number, "head": {"sha": sha, "ref": "retrain", "repo": {"full_name": "acme/adder"}},
                              "base": {"ref": "main", "repo": {"full_name": "acme/adder"}}},
             "repository": {"full_name": "acme/adder", "name": "adder", "owner": {"login": "acme"}}}
    event_file = root / "event.json"
    event_file.write_text(json.dumps(event))
    cmd = example_act_command(repo, event_file, glue_root)
    cmd += ["--env", f"GITHUB_API_URL={forge_url}", "--env", "GITHUB_REPOSITORY=acme/adder", "-s", f"GITHUB_TOKEN={TOKEN}"]
    for key, value in OFFLINE_PIP.items():
        cmd += ["--env", f"{key}={value}"]
    return cmd


@contextlib.contextmanager
def adder_pull_request(head_sha: str | None = None):
    """The GitHub stand-in holding acme/adder with one open pull request (its head
    ``head_sha``, when given); yields (stand-in, number, head sha)."""
    from tests.standins.forge import ForgeStandin

    forge = ForgeStandin.start(kind="github", token=TOKEN)
    try:
        forge.add_repo("acme/adder")
        number = forge.add_pull("acme/adder", head="retrain", title="Retrain the adder", head_sha=head_sha)
        yield forge, number, forge.pull("acme/adder", number)["head_sha"]
    finally:
        forge.stop()


def run_example_job(tmp_path: Path, repo: Path, forge_url: str, number: int, sha: str):
    cmd = example_job_command(tmp_path, repo, forge_url, number, sha)
    return run(cmd, env=clean_env(tmp_path / "home", seeding_python(tmp_path)), cwd=repo, check=False, timeout=900)


def test_the_example_workflow_pulls_the_model_gates_it_and_posts(tmp_path):
    require_real_gate()
    from tests.glue.example_repo import dvc_example_repo

    repo = dvc_example_repo(tmp_path)
    with adder_pull_request() as (forge, number, sha):
        proc = run_example_job(tmp_path, repo, forge.url, number, sha)
        log = proc.stdout + proc.stderr
        # The action installed this checkout's package by the one install script, and DVC
        # pulled the model the PR's dvc.lock names; then the real gate decided.
        assert "llm-gitops 0.1.0 installed" in log, log[-6000:]
        assert "Success - Main Pull the models with DVC" in log, log[-6000:]
        assert "eval: running add_em" in log or "add_em" in log
        # The verdict is the real gate's on this (shared, noisy) machine - the example's
        # latency ceiling may or may not hold - so the test checks that what was posted
        # agrees with how the job ended, not which verdict it was.
        [comment] = forge.comments("acme/adder", number)
        assert TOKEN not in comment["body"] and TOKEN not in log
        assert "no baseline yet" in comment["body"]  # the first model: relative checks skipped
        [status] = [s for s in forge.statuses("acme/adder", sha) if s["context"] == "llm-gitops/gate"][-1:]
        expected = "success" if proc.returncode == 0 else "failure"
        assert status["state"] == expected, (status, log[-3000:])


def test_the_example_gitlab_pipeline_installs_from_the_component_project_and_gates(tmp_path):
    # The example's .gitlab-ci.yml as written, except that the components resolve to this
    # project (gitlab-ci-local reads local components only); the component project (this
    # checkout's package at tag v0.1.0) is fetched over file:// from CI_SERVER_URL.
    require_real_gate()
    from tests.glue.example_repo import dvc_example_repo
    from tests.glue.support import gitlab_ci_local
    from tests.glue.test_gitlab import component_project
    from tests.standins.forge import ForgeStandin

    server = tmp_path / "server"
    source, _ = component_project(server / "llm-gitops")
    (server / "llm-gitops" / "llm-gitops").rename(server / "llm-gitops" / "llm-gitops.git")
    run(["git", "-C", str(server / "llm-gitops" / "llm-gitops.git"), "tag", "v0.1.0"], env=clean_env(tmp_path / "h"),
        cwd=tmp_path)
    name = "adder"
    repo = dvc_example_repo(tmp_path, remote=f"git@gitlab.example:acme/{name}.git")
    ci = (repo / ".gitlab-ci.yml").read_text().replace("$CI_SERVER_FQDN/llm-gitops/llm-gitops/", "$CI_SERVER_FQDN/$CI_PROJECT_PATH/")
    ci = ci.replace("@v0.1.0", "@$CI_COMMIT_SHA")
    (repo / ".gitlab-ci.yml").write_text(ci)
    shutil.copytree(REPO_ROOT / "gitlab-templates" / "templates", repo / "templates")
    run(["git", "add", "-A"], env={**clean_env(tmp_path / "h"), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x",
                                   "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x"}, cwd=repo)
    run(["git", "commit", "-q", "-m", "components"], env={**clean_env(tmp_path / "h"), "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x"}, cwd=repo)
    sha = run(["git", "rev-parse", "HEAD"], env=clean_env(tmp_path / "h"), cwd=repo).stdout.strip()
    forge = ForgeStandin.start(kind="gitlab", token=TOKEN)
    try:
        forge.add_project(f"acme/{name}")
        iid = forge.add_merge_request(f"acme/{name}", source="retrain", title="Retrain the adder")
        from tests.glue.test_gitlab import adopt_commit

        adopt_commit(forge, f"acme/{name}", iid, sha)
        variables = {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_IID": str(iid),
                     "CI_API_V4_URL": f"{forge.url}/api/v4", "GITLAB_TOKEN": TOKEN, "CI_SERVER_URL": f"file://{server}",
                     # links in the comment stay http(s), as on a real instance
                     "CI_PIPELINE_URL": "https://gitlab.example/acme/adder/-/pipelines/1",
                     "CI_JOB_URL": "https://gitlab.example/acme/adder/-/jobs/1",
                     "CI_PROJECT_URL": "https://gitlab.example/acme/adder",
                     "LLM_GITOPS_TORCH_INDEX_URL": "", **OFFLINE_PIP}
        cmd = [gitlab_ci_local(), "--force-shell-executor", "--shell-isolation", "--no-color", "llm-gitops-gate"]
        for key, value in variables.items():
            cmd += ["--variable", f"{key}={value}"]
        python = seeding_python(tmp_path)
        proc = run(cmd, env=clean_env(tmp_path / "home", python), cwd=repo, check=False, timeout=900)
        log = proc.stdout + proc.stderr
        assert "Installing llm-gitops[eval,forge,tracking,dvc] @ " not in log  # not from an index or git URL
        # A fresh install from the component project's checkout at v0.1.0.
        assert re.search(r"Installing /\S+/\.llm-gitops/src\[eval,forge,tracking,dvc\]", log), log[-5000:]
        assert "llm-gitops 0.1.0 installed" in log, log[-5000:]
        notes = forge.notes(f"acme/{name}", iid)
        assert len(notes) == 1, log[-5000:]
        note = notes[0]
        assert TOKEN not in note["body"] and TOKEN not in log
        assert "no baseline yet" in note["body"]
        expected = "success" if "PASS  llm-gitops-gate" in log else "failed"
        statuses = forge.statuses(f"acme/{name}", sha)
        assert statuses and statuses[-1]["state"] == expected, (statuses, log[-3000:])
    finally:
        forge.stop()


def test_the_example_jenkinsfile_gate_stage_installs_from_source_at_ref_and_gates(tmp_path):
    # The Jenkinsfile's Gate stage, step for step, in the Jenkins harness (no Jenkins can run
    # here): llmGitopsGate(LLM_GITOPS + [...]) with the options the Jenkinsfile passes, the
    # library repository (this checkout's package, tagged v0.1.0) as `source`.
    require_real_gate()
    from tests.glue.example_repo import dvc_example_repo
    from tests.glue.test_gitlab import component_project
    from tests.glue.test_jenkins import run_scenarios, steps

    jenkinsfile = (REPO_ROOT / "examples" / "repo-template" / "Jenkinsfile").read_text()
    for option in ("llmGitopsGate(LLM_GITOPS + [", "reportTo: 'github'", "credentialsId: 'llm-gitops-forge-token'",
                   "dvcPull: 'model'", "ref: 'v0.1.0'"):
        assert option in jenkinsfile, option
    source, _ = component_project(tmp_path)
    run(["git", "-C", str(source), "tag", "v0.1.0"], env=clean_env(tmp_path / "h"), cwd=tmp_path)
    repo = dvc_example_repo(tmp_path)
    # A change build: the gate asks the forge for the PR's head, which must be the checkout.
    head = run(["git", "-C", str(repo), "rev-parse", "HEAD"], env=clean_env(tmp_path / "h"), cwd=tmp_path).stdout.strip()
    with adder_pull_request(head_sha=head) as (forge, number, sha):
        env = {"JENKINS_URL": "http://127.0.0.1:9/", "BUILD_URL": "http://127.0.0.1:9/job/adder/PR-1/1/",
               "CHANGE_ID": str(number), "CHANGE_URL": f"https://github.com/acme/adder/pull/{number}",
               "CHANGE_TARGET": "main", "GIT_COMMIT": sha, "LLM_GITOPS_GITHUB_API_URL": forge.url}
        args = {"source": f"file://{source}", "ref": "v0.1.0", "config": ".llm-gitops.yaml", "reportTo": "github",
                "credentialsId": "llm-gitops-forge-token", "dvcPull": "model"}
        results = run_scenarios(tmp_path, [
            {"name": "gate", "step": "llmGitopsGate", "workspace": str(repo), "env": env, "args": args,
             "credentials": {"llm-gitops-forge-token": TOKEN}},
        ], seeding_python(tmp_path), **OFFLINE_PIP)
        result = results["gate"]
        install, pull, gate = steps(result, "sh")
        assert install["rc"] == 0 and pull["rc"] == 0 and gate["rc"] in (0, 1), result
        assert (repo / ".llm-gitops" / "venv" / "bin" / "llm-gitops").is_file()
        [comment] = forge.comments("acme/adder", number)
        assert TOKEN not in comment["body"] and "no baseline yet" in comment["body"]
        [status] = [s for s in forge.statuses("acme/adder", sha) if s["context"] == "llm-gitops/gate"][-1:]
        assert status["state"] == ("success" if gate["rc"] == 0 else "failure")
        if gate["rc"] == 0:
            assert result["returned"]["verdict"] == "pass"
        else:  # failBuild: a failed gate fails the build
            assert result["error"].startswith("llm-gitops gate: the candidate did not pass")
