"""A real blue/green deploy through each CI system's deploy glue, traffic really switched.

The same scenario on all three systems (GitHub ./actions/deploy under act, the GitLab deploy
component under gitlab-ci-local, Jenkins llmGitopsDeploy in the groovy harness), each
running the real CLI of this checkout: staging is a `kubernetes` environment on the
Kubernetes API stand-in (tests/standins/kube.py, the official client against it on
loopback), already running release r1 on blue; deploy/staging.yaml names r2. The job finds
the cluster through $KUBECONFIG, as a CI job given a kubeconfig secret file does.

- First run: green is applied with r2's image, the Service's selector moves blue -> green,
  blue is removed (scale_down_delay 0), and what the glue exposes (outputs, returned map,
  artifact) names r2 and "deployed".
- Second run: nothing to do; the cluster sees no write but the deploy lock (a Lease).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.glue.test_deploy_glue import deploy_files, releases, require_deploy_cli

pytestmark = pytest.mark.glue

NAMESPACE, NAME = "glue", "adder"
KUBE_CONFIG = f"""\
version: 1
environments:
  staging:
    target: kubernetes
    scale_down_delay: 0
    analysis: {{smoke_requests: 0}}
    kubernetes: {{namespace: {NAMESPACE}, name: {NAME}}}
  prod: {{target: docker, requires: staging}}
"""


@dataclass(frozen=True)
class Staging:
    """The cluster staging runs on, the kubeconfig that reaches it, and the repo's files."""

    cluster: object
    kubeconfig: Path
    files: dict[str, str]


@dataclass(frozen=True)
class Exposed:
    """What a glue run exposes: the release and action it reports, the deploy record, its log."""

    release: str | None
    action: str | None
    record: dict
    log: str


@contextmanager
def kube_staging(root: Path) -> Iterator[Staging]:
    """The stand-in cluster with staging running r1 on blue (deployed by the real CLI from a
    scratch checkout), and the files of a model repo whose deploy/staging.yaml names r2."""
    from tests.standins.kube import kube_cluster, write_kubeconfig

    r1, r2 = releases()
    with kube_cluster() as (cluster, url):
        (root / "kube").mkdir()
        kubeconfig = write_kubeconfig(root / "kube" / "config", url)  # outside the repo, as a CI secret file is
        before = root / "before"
        for name, text in {**deploy_files(staging=r1.id), ".llm-gitops.yaml": KUBE_CONFIG}.items():
            (before / name).parent.mkdir(parents=True, exist_ok=True)
            (before / name).write_text(text)
        proc = subprocess.run([sys.executable, "-m", "llm_gitops", "deploy", "--env", "staging", "--forge", "none"],
                              cwd=before, env={"PATH": "/usr/bin:/bin", "HOME": str(root),
                                               "KUBECONFIG": str(kubeconfig)},
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert selector_colour(cluster) == "blue"
        yield Staging(cluster, kubeconfig, {**deploy_files(staging=r2.id), ".llm-gitops.yaml": KUBE_CONFIG})


def selector_colour(cluster) -> str:
    return cluster.get("services", NAMESPACE, NAME)["spec"]["selector"]["io.llm-gitops/colour"]


# ------------------------------------------------------------------ one deploy run per system
def github_runner(root: Path, cli, staging: Staging) -> Callable[[], Exposed]:
    from tests.glue.test_act import consumer_repo, run_act
    from tests.glue.test_deploy_glue import dispatch

    repo = consumer_repo(root, files=staging.files)

    def deploy() -> Exposed:
        proc, results = run_act(root, repo, path_first=[cli.bin_dir], event_name="repository_dispatch",
                                event=dispatch("deploy", environment="staging", forge="none", **{"scale-down": "true"}),
                                env={"KUBECONFIG": str(staging.kubeconfig)}, secrets={})
        log = proc.stdout + proc.stderr
        assert proc.returncode == 0, log[-4000:]
        outputs = dict(line.split("=", 1) for line in (results / "outputs.txt").read_text().splitlines())
        assert outputs["record"] == ".llm-gitops/deploy-record.json"
        return Exposed(outputs["release"], outputs["action"], json.loads((results / "deploy-record.json").read_text()),
                       log)

    return deploy


def gitlab_runner(root: Path, cli, staging: Staging) -> Callable[[], Exposed]:
    from tests.glue.test_deploy_glue import gitlab_ci
    from tests.glue.test_gitlab import project, run_pipeline

    deploy_only = gitlab_ci(forge="none").split("      - component: $CI_SERVER_FQDN/$CI_PROJECT_PATH/promote")[0]
    repo = project(root, deploy_only, files=staging.files)

    def deploy() -> Exposed:
        proc = run_pipeline(root, repo, path_first=[cli.bin_dir], check=False,
                            variables={"CI_PIPELINE_SOURCE": "web", "KUBECONFIG": str(staging.kubeconfig)})
        log = proc.stdout + proc.stderr
        assert proc.returncode == 0 and "PASS  deploy-staging" in log, log[-4000:]
        # The job's artifact: the deploy record it printed.
        build = repo / ".gitlab-ci-local" / "builds" / "deploy-staging"
        record = json.loads((build / "llm-gitops-deploy.json").read_text())
        return Exposed(record["release"], record["action"], record, log)

    return deploy


def jenkins_runner(root: Path, cli, staging: Staging) -> Callable[[], Exposed]:
    from tests.glue.test_deploy_glue import model_repo
    from tests.glue.test_jenkins import run_scenarios

    repo = model_repo(root / "workspace", staging.files)

    def deploy() -> Exposed:
        results = run_scenarios(root, [{"name": "deploy", "step": "llmGitopsDeploy", "workspace": str(repo),
                                        "env": {"KUBECONFIG": str(staging.kubeconfig)},
                                        "args": {"install": False, "environment": "staging", "forge": "none"}}],
                                cli.bin_dir)
        result = results["deploy"]
        assert "error" not in result, result
        returned = result["returned"]
        assert returned["record"] == ".llm-gitops/deploy-record.json"
        record = json.loads((repo / returned["record"]).read_text())
        return Exposed(returned["release"], returned["action"], record, "")

    return deploy


RUNNERS = {"github": github_runner, "gitlab": gitlab_runner, "jenkins": jenkins_runner}


@pytest.mark.parametrize("system", sorted(RUNNERS))
def test_the_deploy_glue_switches_traffic_to_the_new_release_then_has_nothing_to_do(tmp_path, cli, system):
    require_deploy_cli()
    r1, r2 = releases()
    with kube_staging(tmp_path) as staging:
        cluster = staging.cluster
        deploy = RUNNERS[system](tmp_path, cli, staging)

        seen = len(cluster.writes)
        first = deploy()
        assert (first.release, first.action) == (r2.id, "deployed")
        assert (first.record["env"], first.record["live"], first.record["previous"]) == ("staging", "green", "blue")
        assert first.record["message"] == f"staging runs {r2.id} on green"
        if first.log:
            assert f"deploy staging: traffic on green ({r2.id})" in first.log, first.log[-4000:]
        # The switch itself: the Service's selector patched to green, after green was applied
        # with r2's image; blue removed once traffic left it.
        writes = cluster.writes[seen:]
        switches = [i for i, (method, path, _, body) in enumerate(writes)
                    if path.endswith(f"/services/{NAME}") and method in ("PATCH", "PUT")
                    and body["spec"]["selector"].get("io.llm-gitops/colour") == "green"]
        applied = [i for i, (method, path, _, _) in enumerate(writes) if path.endswith(f"/deployments/{NAME}-green")]
        assert switches and applied and applied[0] < switches[0], writes
        assert selector_colour(cluster) == "green"
        green = cluster.get("deployments", NAMESPACE, f"{NAME}-green")
        assert green["spec"]["template"]["spec"]["containers"][0]["image"] == r2.image
        assert cluster.names("deployments", NAMESPACE) == [f"{NAME}-green"]

        seen = len(cluster.writes)
        second = deploy()
        assert (second.release, second.action) == (r2.id, "none")
        assert second.record["message"] == f"staging already runs {r2.id} (green): nothing to do"
        assert [path for _, path, _, _ in cluster.writes[seen:] if "/leases" not in path] == []
        assert selector_colour(cluster) == "green"

    expected = ["deploy", "--config", ".llm-gitops.yaml", "--env", "staging"]
    assert [call["argv"][:5] for call in cli.calls("deploy")] == [expected] * 2
