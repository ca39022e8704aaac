"""``llm-gitops deploy | rollback`` with ``target: kubernetes`` (strategy ``deployments``), through
the real CLI and the official ``kubernetes`` client, against kmock on loopback
(tests/standins/kube.py): the exact API calls and the cluster's state after each step."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import socket
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

pytest.importorskip("kmock")
pytest.importorskip("kubernetes")

from llm_gitops.cli import main  # noqa: E402
from llm_gitops.deploy.desired import releases_dir  # noqa: E402
from llm_gitops.release.record import GateEvidence, Release, write_release  # noqa: E402
from tests.deploy.backends import serving  # noqa: E402
from tests.standins.kube import kube_cluster, write_kubeconfig  # noqa: E402

NS = "models"


class _ModelStub(http.server.BaseHTTPRequestHandler):
    """What analysis asks a colour: completions (smoke) and Prometheus /metrics counting them."""

    def do_POST(self):  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.completions += 1
        self._answer(b'{"choices": [{"text": "2"}]}')

    def do_GET(self):  # noqa: N802
        n = self.server.completions
        self._answer((f'llm_gitops_requests_total{{route="/v1/completions",status="200"}} {n}\n'
                      f'llm_gitops_request_duration_seconds_bucket{{route="/v1/completions",le="0.1"}} {n}\n'
                      f'llm_gitops_request_duration_seconds_bucket{{route="/v1/completions",le="+Inf"}} {n}\n').encode())

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def model_stub():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ModelStub)
    server.daemon_threads = True
    server.completions = 0
    with serving(server):
        yield server


def make_release(n: int) -> Release:
    gate = GateEvidence(report_digest="sha256:" + "0" * 64, verdict="pass", summary="")
    return Release(image=f"registry.local/adder@sha256:{n:064x}", model_digest=f"sha256:{n}", model_source="./m",
                   quantization="none", source_commit=None, built_at="2026-12-02T00:00:00Z", gate=gate)


class Project:
    def __init__(self, root: Path, cluster, url: str):
        self.root, self.cluster = root, cluster
        write_kubeconfig(root / "kubeconfig", url)

    def configure(self, **settings) -> None:
        kube = {"namespace": NS, "name": "adder", "kubeconfig": "kubeconfig", "replicas": 2,
                "resources": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "2Gi"}},
                **settings.pop("kubernetes", {})}
        env = {"target": "kubernetes", "kubernetes": kube, "scale_down_delay": "0.1s", "readiness_timeout": "3s",
               "analysis": {"smoke_requests": 0}, **settings}
        config = {"version": 1, "image": {"repository": "registry.local/adder", "port": 8000},
                  "environments": {"prod": env}}
        (self.root / ".llm-gitops.yaml").write_text(json.dumps(config))

    def want(self, release: Release | None) -> None:
        if release is not None:
            write_release(release, releases_dir(self.root))
        (self.root / "deploy").mkdir(exist_ok=True)
        (self.root / "deploy" / "prod.yaml").write_text(f"version: 1\nrelease: {release.id if release else 'null'}\n")

    def cli(self, capsys, *args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        cwd = os.getcwd()
        os.chdir(self.root)
        try:
            with pytest.raises(SystemExit) as ended:
                main(list(args))
        finally:
            os.chdir(cwd)
        out = capsys.readouterr()
        return ended.value.code, out.out, out.err

    def deploy(self, capsys, *extra: str, code: int = 0) -> str:
        rc, out, err = self.cli(capsys, "deploy", "--env", "prod", "--forge", "none", *extra)
        assert rc == code, err[-3000:]
        assert "Traceback" not in err
        return err

    def get(self, plural: str, name: str) -> dict | None:
        return self.cluster.get(plural, NS, name)

    def selector(self) -> dict:
        return self.get("services", "adder")["spec"]["selector"]

    def writes(self, since: int = 0) -> list[tuple[str, str, str, dict]]:
        return [w for w in self.cluster.writes[since:] if "/leases" not in w[1]]


@pytest.fixture
def project(tmp_path):
    ready_images = set()

    def ready(manifest: dict) -> bool:
        containers = manifest["spec"]["template"]["spec"]["containers"]
        return containers[0]["image"] not in ready_images  # images listed here never get ready

    with kube_cluster(ready=ready) as (cluster, url):
        p = Project(tmp_path, cluster, url)
        p.never_ready = ready_images
        p.configure()
        yield p


def test_first_deploy_applies_blue_and_a_service_selecting_it(project, capsys):
    r1 = make_release(1)
    project.want(r1)
    err = project.deploy(capsys)
    assert f"prod runs {r1.id} on blue" in err
    blue = project.get("deployments", "adder-blue")
    labels = {"app": "adder", "io.llm-gitops/env": "prod", "io.llm-gitops/colour": "blue",
              "io.llm-gitops/release": r1.id}
    assert blue["spec"]["replicas"] == 2
    assert blue["spec"]["selector"] == {"matchLabels": {"app": "adder", "io.llm-gitops/colour": "blue"}}
    assert blue["spec"]["template"]["metadata"]["labels"] == labels
    container = blue["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == r1.image and "@sha256:" in container["image"]
    assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"] == {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "2Gi"}}
    assert project.selector() == {"app": "adder", "io.llm-gitops/colour": "blue"}
    assert project.get("services", "adder")["spec"]["ports"][0]["port"] == 80
    assert project.get("deployments", "adder-green") is None
    # every write is a server-side apply by the llm-gitops field manager, forced
    applies = project.writes()
    assert [(m, p.rsplit("/", 2)[-2:]) for m, p, _, _ in applies] == [
        ("PATCH", ["deployments", "adder-blue"]), ("PATCH", ["services", "adder-preview"]),
        ("PATCH", ["services", "adder"])]
    for method, path, content_type, _ in applies:
        assert content_type == "application/apply-patch+yaml"
    # the Lease was taken and given back
    assert project.get("leases", "adder-deploy-lock") is None
    assert any(w[0] == "POST" and w[1].endswith("/leases") for w in project.cluster.writes)


def test_server_side_apply_names_the_field_manager_and_forces(project, capsys):
    seen = []
    original = project.cluster._before_write

    def spy(request):
        seen.append(dict(request.params))
        original(request)

    project.cluster._before_write = spy
    project.want(make_release(1))
    project.deploy(capsys)
    applies = [q for q in seen if q.get("fieldManager")]
    assert applies and all(q == {"fieldManager": "llm-gitops", "force": "true"} for q in applies)


def test_second_release_goes_green_switches_the_selector_and_removes_blue(project, capsys):
    r1, r2 = make_release(1), make_release(2)
    project.want(r1)
    project.deploy(capsys)
    before = len(project.cluster.writes)
    project.want(r2)
    err = project.deploy(capsys)
    assert f"prod runs {r2.id} on green" in err and "blue removed" in err
    assert project.selector() == {"app": "adder", "io.llm-gitops/colour": "green"}
    assert project.get("deployments", "adder-blue") is None
    green = project.get("deployments", "adder-green")
    assert green["spec"]["template"]["spec"]["containers"][0]["image"] == r2.image
    assert [(m, p.rsplit("/", 2)[-2:]) for m, p, _, _ in project.writes(before)] == [
        ("PATCH", ["deployments", "adder-green"]), ("PATCH", ["services", "adder-preview"]),
        ("PATCH", ["services", "adder"]), ("DELETE", ["deployments", "adder-blue"])]
    record = json.loads(next((project.root / ".llm-gitops" / "deploys" / "prod").glob(f"*-{r2.id}.json")).read_text())
    assert record["live"] == "green" and record["previous"] == "blue" and record["action"] == "deployed"


def test_a_deploy_with_nothing_to_change_writes_nothing_but_its_lease(project, capsys):
    project.want(make_release(1))
    project.deploy(capsys)
    before = len(project.cluster.writes)
    err = project.deploy(capsys)
    assert "nothing to do" in err
    assert project.writes(before) == []


def test_a_preview_that_never_gets_ready_is_deleted_and_the_selector_kept(project, capsys):
    r1, r2 = make_release(1), make_release(2)
    project.want(r1)
    project.deploy(capsys)
    project.never_ready.add(r2.image)
    project.want(r2)
    err = project.deploy(capsys, code=1)
    assert "green never became ready" in err and "0/2 replicas ready" in err
    assert project.get("deployments", "adder-green") is None
    assert project.selector() == {"app": "adder", "io.llm-gitops/colour": "blue"}
    assert project.get("deployments", "adder-blue") is not None
    assert project.get("leases", "adder-deploy-lock") is None


def _lease(renewed: datetime, holder: str = "llm-gitops/ci-runner-7/4242") -> dict:
    stamp = renewed.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "adder-deploy-lock", "namespace": NS},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": 900, "acquireTime": stamp, "renewTime": stamp}}


def _put_lease(project, lease: dict) -> None:
    """Another deploy's Lease, created through the official client as that deploy would have."""
    from kubernetes import client
    from kubernetes import config as kube_config

    configuration = client.Configuration()
    kube_config.load_kube_config(config_file=str(project.root / "kubeconfig"), client_configuration=configuration)
    client.CoordinationV1Api(client.ApiClient(configuration)).create_namespaced_lease(NS, lease, _preload_content=False)


def test_a_held_lease_refuses_a_second_deploy(project, capsys):
    _put_lease(project, _lease(datetime.now(timezone.utc)))
    project.want(make_release(1))
    before = len(project.cluster.writes)
    err = project.deploy(capsys, code=2)
    line = err.strip().splitlines()[-1]
    assert line.startswith("error: another deploy of prod is running") and "ci-runner-7/4242" in line
    assert project.writes(before) == []
    assert project.get("leases", "adder-deploy-lock")["spec"]["holderIdentity"] == "llm-gitops/ci-runner-7/4242"


def test_an_expired_lease_of_a_killed_deploy_is_taken_over(project, capsys):
    _put_lease(project, _lease(datetime.now(timezone.utc) - timedelta(hours=1)))
    r1 = make_release(1)
    project.want(r1)
    err = project.deploy(capsys)
    assert f"prod runs {r1.id} on blue" in err
    assert project.get("leases", "adder-deploy-lock") is None


def test_rollback_flips_the_selector_back_while_the_old_colour_runs(project, capsys):
    r1, r2 = make_release(1), make_release(2)
    project.want(r1)
    project.deploy(capsys)
    project.want(r2)
    project.deploy(capsys, "--no-scale-down")
    assert project.selector()["io.llm-gitops/colour"] == "green"
    before = len(project.cluster.writes)
    rc, out, err = project.cli(capsys, "rollback", "--env", "prod", "--forge", "none")
    assert rc == 0, err
    assert f"traffic moved from green back to blue ({r1.id})" in out
    assert project.selector() == {"app": "adder", "io.llm-gitops/colour": "blue"}
    assert [(m, p.rsplit("/", 2)[-2:]) for m, p, _, _ in project.writes(before)] == [("PATCH", ["services", "adder"])]
    assert project.get("deployments", "adder-green") is not None  # kept: a rollback deletes nothing


def test_rollback_after_scale_down_says_so(project, capsys):
    project.want(make_release(1))
    project.deploy(capsys)
    project.want(make_release(2))
    project.deploy(capsys)
    rc, _, err = project.cli(capsys, "rollback", "--env", "prod", "--forge", "none")
    assert rc == 2 and "previous colour (blue) is no longer running" in err


def test_an_unreachable_cluster_is_a_one_line_error(project, capsys):
    write_kubeconfig(project.root / "kubeconfig", "http://127.0.0.1:9")
    project.want(make_release(1))
    err = project.deploy(capsys, code=2)
    lines = [line for line in err.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Kubernetes API" in lines[0] and "Lease" in lines[0]


def test_analysis_reaches_the_preview_through_preview_url(project, capsys):
    with model_stub() as stub:
        port = stub.server_address[1]
        project.configure(kubernetes={"preview_url": "http://127.0.0.1:{port}", "service_port": port},
                          analysis={"smoke_requests": 2, "interval": "0.1s", "iterations": 2,
                                    "metrics": [{"metric": "error_rate", "max": 0.05}]})
        r1 = make_release(1)
        project.want(r1)
        project.deploy(capsys)
        assert stub.completions == 2 + 2 * 2  # the smoke requests, then two per round
    record = json.loads(next((project.root / ".llm-gitops" / "deploys" / "prod").glob("*.json")).read_text())
    pre = record["analyses"][0]
    assert pre["status"] == "Successful"
    assert [m["value"] for m in pre["measurements"] if m["check"] == "error_rate"] == [0.0, 0.0]


def test_analysis_with_no_reachable_preview_does_not_promote(project, capsys):
    project.want(make_release(1))
    project.deploy(capsys)
    project.configure(kubernetes={"preview_url": "http://127.0.0.1:9"},
                      analysis={"smoke_requests": 0, "interval": "0.1s", "metrics": [{"metric": "error_rate", "max": 0.05}]})
    project.want(make_release(2))
    err = project.deploy(capsys, code=1)
    assert "pre-promotion analysis Error" in err
    assert project.selector()["io.llm-gitops/colour"] == "blue"
    assert project.get("deployments", "adder-green") is None


def test_a_lease_left_by_a_killed_deploy_on_this_host_is_taken_over(project, capsys):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    _put_lease(project, _lease(datetime.now(timezone.utc), holder=f"llm-gitops/{socket.gethostname()}/{gone.pid}"))
    r1 = make_release(1)
    project.want(r1)
    assert f"prod runs {r1.id} on blue" in project.deploy(capsys)


def test_the_lease_is_renewed_while_a_deploy_runs(project, capsys):
    project.configure(kubernetes={"lock_ttl": "0.3s"}, scale_down_delay="0.8s")
    project.want(make_release(1))
    project.deploy(capsys)
    project.want(make_release(2))
    before = len(project.cluster.writes)
    project.deploy(capsys)
    renewals = [body for method, path, _, body in project.cluster.writes[before:]
                if method == "PATCH" and path.endswith("/leases/adder-deploy-lock")]
    assert len(renewals) >= 2 and all(set(body["spec"]) == {"renewTime", "holderIdentity"} for body in renewals)


def test_a_deploy_killed_after_its_preview_started_is_completed_by_the_next(project, capsys):
    from llm_gitops.commands.deploy import environment_target
    from llm_gitops.config import load_config

    r1, r2 = make_release(1), make_release(2)
    project.want(r1)
    project.deploy(capsys)
    # what a deploy killed between start and switch leaves: green running r2, no switch
    _, target = environment_target(load_config(project.root / ".llm-gitops.yaml"), "prod")
    target.start("green", r2, lambda line: None)
    assert project.selector()["io.llm-gitops/colour"] == "blue"
    project.want(r2)
    before = len(project.cluster.writes)
    err = project.deploy(capsys)
    assert f"green already runs {r2.id}; continuing that deploy" in err
    assert project.selector()["io.llm-gitops/colour"] == "green"
    assert [(m, p.rsplit("/", 2)[-2:]) for m, p, _, _ in project.writes(before)] == [
        ("PATCH", ["services", "adder"]), ("DELETE", ["deployments", "adder-blue"])]
