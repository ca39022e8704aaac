"""``llm-gitops release | deploy | rollback`` for real: images built by ``llm-gitops build``
into the local registry, colours as Podman containers, real haproxy in front."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from llm_gitops.build.image import build_image
from llm_gitops.config import load_config
from llm_gitops.models.sources import resolve_model
from tests.deploy.backends import free_port
from tests.support.tiny_model import make_tiny_model

pytestmark = [pytest.mark.engine, pytest.mark.slow]


@dataclass(frozen=True)
class Project:
    root: Path
    front_port: int

    def cli(self, *args: str, check: int | None = 0) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "llm_gitops", *args], cwd=self.root, capture_output=True,
                              text=True, timeout=600)
        if check is not None:
            assert proc.returncode == check, (args, proc.returncode, proc.stderr[-3000:])
        return proc

    def build_and_release(self, model_dir: Path, tag: str) -> str:
        config = load_config(self.root / ".llm-gitops.yaml")
        build_image(config, resolve_model(str(model_dir), base_dir=self.root), tag=tag)
        return self.cli("release", "--env", "staging").stdout.strip()

    def complete(self, conn: http.client.HTTPConnection | None = None) -> tuple[int, str]:
        conn = conn or http.client.HTTPConnection("127.0.0.1", self.front_port, timeout=30)
        conn.request("POST", "/v1/completions", body=json.dumps({"prompt": "1", "max_tokens": 1}),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read().decode()


@pytest.fixture(scope="module")
def project(tmp_path_factory, engine, wheelhouse, frozen_build_inputs):
    root = tmp_path_factory.mktemp("deploy-project")
    front_port = free_port()
    (root / ".llm-gitops.yaml").write_text(f"""\
version: 1
image:
  repository: {engine.registry}/adder-deploy
  base_image: {engine.base_image}
  wheelhouse: {wheelhouse}
  engine: {engine.docker_host}
environments:
  staging:
    target: docker
    docker:
      listen: 127.0.0.1:{front_port}
    require_gate: false
    scale_down_delay: 0
    readiness_timeout: 180
    analysis:
      smoke_requests: 2
      metrics: [{{metric: error_rate, max: 0.1}}]
      interval: 0.5s
      iterations: 2
""")
    (root / "deploy").mkdir()
    (root / "deploy" / "staging.yaml").write_text("version: 1\nrelease: null\n")
    subprocess.run(["git", "-C", str(root), "init", "-q"], check=True)
    p = Project(root=root, front_port=front_port)
    yield p
    # Everything this module started, by what the target knows of it.
    from llm_gitops.commands.deploy import environment_target
    from llm_gitops.deploy.haproxy import stop_front

    _, target = environment_target(load_config(root / ".llm-gitops.yaml"), "staging")
    for container in target._containers().values():
        container.remove(force=True)
    stop_front(target.front_settings)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    base = tmp_path_factory.mktemp("deploy-models")
    return make_tiny_model(base / "a", seed=1), make_tiny_model(base / "b", seed=2)


def test_first_deploy_then_nothing_to_do(project, models):
    release_a = project.build_and_release(models[0], "a")
    assert release_a.startswith("r-")
    assert f"release: {release_a}" in (project.root / "deploy" / "staging.yaml").read_text()
    proc = project.cli("deploy", "--env", "staging")
    record = json.loads(proc.stdout)
    assert record["action"] == "deployed" and record["live"] == "blue" and record["release"] == release_a
    pre = record["analyses"][0]
    assert pre["status"] == "Successful"
    assert any(m["check"] == "error_rate" and m["value"] == 0.0 for m in pre["measurements"])
    assert project.complete()[0] == 200
    saved = list((project.root / ".llm-gitops" / "deploys" / "staging").glob(f"*-{release_a}.json"))
    assert len(saved) == 1

    again = project.cli("deploy", "--env", "staging")
    assert json.loads(again.stdout)["action"] == "none"


def test_second_release_switches_with_zero_failed_requests_then_rollback(project, models):
    release_b = project.build_and_release(models[1], "b")
    failures, answered, stop = [], [0], threading.Event()

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", project.front_port, timeout=30)
        deadline = time.monotonic() + 300
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                status, _ = project.complete(conn)
                if status == 200:
                    answered[0] += 1
                else:
                    failures.append(status)
            except (OSError, http.client.HTTPException) as exc:
                failures.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", project.front_port, timeout=30)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        record = json.loads(project.cli("deploy", "--env", "staging", "--no-scale-down").stdout)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert record["live"] == "green" and record["previous"] == "blue" and record["release"] == release_b
    assert failures == [] and answered[0] > 0

    started = time.monotonic()
    out = project.cli("rollback", "--env", "staging", "--forge", "none").stdout
    assert "back to blue" in out
    assert time.monotonic() - started < 60  # the CLI's start-up; the switch itself is one socket write
    from llm_gitops.commands.deploy import environment_target

    _, target = environment_target(load_config(project.root / ".llm-gitops.yaml"), "staging")
    assert target.live() == "blue"
    # deploy/staging.yaml still names release b: the next deploy rolls forward again.
    forward = json.loads(project.cli("deploy", "--env", "staging").stdout)
    assert forward["action"] == "deployed" and forward["live"] == "green"


def test_a_release_whose_image_is_missing_is_refused_and_traffic_stays(project, models):
    from llm_gitops.commands.deploy import environment_target
    from llm_gitops.deploy.desired import releases_dir
    from llm_gitops.release.record import load_release, write_release

    _, target = environment_target(load_config(project.root / ".llm-gitops.yaml"), "staging")
    live_before = target.live()
    current = (project.root / "deploy" / "staging.yaml").read_text()
    release_id = current.split("release: ")[1].split()[0]
    good = load_release(releases_dir(project.root), release_id)
    repo = good.image.split("@")[0]
    ghost = good.__class__(**{**good.__dict__, "image": f"{repo}@sha256:{'0' * 64}"})
    write_release(ghost, releases_dir(project.root))
    (project.root / "deploy" / "staging.yaml").write_text(f"version: 1\nrelease: {ghost.id}\n")
    try:
        proc = project.cli("deploy", "--env", "staging", check=2)
        assert "is not in the registry" in proc.stderr or "pulling" in proc.stderr, proc.stderr
        assert target.live() == live_before
        assert project.complete()[0] == 200
    finally:
        (project.root / "deploy" / "staging.yaml").write_text(current)


def test_two_deploys_at_once_the_second_refuses(project):
    from llm_gitops.commands.deploy import environment_target

    _, target = environment_target(load_config(project.root / ".llm-gitops.yaml"), "staging")
    with target.lock():
        proc = project.cli("deploy", "--env", "staging", check=2)
    assert "another deploy of staging is running" in proc.stderr
