"""The ``environments:`` section of ``.llm-gitops.yaml``: where releases run, and how they move.

Each environment names a deploy target and its settings; ``deploy/<env>.yaml`` in the repo
says which release it should run (see ``deploy/desired.py``). Field names follow Argo
Rollouts' blue/green vocabulary (``auto_promote`` = ``autoPromotionEnabled``,
``scale_down_delay`` = ``scaleDownDelaySeconds``) and Flagger's analysis
(``interval``, ``iterations``, ``threshold``).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from llm_gitops.config.drop import Drop, parse_drop

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$")
_SCALE = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
ENV_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


def parse_duration(value) -> float:
    """Seconds from ``30``, ``30s``, ``500ms``, ``5m`` or ``1h``."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or text like 30s, 5m")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value.strip())):
        seconds = float(match.group(1)) * _SCALE[match.group(2)]
    else:
        raise ValueError(f"{value!r} is not a duration; use seconds or text like 30s, 500ms, 5m, 1h")
    if not 0 <= seconds <= 7 * 24 * 3600:
        raise ValueError(f"{value!r} is out of range (0 s to 7 days)")
    return seconds


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class MetricCheck(_Strict):
    """One metric the analysis reads from the colour's ``/metrics`` (or Prometheus) each interval."""

    metric: Literal["error_rate", "latency_p95_ms"] = Field(description="``error_rate``: share of completions "
                                                            "answered 5xx; ``latency_p95_ms``: p95 of completion latency.")
    max: float = Field(ge=0, description="Highest acceptable value; above it the iteration fails.")


class SmokeEval(_Strict):
    """A smoke eval of the preview colour: the release's recorded eval, asked of the live server.

    The preview is evaluated through lm-eval's ``local-completions`` client on the documents
    the release recorded (``llm-gitops release`` keeps the gated model's per-document
    scores), and each metric is decided with the gate's own rule: non-inferiority on the
    paired scores, ``max_drop`` tolerated, Holm over the metrics. A preview serving the
    gated model answers the same and passes; a worse one fails: no switch, the preview is
    removed. Inconclusive does not promote unless ``on_inconclusive: pass``.
    """

    tasks: list[str] | None = Field(default=None, description="Task names to evaluate (of those the release "
                                    "recorded); None = all recorded tasks.")
    limit: int = Field(default=100, ge=2, le=1000, description="Documents per task (the first of those recorded). "
                       "100 documents resolve about 4 points when nothing changed: enough to tell the gated model "
                       "from a broken or different one in seconds; more cost one request each. With few-shot "
                       "prompts (eval.num_fewshot) every recorded document is asked: lm-eval draws the examples "
                       "per document in turn, so only the same documents get the same ones.")
    max_drop: Drop = Field(default=Drop(value=5.0, unit="pt"), description="Tolerated drop of the served model vs the recorded "
                                  "scores, as in thresholds (0.05, 5pt or 5%). Default 5pt: a smoke eval checks "
                                  "that the preview serves the released quality, not the gate again.")
    on_inconclusive: Literal["fail", "pass"] = Field(default="fail", description="What an undecided metric does: "
                                                     "``fail`` (the default: an unproven drop never promotes) or "
                                                     "``pass``.")
    tokenizer: str | None = Field(default=None, description="A directory with the served model's tokenizer "
                                  "(relative to the config file); None = eval.tokenizer, else the release's model "
                                  "directory when it is a local one.")

    _drop = field_validator("max_drop", mode="before")(classmethod(lambda cls, v: parse_drop(v)))


class AnalysisSection(_Strict):
    """How a colour is judged before (pre-promotion) and after (post-promotion) the switch.

    Each iteration runs every check; ``threshold`` failed iterations abort (the live colour
    keeps or gets back all traffic). An iteration with no data (no requests yet) is
    inconclusive: it never counts as a pass, and an analysis that ends with no passing
    iteration does not promote.
    """

    smoke_requests: int = Field(default=3, ge=0, le=1000, description="Completions sent to the colour directly "
                                "before anything else; any non-200 answer fails the analysis at once.")
    metrics: list[MetricCheck] = Field(default_factory=list, description="Checks read from the colour's metrics "
                                       "each interval.")
    interval: float = Field(default=5.0, description="Time between iterations (seconds or 5s, 1m).")
    iterations: int = Field(default=3, ge=1, le=1000, description="Iterations of the metric checks.")
    threshold: int = Field(default=1, ge=1, le=1000, description="Failed iterations that abort.")
    smoke_eval: SmokeEval | None = Field(default=None, description="Before the switch, evaluate the preview on the "
                                         "documents the release recorded and decide with the gate's rule; None = "
                                         "no smoke eval.")

    _durations = field_validator("interval", mode="before")(classmethod(lambda cls, v: parse_duration(v)))


class DockerTarget(_Strict):
    """A single host running containers through the Docker API, with haproxy in front."""

    engine: str | None = Field(default=None, description="Docker API URL (unix:///run/podman/podman.sock, "
                               "tcp://...); None = image.engine, then DOCKER_HOST, then the default socket.")
    listen: str = Field(default="127.0.0.1:8080", description="HOST:PORT where haproxy serves the live colour.")
    run_dir: str = Field(default=".llm-gitops/front", description="Where haproxy's config, admin socket and pid "
                         "file live (relative to the config file); one directory per environment is made below it.")
    bind_host: str = Field(default="127.0.0.1", description="Host address the colour containers publish on.")

    @field_validator("listen")
    @classmethod
    def _host_port(cls, v: str) -> str:
        host, sep, port = v.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{v!r} is not HOST:PORT (e.g. 127.0.0.1:8080)")
        return v


class KubernetesResources(_Strict):
    """Container resources, as Kubernetes writes them (``cpu: "4"``, ``memory: 16Gi``, ``nvidia.com/gpu: "1"``)."""

    requests: dict[str, str] = Field(default_factory=dict, description="Resource requests of the model container.")
    limits: dict[str, str] = Field(default_factory=dict, description="Resource limits of the model container.")


class KubernetesTarget(_Strict):
    """A Kubernetes namespace: a Deployment per colour and a Service whose selector is switched
    (``strategy: deployments``), or an Argo Rollouts ``Rollout`` with a blueGreen strategy
    (``strategy: argo-rollouts``)."""

    strategy: Literal["deployments", "argo-rollouts"] = Field(default="deployments", description="``deployments``: "
                                                              "llm-gitops switches a Service between two Deployments; "
                                                              "``argo-rollouts``: a Rollout (blueGreen) that Argo Rollouts "
                                                              "drives, promoted by llm-gitops.")
    namespace: str = Field(default="default", pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
                           description="Namespace everything is applied in.")
    name: str | None = Field(default=None, pattern=r"^[a-z]([-a-z0-9]{0,40}[a-z0-9])?$",
                             description="Base name of the objects (``NAME-blue``, ``NAME-green``, Service ``NAME``, "
                             "``NAME-preview``); None = ``llm-<environment>``.")
    replicas: int = Field(default=1, ge=1, le=1000, description="Pods per colour.")
    resources: KubernetesResources = Field(default_factory=KubernetesResources,
                                           description="Resources of the model container.")
    service_port: int = Field(default=80, ge=1, le=65535, description="Port the Services listen on.")
    kubeconfig: str | None = Field(default=None, description="Kubeconfig file (relative to the config file); None = "
                                   "$KUBECONFIG, then ~/.kube/config, then the in-cluster service account.")
    context: str | None = Field(default=None, description="Kubeconfig context; None = its current context.")
    preview_url: str = Field(default="http://{service}.{namespace}.svc.cluster.local:{port}",
                             description="How the deploy job reaches a colour for analysis; ``{service}``, "
                             "``{namespace}`` and ``{port}`` are filled in. The default works from a job running "
                             "in the cluster.")
    lock_ttl: float = Field(default=900.0, description="How long the deploy Lease lasts without renewal (a killed "
                            "deploy's lock expires after it); renewed every third of it while a deploy runs.")
    prometheus: str = Field(default="http://prometheus.monitoring.svc.cluster.local:9090",
                            description="Prometheus address for the Argo Rollouts AnalysisTemplate "
                            "(``strategy: argo-rollouts``).")

    _durations = field_validator("lock_ttl", mode="before")(classmethod(lambda cls, v: parse_duration(v)))

    @field_validator("preview_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"{v!r} is not an http(s) URL template (e.g. http://{{service}}.{{namespace}}.svc:{{port}})")
        try:
            v.format(service="s", namespace="n", port=1)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"{v!r}: only {{service}}, {{namespace}} and {{port}} can be filled in ({exc})") from None
        return v


class EnvironmentSpec(_Strict):
    """One environment (``staging``, ``prod``, ...)."""

    target: Literal["docker", "kubernetes"] = Field(description="Where it runs: ``docker`` (one host, Docker Engine or "
                                                    "Podman, haproxy in front) or ``kubernetes`` (a namespace; see "
                                                    "``kubernetes``).")
    docker: DockerTarget = Field(default_factory=DockerTarget, description="Settings of the docker target.")
    kubernetes: KubernetesTarget = Field(default_factory=KubernetesTarget,
                                         description="Settings of the kubernetes target.")
    requires: str | None = Field(default=None, description="The upstream environment a release must be verified in "
                                 "before ``promote`` moves it here (e.g. prod requires staging).")
    auto_promote: bool = Field(default=True, description="Switch traffic as soon as pre-promotion analysis passes; "
                               "false leaves the preview colour running for a manual ``deploy --promote``.")
    scale_down_delay: float = Field(default=30.0, description="How long the previous colour stays warm after a "
                                    "switch, for an instant rollback (seconds or 30s, 5m).")
    readiness_timeout: float = Field(default=180.0, description="How long a new colour may take to pass its "
                                     "readiness checks before the deploy gives up and removes it.")
    post_promotion_window: float = Field(default=0.0, description="How long post-promotion analysis watches the new "
                                         "live colour; a failure switches back. 0 = none.")
    require_gate: bool = Field(default=True, description="Refuse a release whose gate verdict is not pass.")
    analysis: AnalysisSection = Field(default_factory=AnalysisSection, description="Pre- and post-promotion analysis.")
    url: str | None = Field(default=None, description="Where users reach the environment (https://...), linked from "
                            "the forge's environment page as each deployment's environment_url. None = no link.")

    _durations = field_validator("scale_down_delay", "readiness_timeout", "post_promotion_window",
                                 mode="before")(classmethod(lambda cls, v: parse_duration(v)))

    @field_validator("url")
    @classmethod
    def _web_url(cls, v: str | None) -> str | None:
        from urllib.parse import urlsplit

        if v is None:
            return v
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{v!r} is not an http(s) URL (e.g. https://models.example.com)")
        if parts.username or parts.password:
            # It is shown on the forge's environment page to everyone who can read the repository.
            raise ValueError("the URL must not hold credentials (user:password@): it is shown on the forge")
        return v


def check_environments(environments: dict[str, EnvironmentSpec]) -> dict[str, EnvironmentSpec]:
    """Names are DNS-like; ``requires`` names another environment; no cycles."""
    for name, spec in environments.items():
        if not ENV_NAME.match(name):
            raise ValueError(f"environment name {name!r}: use lowercase letters, digits and '-' (e.g. staging, prod)")
        if spec.requires is not None and spec.requires not in environments:
            raise ValueError(f"{name}.requires: no environment {spec.requires!r} (have: {', '.join(environments)})")
    for name in environments:
        seen, here = {name}, environments[name].requires
        while here is not None:
            if here in seen:
                raise ValueError(f"{name}.requires: the chain of requires loops back to {here!r}")
            seen.add(here)
            here = environments[here].requires
    return environments
