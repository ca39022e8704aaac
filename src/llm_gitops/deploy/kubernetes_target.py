"""The ``kubernetes`` deploy target: a namespace, through the official ``kubernetes`` client.

``strategy: deployments`` (:class:`KubernetesTarget`): a Deployment per colour
(``NAME-blue``, ``NAME-green``) and a Service ``NAME`` whose selector names the live colour;
the Service is the only record of which colour is live. ``start`` applies the colour's
Deployment and points Service ``NAME-preview`` at it (the analysis reaches the colour
through it); ``switch`` applies Service ``NAME`` with the new colour in its selector;
``remove`` deletes the colour's Deployment.

``strategy: argo-rollouts`` (:class:`ArgoRolloutsTarget`): one Rollout with a blueGreen
strategy that Argo Rollouts drives. The colour is a label of the Rollout's pod template,
so each ReplicaSet Argo makes carries one; the live colour is the one of the ReplicaSet
whose ``rollouts-pod-template-hash`` the active Service selects. ``start`` applies the
Rollout with the new release (Argo makes the preview ReplicaSet and points the preview
Service at it), ``switch`` is ``kubectl argo rollouts promote`` (unpause, clear
``status.pauseConditions``), ``remove`` of the preview is ``kubectl argo rollouts abort``;
the previous colour is scaled down by Argo itself after ``scaleDownDelaySeconds``.

Everything is applied by server-side apply (field manager ``llm-gitops``, forced), after
a strict schema check (``deploy/schemas``). One deploy per environment at a time: a
``coordination.k8s.io/v1`` Lease, renewed while the deploy runs and deleted at its end; a
killed deploy's Lease expires after ``lock_ttl``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from llm_gitops.config.environments import EnvironmentSpec
from llm_gitops.deploy import manifests
from llm_gitops.deploy.haproxy import COLOURS
from llm_gitops.deploy.manifests import FIELD_MANAGER, LABEL_COLOUR, LABEL_ENV, LABEL_RELEASE
from llm_gitops.deploy.schemas import check_manifest
from llm_gitops.deploy.base import ColourState, Progress
from llm_gitops.errors import ConfigError, ExternalServiceError
from llm_gitops.build.engine import _one_line  # an error's text on one line, redacted, bounded
from llm_gitops.logsafe import redact
from llm_gitops.release.record import Release

_POLL_S = 0.5
_HTTP_TIMEOUT_S = 30
_PROMOTE_TIMEOUT_S = 120.0  # Argo's controller acts within seconds; a stuck one is an error, not a hang
_HASH = "rollouts-pod-template-hash"
_APPLY = "application/apply-patch+yaml"
_MERGE = "application/merge-patch+json"


def _micro_time(at: datetime | None = None) -> str:
    return (at or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


class KubernetesTarget:
    """``strategy: deployments``: two Deployments and a Service whose selector is switched."""

    name = "kubernetes"

    def __init__(self, *, env: str, spec: EnvironmentSpec, base_dir: Path, container_port: int,
                 kubeconfig: str | None = None, api_client=None):
        self.env = env
        self.spec = spec
        self.settings = spec.kubernetes
        self.names = manifests.names_for(env, self.settings)
        self.container_port = container_port
        path = kubeconfig or self.settings.kubeconfig
        self.kubeconfig = None if path is None else (Path(path) if Path(path).is_absolute() else base_dir / path)
        self._api = api_client

    # ------------------------------------------------------------------ client plumbing
    @property
    def api(self):
        if self._api is None:
            try:
                from kubernetes import client, config
            except ImportError:
                raise ConfigError("the kubernetes target needs the k8s extra", hint="pip install 'llm-gitops[k8s]'") from None
            configuration = client.Configuration()
            try:
                if self.kubeconfig is not None:
                    if not self.kubeconfig.is_file():
                        raise ConfigError(f"environments.{self.env}.kubernetes.kubeconfig: no file {self.kubeconfig}",
                                          hint="point it (or $KUBECONFIG) at a kubeconfig file")
                    config.load_kube_config(config_file=str(self.kubeconfig), context=self.settings.context,
                                            client_configuration=configuration)
                else:
                    config.load_incluster_config(client_configuration=configuration)
            except config.ConfigException as exc:
                raise ConfigError(f"environments.{self.env}.kubernetes: no usable cluster credentials: {_one_line(exc)}",
                                  hint="set kubernetes.kubeconfig (and context), $KUBECONFIG, or run in the cluster") from None
            self._api = client.ApiClient(configuration)
        return self._api

    def _call(self, what: str, method: str, path: str, body=None, *, content_type: str | None = None,
              query: list | None = None, missing_ok: bool = False, conflict: bool = False):
        """One API request; the decoded JSON answer (None: not found and ``missing_ok``)."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        try:
            resp = self.api.call_api(path, method, query_params=query or [], header_params=headers, body=body,
                                     auth_settings=["BearerToken"], _preload_content=False,
                                     _request_timeout=_HTTP_TIMEOUT_S)
        except ApiException as exc:
            if exc.status == 404 and missing_ok:
                return None
            if exc.status == 409 and conflict:
                raise _Conflict() from None
            raise ExternalServiceError(f"Kubernetes API: {what} failed: {exc.status} {_status_message(exc)}",
                                       hint=_hint(exc.status)) from None
        except (HTTPError, OSError, ValueError) as exc:  # connection refused, TLS, timeouts
            raise ExternalServiceError(f"Kubernetes API: {what} failed: {_one_line(exc)}",
                                       hint="is the cluster reachable from here?") from None
        raw = resp[0].data if isinstance(resp, tuple) else resp.data
        return json.loads(raw) if raw else {}

    def _path(self, api: str, plural: str, name: str | None = None, sub: str | None = None) -> str:
        prefix = "/api/v1" if api == "v1" else f"/apis/{api}"
        path = f"{prefix}/namespaces/{self.names.namespace}/{plural}"
        return path + (f"/{name}" if name else "") + (f"/{sub}" if sub else "")

    def _apply(self, manifest: dict) -> dict:
        """Check ``manifest`` strictly, then server-side apply it."""
        check_manifest(manifest)
        api, kind, name = manifest["apiVersion"], manifest["kind"], manifest["metadata"]["name"]
        plural = _PLURALS[kind]
        return self._call(f"applying {kind} {self.names.namespace}/{name}", "PATCH", self._path(api, plural, name),
                          manifest, content_type=_APPLY,
                          query=[("fieldManager", FIELD_MANAGER), ("force", "true")])

    def _get(self, api: str, plural: str, name: str) -> dict | None:
        return self._call(f"reading {plural} {self.names.namespace}/{name}", "GET", self._path(api, plural, name),
                          missing_ok=True)

    def _delete(self, api: str, plural: str, name: str) -> None:
        self._call(f"deleting {plural} {self.names.namespace}/{name}", "DELETE", self._path(api, plural, name),
                   {"propagationPolicy": "Background"}, content_type="application/json", missing_ok=True)

    def _service_selector(self, name: str) -> dict[str, str]:
        obj = self._get("v1", "services", name)
        return dict(((obj or {}).get("spec") or {}).get("selector") or {})

    def _url(self, service: str) -> str:
        return self.settings.preview_url.format(service=service, namespace=self.names.namespace,
                                                port=self.settings.service_port)

    def _apply_service(self, name: str, selector: dict[str, str]) -> None:
        self._apply(manifests.service(self.names, self.env, name, selector, self.settings))

    # ------------------------------------------------------------------ the lock
    @contextlib.contextmanager
    def lock(self):
        holder = f"llm-gitops/{socket.gethostname()}/{os.getpid()}"
        ttl = self.settings.lock_ttl
        manifest = manifests.lease(self.names, self.env, holder, ttl, _micro_time())
        check_manifest(manifest)
        path = self._path("coordination.k8s.io/v1", "leases")
        what = f"taking Lease {self.names.namespace}/{self.names.lease}"
        try:
            self._call(what, "POST", path, manifest, content_type="application/json", conflict=True)
        except _Conflict:
            self._take_expired(manifest, holder)
        stop = threading.Event()
        renewer = threading.Thread(target=self._renew, args=(holder, ttl, stop), daemon=True,
                                   name=f"lease-{self.names.lease}")
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            renewer.join(5)
            current = self._get("coordination.k8s.io/v1", "leases", self.names.lease)
            if current is not None and current.get("spec", {}).get("holderIdentity") == holder:
                self._delete("coordination.k8s.io/v1", "leases", self.names.lease)

    def _take_expired(self, manifest: dict, holder: str) -> None:
        current = self._get("coordination.k8s.io/v1", "leases", self.names.lease) or {}
        spec = current.get("spec") or {}
        renewed = _parse_time(spec.get("renewTime") or spec.get("acquireTime"))
        duration = spec.get("leaseDurationSeconds") or 0
        now = datetime.now(timezone.utc)
        fresh = renewed is not None and (now - renewed).total_seconds() < duration
        if spec.get("holderIdentity") and fresh and not _holder_gone(spec["holderIdentity"]):
            raise ExternalServiceError(
                f"another deploy of {self.env} is running: Lease {self.names.namespace}/{self.names.lease} is held by "
                f"{spec['holderIdentity']} (renewed {spec.get('renewTime')}, lasts {duration} s)",
                hint="wait for it to finish; deploys of one environment run one at a time, and a killed "
                     "deploy's lock expires after kubernetes.lock_ttl")
        # Expired, or its holder was a process on this host that is gone (a killed deploy):
        # taken over. A merge patch naming the resourceVersion read is
        # refused (409) if the Lease changed since, so two deploys taking it over at once
        # cannot both succeed.
        patch = {"spec": manifest["spec"]}
        version = (current.get("metadata") or {}).get("resourceVersion")
        if version:
            patch["metadata"] = {"resourceVersion": version}
        try:
            self._call(f"taking over the expired Lease {self.names.lease}", "PATCH",
                       self._path("coordination.k8s.io/v1", "leases", self.names.lease), patch,
                       content_type=_MERGE, conflict=True)
        except _Conflict:
            raise ExternalServiceError(f"another deploy of {self.env} took Lease {self.names.lease} just now",
                                       hint="wait for it to finish") from None

    def _renew(self, holder: str, ttl: float, stop: threading.Event) -> None:
        while not stop.wait(max(ttl / 3.0, 0.05)):
            try:
                self._call("renewing the deploy Lease", "PATCH",
                           self._path("coordination.k8s.io/v1", "leases", self.names.lease),
                           {"spec": {"renewTime": _micro_time(), "holderIdentity": holder}}, content_type=_MERGE)
            except ExternalServiceError:
                pass  # the next renewal tries again; the Lease lasts ttl, three times this period

    # ------------------------------------------------------------------ DeployTarget
    def colours(self) -> dict[str, ColourState]:
        preview = self._service_selector(self.names.preview_service).get(LABEL_COLOUR)
        live = self.live()
        states = {}
        for colour in COLOURS:
            obj = self._get("apps/v1", "deployments", self.names.deployment(colour))
            if obj is None:
                states[colour] = ColourState(colour, None, None, False)
                continue
            labels = (obj.get("metadata") or {}).get("labels") or {}
            endpoint = (self._url(self.names.service) if colour == live else
                        self._url(self.names.preview_service) if colour == preview else None)
            running = ((obj.get("spec") or {}).get("replicas") or 0) > 0
            states[colour] = ColourState(colour, labels.get(LABEL_RELEASE), endpoint, running)
        return states

    def live(self) -> str | None:
        colour = self._service_selector(self.names.service).get(LABEL_COLOUR)
        return colour if colour in COLOURS else None

    def pull(self, release: Release, progress: Progress) -> None:
        """The cluster pulls; what is checked here is that the image is pinned by digest."""
        if "@sha256:" not in release.image:
            raise ConfigError(f"release {release.id}: image {release.image} is not pinned by digest",
                              hint="releases written by 'llm-gitops release' name ref@sha256:...")
        progress(f"{self.names.namespace}: the cluster pulls {release.image}")

    def start(self, colour: str, release: Release, progress: Progress) -> ColourState:
        self._apply(manifests.deployment(self.names, self.env, colour, release, self.settings, self.container_port))
        self._apply_service(self.names.preview_service, manifests.colour_selector(self.names, colour))
        progress(f"{colour}: Deployment {self.names.namespace}/{self.names.deployment(colour)} applied "
                 f"({self.settings.replicas} replica(s))")
        return ColourState(colour, release.id, self._url(self.names.preview_service), True)

    def _deployment_ready(self, colour: str) -> tuple[bool, str]:
        obj = self._get("apps/v1", "deployments", self.names.deployment(colour))
        if obj is None:
            return False, "its Deployment is gone"
        return _rollout_status(obj)

    def wait_ready(self, colour: str, timeout_s: float) -> None:
        self._wait(lambda: self._deployment_ready(colour), timeout_s,
                   f"{colour} (Deployment {self.names.deployment(colour)}) did not become ready")

    def _wait(self, check, timeout_s: float, failure: str) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            done, detail = check()
            if done:
                return
            if time.monotonic() >= deadline:
                raise ExternalServiceError(f"{failure} within {timeout_s:g} s: {detail}")
            time.sleep(_POLL_S)

    def switch(self, colour: str) -> str | None:
        previous = self.live()
        ready, detail = self._deployment_ready(colour)
        if not ready:
            raise ExternalServiceError(f"refusing to send {self.env}'s traffic to {colour}: {detail}")
        self._apply_service(self.names.service, manifests.colour_selector(self.names, colour))
        return previous if previous != colour else None

    def remove(self, colour: str) -> None:
        if self.live() == colour:
            raise ExternalServiceError(f"refusing to remove {self.env}'s live colour {colour}",
                                       hint="switch traffic away first ('llm-gitops rollback' or a deploy)")
        self._delete("apps/v1", "deployments", self.names.deployment(colour))


class ArgoRolloutsTarget(KubernetesTarget):
    """``strategy: argo-rollouts``: a Rollout (blueGreen) that Argo drives; llm-gitops promotes it."""

    name = "kubernetes/argo-rollouts"
    _left: str | None = None  # the live colour when start() applied the Rollout
    _started: str | None = None  # the colour start() applied

    def _rollout(self) -> dict | None:
        return self._get("argoproj.io/v1alpha1", "rollouts", self.names.rollout)

    def _replica_sets(self) -> list[dict]:
        listed = self._call(f"listing ReplicaSets in {self.names.namespace}", "GET",
                            self._path("apps/v1", "replicasets"),
                            query=[("labelSelector", f"app={self.names.base},{LABEL_ENV}={self.env}")])
        return [rs for rs in (listed or {}).get("items") or []
                if ((rs.get("metadata") or {}).get("labels") or {}).get("app") == self.names.base]

    @staticmethod
    def _labels(rs: dict) -> dict:
        return (rs.get("metadata") or {}).get("labels") or {}

    def live(self) -> str | None:
        pod_hash = self._service_selector(self.names.service).get(_HASH)
        if pod_hash is None:
            return None
        for rs in self._replica_sets():
            if self._labels(rs).get(_HASH) == pod_hash:
                colour = self._labels(rs).get(LABEL_COLOUR)
                return colour if colour in COLOURS else None
        return None

    def colours(self) -> dict[str, ColourState]:
        live = self.live()
        states = {colour: ColourState(colour, None, None, False) for colour in COLOURS}
        for rs in self._replica_sets():
            colour = self._labels(rs).get(LABEL_COLOUR)
            if colour not in COLOURS:
                continue
            running = ((rs.get("spec") or {}).get("replicas") or 0) > 0
            if states[colour].running and not running:
                continue  # an older, scaled-down ReplicaSet of the same colour
            service = self.names.service if colour == live else self.names.preview_service
            states[colour] = ColourState(colour, self._labels(rs).get(LABEL_RELEASE), self._url(service), running)
        return states

    def start(self, colour: str, release: Release, progress: Progress) -> ColourState:
        selector = {"app": self.names.base}  # Argo adds rollouts-pod-template-hash
        for service in (self.names.service, self.names.preview_service):
            if self._get("v1", "services", service) is None:
                self._apply_service(service, selector)
        # With autoPromotionEnabled Argo may switch before switch() is called: remember what was live.
        self._left = self.live()
        self._started = colour
        with_analysis = bool(self.spec.analysis.metrics)
        if with_analysis:
            self._apply(manifests.analysis_template(self.names, self.env, self.spec.analysis, self.settings.prometheus))
        self._apply(manifests.rollout(self.names, self.env, colour, release, self.settings, self.container_port,
                                      auto_promote=self.spec.auto_promote, scale_down_delay=self.spec.scale_down_delay,
                                      with_analysis=with_analysis))
        progress(f"{colour}: Rollout {self.names.namespace}/{self.names.rollout} applied with {release.id}")
        return ColourState(colour, release.id, self._url(self.names.preview_service), True)

    def _current(self, colour: str) -> tuple[dict | None, str]:
        """The ReplicaSet of ``colour`` that is the Rollout's current revision, or why there is none."""
        pod_hash = ((self._rollout() or {}).get("status") or {}).get("currentPodHash")
        for rs in self._replica_sets():
            if self._labels(rs).get(_HASH) == pod_hash and self._labels(rs).get(LABEL_COLOUR) == colour:
                return rs, ""
        return None, f"Argo Rollouts has made no ReplicaSet for {colour} yet"

    def _colour_ready(self, colour: str) -> tuple[bool, str]:
        rs, why = self._current(colour)
        return (False, why) if rs is None else _rollout_status(rs)

    def wait_ready(self, colour: str, timeout_s: float) -> None:
        if self._started != colour and self._current(colour)[0] is None:
            # A preview the flow found running (a killed deploy's, or the colour a rollback
            # left) that is no longer the Rollout's current revision: make it current again.
            self._left = self.live()
            self._revert_to(colour)
        self._wait(lambda: self._colour_ready(colour), timeout_s,
                   f"{colour} (Rollout {self.names.rollout}) did not become ready")

    def switch(self, colour: str) -> str | None:
        previous = self.live()
        if previous == colour:  # Argo promoted on its own (autoPromotionEnabled)
            return self._left if self._left != colour else None
        path = self._path("argoproj.io/v1alpha1", "rollouts", self.names.rollout)
        if self._current(colour)[0] is None:
            self._revert_to(colour)  # back to an older revision: a rollback
        self._promote(path)
        self._wait(lambda: (self.live() == colour, f"the active Service still selects {self.live()}"),
                   _PROMOTE_TIMEOUT_S, f"Argo Rollouts did not promote {colour}")
        return previous

    def _revert_to(self, colour: str) -> None:
        """What ``kubectl argo rollouts undo`` does: the Rollout takes the pod template of
        ``colour``'s running ReplicaSet again; Argo reuses that warm ReplicaSet."""
        rs = next((r for r in self._replica_sets() if self._labels(r).get(LABEL_COLOUR) == colour
                   and ((r.get("spec") or {}).get("replicas") or 0) > 0), None)
        if rs is None:
            raise ExternalServiceError(f"{self.env}: no running ReplicaSet of {colour} to go back to")
        template = json.loads(json.dumps((rs.get("spec") or {}).get("template") or {}))
        ((template.get("metadata") or {}).get("labels") or {}).pop(_HASH, None)
        self._call(f"reverting Rollout {self.names.rollout} to {colour}", "PATCH",
                   self._path("argoproj.io/v1alpha1", "rollouts", self.names.rollout),
                   {"spec": {"template": template}}, content_type=_MERGE)

    def _promote(self, path: str) -> None:
        """``kubectl argo rollouts promote``: unpause the spec, clear the status' pause conditions."""
        rollout = self._rollout() or {}
        if (rollout.get("spec") or {}).get("paused"):
            self._call("unpausing the Rollout", "PATCH", path, {"spec": {"paused": False}}, content_type=_MERGE)
        if ((rollout.get("status") or {}).get("pauseConditions")):
            self._call("promoting the Rollout", "PATCH", path + "/status", {"status": {"pauseConditions": None}},
                       content_type=_MERGE)

    def remove(self, colour: str) -> None:
        if self.live() == colour:
            if self._left is None:
                raise ExternalServiceError(
                    f"{colour} is {self.env}'s first revision, which Argo Rollouts makes active at once: "
                    f"there is no previous colour to keep traffic on",
                    hint="fix the release and deploy again, or delete the Rollout by hand")
            raise ExternalServiceError(f"refusing to remove {self.env}'s live colour {colour}",
                                       hint="switch traffic away first ('llm-gitops rollback' or a deploy)")
        rs, _ = self._current(colour)
        if rs is not None:
            # The preview of this Rollout: 'kubectl argo rollouts abort' scales it down and
            # keeps the active ReplicaSet; the next apply of a new release starts afresh.
            self._call("aborting the Rollout's preview", "PATCH",
                       self._path("argoproj.io/v1alpha1", "rollouts", self.names.rollout, "status"),
                       {"status": {"abort": True}}, content_type=_MERGE)
        # An older colour: Argo scales it down itself after scaleDownDelaySeconds.


def _holder_gone(holder: str) -> bool:
    """True when ``holder`` (``llm-gitops/<host>/<pid>``) was a process of this host that no longer runs."""
    _, host, pid = (holder.split("/") + ["", ""])[:3]
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine's: only its Lease's expiry tells
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # it exists (another user's process)
    return False


class _Conflict(Exception):
    """409 from the API server (the object exists / changed under us)."""


_PLURALS = {"Deployment": "deployments", "Service": "services", "Lease": "leases", "Rollout": "rollouts",
            "AnalysisTemplate": "analysistemplates"}


def _rollout_status(obj: dict) -> tuple[bool, str]:
    """(ready, what is missing) of a Deployment or ReplicaSet, as ``kubectl rollout status`` judges it."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    wanted = spec.get("replicas", 1)
    generation = (obj.get("metadata") or {}).get("generation")
    if generation is not None and status.get("observedGeneration", 0) < generation:
        return False, "the controller has not seen the latest spec yet"
    ready = status.get("readyReplicas") or 0
    updated = status.get("updatedReplicas", ready)
    if updated < wanted or ready < wanted:
        conditions = [c for c in status.get("conditions") or [] if c.get("status") == "False" and c.get("message")]
        why = f"; {redact(conditions[-1]['message'])[:200]}" if conditions else ""
        return False, f"{ready}/{wanted} replicas ready{why}"
    return True, ""


def _status_message(exc) -> str:
    try:
        return _one_line(json.loads(exc.body).get("message") or exc.reason)
    except (TypeError, ValueError, AttributeError):
        return _one_line(exc.reason or "")


def _hint(status: int) -> str:
    return {401: "the kubeconfig's credentials were refused", 403: "the credentials lack RBAC rights on this namespace",
            404: "does the namespace exist (and the Argo Rollouts CRDs, for strategy: argo-rollouts)?"}.get(
        status, "see the API server's message")
