"""Static checks of the glue: linters pass, inputs never reach a shell script by
interpolation, third-party actions are pinned by SHA, every input is documented."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from tests.glue.support import REPO_ROOT, clean_env, git_repo, run, tool

pytestmark = pytest.mark.glue

ACTIONS = sorted((REPO_ROOT / "actions").glob("*/action.yml"))
EXAMPLE_WORKFLOWS = sorted((REPO_ROOT / "examples" / "repo-template" / ".github" / "workflows").glob("*.yml"))
TEST_WORKFLOWS = sorted((Path(__file__).parent / "workflows").glob("*.yml"))
GITLAB_TEMPLATES = sorted((REPO_ROOT / "gitlab-templates" / "templates").glob("*.yml"))
GITLAB_CLASSIC = REPO_ROOT / "gitlab-templates" / "classic" / "llm-gitops.gitlab-ci.yml"
INSTALL_SCRIPT = REPO_ROOT / "jenkins" / "resources" / "org" / "llmgitops" / "install.sh"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*\b")


def test_the_glue_exists():
    assert {p.parent.name for p in ACTIONS} == {"setup", "gate", "build", "deploy", "promote"}
    assert {p.stem for p in GITLAB_TEMPLATES} == {"gate", "build", "deploy", "promote"}


# ------------------------------------------------------------------ injection rule
def github_script_injections(doc: dict) -> list[str]:
    """Steps whose `run:` interpolates `${{ inputs.* }}` (or any expression) into the script."""
    steps = list(doc.get("runs", {}).get("steps", []) or [])
    for job in (doc.get("jobs") or {}).values():
        steps += job.get("steps", []) or []
    return [step.get("name") or step["run"][:40] for step in steps if "run" in step and "${{" in step["run"]]


def gitlab_script_injections(docs: list[dict]) -> list[str]:
    """Jobs whose script lines interpolate `$[[ inputs.* ]]` (inputs go through variables)."""
    bad = []
    for doc in docs:
        for name, job in (doc or {}).items():
            if isinstance(job, dict):
                for key in ("script", "after_script"):
                    if any("$[[" in str(line) for line in job.get(key, []) or []):
                        bad.append(f"{name}.{key}")
    return bad


@pytest.mark.parametrize("path", [*ACTIONS, *EXAMPLE_WORKFLOWS, *TEST_WORKFLOWS], ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_no_expression_is_interpolated_into_a_github_script(path):
    assert github_script_injections(yaml.safe_load(path.read_text())) == []


@pytest.mark.parametrize("path", [*GITLAB_TEMPLATES, GITLAB_CLASSIC], ids=lambda p: p.name)
def test_no_input_is_interpolated_into_a_gitlab_script(path):
    assert gitlab_script_injections(list(yaml.safe_load_all(path.read_text()))) == []


def test_the_injection_checks_catch_an_injection():
    bad_action = yaml.safe_load("runs:\n  using: composite\n  steps:\n    - run: echo ${{ inputs.x }}\n      shell: bash\n")
    assert github_script_injections(bad_action) == ["echo ${{ inputs.x }}"]
    bad_job = {"j": {"script": ["echo ok", "llm-gitops gate --candidate $[[ inputs.candidate ]]"]}}
    assert gitlab_script_injections([bad_job]) == ["j.script"]


# ------------------------------------------------------------------ pinning
def test_third_party_actions_are_pinned_by_sha_with_a_version_comment():
    uses = []
    for path in [*ACTIONS, *EXAMPLE_WORKFLOWS]:
        for line in path.read_text().splitlines():
            m = re.match(r"^\s*(?:- )?uses:\s*(.+)$", line)
            if m and not m.group(1).startswith("./"):
                uses.append(m.group(1))
    assert uses, "expected third-party actions"
    assert [u for u in uses if not PINNED.match(u)] == []


# ------------------------------------------------------------------ documentation
@pytest.mark.parametrize("path", ACTIONS, ids=lambda p: p.parent.name)
def test_every_action_input_and_output_is_described_and_in_the_readme(path):
    doc = yaml.safe_load(path.read_text())
    readme = (path.parent / "README.md").read_text()
    names = {**doc.get("inputs", {}), **doc.get("outputs", {})}
    assert names
    for name, spec in names.items():
        assert spec.get("description", "").strip(), f"{path.parent.name}: {name} has no description"
        assert f"`{name}`" in readme, f"{path.parent.name}/README.md does not document `{name}`"


@pytest.mark.parametrize("path", GITLAB_TEMPLATES, ids=lambda p: p.name)
def test_every_component_input_is_described_and_in_the_readme(path):
    spec = next(yaml.safe_load_all(path.read_text()))["spec"]["inputs"]
    readme = (REPO_ROOT / "gitlab-templates" / "README.md").read_text()
    for name, item in spec.items():
        assert (item or {}).get("description", "").strip(), f"{path.name}: input {name} has no description"
        assert f"`{name}`" in readme, f"gitlab-templates/README.md does not document `{name}`"


@pytest.mark.parametrize("path", GITLAB_TEMPLATES, ids=lambda p: p.name)
def test_components_have_no_global_keywords(path):
    _, jobs = yaml.safe_load_all(path.read_text())
    global_keywords = {"default", "include", "stages", "variables", "workflow", "image", "services", "cache",
                       "before_script", "after_script"}
    assert not set(jobs) & global_keywords
    assert all(job["stage"] == "$[[ inputs.stage ]]" for job in jobs.values())
    assert all(name.startswith("$[[ inputs.job-name ]]") for name in jobs)


# ------------------------------------------------------------------ linters
def test_actionlint_passes_on_the_workflows_and_the_local_actions_they_use(tmp_path):
    # actionlint checks `uses: ./actions/x` inputs against action.yml, and run: scripts with shellcheck.
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    shutil.copytree(REPO_ROOT / "actions", repo / "actions")
    for wf in [*EXAMPLE_WORKFLOWS, *TEST_WORKFLOWS]:
        shutil.copy(wf, repo / ".github" / "workflows" / wf.name)
    git_repo(repo)
    run([tool("actionlint"), "-shellcheck", tool("shellcheck")], env=clean_env(tmp_path / "home"), cwd=repo)


def test_actionlint_rejects_an_unknown_input_to_a_local_action(tmp_path):
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    shutil.copytree(REPO_ROOT / "actions", repo / "actions")
    wf = yaml.safe_load(TEST_WORKFLOWS[0].read_text().replace("install:", "instal:"))
    (repo / ".github" / "workflows" / "bad.yml").write_text(yaml.safe_dump(wf))
    git_repo(repo)
    proc = run([tool("actionlint")], env=clean_env(tmp_path / "home"), cwd=repo, check=False)
    assert proc.returncode == 1 and "instal" in proc.stdout


def test_jactionlint_passes_on_the_composite_actions_and_workflows(tmp_path):
    # pedantic, less `if:` wrapping (a style choice): injection, shellcheck, pinning,
    # permissions, deprecated runtimes, credentials left in the workspace.
    # The test workflows get the default profile: they are fixtures, not shipped.
    shipped = [str(p) for p in [*ACTIONS, *EXAMPLE_WORKFLOWS]]
    run([tool("jactionlint"), "-p", "pedantic", "-i", "require-expression-wrapping", *shipped],
        env=clean_env(tmp_path / "home"), cwd=REPO_ROOT)
    run([tool("jactionlint"), *map(str, TEST_WORKFLOWS)], env=clean_env(tmp_path / "home"), cwd=REPO_ROOT)


def test_jactionlint_flags_an_input_interpolated_into_a_composite_script(tmp_path):
    bad = tmp_path / "bad" / "action.yml"
    bad.parent.mkdir()
    bad.write_text("name: bad\ndescription: bad\ninputs:\n  x:\n    description: x\nruns:\n  using: composite\n"
                   "  steps:\n    - shell: bash\n      run: echo \"${{ inputs.x }}\"\n")
    proc = run([tool("jactionlint"), str(bad)], env=clean_env(tmp_path / "home"), cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "template-injection" in proc.stdout


def test_shellcheck_passes_on_the_install_script_and_the_gitlab_scripts(tmp_path):
    run([tool("shellcheck"), str(INSTALL_SCRIPT), str(INSTALL_SCRIPT.with_name("release-commit.sh")),
         str(INSTALL_SCRIPT.with_name("step-outputs.sh")), str(REPO_ROOT / "scripts" / "system" / "glue.sh")],
        env=clean_env(tmp_path / "home"), cwd=REPO_ROOT)
    for path in [*GITLAB_TEMPLATES, GITLAB_CLASSIC]:
        for doc in yaml.safe_load_all(path.read_text()):
            for name, job in (doc or {}).items():
                if not isinstance(job, dict) or not (job.get("script") or job.get("before_script")):
                    continue
                lines = [*(job.get("before_script") or []), *(job.get("script") or [])]
                if isinstance(job.get("before_script"), str):  # an input holding the user's own commands
                    lines = list(job.get("script") or [])
                script = "#!/bin/sh\n" + "\n".join(lines) + "\n"
                script_file = tmp_path / f"{path.stem}-{name.replace('$', '').replace('[', '').replace(']', '')}.sh"
                script_file.write_text(script)
                run([tool("shellcheck"), "-s", "sh", str(script_file)], env=clean_env(tmp_path / "home"), cwd=tmp_path)


def test_every_action_runs_the_one_install_script_the_jenkins_library_ships():
    # One script: a Jenkins library can only read its own resources/, so it lives there and
    # the actions run it from their checkout of the repository.
    runs = {path.parent.name: step["run"] for path in ACTIONS
            for step in yaml.safe_load(path.read_text())["runs"]["steps"] if "install.sh" in step.get("run", "")}
    assert sorted(runs) == ["build", "deploy", "gate", "promote", "setup"]
    for action, command in runs.items():
        relative = command.strip('"').removeprefix("$GITHUB_ACTION_PATH/")
        assert (REPO_ROOT / "actions" / action / relative).resolve() == INSTALL_SCRIPT, command
    assert list((REPO_ROOT / "actions").rglob("install.sh")) == []  # no second copy to drift


def gitlab_install_snippet(path: Path) -> str:
    """The script item that fetches llm-gitops at its ref and runs the one install script."""
    for doc in yaml.safe_load_all(path.read_text()):
        for job in (doc or {}).values():
            if isinstance(job, dict):
                for item in [*(job.get("before_script") or []), *(job.get("script") or [])]:
                    if isinstance(item, str) and "install.sh" in item:
                        return item
    raise AssertionError(f"{path.name} runs no install.sh")


def test_gitlab_templates_fetch_and_install_llm_gitops_the_same_way():
    # A GitLab job cannot read a file of the component project: each template fetches the
    # project at its ref and runs the install script from there. The fetch is the same text
    # everywhere, so a fix cannot miss one.
    snippets = {p.name: gitlab_install_snippet(p) for p in [*GITLAB_TEMPLATES, GITLAB_CLASSIC]}
    assert len(set(snippets.values())) == 1, snippets
    snippet = next(iter(snippets.values()))
    assert "bash .llm-gitops/src/jenkins/resources/org/llmgitops/install.sh" in snippet
    assert "pip install" not in snippet  # pip is driven by the install script only


def test_the_glue_writes_github_outputs_and_path_through_its_one_writer():
    # step-outputs.sh refuses a value that could forge a key; an `echo "k=$v" >> "$GITHUB_OUTPUT"`
    # added beside it would bring the injection back.
    writer = INSTALL_SCRIPT.with_name("step-outputs.sh")
    sources = {p: p.read_text() for p in [*ACTIONS, *INSTALL_SCRIPT.parent.glob("*.sh")] if p != writer}
    direct = [str(p.relative_to(REPO_ROOT)) for p, text in sources.items()
              if re.search(r'>>\s*"?\$\{?GITHUB_(OUTPUT|PATH|ENV)', text)]
    assert direct == []
    users = [p.parent.name for p in ACTIONS if "step-outputs.sh" in p.read_text()]
    assert sorted(users) == ["build", "deploy", "gate", "promote", "setup"]
    assert "step-outputs.sh" in INSTALL_SCRIPT.read_text()


def test_gitlab_templates_send_tokens_to_their_instance_only():
    # git's http.extraHeader goes to every URL; http.<url>.extraHeader only to URLs under it.
    for path in [*GITLAB_TEMPLATES, GITLAB_CLASSIC]:
        keys = re.findall(r"GIT_CONFIG_KEY_\d+=(\S+)", path.read_text())
        assert keys, path.name
        assert all(key == '"http.${CI_SERVER_URL%/}/.extraHeader"' for key in keys), (path.name, keys)


def test_github_actions_send_tokens_to_their_forge_only():
    # As above: the release push's header is scoped to GITHUB_SERVER_URL, in every action.
    keys = {path.parent.name: re.findall(r"GIT_CONFIG_KEY_\d+=(\S+)", path.read_text()) for path in ACTIONS}
    assert keys["deploy"], keys
    assert all(key == '"http.${GITHUB_SERVER_URL%/}/.extraHeader"' for found in keys.values() for key in found), keys


def gate_exit_codes() -> set[str]:
    """The exit codes `llm-gitops gate --help` lists."""
    from click.testing import CliRunner

    from llm_gitops.cli import cli

    text = " ".join(CliRunner().invoke(cli, ["gate", "--help"]).output.split())
    section = text.split("Exit codes:", 1)[1].split("Options:", 1)[0]
    codes = set(re.findall(r"(?:^|,)\s*(\d) ", section))
    assert {"0", "1", "2", "3"} <= codes, section
    return codes


def test_the_gate_glue_documents_every_verdict_and_exit_code_of_the_cli():
    from llm_gitops.gate.outcome import VERDICTS

    action = yaml.safe_load((REPO_ROOT / "actions" / "gate" / "action.yml").read_text())
    readme = (REPO_ROOT / "actions" / "gate" / "README.md").read_text()
    jenkins_help = (REPO_ROOT / "jenkins" / "vars" / "llmGitopsGate.txt").read_text()
    jenkins_step = (REPO_ROOT / "jenkins" / "vars" / "llmGitopsGate.groovy").read_text()
    verdict_row = next(line for line in readme.splitlines() if line.startswith("| `verdict` |"))
    for verdict in VERDICTS:
        assert re.search(rf"\b{verdict}\b", action["outputs"]["verdict"]["description"]), verdict
        assert f"`{verdict}`" in verdict_row, verdict
        assert re.search(rf"\b{verdict}\b", jenkins_help.split("echo \"verdict:", 1)[1].split("\n", 1)[0]), verdict
    readme_codes = " ".join(readme.split("Exit codes of the step", 1)[1].split("\n\n", 1)[0].split())
    jenkins_codes = " ".join(jenkins_help.split("Exit codes", 1)[1].split("</p>", 1)[0].split())
    for code in gate_exit_codes():
        assert re.search(rf"(?:\):|,)\s{code} ", readme_codes), (code, readme_codes)
        assert re.search(rf"(?:\):|,)\s{code} ", jenkins_codes), (code, jenkins_codes)
        if int(code) > 1:  # the step's error() names what each error code means
            assert re.search(rf"^\s*{code}: ", jenkins_step, re.M), code


# ------------------------------------------------------------------ deploy and promote
DEPLOY_ACTIONS = ("llm-gitops/llm-gitops/actions/deploy@", "llm-gitops/llm-gitops/actions/promote@", "./actions/deploy",
                  "./actions/promote")
PR_EVENTS = {"pull_request", "pull_request_target", "pull_request_review", "pull_request_review_comment",
             "issue_comment"}


def deploying_jobs(doc: dict) -> dict[str, dict]:
    """The jobs of a workflow that run the deploy or promote action."""
    return {name: job for name, job in (doc.get("jobs") or {}).items()
            if any(str(step.get("uses", "")).startswith(DEPLOY_ACTIONS) for step in job.get("steps") or [])}


def triggers(doc: dict) -> set[str]:
    on = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on:` key as True
    return {on} if isinstance(on, str) else set(on or [])


def reachable_from_pull_requests(doc: dict, name: str) -> bool:
    """A deploying job a pull request event could run: the workflow takes such an event and
    neither the job nor a job it needs is limited to pushes."""
    if not triggers(doc) & PR_EVENTS:
        return False
    jobs = doc["jobs"]
    seen, todo = set(), [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        if "github.event_name == 'push'" in str(jobs[current].get("if", "")):
            return False
        needs = jobs[current].get("needs") or []
        todo += [needs] if isinstance(needs, str) else needs
    return True


def test_deploy_jobs_are_never_reachable_from_pull_requests():
    found = {}
    for path in EXAMPLE_WORKFLOWS:
        doc = yaml.safe_load(path.read_text())
        for name in deploying_jobs(doc):
            found[f"{path.name}:{name}"] = reachable_from_pull_requests(doc, name)
    assert len(found) >= 5, found  # staging (with its release), promote, and the deploy workflow's three
    assert not any(found.values()), found


def test_the_reachability_check_catches_a_deploy_on_pull_requests():
    doc = yaml.safe_load("on: [pull_request, push]\njobs:\n  d:\n    steps:\n      - uses: ./actions/deploy\n")
    assert reachable_from_pull_requests(doc, "d")
    doc["jobs"]["d"]["if"] = "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert not reachable_from_pull_requests(doc, "d")


def test_each_deploy_job_runs_in_its_environment_one_at_a_time_and_is_never_cancelled():
    for path in EXAMPLE_WORKFLOWS:
        doc = yaml.safe_load(path.read_text())
        top = doc.get("concurrency") or {}
        assert top.get("cancel-in-progress") is not True, path.name  # never cancels a running deploy
        for name, job in deploying_jobs(doc).items():
            concurrency = job.get("concurrency") or {}
            assert concurrency.get("cancel-in-progress") is False, (path.name, name)
            for step in job["steps"]:
                if str(step.get("uses", "")).startswith(DEPLOY_ACTIONS[0]):
                    env = step["with"]["environment"]
                    assert job["environment"] == env, (path.name, name)
                    assert concurrency["group"] == f"llm-gitops-deploy-{env}", (path.name, name)
                    assert job["permissions"]["statuses"] == "write" and job["permissions"]["deployments"] == "write"


def test_the_deploy_workflow_deploys_on_changes_of_deploy_files_of_main():
    doc = yaml.safe_load((REPO_ROOT / "examples" / "repo-template" / ".github" / "workflows"
                          / "llm-gitops-deploy.yml").read_text())
    on = doc.get("on", doc.get(True))
    assert on["push"] == {"branches": ["main"], "paths": ["deploy/**"]}
    assert set(on) == {"push", "workflow_dispatch"}
    main = yaml.safe_load((REPO_ROOT / "examples" / "repo-template" / ".github" / "workflows"
                           / "llm-gitops.yml").read_text())
    # Only a model change builds: the release commit (deploy/ only) builds nothing (no loop
    # of releases), nor does any other push to main.
    assert main.get("on", main.get(True))["push"] == {"branches": ["main"], "paths": ["dvc.lock"]}


def gitlab_job(path: Path) -> dict:
    _, jobs = yaml.safe_load_all(path.read_text())
    [job] = jobs.values()
    return job


def test_gitlab_deploy_jobs_lock_their_environment_and_never_run_for_merge_requests():
    templates = REPO_ROOT / "gitlab-templates" / "templates"
    deploy, promote = gitlab_job(templates / "deploy.yml"), gitlab_job(templates / "promote.yml")
    assert deploy["resource_group"] == "llm-gitops-deploy-$[[ inputs.environment ]]"
    assert deploy["environment"] == {"name": "$[[ inputs.environment ]]", "action": "start"}
    assert promote["resource_group"] == "llm-gitops-promote-$[[ inputs.to ]]"
    assert promote["environment"] == {"name": "$[[ inputs.to ]]", "action": "prepare"}
    for job in (deploy, promote):
        assert job["rules"][0] == {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"', "when": "never"}
        assert "interruptible" not in job  # a deploy is never cancelled by a newer pipeline
    assert {"if": '$CI_PIPELINE_SOURCE == "push"', "changes": ["deploy/$[[ inputs.environment ]].yaml"]} \
        in deploy["rules"]


def test_the_jenkins_deploy_step_locks_its_environment_and_the_jenkinsfile_deploys_only_main():
    step = (REPO_ROOT / "jenkins" / "vars" / "llmGitopsDeploy.groovy").read_text()
    assert 'lock(resource: "llm-gitops-deploy-${config.environment}", body)' in step
    jenkinsfile = (REPO_ROOT / "examples" / "repo-template" / "Jenkinsfile").read_text()
    stages = jenkinsfile.split("stage(")[1:]
    deploying = [s for s in stages if "llmGitopsDeploy(" in s or "llmGitopsPromote(" in s]
    assert len(deploying) == 3
    for stage in deploying:
        when = stage.split("steps {")[0]
        assert "branch 'main'" in when and "changeRequest" not in when, stage[:80]
    assert "changeset 'deploy/prod.yaml'" in jenkinsfile and "changeset 'deploy/staging.yaml'" in jenkinsfile
