"""The deploy and promote glue on all three CI systems, with the real CLI of this checkout.

GitHub: ./actions/deploy and ./actions/promote under act (host mode), driven by
tests/glue/workflows/deploy.yml. GitLab: the deploy and promote components under
gitlab-ci-local. Jenkins: llmGitopsDeploy and llmGitopsPromote in the groovy harness.

Each system gets a parse-only run (the real CLI's parser accepts every flag the glue
passes, nothing runs) and real runs on a small model repo (deploy_project): a deploy of
an environment whose deploy file names no release yet (the CLI's documented "nothing to
deploy", exit 0), a deploy of an unknown environment (exit 2, the job fails), and
`promote --to prod` with the `local` forge (a git repository on disk) after staging has
verified a release: the promotion pull request appears as the branch
llm-gitops/promote-prod holding the release. A deploy that really switches traffic (the
kubernetes target on the API stand-in), through each of the three, is in
test_kube_deploy_glue.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.glue.support import real_cli_available

pytestmark = pytest.mark.glue

TOKEN = "ghs_deploy_glue_token_for_tests_0123"
HOSTILE = "$(touch pwned) `touch pwned2` 'x'"

DEPLOY_CONFIG = """\
version: 1
environments:
  staging: {target: docker}
  prod: {target: docker, requires: staging}
"""


def require_deploy_cli() -> None:
    if not (real_cli_available("deploy") and real_cli_available("promote")):
        pytest.skip("llm-gitops has no deploy/promote commands in this tree yet")


def releases() -> tuple:
    """Two releases: r1 (what staging and prod ran before) and r2 (built after a merge)."""
    from llm_gitops.release.record import GateEvidence, Release

    def release(n: int, em: float) -> Release:
        return Release(image=f"127.0.0.1:5000/acme/adder@sha256:{n:064x}", model_digest=f"sha256:{n:064x}",
                       model_source="./model", quantization="int8-dynamic", source_commit=None,
                       built_at="2026-12-02T00:00:00Z",
                       gate=GateEvidence("sha256:" + "0" * 64, "pass", "pass", {"add_em/exact_match": em}))

    return release(1, 0.95), release(2, 0.98)


def deploy_files(staging: str | None = None, prod: str | None = None) -> dict[str, str]:
    """The files of a model repo with two environments, its releases and deploy files."""
    r1, r2 = releases()
    files = {".llm-gitops.yaml": DEPLOY_CONFIG, ".gitignore": ".llm-gitops/\n",
             "deploy/staging.yaml": f"version: 1\nrelease: {staging or 'null'}\n",
             "deploy/prod.yaml": f"version: 1\nrelease: {prod or 'null'}\n"}
    for release in (r1, r2):
        files[f"deploy/releases/{release.id}.json"] = release.to_json()
    return files


def verify_staging(repo: Path, release_id: str) -> None:
    """What staging's deploy job records once staging runs the release (local forge)."""
    from llm_gitops.deploy.promotion import record_verified
    from llm_gitops.forges.registry import make_forge

    record_verified(make_forge("local"), str(repo), repo, "staging", release_id)


def promoted(repo: Path) -> str:
    """deploy/prod.yaml on the promotion branch the local forge made in `repo`."""
    return subprocess.run(["git", "-C", str(repo), "show", "llm-gitops/promote-prod:deploy/prod.yaml"],
                          capture_output=True, text=True, check=True).stdout


# ------------------------------------------------------------------ GitHub (act)
def dispatch(action: str, **payload: str) -> dict:
    return {"action": action, "client_payload": payload,
            "repository": {"full_name": "acme/models", "name": "models", "owner": {"login": "acme"}}}


def test_deploy_action_passes_inputs_the_cli_accepts(tmp_path, cli):
    from tests.glue.test_act import PARSE_ONLY, consumer_repo, run_act

    repo = consumer_repo(tmp_path)
    proc, _ = run_act(tmp_path, repo, path_first=[cli.bin_dir], event_name="repository_dispatch",
                      event=dispatch("deploy", environment=HOSTILE, forge="none", **{"scale-down": "false"}),
                      env={}, secrets={"GITHUB_TOKEN": TOKEN}, extra_env=PARSE_ONLY)
    assert proc.returncode == 0, proc.stdout + proc.stderr  # the real CLI accepted every option
    [call] = cli.calls("deploy")
    assert call["argv"] == ["deploy", "--config", ".llm-gitops.yaml", "--env", HOSTILE, "--forge", "none",
                            "--no-scale-down"]
    assert not list(tmp_path.rglob("pwned*"))
    assert call["env"]["GITHUB_TOKEN"] == TOKEN  # the environment only, masked in the log
    assert TOKEN not in proc.stdout + proc.stderr
    assert cli.calls("promote") == []


def test_promote_action_passes_inputs_the_cli_accepts(tmp_path, cli):
    from tests.glue.test_act import PARSE_ONLY, consumer_repo, run_act

    repo = consumer_repo(tmp_path)
    proc, _ = run_act(tmp_path, repo, path_first=[cli.bin_dir], event_name="repository_dispatch",
                      event=dispatch("promote", to="prod", forge="github"), env={},
                      secrets={"GITHUB_TOKEN": TOKEN}, extra_env=PARSE_ONLY)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [call] = cli.calls("promote")
    assert call["argv"] == ["promote", "--config", ".llm-gitops.yaml", "--to", "prod", "--base", "main",
                            "--forge", "github"]
    assert call["env"]["GITHUB_TOKEN"] == TOKEN
    assert cli.calls("deploy") == []


def test_deploy_action_runs_the_real_deploy_and_sets_outputs(tmp_path, cli):
    # deploy/staging.yaml names no release yet: the real deploy does nothing and says so (exit 0).
    require_deploy_cli()
    from tests.glue.test_act import consumer_repo, run_act

    repo = consumer_repo(tmp_path, files=deploy_files())
    proc, results = run_act(tmp_path, repo, path_first=[cli.bin_dir], event_name="repository_dispatch",
                            event=dispatch("deploy", environment="staging", forge="auto", **{"scale-down": "true"}),
                            env={"GITHUB_REPOSITORY": "acme/models"}, secrets={"GITHUB_TOKEN": TOKEN})
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log
    assert "deploy/staging.yaml names no release: nothing to deploy" in log
    assert (results / "outputs.txt").read_text() == "release=\naction=none\nrecord=.llm-gitops/deploy-record.json\n"


def test_deploy_action_fails_the_job_on_an_unknown_environment(tmp_path, cli):
    require_deploy_cli()
    from tests.glue.test_act import consumer_repo, run_act

    repo = consumer_repo(tmp_path, files=deploy_files())
    proc, results = run_act(tmp_path, repo, path_first=[cli.bin_dir], event_name="repository_dispatch",
                            event=dispatch("deploy", environment="qa", forge="none", **{"scale-down": "true"}),
                            env={}, secrets={})
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "error: --env qa: no such environment" in log and "use one of: staging, prod" in log
    assert "Traceback" not in log
    assert not (results / "outputs.txt").exists()  # the job stopped at the deploy


BUILD_RECORD = ('{"reference": "127.0.0.1:5999/acme/adder@sha256:' + "1" * 64 + '", '
                '"model": {"digest": "sha256:' + "2" * 64 + '", "source": "./model"}}')


def bare_origin(root: Path, repo: Path) -> Path:
    """Make `repo`'s origin a bare repository on disk holding its main branch (what a push reaches)."""
    origin = root / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    subprocess.run(["git", "-C", str(repo), "remote", "set-url", "origin", str(origin)], check=True)
    subprocess.run(["git", "-C", str(repo), "push", "-q", "origin", "main"], check=True)
    return origin


def origin_file(origin: Path, path: str) -> str:
    return subprocess.run(["git", "-C", str(origin), "show", f"main:{path}"], capture_output=True, text=True,
                          check=True).stdout


def test_deploy_action_records_the_build_as_a_release_and_pushes_it_first(tmp_path, cli):
    # release: true, after a build: `llm-gitops release --env staging` writes the release and
    # deploy/staging.yaml, the action commits and pushes them (here to a bare repository),
    # then deploys - which the real CLI refuses for a release without gate evidence (exit 2).
    require_deploy_cli()
    from tests.glue.test_act import consumer_repo, run_act

    repo = consumer_repo(tmp_path, files={**deploy_files(), ".llm-gitops/build.json": BUILD_RECORD,
                                          ".gitignore": ""})
    origin = bare_origin(tmp_path, repo)
    proc, results = run_act(tmp_path, repo, path_first=[cli.bin_dir], event_name="repository_dispatch",
                            event=dispatch("deploy", environment="staging", forge="none", release="true",
                                           **{"scale-down": "true"}),
                            env={}, secrets={"GITHUB_TOKEN": TOKEN})
    log = proc.stdout + proc.stderr
    [release] = cli.calls("release")
    assert release["argv"] == ["release", "--config", ".llm-gitops.yaml", "--env", "staging"]
    staging = origin_file(origin, "deploy/staging.yaml")
    [release_id] = [word for word in staging.split() if word.startswith("r-")]
    assert "pushed " in log and f"deploy/staging.yaml -> {release_id}" in log, log[-4000:]
    assert origin_file(origin, f"deploy/releases/{release_id}.json")
    subject = subprocess.run(["git", "-C", str(origin), "log", "-1", "--format=%s", "main"], capture_output=True,
                             text=True, check=True).stdout.strip()
    assert subject == f"llm-gitops release: staging -> {release_id}"
    assert TOKEN not in log
    # Then the deploy of that commit ran, and the real CLI decided (a clear one-line refusal
    # without a gate report, or a deploy attempt): either way not a crash.
    [deploy] = cli.calls("deploy")
    assert deploy["argv"][:5] == ["deploy", "--config", ".llm-gitops.yaml", "--env", "staging"]
    assert "Traceback" not in log


def test_deploy_action_sends_the_token_to_its_own_forge_only(tmp_path, cli):
    # The release push carries the token as git's http.<GITHUB_SERVER_URL>/.extraHeader: an
    # origin under the forge gets it, an origin on another host (a mirror) gets no
    # Authorization at all. Both pushes fail (the servers answer 404); what they were sent
    # is the point.
    import base64

    from tests.glue.support import capture_server
    from tests.glue.test_act import consumer_repo, run_act

    require_deploy_cli()
    sent = {}
    with capture_server() as forge, capture_server() as mirror:
        for name, origin in (("forge", f"{forge.url}/acme/models.git"), ("mirror", f"{mirror.url}/acme/models.git")):
            root = tmp_path / name
            repo = consumer_repo(root, files={**deploy_files(), ".llm-gitops/build.json": BUILD_RECORD,
                                              ".gitignore": ""})
            subprocess.run(["git", "-C", str(repo), "remote", "set-url", "origin", origin], check=True)
            proc, _ = run_act(root, repo, path_first=[cli.bin_dir], event_name="repository_dispatch",
                              event=dispatch("deploy", environment="staging", forge="none", release="true",
                                             **{"scale-down": "true"}),
                              env={"GITHUB_SERVER_URL": forge.url}, secrets={"GITHUB_TOKEN": TOKEN})
            log = proc.stdout + proc.stderr
            assert proc.returncode != 0 and "pushed " not in log, log[-4000:]  # the push was tried, and failed
            assert TOKEN not in log, log[-4000:]
        sent = {"forge": list(forge.requests), "mirror": list(mirror.requests)}
    basic = "basic " + base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()  # as the action writes it
    assert sent["forge"] and {auth for _, auth in sent["forge"]} == {basic}, sent
    assert sent["mirror"] and {auth for _, auth in sent["mirror"]} == {None}, sent


def test_promote_action_opens_the_promotion_pull_request(tmp_path, cli):
    # staging runs r2 and its deploy job verified it; promote --to prod opens the pull
    # request (the local forge: a branch plus a record in the repository's git directory).
    require_deploy_cli()
    from tests.glue.test_act import consumer_repo, run_act

    r1, r2 = releases()
    repo = consumer_repo(tmp_path, files=deploy_files(staging=r2.id, prod=r1.id))
    verify_staging(repo, r2.id)
    proc, results = run_act(tmp_path, repo, path_first=[cli.bin_dir], event_name="repository_dispatch",
                            event=dispatch("promote", to="prod", forge="local"), env={}, secrets={})
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log
    assert f"promotion of {r2.id} to prod: pull request #1 opened" in log
    assert "add_em/exact_match: 0.95 -> 0.98 (+0.03)" in log  # the release card's delta
    outputs = (results / "outputs.txt").read_text()
    assert outputs.startswith("pull-request=file://") and outputs.endswith("#pull-1\n"), outputs
    assert r2.id in (results / "promoted-prod.yaml").read_text()


# ------------------------------------------------------------------ GitLab (gitlab-ci-local)
DEPLOY_COMPONENTS = """
    include:
      - component: $CI_SERVER_FQDN/$CI_PROJECT_PATH/deploy@$CI_COMMIT_SHA
        inputs:
          install: false
          job-name: deploy-staging
          environment: staging
          forge: {forge}
          {deploy_extra}
      - component: $CI_SERVER_FQDN/$CI_PROJECT_PATH/promote@$CI_COMMIT_SHA
        inputs:
          install: false
          stage: promote
          job-name: promote-prod
          to: prod
          forge: {promote_forge}
    stages: [deploy, promote]
"""


def gitlab_ci(forge: str = "local", promote_forge: str = "local", deploy_extra: str = "") -> str:
    return DEPLOY_COMPONENTS.format(forge=forge, promote_forge=promote_forge, deploy_extra=deploy_extra)


def test_deploy_and_promote_components_pass_inputs_the_cli_accepts(tmp_path, cli):
    from tests.glue.test_gitlab import PARSE_ONLY, project, run_pipeline

    repo = project(tmp_path, gitlab_ci(forge="none", promote_forge="gitlab",
                                       deploy_extra="promote: true\n          scale-down: false"))
    proc = run_pipeline(tmp_path, repo, path_first=[cli.bin_dir], extra_env=PARSE_ONLY,
                        variables={"CI_PIPELINE_SOURCE": "web", "GITLAB_TOKEN": TOKEN})
    assert "PASS  deploy-staging" in proc.stdout and "PASS  promote-prod" in proc.stdout, proc.stdout[-3000:]
    [deploy] = cli.calls("deploy")
    assert deploy["argv"] == ["deploy", "--config", ".llm-gitops.yaml", "--env", "staging", "--forge", "none",
                              "--promote", "--no-scale-down"]
    assert deploy["env"]["GITLAB_TOKEN"] == TOKEN
    [promote] = cli.calls("promote")
    assert promote["argv"] == ["promote", "--config", ".llm-gitops.yaml", "--to", "prod", "--base", "main",
                               "--forge", "gitlab"]


def test_deploy_and_promote_components_never_run_in_merge_request_pipelines(tmp_path, cli):
    from tests.glue.test_gitlab import MR_PIPELINE, PARSE_ONLY, project, run_pipeline

    repo = project(tmp_path, gitlab_ci() + "    other:\n      stage: deploy\n      script: [echo other]\n")
    proc = run_pipeline(tmp_path, repo, path_first=[cli.bin_dir], extra_env=PARSE_ONLY, variables=MR_PIPELINE)
    assert "PASS  other" in proc.stdout
    assert "deploy-staging" not in proc.stdout and "promote-prod" not in proc.stdout
    assert cli.records() == []


def test_components_deploy_staging_then_open_the_promotion_merge_request(tmp_path, cli):
    # The real CLI in both jobs, in one pipeline (a run started by hand).
    require_deploy_cli()
    from tests.glue.test_gitlab import project, run_pipeline

    r1, r2 = releases()
    repo = project(tmp_path, gitlab_ci(), files=deploy_files(prod=r1.id))
    proc = run_pipeline(tmp_path, repo, path_first=[cli.bin_dir], variables={"CI_PIPELINE_SOURCE": "web"},
                        check=False)
    log = proc.stdout + proc.stderr
    # staging names no release: the deploy does nothing (exit 0); promote then refuses,
    # with its one line, because nothing is deployed upstream (exit 2).
    assert "PASS  deploy-staging" in log and "deploy/staging.yaml names no release: nothing to deploy" in log, log[-4000:]
    assert "FAIL  promote-prod" in log
    assert "error: nothing is deployed in staging" in log and "Traceback" not in log


PROMOTE_COMPONENT = """
    include:
      - component: $CI_SERVER_FQDN/$CI_PROJECT_PATH/promote@$CI_COMMIT_SHA
        inputs:
          install: false
          to: prod
          forge: local
"""


def test_promote_component_opens_the_promotion_merge_request(tmp_path, cli):
    require_deploy_cli()
    from tests.glue.test_gitlab import project, run_pipeline

    r1, r2 = releases()
    repo = project(tmp_path, PROMOTE_COMPONENT, files=deploy_files(staging=r2.id, prod=r1.id))
    verify_staging(repo, r2.id)
    proc = run_pipeline(tmp_path, repo, path_first=[cli.bin_dir], variables={})  # a push to the default branch
    log = proc.stdout + proc.stderr
    assert "PASS  llm-gitops-promote" in log, log[-4000:]
    assert f"promotion of {r2.id} to prod: pull request #1 opened" in log
    # The job ran in gitlab-ci-local's copy of the repository; the local forge's branch is there.
    [build] = [p.parent.parent for p in (repo / ".gitlab-ci-local").rglob(".git/HEAD")
               if p.parent.parent.name == "llm-gitops-promote"]
    assert r2.id in promoted(build)


# ------------------------------------------------------------------ Jenkins (groovy harness)
def model_repo(root: Path, files: dict[str, str]) -> Path:
    from tests.glue.support import git_repo

    root.mkdir(parents=True)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    git_repo(root, remote="https://github.com/acme/models.git")
    return root


def test_jenkins_steps_pass_options_the_cli_accepts_and_lock_the_environment(tmp_path, cli):
    from tests.glue.test_jenkins import run_scenarios, steps

    results = run_scenarios(tmp_path, [
        {"name": "deploy", "step": "llmGitopsDeploy", "env": {"GLUE_PARSE_ONLY": "1"},
         "args": {"install": False, "environment": "staging", "promote": True, "scaleDown": False, "forge": "none",
                  "credentialsId": "forge-token"},
         "credentials": {"forge-token": TOKEN}},
        {"name": "promote", "step": "llmGitopsPromote", "env": {"GLUE_PARSE_ONLY": "1"},
         "args": {"install": False, "to": "prod", "forge": "github", "credentialsId": "forge-token"},
         "credentials": {"forge-token": TOKEN}},
        {"name": "hostile", "step": "llmGitopsDeploy", "args": {"install": False, "environment": HOSTILE}},
        {"name": "no-env", "step": "llmGitopsPromote", "args": {"install": False}},
        {"name": "typo", "step": "llmGitopsDeploy", "args": {"install": False, "environment": "staging", "scaledown": 1}},
    ], cli.bin_dir)
    deploy = results["deploy"]
    assert "error" not in deploy, deploy  # the real CLI accepted every option
    assert steps(deploy, "lock") == [{"step": "lock", "resource": "llm-gitops-deploy-staging"}]
    [sh] = steps(deploy, "sh")
    # Only the library's literals reach the shell; values and the token travel in the environment.
    assert sh["script"] == ('mkdir -p .llm-gitops && llm-gitops deploy --config "$LLM_GITOPS_ARG_CONFIG" --env '
                            '"$LLM_GITOPS_ARG_ENV" --forge "$LLM_GITOPS_ARG_FORGE" --promote --no-scale-down'
                            ' > .llm-gitops/deploy-record.json')
    assert TOKEN not in str(deploy["calls"])
    [call] = cli.calls("deploy")
    assert call["argv"] == ["deploy", "--config", ".llm-gitops.yaml", "--env", "staging", "--forge", "none",
                            "--promote", "--no-scale-down"]
    assert call["env"]["GITHUB_TOKEN"] == TOKEN
    assert "error" not in results["promote"], results["promote"]
    [call] = cli.calls("promote")
    assert call["argv"] == ["promote", "--config", ".llm-gitops.yaml", "--to", "prod", "--base", "main",
                            "--forge", "github"]
    assert results["hostile"]["error"].startswith("llmGitopsDeploy: set environment to a name under environments:")
    assert results["no-env"]["error"].startswith("llmGitopsPromote: set to, the environment to promote into")
    assert results["typo"]["error"].startswith("llmGitopsDeploy: unknown option(s) scaledown; known options: ")
    for name in ("hostile", "no-env", "typo"):
        assert steps(results[name], "sh") == []
    assert not list(tmp_path.rglob("pwned*"))


def test_jenkins_steps_deploy_release_and_promote_with_the_real_cli(tmp_path, cli):
    require_deploy_cli()
    from tests.glue.test_jenkins import run_scenarios, steps

    r1, r2 = releases()
    empty = model_repo(tmp_path / "empty", deploy_files())
    verified = model_repo(tmp_path / "verified", deploy_files(staging=r2.id, prod=r1.id))
    verify_staging(verified, r2.id)
    built = model_repo(tmp_path / "built", {**deploy_files(), ".llm-gitops/build.json": BUILD_RECORD, ".gitignore": ""})
    origin = bare_origin(tmp_path, built)
    results = run_scenarios(tmp_path, [
        {"name": "nothing", "step": "llmGitopsDeploy", "workspace": str(empty),
         "args": {"install": False, "environment": "staging", "forge": "none"}},
        {"name": "promote", "step": "llmGitopsPromote", "workspace": str(verified),
         "args": {"install": False, "to": "prod", "forge": "local"}},
        {"name": "release", "step": "llmGitopsDeploy", "workspace": str(built), "env": {"BRANCH_NAME": "main"},
         "args": {"install": False, "environment": "staging", "forge": "none", "release": True}},
    ], cli.bin_dir)
    nothing = results["nothing"]
    assert nothing.get("returned") == {"release": None, "action": "none", "record": ".llm-gitops/deploy-record.json"}, nothing
    promote = results["promote"]
    assert "error" not in promote, promote
    assert promote["returned"]["pullRequest"].endswith("#pull-1")
    assert r2.id in promoted(verified)
    # release: true pushed the release commit before the deploy ran (which the real CLI may
    # refuse for a release without gate evidence: the step then fails with the exit code).
    release = results["release"]
    commit, deploy = steps(release, "sh")
    assert commit["rc"] == 0 and commit["label"] == "llm-gitops release"
    staging = origin_file(origin, "deploy/staging.yaml")
    [release_id] = [word for word in staging.split() if word.startswith("r-")]
    assert origin_file(origin, f"deploy/releases/{release_id}.json")
    assert deploy["script"].startswith("mkdir -p .llm-gitops && llm-gitops deploy ")
    assert deploy["rc"] == 0 or release["error"].startswith(f"llm-gitops deploy exited with {deploy['rc']}")


# ------------------------------------------------------------------ the example's GitLab pipeline
def example_gitlab_jobs(tmp_path: Path, change: str | None, variables: dict[str, str]) -> list[str]:
    """The jobs gitlab-ci-local puts in the example's pipeline for a push changing `change`
    (relative to origin/main), or for `variables` (e.g. a merge request pipeline)."""
    import shutil

    from tests.glue.support import REPO_ROOT, clean_env, git_repo, gitlab_ci_local, run

    repo = tmp_path / "adder"
    shutil.copytree(REPO_ROOT / "examples" / "repo-template", repo,
                    ignore=shutil.ignore_patterns("model", "model-*", ".llm-gitops", "__pycache__", ".dvc"))
    shutil.copytree(REPO_ROOT / "gitlab-templates" / "templates", repo / "templates")
    ci = (repo / ".gitlab-ci.yml").read_text().replace("$CI_SERVER_FQDN/llm-gitops/llm-gitops/",
                                                       "$CI_SERVER_FQDN/$CI_PROJECT_PATH/")
    (repo / ".gitlab-ci.yml").write_text(ci.replace("@v0.1.0", "@$CI_COMMIT_SHA"))
    git_repo(repo, remote="git@gitlab.example:acme/adder.git")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "update-ref", "refs/remotes/origin/main", "HEAD"], check=True)
    if change is not None:
        with (repo / change).open("a") as fh:
            fh.write("\n# changed\n")
        # (the example has no dvc.lock until `dvc repro`; a team's repository has one)
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-qm", f"change {change}"], check=True)
    cmd = [gitlab_ci_local(), "--list"]
    for key, value in variables.items():
        cmd += ["--variable", f"{key}={value}"]
    proc = run(cmd, env=clean_env(tmp_path / "home"), cwd=repo)
    lines = proc.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("name "))
    return [line.split()[0] for line in lines[header + 1:] if line.strip()]


@pytest.mark.parametrize("change,variables,jobs", [
    # A new model: build, gate the image's model, release to staging and deploy it, promote.
    ("dvc.lock", {}, ["llm-gitops-build", "llm-gitops-gate-release", "llm-gitops-deploy-staging",
                      "llm-gitops-promote"]),
    # A merged promotion: prod's deploy (the promote job then has nothing to do).
    ("deploy/prod.yaml", {}, ["llm-gitops-deploy-prod", "llm-gitops-promote"]),
    ("deploy/staging.yaml", {}, ["llm-gitops-deploy-staging", "llm-gitops-promote"]),
    # A merge request: the gate only, no deploy job and none of its secrets.
    ("deploy/prod.yaml", {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_IID": "3"},
     ["llm-gitops-gate"]),
], ids=["model", "prod", "staging", "merge-request"])
def test_the_example_gitlab_pipeline_deploys_what_changed(tmp_path, change, variables, jobs):
    assert example_gitlab_jobs(tmp_path, change, variables) == jobs


# ------------------------------------------------------------------ the example's GitHub deploy workflow
@pytest.mark.slow
def test_the_example_deploy_workflow_deploys_staging_then_promote_refuses_what_staging_does_not_run(tmp_path):
    # examples/repo-template/.github/workflows/llm-gitops-deploy.yml as written, under act:
    # each job installs llm-gitops from this checkout (the action's own commit) by the one
    # install script; `changes` picks staging (workflow_dispatch), the real deploy has
    # nothing to do (deploy/staging.yaml names no release), and the real promote, talking to
    # the GitHub stand-in with the job's token, refuses: nothing is deployed in staging.
    require_deploy_cli()
    import json
    import shutil

    from tests.glue.real_cli import OFFLINE_PIP, seeding_python
    from tests.glue.support import REPO_ROOT, clean_env, git_repo, run
    from tests.glue.test_example_pipelines import example_act_command
    from tests.standins.forge import ForgeStandin

    repo = tmp_path / "adder"
    (repo / ".github" / "workflows").mkdir(parents=True)
    workflow = repo / ".github" / "workflows" / "llm-gitops-deploy.yml"
    shutil.copy(REPO_ROOT / "examples" / "repo-template" / ".github" / "workflows" / workflow.name, workflow)
    for name, text in deploy_files().items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git_repo(repo, remote="https://github.com/acme/adder.git")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"inputs": {"environment": "staging"},
                                 "repository": {"full_name": "acme/adder", "name": "adder", "owner": {"login": "acme"}}}))
    forge = ForgeStandin.start(kind="github", token=TOKEN)
    try:
        forge.add_repo("acme/adder")
        cmd = example_act_command(repo, event)
        cmd[1] = "workflow_dispatch"
        cmd[cmd.index("-W") + 1] = str(workflow)
        cmd += ["--env", f"GITHUB_API_URL={forge.url}", "--env", "GITHUB_REPOSITORY=acme/adder",
                "-s", f"GITHUB_TOKEN={TOKEN}"]
        for key, value in OFFLINE_PIP.items():
            cmd += ["--env", f"{key}={value}"]
        proc = run(cmd, env=clean_env(tmp_path / "home", seeding_python(tmp_path)), cwd=repo, check=False, timeout=900)
        log = proc.stdout + proc.stderr
        assert "llm-gitops 0.1.0 installed" in log, log[-6000:]
        assert "deploy/staging.yaml names no release: nothing to deploy" in log, log[-6000:]
        assert "Success - Main Deploy staging" in log
        assert "error: nothing is deployed in staging" in log, log[-6000:]
        assert proc.returncode != 0  # the promote job failed, with that one line
        assert "Deploy prod" not in log  # prod's deploy file did not change
        assert forge.pulls("acme/adder") == []
        assert TOKEN not in log
    finally:
        forge.stop()


def test_deploy_component_with_release_pushes_the_release_commit_first(tmp_path, cli):
    # release: true - `llm-gitops release --env staging` on the build record, deploy/
    # committed and pushed with -o ci.skip to the project on CI_SERVER_URL (here a bare
    # repository on disk), then the deploy of it (which the real CLI may refuse for a
    # release without gate evidence: then the job fails, after the push).
    require_deploy_cli()
    from tests.glue.test_gitlab import project, run_pipeline

    repo = project(tmp_path, gitlab_ci(forge="none", deploy_extra="release: true").split("      - component: "
                   "$CI_SERVER_FQDN/$CI_PROJECT_PATH/promote")[0],
                   # the build job's artifact, here in the repository itself
                   files={**deploy_files(), ".llm-gitops/build.json": BUILD_RECORD, ".gitignore": ""})
    server = tmp_path / "server"
    origin = server / "acme" / "models.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    subprocess.run(["git", "-C", str(origin), "config", "receive.advertisePushOptions", "true"], check=True)
    subprocess.run(["git", "-C", str(repo), "push", "-q", str(origin), "main"], check=True)
    proc = run_pipeline(tmp_path, repo, path_first=[cli.bin_dir], check=False,
                        variables={"CI_PIPELINE_SOURCE": "web", "CI_SERVER_URL": f"file://{server}",
                                   "CI_PROJECT_PATH": "acme/models", "GITLAB_TOKEN": TOKEN})
    log = proc.stdout + proc.stderr
    staging = origin_file(origin, "deploy/staging.yaml")
    [release_id] = [word for word in staging.split() if word.startswith("r-")]
    assert f"deploy/staging.yaml -> {release_id}" in log, log[-4000:]
    assert origin_file(origin, f"deploy/releases/{release_id}.json")
    [deploy] = cli.calls("deploy")
    assert deploy["argv"][:5] == ["deploy", "--config", ".llm-gitops.yaml", "--env", "staging"]
    assert TOKEN not in log and "Traceback" not in log
