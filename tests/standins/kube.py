"""A Kubernetes API on loopback for the ``kubernetes`` deploy target's tests: kmock's
stateful emulator, plus the few behaviours of a real cluster the target relies on.

kmock (PyPI) stores objects and merges patches as plain JSON. What it lacks and this
module adds, each as small as the tests need:

- errors as Kubernetes ``Status`` bodies with their HTTP code (404, 409), not 500;
- server-side apply creating an object that does not exist yet (a real apiserver does);
- ``metadata.generation`` bumped when a write changes ``spec``;
- a stand-in kubelet/Deployment controller: after each write of a Deployment, its status is
  set ready (or left not ready) by ``ready(manifest) -> bool``;
- a stand-in Argo Rollouts controller: applying a Rollout makes the ReplicaSet
  ``<name>-<hash>`` of its pod template, points the preview Service at it (and the active
  Service too on the first rollout), pauses before promotion unless
  ``autoPromotionEnabled``; clearing ``status.pauseConditions`` (what ``kubectl argo
  rollouts promote`` patches) moves the active Service; ``status.abort`` scales the preview
  down.

Run it with :func:`kube_cluster` (a context manager): the emulator serves on 127.0.0.1 from
an asyncio loop in a background thread and stops on exit. ``write_kubeconfig`` gives the
real client a kubeconfig file for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp.web
import kmock
from kmock._internal import enums, k8s

ROLLOUTS = "argoproj.io/v1alpha1/rollouts"
ANALYSIS_TEMPLATES = "argoproj.io/v1alpha1/analysistemplates"
_VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"]


def _merge(base: dict, patch: dict) -> dict:
    """JSON merge patch (RFC 7386), as the emulator's own storage does it."""
    out = dict(base)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


class Cluster(kmock.KubernetesEmulator):
    """kmock's emulator with the cluster behaviours listed in the module's docstring."""

    def __init__(self, ready: Callable[[dict], bool] = lambda manifest: True, **kwargs):
        super().__init__(**kwargs)
        self.ready = ready
        self.writes: list[tuple[str, str, str, Any]] = []  # (method, path, content type, body)
        self.calls: list[tuple[str, str]] = []  # every API request: (method, path)
        for core in ("v1/services", "apps/v1/deployments", "apps/v1/replicasets", "coordination.k8s.io/v1/leases"):
            kind = core.rsplit("/", 1)[1][:-1]
            self.resources[core] = kmock.ResourceInfo(namespaced=True, kind=kind, singular=kind, verbs=_VERBS)
        self.resources[ROLLOUTS] = kmock.ResourceInfo(namespaced=True, kind="Rollout", singular="rollout", verbs=_VERBS)
        self.resources[ANALYSIS_TEMPLATES] = kmock.ResourceInfo(namespaced=True, kind="AnalysisTemplate",
                                                                singular="analysistemplate", verbs=_VERBS)

    # ------------------------------------------------------------------ state, for tests
    def get(self, plural: str, namespace: str, name: str) -> dict | None:
        for (resource, ns, obj_name), obj in list(self.objects.items()):
            if resource.plural == plural and ns == namespace and obj_name == name and not obj.deleted:
                return json.loads(json.dumps(obj.raw))
        return None

    def names(self, plural: str, namespace: str) -> list[str]:
        return sorted(name for (resource, ns, name), obj in list(self.objects.items())
                      if resource.plural == plural and ns == namespace and not obj.deleted)

    def _key(self, plural: str, namespace: str, name: str):
        for resource in self._get_resources():
            if resource.plural == plural:
                return resource, namespace, name
        raise KeyError(plural)

    def _put(self, plural: str, namespace: str, name: str, value: dict) -> None:
        key = self._key(plural, namespace, name)
        if key in self._objects and not self._objects[key].deleted:
            self._objects[key].patch(value)
        elif key in self._objects:
            self._objects[key].create(value)
        else:
            self._objects[key] = value

    def _raw(self, plural: str, namespace: str, name: str) -> dict | None:
        key = self._key(plural, namespace, name)
        obj = self._objects[key] if key in self._objects else None
        return None if obj is None or obj.deleted else obj.raw

    # ------------------------------------------------------------------ request handling
    async def _handle(self, request):
        self.calls.append((request.method.value, request.url.path))
        try:
            if request.resource is not None and request.method.value in ("POST", "PUT", "PATCH", "DELETE"):
                self.writes.append((request.method.value, request.url.path, request.headers.get("Content-Type", ""),
                                    request.data))
                async with self._lock:
                    self._before_write(request)
            response = await super()._handle(request)
            if request.resource is not None and request.method.value in ("POST", "PUT", "PATCH"):
                async with self._lock:
                    self._after_write(request)
            return response
        except k8s.KubernetesError as exc:
            body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": exc.status,
                    "reason": exc.reason, "message": exc.message}
            return aiohttp.web.json_response(body, status=exc.status)

    def _before_write(self, request) -> None:
        namespace, name = request.namespace, request.name
        if request.action == enums.action.UPDATE and name and "apply-patch" in request.headers.get("Content-Type", ""):
            if self._raw(request.resource.plural, namespace, name) is None:  # server-side apply creates
                self._put(request.resource.plural, namespace, name, {})
        if request.action in (enums.action.UPDATE, enums.action.CREATE) and isinstance(request.data, dict):
            name = name or request.data.get("metadata", {}).get("name")
            old = self._raw(request.resource.plural, namespace, name) if name else None
            if "spec" in request.data and not request.url.path.endswith("/status"):
                changed = old is None or _merge(old.get("spec") or {}, request.data["spec"]) != old.get("spec")
                generation = (old or {}).get("metadata", {}).get("generation", 0) + (1 if changed else 0)
                request.data.setdefault("metadata", {})["generation"] = max(generation, 1)

    def _after_write(self, request) -> None:
        plural = request.resource.plural
        namespace = request.namespace
        name = request.name or (request.data or {}).get("metadata", {}).get("name")
        obj = self._raw(plural, namespace, name) if name else None
        if obj is None:
            return
        if plural == "deployments" and not request.url.path.endswith("/status"):
            self._kubelet(namespace, name, obj)
        elif plural == "rollouts":
            self._argo(namespace, name, obj, status_write=request.url.path.endswith("/status"))

    def _kubelet(self, namespace: str, name: str, obj: dict) -> None:
        replicas = obj.get("spec", {}).get("replicas", 1)
        ready = replicas if self.ready(obj) else 0
        self._put("deployments", namespace, name, {"status": {
            "observedGeneration": obj.get("metadata", {}).get("generation", 1), "replicas": replicas,
            "updatedReplicas": replicas, "readyReplicas": ready, "availableReplicas": ready}})

    # ------------------------------------------------------------------ Argo Rollouts, in brief
    def _argo(self, namespace: str, name: str, rollout: dict, *, status_write: bool) -> None:
        spec = rollout.get("spec", {})
        blue_green = spec.get("strategy", {}).get("blueGreen", {})
        template = spec.get("template", {})
        pod_hash = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]
        replicas = spec.get("replicas", 1)
        status = rollout.get("status", {})
        active_name, preview_name = blue_green.get("activeService"), blue_green.get("previewService")
        active = self._raw("services", namespace, active_name) or {}
        active_hash = active.get("spec", {}).get("selector", {}).get("rollouts-pod-template-hash")
        if status_write:
            if status.get("abort") and status.get("currentPodHash") != active_hash:
                self._put("replicasets", namespace, f"{name}-{status['currentPodHash']}",
                          {"spec": {"replicas": 0}, "status": {"replicas": 0, "readyReplicas": 0}})
            elif not status.get("pauseConditions") and status.get("currentPodHash") and \
                    status.get("currentPodHash") != active_hash:
                self._promote(namespace, name, active_name, status["currentPodHash"])
            return
        if status.get("currentPodHash") == pod_hash:
            return
        ready = replicas if self.ready(rollout) else 0
        labels = {**template.get("metadata", {}).get("labels", {}), "rollouts-pod-template-hash": pod_hash}
        self._put("replicasets", namespace, f"{name}-{pod_hash}", {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"{name}-{pod_hash}", "namespace": namespace, "labels": labels},
            "spec": {"replicas": replicas, "template": {**template, "metadata": {"labels": labels}}},
            "status": {"replicas": replicas, "readyReplicas": ready}})
        self._select(namespace, preview_name, pod_hash)
        new_status: dict[str, Any] = {"currentPodHash": pod_hash, "abort": None}
        if active_hash is None or (blue_green.get("autoPromotionEnabled", True) and ready):
            self._promote(namespace, name, active_name, pod_hash)
        else:
            new_status["pauseConditions"] = [{"reason": "BlueGreenPause", "startTime": "2026-01-01T00:00:00Z"}]
        self._put("rollouts", namespace, name, {"status": new_status})

    def _select(self, namespace: str, service: str | None, pod_hash: str) -> None:
        if service and self._raw("services", namespace, service) is not None:
            self._put("services", namespace, service, {"spec": {"selector": {"rollouts-pod-template-hash": pod_hash}}})

    def _promote(self, namespace: str, name: str, active_name: str | None, pod_hash: str) -> None:
        self._select(namespace, active_name, pod_hash)
        self._put("rollouts", namespace, name, {"status": {"stableRS": pod_hash, "pauseConditions": None}})


@contextlib.contextmanager
def kube_cluster(ready: Callable[[dict], bool] = lambda manifest: True) -> Iterator[tuple[Cluster, str]]:
    """(the emulator, its base URL) for the duration of the block."""
    cluster = Cluster(ready=ready)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box: dict[str, Any] = {}

    async def serve() -> None:
        box["stop"] = asyncio.Event()
        async with kmock.Server(cluster) as server:
            box["url"] = str(server.url).rstrip("/")
            started.set()
            await box["stop"].wait()

    thread = threading.Thread(target=lambda: loop.run_until_complete(serve()), daemon=True)
    thread.start()
    if not started.wait(30):
        raise RuntimeError("the Kubernetes stand-in did not start")
    try:
        yield cluster, box["url"]
    finally:
        loop.call_soon_threadsafe(box["stop"].set)
        thread.join(10)
        loop.close()


def write_kubeconfig(path: Path, url: str, *, context: str = "kmock", namespace: str = "default") -> Path:
    """A kubeconfig for the stand-in (no credentials: it asks for none)."""
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": "kmock", "cluster": {"server": url}}],
        "users": [{"name": "tester", "user": {}}],
        "contexts": [{"name": context, "context": {"cluster": "kmock", "user": "tester", "namespace": namespace}}],
    }))
    return path
