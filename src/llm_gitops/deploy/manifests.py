"""The Kubernetes manifests of the ``kubernetes`` deploy target, as plain dicts.

Pure rendering: no client, no cluster. ``deploy/kubernetes_target.py`` applies what these
functions return, after ``deploy/schemas`` has checked each strictly. Two layouts:

- ``deployments``: Deployment ``NAME-blue`` / ``NAME-green``, Service ``NAME`` (its selector
  names the live colour: the only record of which colour is live) and Service
  ``NAME-preview`` (selects the colour being deployed, for analysis);
- ``argo-rollouts``: one Rollout ``NAME`` with a blueGreen strategy (``activeService``
  ``NAME``, ``previewService`` ``NAME-preview``), the two Services, and an AnalysisTemplate
  ``NAME-analysis`` holding the environment's analysis as Prometheus queries.

Labels on every pod: ``app``, ``io.llm-gitops/env``, ``io.llm-gitops/colour``,
``io.llm-gitops/release``.
"""

from __future__ import annotations

from dataclasses import dataclass

from llm_gitops.config.environments import AnalysisSection, KubernetesTarget, MetricCheck
from llm_gitops.release.record import Release

LABEL_ENV = "io.llm-gitops/env"
LABEL_COLOUR = "io.llm-gitops/colour"
LABEL_RELEASE = "io.llm-gitops/release"
FIELD_MANAGER = "llm-gitops"
CONTAINER = "model"
# Prometheus series the model server exports (serve/metrics); one job per Service is assumed
# (the Prometheus Operator's ServiceMonitor labels series with ``namespace`` and ``service``).
_REQUESTS = "llm_gitops_requests_total"
_DURATION_BUCKET = "llm_gitops_request_duration_seconds_bucket"
_ROUTE = "/v1/completions"


@dataclass(frozen=True)
class Names:
    """The objects of one environment."""

    base: str
    namespace: str

    def deployment(self, colour: str) -> str:
        return f"{self.base}-{colour}"

    @property
    def service(self) -> str:
        return self.base

    @property
    def preview_service(self) -> str:
        return f"{self.base}-preview"

    @property
    def rollout(self) -> str:
        return self.base

    @property
    def analysis_template(self) -> str:
        return f"{self.base}-analysis"

    @property
    def lease(self) -> str:
        return f"{self.base}-deploy-lock"


def names_for(env: str, settings: KubernetesTarget) -> Names:
    return Names(base=settings.name or f"llm-{env}", namespace=settings.namespace)


def _meta(names: Names, name: str, env: str, **labels: str) -> dict:
    return {"name": name, "namespace": names.namespace, "labels": {"app": names.base, LABEL_ENV: env, **labels}}


def pod_template(names: Names, env: str, colour: str, release: Release, settings: KubernetesTarget, port: int) -> dict:
    labels = {"app": names.base, LABEL_ENV: env, LABEL_COLOUR: colour, LABEL_RELEASE: release.id}
    container = {
        "name": CONTAINER,
        "image": release.image,  # ref@sha256:..., never a tag
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "env": [{"name": "LLM_GITOPS_COLOR", "value": colour}, {"name": "LLM_GITOPS_MODEL_VERSION", "value": release.id}],
        # /readyz answers 200 once the model is loaded and warmed up; /healthz at once, 500 if
        # loading failed: a slow load is not a liveness failure.
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 5, "failureThreshold": 3},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10, "failureThreshold": 3},
    }
    resources = {k: v for k, v in (("requests", settings.resources.requests), ("limits", settings.resources.limits)) if v}
    if resources:
        container["resources"] = {k: dict(v) for k, v in resources.items()}
    return {"metadata": {"labels": labels}, "spec": {"containers": [container]}}


def deployment(names: Names, env: str, colour: str, release: Release, settings: KubernetesTarget, port: int) -> dict:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": _meta(names, names.deployment(colour), env, **{LABEL_COLOUR: colour, LABEL_RELEASE: release.id}),
        "spec": {
            "replicas": settings.replicas,
            # The selector is immutable: colour only, so a colour's Deployment can be re-applied.
            "selector": {"matchLabels": {"app": names.base, LABEL_COLOUR: colour}},
            "template": pod_template(names, env, colour, release, settings, port),
        },
    }


def service(names: Names, env: str, name: str, selector: dict[str, str], settings: KubernetesTarget) -> dict:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": _meta(names, name, env),
        "spec": {"selector": dict(selector),
                 "ports": [{"name": "http", "port": settings.service_port, "targetPort": "http", "protocol": "TCP"}]},
    }


def colour_selector(names: Names, colour: str) -> dict[str, str]:
    return {"app": names.base, LABEL_COLOUR: colour}


def lease(names: Names, env: str, holder: str, ttl_s: float, now: str) -> dict:
    return {
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": _meta(names, names.lease, env),
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": max(1, int(round(ttl_s))),
                 "acquireTime": now, "renewTime": now},
    }


# ---------------------------------------------------------------------- Argo Rollouts
def _seconds(value: float) -> str:
    return f"{max(1, int(round(value)))}s"


def _query(check: MetricCheck, namespace: str, window: str) -> str:
    where = f'namespace="{namespace}",service="{{{{args.service}}}}",route="{_ROUTE}"'
    if check.metric == "error_rate":
        return (f'sum(rate({_REQUESTS}{{{where},status=~"5.."}}[{window}])) / '
                f'sum(rate({_REQUESTS}{{{where}}}[{window}]))')
    return f"1000 * histogram_quantile(0.95, sum by (le) (rate({_DURATION_BUCKET}{{{where}}}[{window}])))"


def analysis_template(names: Names, env: str, analysis: AnalysisSection, prometheus: str) -> dict:
    """The environment's metric checks as an AnalysisTemplate (argument ``service``: the Service to judge).

    No data is never success: a query with no samples leaves ``result`` empty, so
    ``result[0]`` is an error measurement, and Argo ends an analysis with errors as Error,
    which does not promote (like llm-gitops' own Inconclusive).
    """
    window = _seconds(max(analysis.interval, 30.0))  # rate() needs a few scrapes in its window
    metrics = [{
        "name": check.metric.replace("_", "-"),
        "interval": _seconds(analysis.interval),
        "count": analysis.iterations,
        "failureLimit": analysis.threshold - 1,  # Argo fails once failures exceed the limit
        "successCondition": f"len(result) > 0 && result[0] <= {check.max:g}",
        "failureCondition": f"len(result) > 0 && result[0] > {check.max:g}",
        "provider": {"prometheus": {"address": prometheus, "query": _query(check, names.namespace, window)}},
    } for check in analysis.metrics]
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate",
            "metadata": _meta(names, names.analysis_template, env),
            "spec": {"args": [{"name": "service"}], "metrics": metrics}}


def rollout(names: Names, env: str, colour: str, release: Release, settings: KubernetesTarget, port: int, *,
            auto_promote: bool, scale_down_delay: float, with_analysis: bool) -> dict:
    blue_green: dict = {
        "activeService": names.service,
        "previewService": names.preview_service,
        "autoPromotionEnabled": auto_promote,
        "scaleDownDelaySeconds": max(0, int(round(scale_down_delay))),
    }
    if with_analysis:
        ref = [{"templateName": names.analysis_template}]
        blue_green["prePromotionAnalysis"] = {"templates": ref, "args": [{"name": "service", "value": names.preview_service}]}
        blue_green["postPromotionAnalysis"] = {"templates": ref, "args": [{"name": "service", "value": names.service}]}
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": _meta(names, names.rollout, env),
        "spec": {
            "replicas": settings.replicas,
            "selector": {"matchLabels": {"app": names.base}},
            "template": pod_template(names, env, colour, release, settings, port),
            "strategy": {"blueGreen": blue_green},
        },
    }
