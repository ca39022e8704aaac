"""Talking to a container engine through the Docker API (Docker Engine or Podman's
``podman system service``): connect, build with streamed logs, tag, push.

Every failure becomes one ``ExternalServiceError`` line naming what failed and where:
an unreachable engine, the build step that failed with the tail of its log, a registry
that cannot be reached or refuses the push.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from llm_gitops.errors import ExternalServiceError
from llm_gitops.logsafe import redact

Progress = Callable[[str], None]

# "[2/2] STEP 3/12: RUN ..." (Podman/Buildah, stage prefix optional) or "Step 3/12 : RUN ..." (Docker)
_STEP = re.compile(r"^\s*(?:\[\d+/\d+\]\s*)?step\s+(\d+)/(\d+)\s*:\s*(.*)$", re.I)
_DIGEST = re.compile(r"digest:\s*(sha256:[0-9a-f]{64})")
_BUILT = re.compile(r"^(?:Successfully built|COMMIT.*?-->)\s*([0-9a-f]{12,64})\s*$")
_LOG_TAIL = 12


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return redact(text if len(text) <= limit else text[: limit - 3] + "...")


def connect(engine_url: str | None):
    """A ``docker.DockerClient`` for ``engine_url`` (None: DOCKER_HOST or the default socket)."""
    try:
        import docker
    except ImportError:
        raise ExternalServiceError("the Docker SDK is not installed", hint="pip install 'llm-gitops[build]'") from None
    where = engine_url or "DOCKER_HOST / the default socket"
    try:
        client = docker.DockerClient(base_url=engine_url) if engine_url else docker.from_env()
        client.ping()
    except Exception as exc:  # noqa: BLE001 - the SDK raises many kinds for "not there"
        raise ExternalServiceError(
            f"cannot reach the container engine at {where}: {_one_line(exc, 160)}",
            hint="start Docker or 'podman system service', or set DOCKER_HOST / image.engine",
        ) from None
    return client


@dataclass(frozen=True)
class BuiltImage:
    id: str
    size: int
    steps: int  # build steps run
    cached_steps: int  # of which the engine reused from its cache


def build(client, context_dir: str, tag: str, *, progress: Progress, nocache: bool = False) -> BuiltImage:
    """Build ``context_dir``'s Dockerfile as ``tag``, streaming its log to ``progress``."""
    from docker.errors import APIError, DockerException

    tail: deque[str] = deque(maxlen=_LOG_TAIL)
    step = "before the first step"
    steps = cached = 0
    image_id = None
    try:
        # pull=False: a base image must already be in the engine (air-gapped builds).
        stream = client.api.build(path=context_dir, tag=tag, rm=True, forcerm=True, pull=False, nocache=nocache,
                                  decode=True)
        for event in stream:
            if "error" in event or "errorDetail" in event:
                detail = event.get("error") or (event.get("errorDetail") or {}).get("message", "")
                raise ExternalServiceError(
                    f"image build failed at {step}: {_one_line(detail)}; last log lines: "
                    f"{_one_line(' | '.join(tail), 600) or '(none)'}",
                    hint="fix that step (or its inputs) and build again",
                )
            if "aux" in event and isinstance(event["aux"], dict) and event["aux"].get("ID"):
                image_id = event["aux"]["ID"]
            text = event.get("stream") or event.get("status") or ""
            for line in text.splitlines():
                line = line.rstrip()
                if not line:
                    continue
                tail.append(line)
                m = _STEP.match(line)
                if m:
                    steps += 1
                    step = f"step {m.group(1)}/{m.group(2)} ({_one_line(m.group(3), 120)})"
                if "Using cache" in line:
                    cached += 1
                built = _BUILT.match(line)
                if built:
                    image_id = image_id or built.group(1)
                progress(line)
    except (APIError, DockerException) as exc:
        raise ExternalServiceError(f"image build failed at {step}: {_one_line(exc)}",
                                   hint="check the engine's log and the base image") from None
    try:
        image = client.images.get(tag)
    except DockerException as exc:
        raise ExternalServiceError(f"the build reported success but {tag} is not in the engine: {_one_line(exc)}") from None
    return BuiltImage(id=image.id, size=int(image.attrs.get("Size") or 0), steps=steps, cached_steps=cached)


def push(client, repository: str, tag: str, *, progress: Progress) -> str:
    """Push ``repository:tag``; return the manifest digest the registry stored.

    Docker reports it as ``aux.Digest``; Podman only in a status line ("... digest:
    sha256:..."), and neither guarantees it, so the registry is asked as a last resort.
    ``RepoDigests`` is not used: right after a push it holds the local digest.
    """
    from docker.errors import APIError, DockerException

    registry = repository.split("/", 1)[0]
    digest = None
    last = ""
    try:
        for event in client.api.push(repository, tag=tag, stream=True, decode=True):
            if "error" in event or "errorDetail" in event:
                detail = event.get("error") or (event.get("errorDetail") or {}).get("message", "")
                raise _push_error(registry, repository, tag, detail)
            aux = event.get("aux")
            if isinstance(aux, dict) and aux.get("Digest"):
                digest = aux["Digest"]
            status = event.get("status") or event.get("stream") or ""
            if status.strip():
                last = status.strip()
                progress(last)
            m = _DIGEST.search(status)
            if m:
                digest = m.group(1)
    except (APIError, DockerException) as exc:
        raise _push_error(registry, repository, tag, str(exc)) from None
    return digest or registry_digest(repository, tag, after=last)


def _push_error(registry: str, repository: str, tag: str, detail: str) -> ExternalServiceError:
    text = detail.lower()
    if any(w in text for w in ("denied", "unauthorized", "authentication required", "forbidden", "405", "read-only",
                               "readonly")):
        hint = "log in to the registry (docker/podman login) with a token that may push there"
        what = "the registry refused the push"
    elif any(w in text for w in ("connection refused", "no such host", "dial tcp", "timeout", "connect:", "pinging")):
        hint = "check the registry address in image.repository and that the registry is up"
        what = "cannot reach the registry"
    else:
        hint = "check the registry and the engine's log"
        what = "push failed"
    return ExternalServiceError(f"{what}: {repository}:{tag} to {registry}: {_one_line(detail)}", hint=hint)


def registry_digest(repository: str, tag: str, *, after: str = "") -> str:
    """``Docker-Content-Digest`` of ``repository:tag`` from the registry (a HEAD request)."""
    import requests

    registry, _, name = repository.partition("/")
    host = registry.split(":")[0]
    scheme = "http" if host in ("localhost", "127.0.0.1", "::1") else "https"
    url = f"{scheme}://{registry}/v2/{name}/manifests/{quote(tag)}"
    accept = ", ".join([
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ])
    try:
        response = requests.head(url, headers={"Accept": accept}, timeout=10)
    except requests.RequestException as exc:
        raise ExternalServiceError(f"pushed {repository}:{tag} but cannot ask {registry} for its digest: "
                                   f"{_one_line(exc, 160)}") from None
    digest = response.headers.get("Docker-Content-Digest")
    if response.status_code != 200 or not digest:
        raise ExternalServiceError(
            f"pushed {repository}:{tag} but {registry} answered HTTP {response.status_code} without a digest "
            f"(last push status: {_one_line(after, 120) or 'none'})",
            hint="the registry may need credentials for reads; pass the digest-bearing reference by hand",
        )
    return digest
