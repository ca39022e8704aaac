"""The kubernetes target's manifests: each validates strictly against its official schema
(kubernetes-validate for Kubernetes' kinds, the vendored Argo Rollouts CRD schema for
Rollout and AnalysisTemplate), and a wrong field is a one-line error naming it; bad
``kubernetes:`` settings are clean CLI errors."""

from __future__ import annotations

import copy
import json

import pytest

pytest.importorskip("kubernetes_validate")

import kubernetes_validate  # noqa: E402

from llm_gitops.config.environments import EnvironmentSpec  # noqa: E402
from llm_gitops.deploy import manifests  # noqa: E402
from llm_gitops.deploy.schemas import K8S_VERSION, check_manifest  # noqa: E402
from llm_gitops.errors import ConfigError  # noqa: E402
from tests.corpus.harness import expect_clean_error  # noqa: E402
from tests.deploy.test_kubernetes_target import make_release  # noqa: E402

SPEC = EnvironmentSpec.model_validate({
    "target": "kubernetes", "scale_down_delay": "45s",
    "kubernetes": {"namespace": "models", "name": "adder", "replicas": 3,
                   "resources": {"requests": {"cpu": "2"}, "limits": {"nvidia.com/gpu": "1", "memory": "24Gi"}}},
    "analysis": {"interval": "30s", "metrics": [{"metric": "error_rate", "max": 0.02},
                                                {"metric": "latency_p95_ms", "max": 1500}]}})
NAMES = manifests.names_for("prod", SPEC.kubernetes)


def rendered() -> dict[str, dict]:
    release, settings = make_release(7), SPEC.kubernetes
    return {
        "deployment": manifests.deployment(NAMES, "prod", "green", release, settings, 8000),
        "service": manifests.service(NAMES, "prod", NAMES.service, manifests.colour_selector(NAMES, "green"), settings),
        "lease": manifests.lease(NAMES, "prod", "llm-gitops/host/1", 900, "2026-12-02T10:00:00.000000Z"),
        "rollout": manifests.rollout(NAMES, "prod", "green", release, settings, 8000, auto_promote=False,
                                     scale_down_delay=SPEC.scale_down_delay, with_analysis=True),
        "analysis": manifests.analysis_template(NAMES, "prod", SPEC.analysis, settings.prometheus),
    }


@pytest.mark.parametrize("kind", ["deployment", "service", "lease", "rollout", "analysis"])
def test_every_rendered_manifest_validates_strictly(kind):
    manifest = rendered()[kind]
    check_manifest(manifest)
    if kind in ("deployment", "service", "lease"):  # and straight through kubernetes-validate, strict
        assert kubernetes_validate.validate(manifest, K8S_VERSION, strict=True) == K8S_VERSION


def test_the_rollout_maps_the_environment_settings():
    blue_green = rendered()["rollout"]["spec"]["strategy"]["blueGreen"]
    assert blue_green["scaleDownDelaySeconds"] == 45 and blue_green["autoPromotionEnabled"] is False
    assert blue_green["activeService"] == "adder" and blue_green["previewService"] == "adder-preview"
    container = rendered()["deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"] == {"requests": {"cpu": "2"}, "limits": {"nvidia.com/gpu": "1", "memory": "24Gi"}}


def _broken(kind: str, edit) -> dict:
    manifest = copy.deepcopy(rendered()[kind])
    edit(manifest)
    return manifest


@pytest.mark.parametrize("kind,edit,culprit", [
    ("deployment", lambda m: m["spec"]["template"]["spec"]["containers"][0].update(imagePort=8000),
     "Deployment adder-green: spec.template.spec.containers[0]: Additional properties are not allowed ('imagePort'"),
    ("service", lambda m: m["spec"].update(selectr={}), "Service adder: spec: Additional properties"),
    ("lease", lambda m: m["spec"].update(leaseDurationSeconds="900"), "Lease adder-deploy-lock: spec.leaseDurationSeconds"),
    ("rollout", lambda m: m["spec"]["strategy"]["blueGreen"].update(autoPromote=True),
     "Rollout adder: spec.strategy.blueGreen: Additional properties are not allowed ('autoPromote'"),
    ("rollout", lambda m: m["spec"]["strategy"]["blueGreen"].update(scaleDownDelaySeconds="30s"),
     "Rollout adder: spec.strategy.blueGreen.scaleDownDelaySeconds"),
    ("rollout", lambda m: m["spec"]["template"]["spec"]["containers"][0].update(readinesProbe={}),
     "Rollout adder: spec.template.spec.containers[0]: Additional properties are not allowed ('readinesProbe'"),
    ("analysis", lambda m: m["spec"]["metrics"][0]["provider"].update(prometheous={}),
     "AnalysisTemplate adder-analysis: spec.metrics[0].provider: Additional properties"),
    ("analysis", lambda m: m["spec"]["metrics"][0].pop("name"), "AnalysisTemplate adder-analysis: spec.metrics[0]: 'name'"),
])
def test_a_wrong_field_is_a_one_line_error_naming_it(kind, edit, culprit):
    with pytest.raises(ConfigError) as caught:
        check_manifest(_broken(kind, edit))
    assert culprit in str(caught.value) and "\n" not in str(caught.value)


def test_nullable_fields_of_the_crd_take_null():
    check_manifest(_broken("rollout", lambda m: m["spec"].update(paused=None)))


def _project(tmp_path, kubernetes: dict) -> None:
    config = {"version": 1, "image": {"repository": "registry.local/adder"},
              "environments": {"prod": {"target": "kubernetes", "kubernetes": kubernetes, "require_gate": False}}}
    (tmp_path / ".llm-gitops.yaml").write_text(json.dumps(config))
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "prod.yaml").write_text("version: 1\nrelease: null\n")


@pytest.mark.parametrize("kubernetes,culprit", [
    ({"strategy": "flagger"}, ["environments.prod.kubernetes.strategy", "argo-rollouts"]),
    ({"namespace": "Models_1"}, ["environments.prod.kubernetes.namespace"]),
    ({"replicas": 0}, ["environments.prod.kubernetes.replicas"]),
    ({"preview_url": "ftp://x"}, ["environments.prod.kubernetes.preview_url", "http"]),
    ({"preview_url": "http://{host}:1"}, ["environments.prod.kubernetes.preview_url", "{service}"]),
    ({"resources": {"limits": {"cpu": 4}}}, ["environments.prod.kubernetes.resources.limits.cpu"]),
    ({"lock_ttl": "forever"}, ["environments.prod.kubernetes.lock_ttl"]),
    ({"replica": 2}, ["environments.prod.kubernetes", "replica"]),
])
def test_bad_kubernetes_settings_are_clean_errors(tmp_path, kubernetes, culprit):
    _project(tmp_path, kubernetes)
    expect_clean_error(["deploy", "--env", "prod", "--forge", "none"], cwd=tmp_path, culprit=culprit,
                       surface="config", case=f"kubernetes {sorted(kubernetes)}")


def test_a_missing_kubeconfig_is_a_clean_error(tmp_path):
    _project(tmp_path, {"kubeconfig": "no-such-kubeconfig"})
    (tmp_path / "deploy" / "prod.yaml").write_text("version: 1\nrelease: null\n")
    from llm_gitops.deploy.desired import releases_dir
    from llm_gitops.release.record import write_release

    release = make_release(3)
    write_release(release, releases_dir(tmp_path))
    (tmp_path / "deploy" / "prod.yaml").write_text(f"version: 1\nrelease: {release.id}\n")
    expect_clean_error(["deploy", "--env", "prod", "--forge", "none"], cwd=tmp_path,
                       culprit=["environments.prod.kubernetes.kubeconfig", "no-such-kubeconfig"],
                       surface="config", case="kubernetes missing kubeconfig")
