"""The offline check of `include: component:` inputs (gitlab-templates/check_inputs.py).

gitlab-ci-local accepts unknown component inputs; GitLab does not. This checker closes
that gap for users and for the glue tests.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.glue.support import REPO_ROOT

pytestmark = pytest.mark.glue

CHECKER = REPO_ROOT / "gitlab-templates" / "check_inputs.py"


def check(tmp_path, ci_text: str):
    ci = tmp_path / ".gitlab-ci.yml"
    ci.write_text(textwrap.dedent(ci_text))
    return subprocess.run([sys.executable, str(CHECKER), str(ci)], capture_output=True, text=True)


def test_the_example_repository_passes():
    proc = subprocess.run([sys.executable, str(CHECKER), str(REPO_ROOT / "examples/repo-template/.gitlab-ci.yml")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_an_unknown_input_is_rejected_with_a_suggestion(tmp_path):
    proc = check(tmp_path, """
        include:
          - component: $CI_SERVER_FQDN/acme/llm-gitops/gate@1.0
            inputs:
              candiate: ./model
    """)
    assert proc.returncode == 1
    assert "include[0] component 'gate': unknown input 'candiate' (did you mean 'candidate'?)" in proc.stdout


def test_types_options_and_required_inputs_are_checked(tmp_path):
    proc = check(tmp_path, """
        include:
          - component: gitlab.example/acme/llm-gitops/gate@1.0
            inputs:
              ref: "1.0"
              install: "false"
              report-to: slack
          - component: gitlab.example/acme/llm-gitops/build@1.0
            inputs:
              ref: "1.0"
              push: true
    """)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert any("input 'install' must be a boolean, got string 'false'" in line for line in lines)
    assert any("input 'report-to' is 'slack'; it must be one of auto, gitlab, github, none" in line for line in lines)
    assert any("component 'build': input 'model' is required" in line for line in lines)
    assert len(lines) == 3


def test_other_components_local_includes_and_gitlab_tags_are_left_alone(tmp_path):
    proc = check(tmp_path, """
        include:
          - component: gitlab.example/other/project/lint@2.0
            inputs: {anything: goes}
          - local: ci/extra.yml
          - component: gitlab.example/acme/llm-gitops/gate@1.0
            inputs: {candidate: ./model, install: false}
        .base:
          script: [echo hi]
        job:
          script:
            - !reference [.base, script]
    """)
    assert proc.returncode == 0, proc.stdout
    assert "inputs are valid" in proc.stdout


def test_an_unreadable_file_exits_2(tmp_path):
    proc = subprocess.run([sys.executable, str(CHECKER), str(tmp_path / "missing.yml")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "cannot read" in proc.stderr


def test_the_ref_input_must_match_the_included_ref(tmp_path):
    # The job installs llm-gitops from `ref`: a different ref would run another version.
    proc = check(tmp_path, """
        include:
          - component: gitlab.example/acme/llm-gitops/gate@v0.2.0
            inputs: {ref: v0.1.0}
          - component: gitlab.example/acme/llm-gitops/build@v0.2.0
            inputs: {model: ./model}
          - component: gitlab.example/acme/llm-gitops/gate@v0.2.0
            inputs: {ref: v0.2.0, job-name: second}
          - component: gitlab.example/acme/llm-gitops/gate@v0.2.0
            inputs: {install: false, job-name: third}
    """)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert len(lines) == 2, lines
    assert "include[0] component 'gate': input 'ref' is 'v0.1.0' but the component is included at 'v0.2.0'" in lines[0]
    assert "include[1] component 'build': input 'ref' is required to install llm-gitops" in lines[1]
