"""``target: kubernetes`` with ``strategy: argo-rollouts``, through the real CLI against kmock
with a stand-in Argo Rollouts controller (tests/standins/kube.py): the Rollout, its
Services and AnalysisTemplate as applied, and the promote / abort / undo calls."""

from __future__ import annotations

import pytest

pytest.importorskip("kmock")

from tests.deploy.test_kubernetes_target import NS, Project, make_release, model_stub  # noqa: E402
from tests.standins.kube import kube_cluster  # noqa: E402

ARGO = {"kubernetes": {"strategy": "argo-rollouts", "prometheus": "http://prometheus.monitoring:9090"}}


@pytest.fixture
def project(tmp_path):
    never_ready = set()

    def ready(manifest: dict) -> bool:
        return manifest["spec"]["template"]["spec"]["containers"][0]["image"] not in never_ready

    with kube_cluster(ready=ready) as (cluster, url):
        p = Project(tmp_path, cluster, url)
        p.never_ready = never_ready
        p.configure(auto_promote=False, **ARGO)
        yield p


def rollout(project) -> dict:
    return project.get("rollouts", "adder")


def active_hash(project) -> str:
    return project.selector()["rollouts-pod-template-hash"]


def status_patches(project, since: int) -> list[dict]:
    return [body for method, path, _, body in project.cluster.writes[since:]
            if method == "PATCH" and path.endswith("/rollouts/adder/status")]


def test_first_deploy_applies_a_blue_green_rollout_that_goes_live(project, capsys):
    r1 = make_release(1)
    project.want(r1)
    project.deploy(capsys)
    # Argo makes a Rollout's first revision active at once, paused or not
    rc, _, err = project.cli(capsys, "deploy", "--env", "prod", "--forge", "none", "--promote")
    assert rc == 0 and f"prod: traffic on {r1.id} (already live)" in err
    spec = rollout(project)["spec"]
    assert spec["strategy"]["blueGreen"] == {"activeService": "adder", "previewService": "adder-preview",
                                             "autoPromotionEnabled": False, "scaleDownDelaySeconds": 0}
    assert spec["template"]["metadata"]["labels"]["io.llm-gitops/colour"] == "blue"
    assert spec["template"]["spec"]["containers"][0]["image"] == r1.image
    assert project.get("replicasets", f"adder-{active_hash(project)}")["metadata"]["labels"][
        "io.llm-gitops/release"] == r1.id
    assert project.get("analysistemplates", "adder-analysis") is None  # no metric checks configured


def test_auto_promote_false_waits_then_deploy_promote_is_the_argo_promote_call(project, capsys):
    r1, r2 = make_release(1), make_release(2)
    project.want(r1)
    project.deploy(capsys)
    blue_hash = active_hash(project)
    project.want(r2)
    err = project.deploy(capsys)
    assert "switch with 'llm-gitops deploy --env prod --promote'" in err
    assert active_hash(project) == blue_hash  # still blue: Argo paused before promotion
    preview_hash = project.get("services", "adder-preview")["spec"]["selector"]["rollouts-pod-template-hash"]
    assert preview_hash != blue_hash
    assert rollout(project)["status"]["pauseConditions"][0]["reason"] == "BlueGreenPause"
    before = len(project.cluster.writes)
    rc, _, err = project.cli(capsys, "deploy", "--env", "prod", "--forge", "none", "--promote")
    assert rc == 0, err
    assert status_patches(project, before) == [{"status": {"pauseConditions": None}}]
    assert active_hash(project) == preview_hash
    assert "traffic on" in err and "left blue" in err


def test_a_preview_that_never_gets_ready_is_aborted_and_traffic_stays(project, capsys):
    project.want(make_release(1))
    project.deploy(capsys)
    blue_hash = active_hash(project)
    r2 = make_release(2)
    project.never_ready.add(r2.image)
    project.want(r2)
    before = len(project.cluster.writes)
    err = project.deploy(capsys, code=1)
    assert "green never became ready" in err
    assert status_patches(project, before) == [{"status": {"abort": True}}]
    assert active_hash(project) == blue_hash
    assert project.get("replicasets", f"adder-{rollout(project)['status']['currentPodHash']}")["spec"]["replicas"] == 0


def test_auto_promote_with_analysis_renders_the_template_and_rollback_undoes(project, capsys):
    with model_stub() as stub:
        port = stub.server_address[1]
        project.configure(auto_promote=True, analysis={
            "smoke_requests": 1, "interval": "0.1s", "iterations": 3, "threshold": 2,
            "metrics": [{"metric": "error_rate", "max": 0.01}, {"metric": "latency_p95_ms", "max": 800}]},
            kubernetes={**ARGO["kubernetes"], "preview_url": "http://127.0.0.1:{port}", "service_port": port})
        r1, r2 = make_release(1), make_release(2)
        project.want(r1)
        project.deploy(capsys)
        blue_hash = active_hash(project)
        project.want(r2)
        err = project.deploy(capsys, "--no-scale-down")
    assert f"prod runs {r2.id} on green" in err
    blue_green = rollout(project)["spec"]["strategy"]["blueGreen"]
    assert blue_green["autoPromotionEnabled"] is True
    assert blue_green["prePromotionAnalysis"] == {"templates": [{"templateName": "adder-analysis"}],
                                                  "args": [{"name": "service", "value": "adder-preview"}]}
    assert blue_green["postPromotionAnalysis"]["args"] == [{"name": "service", "value": "adder"}]
    metrics = project.get("analysistemplates", "adder-analysis")["spec"]["metrics"]
    assert [m["name"] for m in metrics] == ["error-rate", "latency-p95-ms"]
    assert metrics[0]["interval"] == "1s" and metrics[0]["count"] == 3 and metrics[0]["failureLimit"] == 1
    assert "llm_gitops_requests_total" in metrics[0]["provider"]["prometheus"]["query"]
    assert 'service="{{args.service}}"' in metrics[0]["provider"]["prometheus"]["query"]
    assert metrics[1]["successCondition"] == "len(result) > 0 && result[0] <= 800"
    assert metrics[1]["provider"]["prometheus"]["address"] == "http://prometheus.monitoring:9090"
    # rollback: the Rollout takes the warm blue ReplicaSet's template again, then is promoted
    rc, out, err = project.cli(capsys, "rollback", "--env", "prod", "--forge", "none")
    assert rc == 0, err
    assert f"traffic moved from green back to blue ({r1.id})" in out
    assert active_hash(project) == blue_hash
    assert rollout(project)["spec"]["template"]["spec"]["containers"][0]["image"] == r1.image
    # deploy/prod.yaml still names r2 (no PR merged here): the next deploy goes forward again,
    # taking the warm green ReplicaSet back as the Rollout's revision
    project.configure(auto_promote=True, **ARGO)
    err = project.deploy(capsys, "--no-scale-down")
    assert f"green already runs {r2.id}; continuing that deploy" in err and f"prod runs {r2.id} on green" in err
    assert rollout(project)["spec"]["template"]["spec"]["containers"][0]["image"] == r2.image
    assert active_hash(project) != blue_hash


def test_the_lease_is_the_same_for_argo(project, capsys):
    project.want(make_release(1))
    project.deploy(capsys)
    assert any(w[0] == "POST" and w[1] == f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases"
               for w in project.cluster.writes)
    assert project.get("leases", "adder-deploy-lock") is None
