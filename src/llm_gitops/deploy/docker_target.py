"""The ``docker`` deploy target: one host, colours as containers, haproxy in front.

Each colour is a container named ``llm-gitops-<env>-<colour>``, labelled with the
environment, the colour and the release, running the release's image (pulled by digest)
and published on ``bind_host`` at a port the engine picks. The front (``deploy/haproxy.py``)
routes the environment's address to the live colour. What runs where is read from the
engine's labels and haproxy's state on every call; the only file kept is the lock.

Works with Docker Engine and with Podman's Docker API (``podman system service``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from llm_gitops.build.engine import connect
from llm_gitops.config.environments import EnvironmentSpec
from llm_gitops.deploy.haproxy import COLOURS, FrontSettings, HaproxyFront, front_running, start_front
from llm_gitops.deploy.base import ColourState, Progress
from llm_gitops.errors import ExternalServiceError
from llm_gitops.logsafe import redact
from llm_gitops.release.record import Release

LABEL_ENV = "io.llm-gitops.env"
LABEL_COLOUR = "io.llm-gitops.colour"
LABEL_RELEASE = "io.llm-gitops.release"
_STOP_TIMEOUT_S = 20  # the server drains in-flight requests on SIGTERM


def _one_line(exc: BaseException, limit: int = 240) -> str:
    text = " ".join(str(exc).split())
    return redact(text if len(text) <= limit else text[: limit - 3] + "...")


class DockerTarget:
    name = "docker"

    def __init__(self, *, env: str, spec: EnvironmentSpec, base_dir: Path, engine_url: str | None,
                 container_port: int, client=None):
        self.env = env
        self.spec = spec
        settings = spec.docker
        host, _, port = settings.listen.rpartition(":")
        run_dir = Path(settings.run_dir)
        run_dir = (run_dir if run_dir.is_absolute() else base_dir / run_dir) / env
        self.front_settings = FrontSettings(listen_host=host, listen_port=int(port), run_dir=run_dir)
        self.engine_url = engine_url
        self.container_port = container_port
        self._client = client
        self._front: HaproxyFront | None = None

    # ------------------------------------------------------------------ plumbing
    @property
    def client(self):
        if self._client is None:
            self._client = connect(self.engine_url)
        return self._client

    @property
    def front(self) -> HaproxyFront:
        if self._front is None:
            fresh = front_running(self.front_settings) is None
            self._front = start_front(self.front_settings)
            if fresh:
                # A new front (first deploy, or haproxy lost its state, e.g. a reboot): the
                # colours still running are attached again, taking no traffic; the next deploy
                # judges the one running its release and switches to it.
                for colour, state in self.colours().items():
                    if state.running and state.endpoint:
                        host, _, port = state.endpoint.removeprefix("http://").rpartition(":")
                        self._front.attach(colour, host, int(port))
        return self._front

    def container_name(self, colour: str) -> str:
        return f"llm-gitops-{self.env}-{colour}"

    def _containers(self) -> dict[str, object]:
        found = {}
        try:
            listed = self.client.containers.list(all=True, filters={"label": f"{LABEL_ENV}={self.env}"})
        except Exception as exc:  # noqa: BLE001 - the SDK raises many kinds
            raise ExternalServiceError(f"the container engine could not list {self.env}'s containers: {_one_line(exc)}") from None
        for container in listed:
            colour = container.labels.get(LABEL_COLOUR)
            if colour in COLOURS:
                found[colour] = container
        return found

    def _endpoint(self, container) -> str | None:
        ports = (container.attrs.get("NetworkSettings") or {}).get("Ports") or {}
        bindings = ports.get(f"{self.container_port}/tcp") or []
        for binding in bindings:
            if binding.get("HostPort"):
                return f"http://{self.spec.docker.bind_host}:{binding['HostPort']}"
        return None

    # ------------------------------------------------------------------ DeployTarget
    @contextlib.contextmanager
    def lock(self):
        self.front_settings.run_dir.mkdir(parents=True, exist_ok=True)
        path = self.front_settings.run_dir / "deploy.lock"
        with open(path, "a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.seek(0)
                holder = fh.read().strip() or "another process"
                raise ExternalServiceError(f"another deploy of {self.env} is running (pid {holder})",
                                           hint="wait for it to finish; deploys of one environment run one at a time") from None
            fh.seek(0)
            fh.truncate()
            fh.write(str(os.getpid()))
            fh.flush()
            try:
                yield
            finally:
                fh.seek(0)
                fh.truncate()
                fcntl.flock(fh, fcntl.LOCK_UN)

    def colours(self) -> dict[str, ColourState]:
        containers = self._containers()
        states = {}
        for colour in COLOURS:
            container = containers.get(colour)
            if container is None:
                states[colour] = ColourState(colour, None, None, False)
            else:
                states[colour] = ColourState(colour, container.labels.get(LABEL_RELEASE), self._endpoint(container),
                                             container.status == "running")
        return states

    def live(self) -> str | None:
        return self.front.live()

    def pull(self, release: Release, progress: Progress) -> None:
        import docker

        try:
            self.client.images.get(release.image)
            progress(f"image {release.image} already present")
            return
        except docker.errors.ImageNotFound:
            pass
        except Exception as exc:  # noqa: BLE001
            raise ExternalServiceError(f"the container engine failed to look up {release.image}: {_one_line(exc)}") from None
        progress(f"pulling {release.image}")
        try:
            self.client.images.pull(release.image)
        except docker.errors.NotFound:
            raise ExternalServiceError(f"release {release.id}: image {release.image} is not in the registry",
                                       hint="was it pushed? 'llm-gitops build' pushes before it records a release") from None
        except Exception as exc:  # noqa: BLE001
            raise ExternalServiceError(f"release {release.id}: pulling {release.image} failed: {_one_line(exc)}",
                                       hint="check the registry's address and credentials") from None

    def start(self, colour: str, release: Release, progress: Progress) -> ColourState:
        labels = {LABEL_ENV: self.env, LABEL_COLOUR: colour, LABEL_RELEASE: release.id}
        try:
            container = self.client.containers.run(
                release.image, detach=True, init=True, name=self.container_name(colour), labels=labels,
                ports={f"{self.container_port}/tcp": (self.spec.docker.bind_host, None)},
                environment={"LLM_GITOPS_COLOR": colour, "LLM_GITOPS_MODEL_VERSION": release.id},
            )
            container.reload()
        except Exception as exc:  # noqa: BLE001
            raise ExternalServiceError(f"starting {release.image} as {colour} failed: {_one_line(exc)}") from None
        endpoint = self._endpoint(container)
        if endpoint is None:
            container.remove(force=True)
            raise ExternalServiceError(f"the engine published no port for {colour} ({self.container_port}/tcp)")
        host, _, port = endpoint.removeprefix("http://").rpartition(":")
        self.front.attach(colour, host, int(port))
        progress(f"{colour}: container {container.short_id} at {endpoint}")
        return ColourState(colour, release.id, endpoint, True)

    def wait_ready(self, colour: str, timeout_s: float) -> None:
        try:
            self.front.wait_up(colour, timeout_s)
        except ExternalServiceError:
            container = self._containers().get(colour)
            if container is not None:
                container.reload()
                tail = container.logs(tail=5).decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
                raise ExternalServiceError(f"{colour} ({container.status}) did not become ready within "
                                           f"{timeout_s:g} s; last log line: {redact(tail[0])[:200]}") from None
            raise

    def switch(self, colour: str) -> str | None:
        return self.front.switch_to(colour)

    def remove(self, colour: str) -> None:
        if self.front.live() == colour:
            raise ExternalServiceError(f"refusing to remove {self.env}'s live colour {colour}",
                                       hint="switch traffic away first ('llm-gitops rollback' or a deploy)")
        self.front.park(colour)
        container = self._containers().get(colour)
        if container is None:
            return
        try:
            container.stop(timeout=_STOP_TIMEOUT_S)
        except Exception:  # noqa: BLE001 - already stopped; removal below is what matters
            pass
        try:
            container.remove(force=True)
        except Exception as exc:  # noqa: BLE001
            raise ExternalServiceError(f"removing {self.container_name(colour)} failed: {_one_line(exc)}") from None
